//! Functions of one variable.

use std::f64::consts::PI;

use super::Objective1d;

/// f(x) = x², minimum 0 at x = 0.
///
/// # Example
/// ```
/// use gradstep_lab::objectives::{Objective1d, Square};
///
/// assert_eq!(Square.derivative(10.0), 20.0);
/// ```
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
///
/// # Example
/// ```
/// use gradstep_lab::objectives::{Objective1d, XCos};
///
/// let f = XCos { c: 0.15 * std::f64::consts::PI };
/// assert!((f.value(10.0) - 10.0 * (1.5 * std::f64::consts::PI).cos()).abs() < 1e-12);
/// ```
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
///
/// # Example
/// ```
/// use gradstep_lab::objectives::{Cosh, Objective1d};
///
/// assert_eq!(Cosh { c: 0.5 }.value(0.0), 1.0);
/// ```
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

/// f(x) = x³: f′(0) = f″(0) = 0 at a point that is no minimum, the 1-D saddle point.
///
/// # Example
/// ```
/// use gradstep_lab::objectives::{Cube, Objective1d};
///
/// assert_eq!((Cube.derivative(0.0), Cube.second_derivative(0.0)), (0.0, 0.0));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Cube;

impl Objective1d for Cube {
    fn value(&self, x: f64) -> f64 {
        x * x * x
    }
    fn derivative(&self, x: f64) -> f64 {
        3.0 * x * x
    }
    fn second_derivative(&self, x: f64) -> f64 {
        6.0 * x
    }
}

/// f(x) = tanh x, whose gradient 1 − tanh²x vanishes away from 0 (tanh′(4) ≈ 0.0013).
///
/// # Example
/// ```
/// use gradstep_lab::objectives::{Objective1d, Tanh};
///
/// assert!((Tanh.derivative(4.0) - 0.0013).abs() < 1e-4);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tanh;

impl Objective1d for Tanh {
    fn value(&self, x: f64) -> f64 {
        x.tanh()
    }
    fn derivative(&self, x: f64) -> f64 {
        let t = x.tanh();
        1.0 - t * t
    }
    fn second_derivative(&self, x: f64) -> f64 {
        let t = x.tanh();
        -2.0 * t * (1.0 - t * t)
    }
}

/// The introduction's risk, f(x) = x·cos(πx): the function we would like to minimise.
///
/// # Example
/// ```
/// use gradstep_lab::objectives::{Objective1d, Risk, XCos};
///
/// assert_eq!(Risk.value(1.1), XCos { c: std::f64::consts::PI }.value(1.1));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Risk;

impl Objective1d for Risk {
    fn value(&self, x: f64) -> f64 {
        XCos { c: PI }.value(x)
    }
    fn derivative(&self, x: f64) -> f64 {
        XCos { c: PI }.derivative(x)
    }
    fn second_derivative(&self, x: f64) -> f64 {
        XCos { c: PI }.second_derivative(x)
    }
}

/// The introduction's empirical risk, g(x) = x·cos(πx) + 0.2·cos(5πx): the risk as seen
/// through a finite training set, with a minimum in a different place.
///
/// # Example
/// ```
/// use gradstep_lab::objectives::{EmpiricalRisk, Objective1d, Risk};
///
/// let gap = EmpiricalRisk.value(1.0) - Risk.value(1.0);
/// assert!((gap - 0.2 * (5.0 * std::f64::consts::PI).cos()).abs() < 1e-12);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EmpiricalRisk;

impl Objective1d for EmpiricalRisk {
    fn value(&self, x: f64) -> f64 {
        Risk.value(x) + 0.2 * (5.0 * PI * x).cos()
    }
    fn derivative(&self, x: f64) -> f64 {
        Risk.derivative(x) - PI * (5.0 * PI * x).sin()
    }
    fn second_derivative(&self, x: f64) -> f64 {
        Risk.second_derivative(x) - 5.0 * PI * PI * (5.0 * PI * x).cos()
    }
}
