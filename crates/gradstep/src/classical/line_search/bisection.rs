//! An exact line search by bisection on the directional derivative.

use serde::{Deserialize, Serialize};

use super::{LineSearch, LineSearchResult, Rounding, phi, prepare};
use crate::classical::Objective;
use crate::error::check;
use crate::{Error, Result};

/// Exact line search by bisection: find α with $\phi'(\alpha) = \nabla f(x+\alpha d)^\top d = 0$.
///
/// Starting from $\alpha_0$, the step is doubled until $\phi'$ turns non-negative (a bracket
/// $[\alpha_{lo}, \alpha_{hi}]$ with $\phi'(\alpha_{lo}) < 0 \le \phi'(\alpha_{hi})$), then the
/// bracket is halved until $|\phi'(\alpha)| \le$ `tol` $\cdot|\phi'(0)|$. For a convex φ this is
/// the minimiser along the line; the gradient-descent chapter's exercise uses it on
/// $\log(e^x + e^{-2x-3})$.
///
/// ```
/// use gradstep::classical::{Bisection, LineSearch};
///
/// fn f(x: &[f64], g: &mut [f64]) -> f64 {
///     let (a, b) = (x[0].exp(), (-2.0 * x[0] - 3.0).exp());
///     g[0] = (a - 2.0 * b) / (a + b);
///     (a + b).ln()
/// }
/// let (x, mut g) = ([2.0], [0.0]);
/// let fx = f(&x, &mut g);
/// let (mut xn, mut gn) = ([0.0], [0.0]);
/// let r = Bisection::default().search(&f, &x, fx, &g, &[-1.0], 1.0, &mut xn, &mut gn)?;
/// assert!((xn[0] - (-1.0 + 2f64.ln() / 3.0)).abs() < 1e-9); // the minimiser of f
/// # Ok::<(), gradstep::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bisection {
    tol: f64,
    max_evals: usize,
}

impl Default for Bisection {
    fn default() -> Self {
        Self { tol: 1e-10, max_evals: 200 }
    }
}

impl Bisection {
    /// Bisection to a relative slope `tol` in (0, 1) within `max_evals` evaluations.
    ///
    /// # Errors
    /// [`Error::Hyperparameter`] if `tol` is outside (0, 1) or `max_evals` is 0.
    pub fn new(tol: f64, max_evals: usize) -> Result<Self> {
        check("tol", tol, tol > 0.0 && tol < 1.0, "must be in (0, 1)")?;
        check("max_evals", max_evals as f64, max_evals > 0, "must be >= 1")?;
        Ok(Self { tol, max_evals })
    }
}

impl LineSearch for Bisection {
    fn search<F: Objective + ?Sized>(
        &self,
        f: &F,
        x: &[f64],
        _fx: f64,
        g: &[f64],
        d: &[f64],
        alpha0: f64,
        x_new: &mut [f64],
        g_new: &mut [f64],
    ) -> Result<LineSearchResult> {
        let slope0 = prepare(f, x, g, d, x_new, g_new)?;
        let target = self.tol * slope0.abs();
        let (mut lo, mut hi) = (0.0, alpha0);
        let mut evaluations = 0;
        // Expand until the slope at `hi` is no longer negative (or the value blows up).
        loop {
            if evaluations == self.max_evals {
                return Err(Error::LineSearch {
                    reason: "no bracket: φ' < 0 along the whole ray",
                    evaluations,
                });
            }
            let (value, slope) = phi(Rounding::Plain, f, x, d, hi, x_new, g_new);
            evaluations += 1;
            if value.is_finite() && slope.abs() <= target {
                return Ok(LineSearchResult { alpha: hi, value, evaluations });
            }
            if !value.is_finite() || slope >= 0.0 {
                break;
            }
            lo = hi;
            hi *= 2.0;
        }
        while evaluations < self.max_evals {
            let mid = 0.5 * (lo + hi);
            let (value, slope) = phi(Rounding::Plain, f, x, d, mid, x_new, g_new);
            evaluations += 1;
            if value.is_finite() && (slope.abs() <= target || hi - lo <= f64::EPSILON * hi) {
                return Ok(LineSearchResult { alpha: mid, value, evaluations });
            }
            if value.is_finite() && slope < 0.0 {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Err(Error::LineSearch { reason: "bisection did not reach the slope tolerance", evaluations })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_functions::{LOG_SUM_EXP_MIN, log_sum_exp};
    use super::*;

    #[test]
    fn finds_the_minimiser_from_either_side() {
        for x0 in [-4.0, 3.0] {
            let mut g = [0.0];
            let fx = log_sum_exp(&[x0], &mut g);
            let d = [-g[0].signum()];
            let (mut xn, mut gn) = ([0.0], [0.0]);
            Bisection::default().search(&log_sum_exp, &[x0], fx, &g, &d, 0.1, &mut xn, &mut gn).unwrap();
            assert!((xn[0] - LOG_SUM_EXP_MIN).abs() < 1e-9, "{x0}: {}", xn[0]);
        }
        assert!(Bisection::new(0.0, 10).is_err());
    }
}
