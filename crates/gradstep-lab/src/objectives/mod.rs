//! Test objectives with their derivatives.
//!
//! One-dimensional functions implement [`Objective1d`] (value, first and second derivative);
//! two-dimensional ones implement [`Objective2d`] (value, gradient, Hessian); functions of any
//! number of variables implement [`ObjectiveNd`] (every [`Objective2d`] is one too). Every
//! derivative is written out by hand and checked against central finite differences in the
//! tests. Every objective is also a [`gradstep::classical::Objective`] (with its Hessian), so the
//! library's Newton's method, line searches, conjugate gradient and L-BFGS take it as it is.
//!
//! | objective | formula | minimum | chapter |
//! |---|---|---|---|
//! | [`Square`] | $x^2$ | 0 at 0 | gd |
//! | [`XCos`] | $x\cos(cx)$ | many local minima | intro, gd |
//! | [`Cosh`] | $\cosh(cx)$ | 1 at 0 | gd (Newton) |
//! | [`Cube`] | $x^3$ | none; saddle at 0 | intro |
//! | [`Tanh`] | $\tanh x$ | none; vanishing gradient | intro |
//! | [`Risk`], [`EmpiricalRisk`] | $x\cos\pi x$, $+0.2\cos 5\pi x$ | | intro |
//! | [`Bowl`] | $a x_1^2 + b x_2^2$ | 0 at the origin | gd, sgd, momentum, … |
//! | [`RotatedBowl`] | [`Bowl`] turned by θ | 0 at the origin | adagrad exercise |
//! | [`Saddle`] | $x_1^2 - x_2^2$ | none; saddle at 0 | intro |
//! | [`Rosenbrock`] | $(a-x_1)^2 + b(x_2-x_1^2)^2$ | 0 at $(a, a^2)$ | |
//! | [`Quadratic`] | $\tfrac12 x^\top A x - b^\top x$ | $-\tfrac12 b^\top A^{-1} b$ at $A^{-1}b$ | momentum |

mod classical;
mod one_d;
mod quadratic;
mod two_d;

pub use one_d::{Cosh, Cube, EmpiricalRisk, Risk, Square, Tanh, XCos};
pub use quadratic::{ObjectiveError, Quadratic};
pub use two_d::{Bowl, Rosenbrock, RotatedBowl, Saddle};

/// A function of one variable with its first two derivatives.
///
/// # Example
/// ```
/// use gradstep_lab::objectives::{Objective1d, Square};
///
/// assert_eq!((Square.value(3.0), Square.derivative(3.0), Square.second_derivative(3.0)), (9.0, 6.0, 2.0));
/// ```
pub trait Objective1d {
    /// f(x).
    fn value(&self, x: f64) -> f64;
    /// f′(x).
    fn derivative(&self, x: f64) -> f64;
    /// f″(x).
    fn second_derivative(&self, x: f64) -> f64;
}

/// A function of two variables with its gradient and Hessian.
///
/// # Example
/// ```
/// use gradstep_lab::objectives::{Bowl, Objective2d};
///
/// let f = Bowl::new(1.0, 2.0);
/// assert_eq!(f.gradient([1.0, 1.0]), [2.0, 4.0]);
/// ```
pub trait Objective2d {
    /// f(x).
    fn value(&self, x: [f64; 2]) -> f64;
    /// ∇f(x).
    fn gradient(&self, x: [f64; 2]) -> [f64; 2];
    /// ∇²f(x), row-major.
    fn hessian(&self, x: [f64; 2]) -> [[f64; 2]; 2];
}

