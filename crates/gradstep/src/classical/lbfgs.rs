//! Limited-memory BFGS.

use serde::{Deserialize, Serialize};

use super::line_search::{LineSearch, StrongWolfe};
use super::{Objective, Report, Stop, dot, norm_inf, start};
use crate::Result;
use crate::error::check;

/// L-BFGS: a quasi-Newton method that keeps the last $m$ pairs
/// $s_k = x_{k+1} - x_k$, $y_k = g_{k+1} - g_k$ and applies the BFGS inverse-Hessian
/// approximation to the gradient by the two-loop recursion, starting from
/// $H_0 = \gamma I$, $\gamma = s^\top y / y^\top y$ of the newest pair. The step length comes
/// from a strong Wolfe line search ($c_2 = 0.9$), which guarantees $s^\top y > 0$; pairs
/// without positive curvature are skipped anyway. The first step tries
/// $\alpha_0 = \min(1, 1/\lVert g\rVert_\infty)$, later ones $\alpha_0 = 1$.
///
/// Memory $m$ = `memory` (PyTorch's `LBFGS` calls it `history_size`, default 100; 3–20 is
/// usual). The buffers are allocated once per call to [`Lbfgs::minimize`].
///
/// This is Nocedal and Wright's algorithm, the clearer one to teach. PyTorch's
/// `torch.optim.LBFGS` differs in its first step, its curvature test, its line search (or
/// none) and its stopping rules; [`super::LbfgsTorch`] follows it exactly.
///
/// ```
/// use gradstep::classical::{Lbfgs, Quadratic, Stop};
///
/// let q = Quadratic::new(vec![vec![10.0, 1.0], vec![1.0, 1.0]], vec![1.0, 2.0])?;
/// let mut x = [5.0, 5.0];
/// let report = Lbfgs::new(5)?.minimize(&q, &mut x, Stop::default())?;
/// assert!(report.converged && report.iterations < 10);
/// assert!((x[0] + 1.0 / 9.0).abs() < 1e-8 && (x[1] - 19.0 / 9.0).abs() < 1e-8);
/// # Ok::<(), gradstep::Error>(())
/// ```
///
/// # References
/// - Liu, Nocedal (1989), *On the limited memory BFGS method for large scale optimization*,
///   Math. Programming 45.
/// - Nocedal, Wright (2006), *Numerical Optimization*, algorithms 7.4 and 7.5.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Lbfgs<L = StrongWolfe> {
    memory: usize,
    /// The line search.
    pub line_search: L,
}

impl Lbfgs<StrongWolfe> {
    /// L-BFGS keeping `memory` pairs, with a strong Wolfe search ($c_1 = 10^{-4}$, $c_2 = 0.9$).
    ///
    /// # Errors
    /// [`crate::Error::Hyperparameter`] if `memory` is 0.
    pub fn new(memory: usize) -> Result<Self> {
        check("memory", memory as f64, memory >= 1, "must be >= 1")?;
        Ok(Self { memory, line_search: StrongWolfe::default() })
    }
}

impl<L: LineSearch> Lbfgs<L> {
    /// The same with another line search.
    pub fn with_line_search<M: LineSearch>(self, line_search: M) -> Lbfgs<M> {
        Lbfgs { memory: self.memory, line_search }
    }

    /// Minimises `f` from `x` (in place) until `stop`.
    ///
    /// # Errors
    /// [`crate::Error::NonFiniteValue`] if $f$ or its gradient is not finite at the start;
    /// [`crate::Error::LineSearch`] if a line search fails.
    pub fn minimize<F: Objective + ?Sized>(&self, f: &F, x: &mut [f64], stop: Stop) -> Result<Report> {
        self.minimize_with(f, x, stop, |_, _| {})
    }

