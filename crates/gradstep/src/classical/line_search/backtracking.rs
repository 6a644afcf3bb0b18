//! Backtracking with the Armijo condition.

use serde::{Deserialize, Serialize};

use super::{LineSearch, LineSearchResult, Rounding, phi, prepare};
use crate::classical::Objective;
use crate::error::check;
use crate::{Error, Result};

/// Backtracking: try $\alpha_0, \rho\alpha_0, \rho^2\alpha_0, \dots$ until the Armijo
/// condition of sufficient decrease holds,
/// $\phi(\alpha) \le \phi(0) + c_1 \alpha \phi'(0)$.
///
/// Symbols: ρ = `shrink` (default ½), $c_1$ = `c1` (default 1e-4).
///
/// ```
/// use gradstep::classical::{Backtracking, LineSearch};
///
/// fn f(x: &[f64], g: &mut [f64]) -> f64 { g[0] = 2.0 * x[0]; x[0] * x[0] }
/// let (x, g, d) = ([1.0], [2.0], [-2.0]); // steepest descent from 1
/// let (mut xn, mut gn) = ([0.0], [0.0]);
/// let r = Backtracking::default().search(&f, &x, 1.0, &g, &d, 1.0, &mut xn, &mut gn)?;
/// assert_eq!(r.alpha, 0.5); // α = 1 overshoots to −1 (no decrease); α = ½ lands on 0
/// assert_eq!(xn, [0.0]);
/// # Ok::<(), gradstep::Error>(())
/// ```
///
/// # References
/// Armijo (1966), *Minimization of functions having Lipschitz continuous first partial
/// derivatives*, Pacific J. Math. 16(1); Nocedal, Wright (2006), algorithm 3.1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Backtracking {
    c1: f64,
    shrink: f64,
    max_evals: usize,
}

impl Default for Backtracking {
    fn default() -> Self {
        Self { c1: 1e-4, shrink: 0.5, max_evals: 60 }
    }
}

impl Backtracking {
    /// Backtracking with Armijo constant `c1` in (0, 1) and factor `shrink` in (0, 1).
    ///
    /// # Errors
    /// [`Error::Hyperparameter`] if `c1` or `shrink` is outside (0, 1), or `max_evals` is 0.
    pub fn new(c1: f64, shrink: f64, max_evals: usize) -> Result<Self> {
        check("c1", c1, c1 > 0.0 && c1 < 1.0, "must be in (0, 1)")?;
        check("shrink", shrink, shrink > 0.0 && shrink < 1.0, "must be in (0, 1)")?;
        check("max_evals", max_evals as f64, max_evals > 0, "must be >= 1")?;
        Ok(Self { c1, shrink, max_evals })
    }
}

impl LineSearch for Backtracking {
    fn search<F: Objective + ?Sized>(
        &self,
        f: &F,
        x: &[f64],
        fx: f64,
        g: &[f64],
        d: &[f64],
        alpha0: f64,
        x_new: &mut [f64],
        g_new: &mut [f64],
    ) -> Result<LineSearchResult> {
        let slope0 = prepare(f, x, g, d, x_new, g_new)?;
        let mut alpha = alpha0;
        for evaluations in 1..=self.max_evals {
            let (value, _) = phi(Rounding::Plain, f, x, d, alpha, x_new, g_new);
            if value <= fx + self.c1 * alpha * slope0 {
                return Ok(LineSearchResult { alpha, value, evaluations });
            }
            alpha *= self.shrink;
        }
        Err(Error::LineSearch {
            reason: "no step satisfies the Armijo condition",
            evaluations: self.max_evals,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_functions::rosenbrock;
    use super::*;

    #[test]
    fn the_accepted_step_satisfies_armijo_and_the_previous_did_not() {
        let bt = Backtracking::default();
        let x = [-1.2, 1.0];
        let mut g = [0.0; 2];
        let fx = rosenbrock(&x, &mut g);
        let d = [-g[0], -g[1]];
        let (mut xn, mut gn) = ([0.0; 2], [0.0; 2]);
        let r = bt.search(&rosenbrock, &x, fx, &g, &d, 1.0, &mut xn, &mut gn).unwrap();
        let slope = g[0] * d[0] + g[1] * d[1];
        assert!(r.value <= fx + 1e-4 * r.alpha * slope);
        let a = r.alpha * 2.0;
        let prev = rosenbrock(&[x[0] + a * d[0], x[1] + a * d[1]], &mut [0.0; 2]);
        assert!(prev > fx + 1e-4 * a * slope);
        assert!(matches!(
            bt.search(&rosenbrock, &x, fx, &g, &[-d[0], -d[1]], 1.0, &mut xn, &mut gn),
            Err(Error::NotDescent { .. })
        ));
    }
}
