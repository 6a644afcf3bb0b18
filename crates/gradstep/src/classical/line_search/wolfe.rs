//! A line search for the strong Wolfe conditions.

use serde::{Deserialize, Serialize};

use super::{LineSearch, LineSearchResult, Rounding, phi, prepare, step_to};
use crate::classical::Objective;
use crate::classical::{norm_inf, torch_dot};
use crate::error::{check, check_non_negative};
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
/// Two conventions ([`WolfeVariant`]): [`StrongWolfe::new`] and the default follow Nocedal and
/// Wright (what [`crate::classical::Lbfgs`] and [`crate::classical::ConjugateGradient`] use);
/// [`StrongWolfe::pytorch`] follows PyTorch's `torch.optim.LBFGS` step for step (what
/// [`crate::classical::LbfgsTorch`] uses). Both accept only strong Wolfe steps, but they try
/// different steps on the way, so they may accept different ones.
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
    #[serde(default)]
    variant: WolfeVariant,
}

/// Which strong Wolfe search a [`StrongWolfe`] runs: both accept a step only under the same
/// two conditions, but they try different steps on the way, so their answers differ.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub enum WolfeVariant {
    /// Nocedal and Wright's algorithms 3.5 and 3.6 (the default): the trial step doubles
    /// until it brackets an acceptable one, the zoom takes the cubic's minimiser kept a tenth
    /// of the bracket from its ends, and running out of evaluations is an error.
    #[default]
    NocedalWright,
    /// PyTorch's search (`line_search_fn="strong_wolfe"` of `torch.optim.LBFGS`, itself
    /// Mark Schmidt's minFunc): the trial step grows by cubic extrapolation within
    /// $[\alpha + 0.01(\alpha - \alpha_{prev}),\ 10\alpha]$; the decrease test against the
    /// previous trial applies from the third evaluation on; the zoom clamps the cubic's
    /// minimiser to the bracket and moves it a tenth of the bracket inside only after a step
    /// that made too little progress; it stops once $|\text{bracket}|\cdot\lVert d\rVert_\infty$
    /// < `tolerance_change`; and it never fails: out of evaluations it returns the best point
    /// seen, which may be α = 0.
    PyTorch {
        /// The zoom stops once the bracket is this short, measured in $x$ (PyTorch: 1e-9).
        tolerance_change: f64,
    },
}

impl Default for StrongWolfe {
    fn default() -> Self {
        Self { c1: 1e-4, c2: 0.9, max_evals: 50, alpha_max: 1e10, variant: WolfeVariant::NocedalWright }
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
        Ok(Self { c1, c2, max_evals, alpha_max: 1e10, variant: WolfeVariant::NocedalWright })
    }

    /// PyTorch's strong Wolfe search ([`WolfeVariant::PyTorch`]), step for step:
    /// `torch.optim.lbfgs._strong_wolfe(..., c1, c2, tolerance_change, max_ls)`, which
    /// evaluates at most `max_ls` times after the first trial. `torch.optim.LBFGS` uses
    /// $c_1 = 10^{-4}$, $c_2 = 0.9$, `tolerance_change` = 1e-9 and `max_ls` = what is left of
    /// its `max_eval`.
    ///
    /// ```
    /// use gradstep::classical::{LineSearch, StrongWolfe};
    ///
    /// fn f(x: &[f64], g: &mut [f64]) -> f64 { g[0] = 4.0 * x[0].powi(3); x[0].powi(4) }
    /// let (mut xn, mut gn) = ([0.0], [0.0]);
    /// let ls = StrongWolfe::pytorch(1e-4, 0.9, 1e-9, 25)?;
    /// let r = ls.search(&f, &[1.0], 1.0, &[4.0], &[-1.0], 1.0, &mut xn, &mut gn)?;
    /// assert!(r.value <= 1.0 - 1e-4 * r.alpha * 4.0 && gn[0].abs() <= 0.9 * 4.0);
    /// // With no evaluation to spare, a first trial that does not decrease f gives α = 0.
    /// let once = StrongWolfe::pytorch(1e-4, 0.9, 1e-9, 0)?;
    /// let r = once.search(&f, &[1.0], 1.0, &[4.0], &[-1.0], 3.0, &mut xn, &mut gn)?;
    /// assert_eq!((r.alpha, r.value, r.evaluations, xn, gn), (0.0, 1.0, 1, [1.0], [4.0]));
    /// # Ok::<(), gradstep::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Hyperparameter`] unless $0 < c_1 < c_2 < 1$ and `tolerance_change` ≥ 0.
    pub fn pytorch(c1: f64, c2: f64, tolerance_change: f64, max_ls: usize) -> Result<Self> {
        let mut ls = Self::new(c1, c2, max_ls.saturating_add(1))?;
        check_non_negative("tolerance_change", tolerance_change)?;
        ls.variant = WolfeVariant::PyTorch { tolerance_change };
        Ok(ls)
    }