/// A function of any number of variables with its gradient, for the n-dimensional runner
/// ([`crate::runner::run_nd`]).
///
/// Every [`Objective2d`] is an `ObjectiveNd` of dimension 2. Callers pass slices of length
/// [`ObjectiveNd::dim`] (the runners check this); shorter slices make the methods panic on
/// indexing, like slice indexing does.
///
/// # Example
/// ```
/// use gradstep_lab::objectives::{Bowl, ObjectiveNd};
///
/// let f = Bowl::new(1.0, 2.0);
/// let mut g = [0.0; 2];
/// f.gradient_into(&[1.0, 1.0], &mut g);
/// assert_eq!((f.dim(), f.value_at(&[1.0, 1.0]), g), (2, 3.0, [2.0, 4.0]));
/// ```
pub trait ObjectiveNd {
    /// The number of variables.
    fn dim(&self) -> usize;
    /// f(x), for `x.len() == self.dim()`.
    fn value_at(&self, x: &[f64]) -> f64;
    /// Writes ∇f(x) into `grad` (both of length [`ObjectiveNd::dim`]).
    fn gradient_into(&self, x: &[f64], grad: &mut [f64]);
}

impl<F: Objective2d> ObjectiveNd for F {
    fn dim(&self) -> usize {
        2
    }
    fn value_at(&self, x: &[f64]) -> f64 {
        self.value([x[0], x[1]])
    }
    fn gradient_into(&self, x: &[f64], grad: &mut [f64]) {
        grad.copy_from_slice(&self.gradient([x[0], x[1]]));
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn check_1d(f: &impl Objective1d, x: f64) {
        let h = 1e-5;
        let d = (f.value(x + h) - f.value(x - h)) / (2.0 * h);
        let dd = (f.derivative(x + h) - f.derivative(x - h)) / (2.0 * h);
        assert!((d - f.derivative(x)).abs() < 1e-6 * (1.0 + d.abs()), "f' at {x}");
        assert!((dd - f.second_derivative(x)).abs() < 1e-6 * (1.0 + dd.abs()), "f'' at {x}");
    }

    pub(crate) fn check_2d(f: &impl Objective2d, x: [f64; 2]) {
        let h = 1e-5;
        for i in 0..2 {
            let (mut up, mut down) = (x, x);
            up[i] += h;
            down[i] -= h;
            let d = (f.value(up) - f.value(down)) / (2.0 * h);
            assert!((d - f.gradient(x)[i]).abs() < 1e-6 * (1.0 + d.abs()), "df/dx{i} at {x:?}");
            for j in 0..2 {
                let dd = (f.gradient(up)[j] - f.gradient(down)[j]) / (2.0 * h);
                assert!((dd - f.hessian(x)[i][j]).abs() < 1e-6 * (1.0 + dd.abs()), "H{i}{j} at {x:?}");
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn one_dimensional_derivatives_match_finite_differences(x in -8.0..8.0_f64, c in 0.1..2.0_f64) {
            check_1d(&Square, x);
            check_1d(&XCos { c }, x);
            check_1d(&Cosh { c }, x);
            check_1d(&Cube, x);
            check_1d(&Tanh, x / 2.0);
            check_1d(&Risk, x / 4.0);
            check_1d(&EmpiricalRisk, x / 4.0);
        }

        #[test]
        fn two_dimensional_derivatives_match_finite_differences(
            x1 in -5.0..5.0_f64, x2 in -5.0..5.0_f64, a in 0.05..3.0_f64, b in 0.05..3.0_f64, t in -3.0..3.0_f64,
        ) {
            check_2d(&Bowl::new(a, b), [x1, x2]);
            check_2d(&RotatedBowl::new(a, b, t), [x1, x2]);
            check_2d(&Saddle, [x1, x2]);
            check_2d(&Rosenbrock::new(a, 10.0 * b), [x1 / 2.0, x2 / 2.0]);
        }
    }

    #[test]
    fn the_blanket_nd_view_agrees_with_the_2d_one() {
        let f = Rosenbrock::default();
        let mut g = [0.0; 2];
        f.gradient_into(&[0.3, -0.2], &mut g);
        assert_eq!(g, f.gradient([0.3, -0.2]));
        assert_eq!(f.value_at(&[0.3, -0.2]), f.value([0.3, -0.2]));
    }
}
