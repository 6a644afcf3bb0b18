//! Functions of two variables.

use super::Objective2d;

/// f(x) = a·x₁² + b·x₂²: an axis-aligned quadratic bowl, minimum 0 at the origin.
///
/// The GD chapter uses a = 1, b = 2; the momentum chapter the ill-conditioned a = 0.1, b = 2.
///
/// # Example
/// ```
/// use gradstep_lab::objectives::{Bowl, Objective2d};
///
/// assert_eq!(Bowl::new(0.1, 2.0).hessian([0.0, 0.0]), [[0.2, 0.0], [0.0, 4.0]]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bowl {
    /// Coefficient of x₁²: half the curvature along x₁ (the Hessian's first diagonal entry is 2a).
    pub a: f64,
    /// Coefficient of x₂²: half the curvature along x₂ (the Hessian's second diagonal entry is 2b).
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

/// A [`Bowl`] turned by the angle θ: f(x) = a·u² + b·v² with u = x₁cos θ + x₂sin θ and
/// v = −x₁sin θ + x₂cos θ. Its axes no longer line up with the coordinates, which is what
/// defeats per-coordinate methods such as Adagrad.
///
/// # Example
/// The Adagrad chapter's exercise 0.1(x₁+x₂)² + 2(x₁−x₂)² is a = 0.2, b = 4, θ = 45°:
/// ```
/// use gradstep_lab::objectives::{Objective2d, RotatedBowl};
///
/// let f = RotatedBowl::new(0.2, 4.0, std::f64::consts::FRAC_PI_4);
/// let [x1, x2] = [0.7, -1.3];
/// let direct = 0.1 * (x1 + x2) * (x1 + x2) + 2.0 * (x1 - x2) * (x1 - x2);
/// assert!((f.value([x1, x2]) - direct).abs() < 1e-12);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RotatedBowl {
    /// Coefficient of u²: half the curvature along the first rotated axis u.
    pub a: f64,
    /// Coefficient of v²: half the curvature along the second rotated axis v.
    pub b: f64,
    /// The angle θ in radians.
    pub theta: f64,
}

impl RotatedBowl {
    /// a·u² + b·v² in coordinates turned by `theta` radians.
    pub fn new(a: f64, b: f64, theta: f64) -> Self {
        Self { a, b, theta }
    }
}

impl Objective2d for RotatedBowl {
    fn value(&self, [x1, x2]: [f64; 2]) -> f64 {
        let (s, c) = self.theta.sin_cos();
        let (u, v) = (c * x1 + s * x2, -s * x1 + c * x2);
        self.a * u * u + self.b * v * v
    }
    fn gradient(&self, [x1, x2]: [f64; 2]) -> [f64; 2] {
        let (s, c) = self.theta.sin_cos();
        let (u, v) = (c * x1 + s * x2, -s * x1 + c * x2);
        let (du, dv) = (2.0 * self.a * u, 2.0 * self.b * v);
        [c * du - s * dv, s * du + c * dv]
    }
    fn hessian(&self, _x: [f64; 2]) -> [[f64; 2]; 2] {
        let (s, c) = self.theta.sin_cos();
        let (a, b) = (2.0 * self.a, 2.0 * self.b);
        [[a * c * c + b * s * s, (a - b) * c * s], [(a - b) * c * s, a * s * s + b * c * c]]
    }
}

/// f(x) = x₁² − x₂²: zero gradient at the origin, which is a minimum along x₁ and a maximum
/// along x₂, the introduction's saddle point.
///
/// # Example
/// ```
/// use gradstep_lab::objectives::{Objective2d, Saddle};
///
/// assert_eq!(Saddle.gradient([0.0, 0.0]), [0.0, 0.0]);
/// assert_eq!(Saddle.hessian([0.0, 0.0]), [[2.0, 0.0], [0.0, -2.0]]);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Saddle;

impl Objective2d for Saddle {
    fn value(&self, [x1, x2]: [f64; 2]) -> f64 {
        x1 * x1 - x2 * x2
    }
    fn gradient(&self, [x1, x2]: [f64; 2]) -> [f64; 2] {
        [2.0 * x1, -2.0 * x2]
    }
    fn hessian(&self, _x: [f64; 2]) -> [[f64; 2]; 2] {
        [[2.0, 0.0], [0.0, -2.0]]
    }
}

/// Rosenbrock's banana, f(x) = (a − x₁)² + b(x₂ − x₁²)², minimum 0 at (a, a²) at the end of a
/// long curved valley. [`Rosenbrock::default`] is the classic a = 1, b = 100.
///
/// # Example
/// ```
/// use gradstep_lab::objectives::{Objective2d, Rosenbrock};
///
/// let f = Rosenbrock::default();
/// assert_eq!((f.value([1.0, 1.0]), f.gradient([1.0, 1.0])), (0.0, [0.0, 0.0]));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rosenbrock {
    /// Position of the minimum along x₁.
    pub a: f64,
    /// Steepness of the valley walls.
    pub b: f64,
}

impl Rosenbrock {
    /// (a − x₁)² + b(x₂ − x₁²)².
    pub fn new(a: f64, b: f64) -> Self {
        Self { a, b }
    }
}

impl Default for Rosenbrock {
    fn default() -> Self {
        Self { a: 1.0, b: 100.0 }
    }
}

impl Objective2d for Rosenbrock {
    fn value(&self, [x, y]: [f64; 2]) -> f64 {
        let (p, q) = (self.a - x, y - x * x);
        p * p + self.b * q * q
    }
    fn gradient(&self, [x, y]: [f64; 2]) -> [f64; 2] {
        let q = y - x * x;
        [-2.0 * (self.a - x) - 4.0 * self.b * x * q, 2.0 * self.b * q]
    }
    fn hessian(&self, [x, y]: [f64; 2]) -> [[f64; 2]; 2] {
        let off = -4.0 * self.b * x;
        [[2.0 - 4.0 * self.b * (y - x * x) + 8.0 * self.b * x * x, off], [off, 2.0 * self.b]]
    }
}
