//! Nonlinear conjugate gradient.

use serde::{Deserialize, Serialize};

use super::line_search::{LineSearch, StrongWolfe};
use super::{Objective, Report, Stop, dot, norm_inf, start};
use crate::Result;

/// How the next direction mixes in the previous one, $d_{k+1} = -g_{k+1} + \beta_k d_k$, with
/// $y_k = g_{k+1} - g_k$.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum CgFormula {
    /// Fletcher–Reeves: $\beta = \lVert g_{k+1}\rVert^2 / \lVert g_k\rVert^2$.
    FletcherReeves,
    /// Polak–Ribière+: $\beta = \max\bigl(0,\ g_{k+1}^\top y_k / \lVert g_k\rVert^2\bigr)$ (the
    /// default: it restarts by itself when progress stalls).
    #[default]
    PolakRibierePlus,
    /// Hestenes–Stiefel: $\beta = g_{k+1}^\top y_k / d_k^\top y_k$.
    HestenesStiefel,
}

/// Nonlinear conjugate gradient with a line search.
///
/// From $d_0 = -g_0$: $x_{k+1} = x_k + \alpha_k d_k$ ($\alpha_k$ from the line search),
/// $d_{k+1} = -g_{k+1} + \beta_k d_k$ ([`CgFormula`] gives β). On a quadratic with exact line
/// searches all three formulas coincide with linear conjugate gradient and reach the
/// minimum in at most $n$ steps. The method restarts with $-g$ every `restart` iterations
/// (default $n$) and whenever $d$ is not a descent direction. The initial step of each search
/// is $\alpha_{k-1}\, g_{k-1}^\top d_{k-1} / g_k^\top d_k$ (Nocedal and Wright, eq. 3.60).
///
/// ```
/// use gradstep::classical::{CgFormula, ConjugateGradient, Stop};
///
/// fn rosenbrock(x: &[f64], g: &mut [f64]) -> f64 {
///     let (a, b) = (1.0 - x[0], x[1] - x[0] * x[0]);
///     g[0] = -2.0 * a - 400.0 * x[0] * b;
///     g[1] = 200.0 * b;
///     a * a + 100.0 * b * b
/// }
/// let mut x = [-1.2, 1.0];
/// let cg = ConjugateGradient::new(CgFormula::PolakRibierePlus);
/// let report = cg.minimize(&rosenbrock, &mut x, Stop::default())?;
/// assert!(report.converged && (x[0] - 1.0).abs() < 1e-6);
/// # Ok::<(), gradstep::Error>(())
/// ```
///
/// # References
/// - Fletcher, Reeves (1964), *Function minimization by conjugate gradients*, Comput. J. 7.
/// - Polak, Ribière (1969); Hestenes, Stiefel (1952).
/// - Nocedal, Wright (2006), *Numerical Optimization*, chapter 5.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ConjugateGradient<L = StrongWolfe> {
    /// The β formula.
    pub formula: CgFormula,
    /// The line search (default strong Wolfe with $c_2 = 0.1$).
    pub line_search: L,
    /// Restart with steepest descent every this many iterations (`None`: every $n$).
    pub restart: Option<usize>,
}

impl ConjugateGradient<StrongWolfe> {
    /// Conjugate gradient with `formula` and a strong Wolfe search with $c_2 = 0.1$.
    pub fn new(formula: CgFormula) -> Self {
        let line_search = StrongWolfe::new(1e-4, 0.1, 50).unwrap_or_default();
        Self { formula, line_search, restart: None }
    }
}

impl<L: LineSearch> ConjugateGradient<L> {
    /// Conjugate gradient with another line search (e.g. [`super::Bisection`] for exact ones).
    pub fn with_line_search<M: LineSearch>(self, line_search: M) -> ConjugateGradient<M> {
        ConjugateGradient { formula: self.formula, line_search, restart: self.restart }
    }

    /// Minimises `f` from `x` (in place) until `stop`.
    ///
    /// # Errors
    /// [`crate::Error::NonFiniteValue`] if $f$ or its gradient is not finite at the start;
    /// [`crate::Error::LineSearch`] if a line search fails.
    pub fn minimize<F: Objective + ?Sized>(&self, f: &F, x: &mut [f64], stop: Stop) -> Result<Report> {
        self.minimize_with(f, x, stop, |_, _| {})
    }

