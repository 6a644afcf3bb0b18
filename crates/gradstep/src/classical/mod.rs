//! The classical methods the first-order optimizers grew out of: Newton's method (with the
//! Hessian, or only its diagonal as a preconditioner), line searches (bisection, Armijo
//! backtracking, strong Wolfe), nonlinear conjugate gradient and L-BFGS, both Nocedal and
//! Wright's ([`Lbfgs`]) and PyTorch's ([`LbfgsTorch`], which replays `torch.optim.LBFGS` to
//! the last bit).
//!
//! They work in `f64` on an [`Objective`] that gives value and gradient together (and, for
//! Newton, a [`HessianObjective`]). An objective is a type or a `fn` item; any
//! `Fn(&[f64], &mut [f64]) -> f64` is one, but code meant for notebooks should prefer types
//! and `fn` items, which survive from one evcxr cell to the next.
//!
//! ```
//! use gradstep::classical::{Lbfgs, Stop};
//!
//! // Rosenbrock's function, minimum 0 at (1, 1).
//! fn rosenbrock(x: &[f64], g: &mut [f64]) -> f64 {
//!     let (a, b) = (1.0 - x[0], x[1] - x[0] * x[0]);
//!     g[0] = -2.0 * a - 400.0 * x[0] * b;
//!     g[1] = 200.0 * b;
//!     a * a + 100.0 * b * b
//! }
//! let mut x = [-1.2, 1.0];
//! let report = Lbfgs::new(5)?.minimize(&rosenbrock, &mut x, Stop::default())?;
//! assert!(report.converged && (x[0] - 1.0).abs() < 1e-5 && (x[1] - 1.0).abs() < 1e-5);
//! # Ok::<(), gradstep::Error>(())
//! ```

mod cg;
mod lbfgs;
mod lbfgs_torch;
pub mod line_search;
mod newton;

pub use cg::{CgFormula, ConjugateGradient};
pub use lbfgs::Lbfgs;
pub use lbfgs_torch::{LbfgsLineSearch, LbfgsTorch, LbfgsTorchConfig, LbfgsTorchState};
pub use line_search::{Backtracking, Bisection, LineSearch, LineSearchResult, StrongWolfe, WolfeVariant};
pub use newton::{Newton, NewtonState};

use serde::{Deserialize, Serialize};

use crate::error::{check_len, check_non_negative};
use crate::{Error, Result};

/// A differentiable function $f:\mathbb R^n \to \mathbb R$.
pub trait Objective {
    /// Returns $f(x)$ and writes $\nabla f(x)$ into `grad` (of the same length as `x`).
    fn value_grad(&self, x: &[f64], grad: &mut [f64]) -> f64;

    /// The dimension $n$ of the points the objective is defined on, if it has a fixed one
    /// (a [`Quadratic`] does; a closure does not say). The methods of this module check the
    /// starting point against it, so a point of the wrong size is an
    /// [`Error::LengthMismatch`] rather than a wrong answer or a panic.
    fn point_dim(&self) -> Option<usize> {
        None
    }
}

/// Checks a point of `n` coordinates against `f`'s dimension, when it has one.
pub(crate) fn check_dim<F: Objective + ?Sized>(f: &F, n: usize) -> Result<()> {
    match f.point_dim() {
        Some(dim) => check_len("point", dim, n),
        None => Ok(()),
    }
}

impl<F: Fn(&[f64], &mut [f64]) -> f64> Objective for F {
    fn value_grad(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        self(x, grad)
    }
}

/// An [`Objective`] that also gives its Hessian, for Newton's method.
pub trait HessianObjective: Objective {
    /// Writes $\nabla^2 f(x)$ into `hess`, row-major, $n \times n$.
    fn hessian(&self, x: &[f64], hess: &mut [f64]);
}

/// The quadratic $f(x) = \tfrac12 x^\top A x - b^\top x$, gradient $Ax - b$, Hessian $A$
/// (the objective of the golden fixtures). For symmetric positive definite $A$ the minimum
/// is at $x^* = A^{-1}b$.
///
/// Evaluated directly at a point of the wrong dimension (or with a gradient or Hessian buffer
/// of the wrong size), it returns NaN and fills the buffer with NaN; the methods of this module
/// check the dimension first ([`Objective::point_dim`]) and return [`Error::LengthMismatch`].
///
/// ```
/// use gradstep::classical::{Objective, Quadratic};
/// let q = Quadratic::new(vec![vec![2.0, 0.0], vec![0.0, 4.0]], vec![2.0, 4.0])?;
/// let mut g = [0.0; 2];
/// assert_eq!(q.value_grad(&[1.0, 1.0], &mut g), -3.0);
/// assert_eq!(g, [0.0, 0.0]);
/// # Ok::<(), gradstep::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quadratic {
    a: Vec<Vec<f64>>,
    b: Vec<f64>,
}