    /// Which search this is.
    pub fn variant(&self) -> WolfeVariant {
        self.variant
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

/// The minimiser of the cubic through the trials (a, fa, da) and (b, fb, db), clamped to
/// `bounds` (default: between a and b); their midpoint when the cubic has no minimiser.
/// PyTorch's `_cubic_interpolate`, operation for operation (and with Python's `min` and
/// `max`, which keep a NaN in the first place).
fn cubic_interpolate(a: (f64, f64, f64), b: (f64, f64, f64), bounds: Option<(f64, f64)>) -> f64 {
    let ((x1, f1, g1), (x2, f2, g2)) = (a, b);
    let (lo, hi) = bounds.unwrap_or(if x1 <= x2 { (x1, x2) } else { (x2, x1) });
    let d1 = g1 + g2 - 3.0 * (f1 - f2) / (x1 - x2);
    let d2_square = d1 * d1 - g1 * g2;
    if d2_square >= 0.0 {
        let d2 = d2_square.sqrt();
        let min_pos = if x1 <= x2 {
            x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2.0 * d2))
        } else {
            x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2.0 * d2))
        };
        py_min(py_max(min_pos, lo), hi)
    } else {
        (lo + hi) / 2.0
    }
}

/// Python's `max(a, b)`: `b` only if `b > a`.
fn py_max(a: f64, b: f64) -> f64 {
    if b > a { b } else { a }
}

/// Python's `min(a, b)`: `b` only if `b < a`.
fn py_min(a: f64, b: f64) -> f64 {
    if b < a { b } else { a }
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
        let slope0 = prepare(f, x, g, d, x_new, g_new)?;
        match self.variant {
            WolfeVariant::NocedalWright => self.nocedal_wright(f, x, fx, slope0, d, alpha0, x_new, g_new),
            WolfeVariant::PyTorch { tolerance_change } => {
                self.pytorch_search(tolerance_change, f, x, fx, (g, torch_dot(g, d)), d, alpha0, x_new, g_new)
            }
        }
    }
}