    /// [`ConjugateGradient::minimize`], calling `observe(x, f(x))` after every iteration (to
    /// record a trajectory).
    ///
    /// # Errors
    /// As [`ConjugateGradient::minimize`].
    pub fn minimize_with<F: Objective + ?Sized>(
        &self,
        f: &F,
        x: &mut [f64],
        stop: Stop,
        mut observe: impl FnMut(&[f64], f64),
    ) -> Result<Report> {
        stop.check()?;
        let n = x.len();
        super::check_dim(f, n)?;
        let restart = self.restart.unwrap_or(n).max(1);
        let mut g = vec![0.0; n];
        let mut fx = start(f, x, &mut g)?;
        let mut d: Vec<f64> = g.iter().map(|v| -v).collect();
        let (mut x_new, mut g_new) = (vec![0.0; n], vec![0.0; n]);
        let mut evaluations = 1;
        let (mut prev_alpha, mut prev_slope) = (0.0, 0.0);
        let mut since_restart = 0;
        for k in 0..stop.max_iter {
            if norm_inf(&g) <= stop.grad_tol {
                return Ok(Report {
                    value: fx,
                    grad_norm: norm_inf(&g),
                    iterations: k,
                    evaluations,
                    converged: true,
                });
            }
            let mut slope = dot(&g, &d);
            if slope >= 0.0 || since_restart >= restart {
                for (di, gi) in d.iter_mut().zip(&g) {
                    *di = -gi;
                }
                slope = -dot(&g, &g);
                since_restart = 0;
            }
            let alpha0 = if k == 0 { (1.0 / norm_inf(&g)).min(1.0) } else { prev_alpha * prev_slope / slope };
            let r = self.line_search.search(f, x, fx, &g, &d, alpha0, &mut x_new, &mut g_new)?;
            evaluations += r.evaluations;
            let gg = dot(&g, &g);
            let beta = match self.formula {
                CgFormula::FletcherReeves => dot(&g_new, &g_new) / gg,
                CgFormula::PolakRibierePlus => {
                    let gy: f64 = g_new.iter().zip(&g).map(|(a, b)| a * (a - b)).sum();
                    (gy / gg).max(0.0)
                }
                CgFormula::HestenesStiefel => {
                    let gy: f64 = g_new.iter().zip(&g).map(|(a, b)| a * (a - b)).sum();
                    let dy: f64 = d.iter().zip(g_new.iter().zip(&g)).map(|(di, (a, b))| di * (a - b)).sum();
                    if dy != 0.0 { gy / dy } else { 0.0 }
                }
            };
            for (di, gi) in d.iter_mut().zip(&g_new) {
                *di = -gi + beta * *di;
            }
            (prev_alpha, prev_slope) = (r.alpha, slope);
            x.copy_from_slice(&x_new);
            g.copy_from_slice(&g_new);
            fx = r.value;
            since_restart += 1;
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
    use super::super::{Bisection, Quadratic};
    use super::*;

    fn spd4() -> Quadratic {
        Quadratic::new(
            vec![
                vec![4.0, 1.0, 0.5, 0.0],
                vec![1.0, 3.0, 0.0, 0.25],
                vec![0.5, 0.0, 2.0, 0.1],
                vec![0.0, 0.25, 0.1, 0.5],
            ],
            vec![1.0, -2.0, 0.5, 3.0],
        )
        .unwrap()
    }

    #[test]
    fn exact_line_searches_solve_a_quadratic_in_n_steps() {
        for formula in [CgFormula::FletcherReeves, CgFormula::PolakRibierePlus, CgFormula::HestenesStiefel] {
            let cg = ConjugateGradient::new(formula).with_line_search(Bisection::new(1e-12, 300).unwrap());
            let mut x = [0.0; 4];
            let stop = Stop { max_iter: 4, grad_tol: 1e-7 };
            let mut path = Vec::new();
            let r = cg.minimize_with(&spd4(), &mut x, stop, |x, _| path.push(x.to_vec())).unwrap();
            assert!(r.converged, "{formula:?}: {r:?}");
            assert!(path.len() <= 4);
        }
    }

    #[test]
    fn every_formula_minimises_rosenbrock() {
        for formula in [CgFormula::FletcherReeves, CgFormula::PolakRibierePlus, CgFormula::HestenesStiefel] {
            let mut x = [-1.2, 1.0];
            let stop = Stop { max_iter: 5000, grad_tol: 1e-6 };
            let r = ConjugateGradient::new(formula).minimize(&rosenbrock, &mut x, stop).unwrap();
            assert!(
                r.converged && (x[0] - 1.0).abs() < 1e-4 && (x[1] - 1.0).abs() < 1e-4,
                "{formula:?}: {r:?} {x:?}"
            );
        }
    }
}