    /// [`Lbfgs::minimize`], calling `observe(x, f(x))` after every iteration.
    ///
    /// # Errors
    /// As [`Lbfgs::minimize`].
    pub fn minimize_with<F: Objective + ?Sized>(
        &self,
        f: &F,
        x: &mut [f64],
        stop: Stop,
        mut observe: impl FnMut(&[f64], f64),
    ) -> Result<Report> {
        stop.check()?;
        super::check_dim(f, x.len())?;
        // No more pairs are kept than there are iterations: an absurd `memory` costs nothing.
        let (n, m) = (x.len(), self.memory.min(stop.max_iter.max(1)));
        let mut g = vec![0.0; n];
        let mut fx = start(f, x, &mut g)?;
        let (mut s, mut y) = (vec![0.0; m * n], vec![0.0; m * n]);
        let (mut rho, mut a) = (vec![0.0; m], vec![0.0; m]);
        let (mut d, mut x_new, mut g_new) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        let (mut stored, mut newest) = (0usize, 0usize);
        let mut evaluations = 1;
        for k in 0..stop.max_iter {
            let grad_norm = norm_inf(&g);
            if grad_norm <= stop.grad_tol {
                return Ok(Report { value: fx, grad_norm, iterations: k, evaluations, converged: true });
            }
            // Two-loop recursion: d = -H g.
            d.copy_from_slice(&g);
            for j in 0..stored {
                let i = (newest + m - j) % m;
                let si = &s[i * n..(i + 1) * n];
                a[i] = rho[i] * dot(si, &d);
                for (dv, yv) in d.iter_mut().zip(&y[i * n..(i + 1) * n]) {
                    *dv -= a[i] * yv;
                }
            }
            if stored > 0 {
                let (sn, yn) = (&s[newest * n..(newest + 1) * n], &y[newest * n..(newest + 1) * n]);
                let gamma = dot(sn, yn) / dot(yn, yn);
                d.iter_mut().for_each(|v| *v *= gamma);
            }
            for j in (0..stored).rev() {
                let i = (newest + m - j) % m;
                let b = rho[i] * dot(&y[i * n..(i + 1) * n], &d);
                for (dv, sv) in d.iter_mut().zip(&s[i * n..(i + 1) * n]) {
                    *dv += (a[i] - b) * sv;
                }
            }
            d.iter_mut().for_each(|v| *v = -*v);
            if dot(&g, &d).partial_cmp(&0.0) != Some(std::cmp::Ordering::Less) {
                // Not a descent direction (numerical trouble): forget the history.
                stored = 0;
                for (dv, gv) in d.iter_mut().zip(&g) {
                    *dv = -gv;
                }
            }
            let alpha0 = if stored == 0 { (1.0 / grad_norm).min(1.0) } else { 1.0 };
            let r = self.line_search.search(f, x, fx, &g, &d, alpha0, &mut x_new, &mut g_new)?;
            evaluations += r.evaluations;
            // New pair, if it has positive curvature.
            let slot = if stored == 0 { 0 } else { (newest + 1) % m };
            let (si, yi) = (&mut s[slot * n..(slot + 1) * n], &mut y[slot * n..(slot + 1) * n]);
            for j in 0..n {
                si[j] = x_new[j] - x[j];
                yi[j] = g_new[j] - g[j];
            }
            let sy = dot(si, yi);
            if sy > f64::EPSILON * dot(yi, yi) {
                rho[slot] = 1.0 / sy;
                newest = slot;
                stored = (stored + 1).min(m);
            } else if stored == m {
                // The rejected pair overwrote the oldest one: drop it from the history.
                stored = m - 1;
            }
            x.copy_from_slice(&x_new);
            g.copy_from_slice(&g_new);
            fx = r.value;
            observe(x, fx);
        }
        let grad_norm = norm_inf(&g);
        Ok(Report {
            value: fx,
            grad_norm,
            iterations: stop.max_iter,
            evaluations,
            converged: grad_norm <= stop.grad_tol,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::line_search::test_functions::rosenbrock;
    use super::*;

    #[test]
    fn converges_on_rosenbrock_in_few_iterations() {
        let mut x = [-1.2, 1.0];
        let stop = Stop { max_iter: 200, grad_tol: 1e-8 };
        let r = Lbfgs::new(7).unwrap().minimize(&rosenbrock, &mut x, stop).unwrap();
        assert!(r.converged && r.iterations < 60, "{r:?}");
        assert!((x[0] - 1.0).abs() < 1e-7 && (x[1] - 1.0).abs() < 1e-7);
    }

    #[test]
    fn memory_one_still_works_and_zero_is_rejected() {
        let mut x = [3.0, -2.0];
        let r = Lbfgs::new(1)
            .unwrap()
            .minimize(&rosenbrock, &mut x, Stop { max_iter: 2000, grad_tol: 1e-6 })
            .unwrap();
        assert!(r.converged, "{r:?}");
        assert!(Lbfgs::new(0).is_err());
        let bad = |_: &[f64], _: &mut [f64]| f64::NAN;
        assert!(Lbfgs::new(3).unwrap().minimize(&bad, &mut [1.0], Stop::default()).is_err());
    }
}