impl Quadratic {
    /// The quadratic with matrix `a` (n rows of n) and vector `b`.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] if `a` is not $n \times n$ for $n$ = `b.len()`.
    pub fn new(a: Vec<Vec<f64>>, b: Vec<f64>) -> Result<Self> {
        check_len("matrix rows", b.len(), a.len())?;
        for row in &a {
            check_len("matrix row", b.len(), row.len())?;
        }
        Ok(Self { a, b })
    }
}

impl Quadratic {
    /// The dimension $n$.
    pub fn dim(&self) -> usize {
        self.b.len()
    }
}

impl Objective for Quadratic {
    fn value_grad(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        let n = self.b.len();
        if x.len() != n || grad.len() != n {
            grad.fill(f64::NAN);
            return f64::NAN;
        }
        let mut f = 0.0;
        for ((row, bi), (gi, xi)) in self.a.iter().zip(&self.b).zip(grad.iter_mut().zip(x)) {
            let ax: f64 = row.iter().zip(x).map(|(a, x)| a * x).sum();
            *gi = ax - bi;
            f += 0.5 * xi * ax - bi * xi;
        }
        f
    }

    fn point_dim(&self) -> Option<usize> {
        Some(self.b.len())
    }
}

impl HessianObjective for Quadratic {
    fn hessian(&self, x: &[f64], hess: &mut [f64]) {
        let n = self.b.len();
        if x.len() != n || hess.len() != n * n {
            hess.fill(f64::NAN);
            return;
        }
        for (i, row) in self.a.iter().enumerate() {
            hess[i * n..(i + 1) * n].copy_from_slice(row);
        }
    }
}

/// When an iterative method stops.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Stop {
    /// At most this many iterations (default 1000).
    pub max_iter: usize,
    /// Converged once $\lVert\nabla f\rVert_\infty \le$ `grad_tol` (default 1e-8).
    pub grad_tol: f64,
}

impl Default for Stop {
    fn default() -> Self {
        Self { max_iter: 1000, grad_tol: 1e-8 }
    }
}

impl Stop {
    pub(crate) fn check(&self) -> Result<()> {
        check_non_negative("grad_tol", self.grad_tol)
    }
}

/// What a minimisation did.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// $f$ at the final point.
    pub value: f64,
    /// $\lVert\nabla f\rVert_\infty$ at the final point.
    pub grad_norm: f64,
    /// Iterations taken.
    pub iterations: usize,
    /// Objective evaluations (value and gradient together).
    pub evaluations: usize,
    /// Whether the gradient tolerance was met.
    pub converged: bool,
}

pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// $a^\top b$ summed as PyTorch's CPU `dot` sums in `float64` (its BLAS kernel): even and odd
/// terms in two running sums, added at the end. Checked against PyTorch 2.15 for
/// $n \le 8$, where it gives the same bits; longer vectors are summed in blocks there, and
/// the two agree to rounding.
pub(crate) fn torch_dot(a: &[f64], b: &[f64]) -> f64 {
    let (mut even, mut odd) = (0.0, 0.0);
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        if i % 2 == 0 {
            even += x * y;
        } else {
            odd += x * y;
        }
    }
    even + odd
}

/// $\sum_i a_i$ as PyTorch's CPU `sum` adds `float64` values: four running sums over the
/// indices modulo 4, added in order at the end (checked against PyTorch 2.15 for
/// $n \le 9$; larger tensors are reduced in blocks there, and the two agree to rounding).
pub(crate) fn torch_sum(a: impl Iterator<Item = f64>) -> f64 {
    let mut acc = [0.0; 4];
    for (i, v) in a.enumerate() {
        acc[i % 4] += v;
    }
    ((acc[0] + acc[1]) + acc[2]) + acc[3]
}

pub(crate) fn norm_inf(a: &[f64]) -> f64 {
    a.iter().fold(0.0_f64, |m, v| m.max(v.abs()))
}

/// Evaluates at the start and checks the value and gradient are finite.
pub(crate) fn start<F: Objective + ?Sized>(f: &F, x: &[f64], g: &mut [f64]) -> Result<f64> {
    let fx = f.value_grad(x, g);
    if !fx.is_finite() || g.iter().any(|v| !v.is_finite()) {
        return Err(Error::NonFiniteValue { value: fx });
    }
    Ok(fx)
}
