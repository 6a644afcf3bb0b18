//! A line search for the strong Wolfe conditions.

use serde::{Deserialize, Serialize};

use super::{LineSearch, LineSearchResult, phi, prepare};
use crate::classical::Objective;
use crate::error::check;
use crate::{Error, Result};

/// A step satisfying the strong Wolfe conditions,
///
/// $$
/// \phi(\alpha) \le \phi(0) + c_1\alpha\phi'(0), \qquad |\phi'(\alpha)| \le c_2 |\phi'(0)|,
/// $$
///
/// with $0 < c_1 < c_2 < 1$: sufficient decrease, and a slope small enough that the step is
/// not needlessly short. The search grows α until it brackets such a step, then zooms in by
/// safeguarded cubic interpolation (Nocedal and Wright's algorithms 3.5 and 3.6).
/// $c_2 = 0.9$ (the default) suits quasi-Newton methods; nonlinear conjugate gradient wants
/// $c_2 = 0.1$, which keeps its directions descent directions.
///
/// ```
/// use gradstep::classical::{LineSearch, StrongWolfe};
///
/// fn f(x: &[f64], g: &mut [f64]) -> f64 { g[0] = 4.0 * x[0].powi(3); x[0].powi(4) }
/// let (x, g) = ([1.0], [4.0]);
/// let (mut xn, mut gn) = ([0.0], [0.0]);
/// let r = StrongWolfe::default().search(&f, &x, 1.0, &g, &[-1.0], 1.0, &mut xn, &mut gn)?;
/// assert!(r.value <= 1.0 - 1e-4 * r.alpha * 4.0 && gn[0].abs() <= 0.9 * 4.0);
/// # Ok::<(), gradstep::Error>(())
/// ```
///
/// # References
/// Nocedal, Wright (2006), *Numerical Optimization*, 2nd ed., Springer, section 3.5.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StrongWolfe {
    c1: f64,
    c2: f64,
    max_evals: usize,
    alpha_max: f64,
}

impl Default for StrongWolfe {
    fn default() -> Self {
        Self { c1: 1e-4, c2: 0.9, max_evals: 50, alpha_max: 1e10 }
    }
}

impl StrongWolfe {
    /// Strong Wolfe with constants $0 < c_1 < c_2 < 1$ and at most `max_evals` evaluations.
    ///
    /// # Errors
    /// [`Error::Hyperparameter`] unless $0 < c_1 < c_2 < 1$ and `max_evals` ≥ 1.
    pub fn new(c1: f64, c2: f64, max_evals: usize) -> Result<Self> {
        check("c1", c1, c1 > 0.0 && c1 < 1.0, "must be in (0, 1)")?;
        check("c2", c2, c2 > c1 && c2 < 1.0, "must be in (c1, 1)")?;
        check("max_evals", max_evals as f64, max_evals > 0, "must be >= 1")?;
        Ok(Self { c1, c2, max_evals, alpha_max: 1e10 })
    }
}

/// The minimiser of the cubic through (a, fa, da) and (b, fb, db), kept at least a tenth of
/// the interval away from its ends; bisection when the cubic has no minimiser.
fn cubic_step(a: f64, fa: f64, da: f64, b: f64, fb: f64, db: f64) -> f64 {
    let (lo, hi) = (a.min(b), a.max(b));
    let margin = 0.1 * (hi - lo);
    let d1 = da + db - 3.0 * (fa - fb) / (a - b);
    let disc = d1 * d1 - da * db;
    let bisect = 0.5 * (a + b);
    if disc.is_nan() || disc < 0.0 || !fa.is_finite() || !fb.is_finite() {
        return bisect;
    }
    let d2 = (b - a).signum() * disc.sqrt();
    let t = b - (b - a) * (db + d2 - d1) / (db - da + 2.0 * d2);
    if t.is_finite() { t.clamp(lo + margin, hi - margin) } else { bisect }
}

impl LineSearch for StrongWolfe {
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
        let slope0 = prepare(x, g, d, x_new, g_new)?;
        let armijo = |alpha: f64, v: f64| v <= fx + self.c1 * alpha * slope0;
        let curvature = |s: f64| s.abs() <= -self.c2 * slope0;
        let (mut a_prev, mut f_prev, mut d_prev) = (0.0, fx, slope0);
        let mut alpha = alpha0.min(self.alpha_max);
        let mut evaluations = 0;
        // Bracketing phase: (lo, hi) ends with the zoom interval, lo being the better end.
        let (mut lo, mut hi) = loop {
            if evaluations == self.max_evals {
                return Err(Error::LineSearch {
                    reason: "no bracket for the strong Wolfe conditions",
                    evaluations,
                });
            }
            let (v, s) = phi(f, x, d, alpha, x_new, g_new);
            evaluations += 1;
            if !armijo(alpha, v) || (evaluations > 1 && v >= f_prev) {
                break ((a_prev, f_prev, d_prev), (alpha, v, s));
            }
            if curvature(s) {
                return Ok(LineSearchResult { alpha, value: v, evaluations });
            }
            if s >= 0.0 {
                break ((alpha, v, s), (a_prev, f_prev, d_prev));
            }
            if alpha >= self.alpha_max {
                return Err(Error::LineSearch { reason: "step reached alpha_max", evaluations });
            }
            (a_prev, f_prev, d_prev) = (alpha, v, s);
            alpha = (2.0 * alpha).min(self.alpha_max);
        };
        // Zoom phase.
        while evaluations < self.max_evals {
            let alpha = cubic_step(lo.0, lo.1, lo.2, hi.0, hi.1, hi.2);
            let (v, s) = phi(f, x, d, alpha, x_new, g_new);
            evaluations += 1;
            if !armijo(alpha, v) || v >= lo.1 {
                hi = (alpha, v, s);
            } else {
                if curvature(s) {
                    return Ok(LineSearchResult { alpha, value: v, evaluations });
                }
                if s * (hi.0 - lo.0) >= 0.0 {
                    hi = lo;
                }
                lo = (alpha, v, s);
            }
            if (hi.0 - lo.0).abs() <= f64::EPSILON * lo.0.abs().max(1e-300) {
                break;
            }
        }
        Err(Error::LineSearch { reason: "zoom did not find a strong Wolfe step", evaluations })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_functions::rosenbrock;
    use super::*;

    #[test]
    fn the_step_satisfies_both_conditions_on_rosenbrock() {
        for (x, alpha0) in [([-1.2, 1.0], 1.0), ([0.5, 2.0], 1e-4), ([2.0, 2.0], 10.0)] {
            for c2 in [0.1, 0.9] {
                let ls = StrongWolfe::new(1e-4, c2, 50).unwrap();
                let mut g = [0.0; 2];
                let fx = rosenbrock(&x, &mut g);
                let d = [-g[0], -g[1]];
                let (mut xn, mut gn) = ([0.0; 2], [0.0; 2]);
                let r = ls.search(&rosenbrock, &x, fx, &g, &d, alpha0, &mut xn, &mut gn).unwrap();
                let slope0 = g[0] * d[0] + g[1] * d[1];
                let slope = gn[0] * d[0] + gn[1] * d[1];
                assert!(r.value <= fx + 1e-4 * r.alpha * slope0, "{x:?}");
                assert!(slope.abs() <= -c2 * slope0, "{x:?} c2={c2}: {slope} vs {slope0}");
            }
        }
        assert!(StrongWolfe::new(0.5, 0.4, 10).is_err());
    }
}