impl StrongWolfe {
    /// [`WolfeVariant::NocedalWright`].
    #[allow(clippy::too_many_arguments)]
    fn nocedal_wright<F: Objective + ?Sized>(
        &self,
        f: &F,
        x: &[f64],
        fx: f64,
        slope0: f64,
        d: &[f64],
        alpha0: f64,
        x_new: &mut [f64],
        g_new: &mut [f64],
    ) -> Result<LineSearchResult> {
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
            let (v, s) = phi(Rounding::Plain, f, x, d, alpha, x_new, g_new);
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
            let (v, s) = phi(Rounding::Plain, f, x, d, alpha, x_new, g_new);
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

    /// [`WolfeVariant::PyTorch`], in the order of `torch.optim.lbfgs._strong_wolfe`, so that
    /// the same numbers come out. A trial is (α, φ(α), φ'(α)); the bracket's gradients are
    /// kept in two buffers (allocated per search, as PyTorch clones them) to hand back the
    /// gradient of the point returned, which need not be the last one evaluated.
    #[allow(clippy::too_many_arguments)]
    fn pytorch_search<F: Objective + ?Sized>(
        &self,
        tolerance_change: f64,
        f: &F,
        x: &[f64],
        fx: f64,
        (g, gtd): (&[f64], f64),
        d: &[f64],
        t0: f64,
        x_new: &mut [f64],
        g_new: &mut [f64],
    ) -> Result<LineSearchResult> {
        let (c1, c2, max_ls) = (self.c1, self.c2, self.max_evals - 1);
        let curvature = |s: f64| s.abs() <= -c2 * gtd;
        let d_norm = norm_inf(d);
        let mut t = t0;
        let (mut f_new, mut gtd_new) = phi(Rounding::PyTorch, f, x, d, t, x_new, g_new);
        let mut ls_iter = 0;
        let (mut prev, mut g_prev) = ((0.0, fx, gtd), g.to_vec());
        // Bracketing: grow the step until it brackets an acceptable one (or is one).
        let (mut bracket, mut grads) = loop {
            if ls_iter == max_ls {
                // Out of evaluations: the bracket is the start and the last trial.
                break ([(0.0, fx, gtd), (t, f_new, gtd_new)], [g.to_vec(), g_new.to_vec()]);
            }
            if f_new > fx + c1 * t * gtd || (ls_iter > 1 && f_new >= prev.1) {
                break ([prev, (t, f_new, gtd_new)], [g_prev, g_new.to_vec()]);
            }
            if curvature(gtd_new) {
                return Ok(LineSearchResult { alpha: t, value: f_new, evaluations: ls_iter + 1 });
            }
            if gtd_new >= 0.0 {
                break ([prev, (t, f_new, gtd_new)], [g_prev, g_new.to_vec()]);
            }
            let (min_step, max_step) = (t + 0.01 * (t - prev.0), t * 10.0);
            let next = cubic_interpolate(prev, (t, f_new, gtd_new), Some((min_step, max_step)));
            prev = (t, f_new, gtd_new);
            g_prev.copy_from_slice(g_new);
            t = next;
            (f_new, gtd_new) = phi(Rounding::PyTorch, f, x, d, t, x_new, g_new);
            ls_iter += 1;
        };
        // Zoom: shrink the bracket around an acceptable step; `lo` is the end with the lower f.
        let order = |b: &[(f64, f64, f64); 2]| if b[0].1 <= b[1].1 { (0, 1) } else { (1, 0) };
        let (mut lo, mut hi) = order(&bracket);
        let mut insufficient_progress = false;
        while ls_iter < max_ls {
            let (a, b) = (bracket[0].0, bracket[1].0);
            if (b - a).abs() * d_norm < tolerance_change {
                break;
            }
            t = cubic_interpolate(bracket[0], bracket[1], None);
            let (top, bottom) = (py_max(a, b), py_min(a, b));
            let margin = 0.1 * (top - bottom);
            if py_min(top - t, t - bottom) < margin {
                // Too close to an end: the second time in a row (or outside), move inside.
                if insufficient_progress || t >= top || t <= bottom {
                    t = if (t - top).abs() < (t - bottom).abs() { top - margin } else { bottom + margin };
                    insufficient_progress = false;
                } else {
                    insufficient_progress = true;
                }
            } else {
                insufficient_progress = false;
            }
            (f_new, gtd_new) = phi(Rounding::PyTorch, f, x, d, t, x_new, g_new);
            ls_iter += 1;
            if f_new > fx + c1 * t * gtd || f_new >= bracket[lo].1 {
                bracket[hi] = (t, f_new, gtd_new);
                grads[hi].copy_from_slice(g_new);
                (lo, hi) = order(&bracket);
            } else {
                let done = curvature(gtd_new);
                if !done && gtd_new * (bracket[hi].0 - bracket[lo].0) >= 0.0 {
                    bracket[hi] = bracket[lo];
                    grads.swap(hi, lo);
                }
                bracket[lo] = (t, f_new, gtd_new);
                grads[lo].copy_from_slice(g_new);
                if done {
                    break;
                }
            }
        }
        let (alpha, value, _) = bracket[lo];
        step_to(Rounding::PyTorch, x, d, alpha, x_new);
        g_new.copy_from_slice(&grads[lo]);
        Ok(LineSearchResult { alpha, value, evaluations: ls_iter + 1 })
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
