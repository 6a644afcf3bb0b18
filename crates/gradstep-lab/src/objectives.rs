//! Test objectives with their derivatives.
//!
//! One-dimensional functions implement [`Objective1d`] (value, first and second derivative);
//! two-dimensional ones implement [`Objective2d`] (value, gradient, Hessian). Every derivative
//! is written out by hand and checked against central finite differences in the tests.

/// A function of one variable with its first two derivatives.
pub trait Objective1d {
    /// f(x).
    fn value(&self, x: f64) -> f64;
    /// f′(x).
    fn derivative(&self, x: f64) -> f64;
    /// f″(x).
    fn second_derivative(&self, x: f64) -> f64;
}

/// A function of two variables with its gradient and Hessian.
pub trait Objective2d {
    /// f(x).
    fn value(&self, x: [f64; 2]) -> f64;
    /// ∇f(x).
    fn gradient(&self, x: [f64; 2]) -> [f64; 2];
    /// ∇²f(x), row-major.
    fn hessian(&self, x: [f64; 2]) -> [[f64; 2]; 2];
}

/// f(x) = x², minimum 0 at x = 0.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Square;

impl Objective1d for Square {
    fn value(&self, x: f64) -> f64 {
        x * x
    }
    fn derivative(&self, x: f64) -> f64 {
        2.0 * x
    }
    fn second_derivative(&self, _x: f64) -> f64 {
        2.0
    }
}

/// f(x) = x·cos(cx): non-convex, with infinitely many local minima.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct XCos {
    /// The frequency c; the GD chapter uses 0.15π, the introduction π.
    pub c: f64,
}

impl Objective1d for XCos {
    fn value(&self, x: f64) -> f64 {
        x * (self.c * x).cos()
    }
    fn derivative(&self, x: f64) -> f64 {
        let cx = self.c * x;
        cx.cos() - cx * cx.sin()
    }
    fn second_derivative(&self, x: f64) -> f64 {
        let cx = self.c * x;
        -2.0 * self.c * cx.sin() - self.c * cx * cx.cos()
    }
}

/// f(x) = cosh(cx): convex, minimum 1 at x = 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cosh {
    /// The scale c.
    pub c: f64,
}

impl Objective1d for Cosh {
    fn value(&self, x: f64) -> f64 {
        (self.c * x).cosh()
    }
    fn derivative(&self, x: f64) -> f64 {
        self.c * (self.c * x).sinh()
    }
    fn second_derivative(&self, x: f64) -> f64 {
        self.c * self.c * (self.c * x).cosh()
    }
}

/// f(x) = a·x₁² + b·x₂²: an axis-aligned quadratic bowl, minimum 0 at the origin.
///
/// The GD chapter uses a = 1, b = 2; the momentum chapter the ill-conditioned a = 0.1, b = 2.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bowl {
    /// Curvature along x₁ (half the Hessian's first diagonal entry).
    pub a: f64,
    /// Curvature along x₂.
    pub b: f64,
}

impl Bowl {
    /// f(x) = a·x₁² + b·x₂².
    pub fn new(a: f64, b: f64) -> Self {
        Self { a, b }
    }
}

impl Objective2d for Bowl {
    fn value(&self, [x1, x2]: [f64; 2]) -> f64 {
        self.a * x1 * x1 + self.b * x2 * x2
    }
    fn gradient(&self, [x1, x2]: [f64; 2]) -> [f64; 2] {
        [2.0 * self.a * x1, 2.0 * self.b * x2]
    }
    fn hessian(&self, _x: [f64; 2]) -> [[f64; 2]; 2] {
        [[2.0 * self.a, 0.0], [0.0, 2.0 * self.b]]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_1d(f: &impl Objective1d, x: f64) {
        let h = 1e-5;
        let d = (f.value(x + h) - f.value(x - h)) / (2.0 * h);
        let dd = (f.derivative(x + h) - f.derivative(x - h)) / (2.0 * h);
        assert!((d - f.derivative(x)).abs() < 1e-6 * (1.0 + d.abs()), "f' at {x}");
        assert!((dd - f.second_derivative(x)).abs() < 1e-6 * (1.0 + dd.abs()), "f'' at {x}");
    }

    fn check_2d(f: &impl Objective2d, x: [f64; 2]) {
        let h = 1e-5;
        for i in 0..2 {
            let (mut up, mut down) = (x, x);
            up[i] += h;
            down[i] -= h;
            let d = (f.value(up) - f.value(down)) / (2.0 * h);
            assert!((d - f.gradient(x)[i]).abs() < 1e-6 * (1.0 + d.abs()));
            for j in 0..2 {
                let dd = (f.gradient(up)[j] - f.gradient(down)[j]) / (2.0 * h);
                assert!((dd - f.hessian(x)[i][j]).abs() < 1e-6 * (1.0 + dd.abs()));
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn one_dimensional_derivatives_match_finite_differences(x in -8.0..8.0_f64, c in 0.1..2.0_f64) {
            check_1d(&Square, x);
            check_1d(&XCos { c }, x);
            check_1d(&Cosh { c }, x);
        }

        #[test]
        fn bowl_gradient_and_hessian_match_finite_differences(
            x1 in -5.0..5.0_f64, x2 in -5.0..5.0_f64, a in 0.05..3.0_f64, b in 0.05..3.0_f64,
        ) {
            check_2d(&Bowl::new(a, b), [x1, x2]);
        }
    }
}
