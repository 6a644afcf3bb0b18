//! Line searches: given a point $x$, a descent direction $d$ and $\phi(\alpha) = f(x + \alpha d)$,
//! choose the step $\alpha$.
//!
//! - [`Bisection`]: an (almost) exact search, bisection on $\phi'(\alpha) = 0$.
//! - [`Backtracking`]: shrink α until the Armijo (sufficient decrease) condition holds.
//! - [`StrongWolfe`]: sufficient decrease and a small $|\phi'(\alpha)|$, the search that
//!   conjugate gradient and L-BFGS need (Nocedal and Wright, algorithms 3.5 and 3.6).

mod backtracking;
mod bisection;
mod wolfe;

pub use backtracking::Backtracking;
pub use bisection::Bisection;
pub use wolfe::{StrongWolfe, WolfeVariant};

use serde::{Deserialize, Serialize};

use super::{Objective, dot, torch_dot};
use crate::error::check_len;
use crate::{Error, Result};

/// The step a line search chose.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LineSearchResult {
    /// The step α.
    pub alpha: f64,
    /// $\phi(\alpha) = f(x + \alpha d)$.
    pub value: f64,
    /// Objective evaluations spent.
    pub evaluations: usize,
}

/// A rule for the step along a descent direction.
pub trait LineSearch {
    /// Searches along `d` from `x`, where $f(x)$ = `fx` and $\nabla f(x)$ = `g`, starting with
    /// the trial step `alpha0`. On success `x_new` and `g_new` hold $x + \alpha d$ and its
    /// gradient.
    ///
    /// # Errors
    /// [`Error::NotDescent`] if $\nabla f(x)^\top d \ge 0$; [`Error::LengthMismatch`] for
    /// buffers of different lengths; [`Error::LineSearch`] if no acceptable step is found
    /// within the evaluation budget.
    #[allow(clippy::too_many_arguments)]
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
    ) -> Result<LineSearchResult>;
}

/// Checks the buffers and the direction; returns $\phi'(0) = \nabla f(x)^\top d$.
pub(crate) fn prepare<F: Objective + ?Sized>(
    f: &F,
    x: &[f64],
    g: &[f64],
    d: &[f64],
    x_new: &[f64],
    g_new: &[f64],
) -> Result<f64> {
    let n = x.len();
    super::check_dim(f, n)?;
    check_len("gradient", n, g.len())?;
    check_len("direction", n, d.len())?;
    check_len("new point", n, x_new.len())?;
    check_len("new gradient", n, g_new.len())?;
    let slope = dot(g, d);
    if slope.is_nan() || slope >= 0.0 {
        return Err(Error::NotDescent { slope });
    }
    Ok(slope)
}

/// How a search forms $x + \alpha d$ and $\phi'(\alpha)$.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rounding {
    /// One IEEE operation after the other, sums in order.
    Plain,
    /// As PyTorch on the CPU: $x + \alpha d$ with a fused multiply-add (`p.add_(d, alpha=α)`),
    /// the slope with its `dot` ([`super::torch_dot`]).
    PyTorch,
}

/// $\phi(\alpha)$ and $\phi'(\alpha)$, rounded as `rounding` says, leaving $x + \alpha d$ and its
/// gradient in the buffers. A non-finite value is reported as $+\infty$ so that every search
/// treats it as "too far".
pub(crate) fn phi<F: Objective + ?Sized>(
    rounding: Rounding,
    f: &F,
    x: &[f64],
    d: &[f64],
    alpha: f64,
    x_new: &mut [f64],
    g_new: &mut [f64],
) -> (f64, f64) {
    step_to(rounding, x, d, alpha, x_new);
    let v = f.value_grad(x_new, g_new);
    let slope = match rounding {
        Rounding::Plain => dot(g_new, d),
        Rounding::PyTorch => torch_dot(g_new, d),
    };
    if v.is_finite() && slope.is_finite() { (v, slope) } else { (f64::INFINITY, f64::NAN) }
}

/// Writes $x + \alpha d$ into `x_new`, rounded as `rounding` says.
pub(crate) fn step_to(rounding: Rounding, x: &[f64], d: &[f64], alpha: f64, x_new: &mut [f64]) {
    for ((xn, xi), di) in x_new.iter_mut().zip(x).zip(d) {
        *xn = match rounding {
            Rounding::Plain => xi + alpha * di,
            Rounding::PyTorch => di.mul_add(alpha, *xi),
        };
    }
}

#[cfg(test)]
pub(crate) mod test_functions {
    /// log(eˣ + e^(−2x−3)), the bisection exercise of the gradient-descent chapter; minimum
    /// at x* = −1 (where eˣ = 2e^(−2x−3)) + ln(2)/3.
    pub fn log_sum_exp(x: &[f64], g: &mut [f64]) -> f64 {
        let (a, b) = (x[0].exp(), (-2.0 * x[0] - 3.0).exp());
        g[0] = (a - 2.0 * b) / (a + b);
        (a + b).ln()
    }

    pub const LOG_SUM_EXP_MIN: f64 = -1.0 + std::f64::consts::LN_2 / 3.0;

    pub fn rosenbrock(x: &[f64], g: &mut [f64]) -> f64 {
        let (a, b) = (1.0 - x[0], x[1] - x[0] * x[0]);
        g[0] = -2.0 * a - 400.0 * x[0] * b;
        g[1] = 200.0 * b;
        a * a + 100.0 * b * b
    }
}
