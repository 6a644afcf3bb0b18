//! The lab's objectives as objectives of the library's classical methods
//! ([`gradstep::classical`]: Newton's method, line searches, conjugate gradient, L-BFGS), so a
//! chapter can hand the same function to a hand-written update and to the library.
//!
//! Each says its dimension ([`Objective::point_dim`]), so the classical methods report a
//! starting point of the wrong dimension as [`gradstep::Error::LengthMismatch`]; evaluated by
//! hand at such a point, an objective gives a NaN value and gradient rather than a panic.

use gradstep::classical::{HessianObjective, Objective};

use super::{
    Bowl, Cosh, Cube, EmpiricalRisk, Objective1d, Objective2d, ObjectiveNd, Quadratic, Risk, Rosenbrock,
    RotatedBowl, Saddle, Square, Tanh, XCos,
};

/// `x` and `grad` as the fixed-size point of an objective of dimension `D`, or `None` (after
/// filling `grad` with NaN) when either has another length.
fn point<const D: usize>(x: &[f64], grad: &mut [f64]) -> Option<[f64; D]> {
    match <[f64; D]>::try_from(x) {
        Ok(p) if grad.len() == D => Some(p),
        _ => {
            grad.fill(f64::NAN);
            None
        }
    }
}

macro_rules! classical_1d {
    ($($t:ty),*) => {$(
        impl Objective for $t {
            fn value_grad(&self, x: &[f64], grad: &mut [f64]) -> f64 {
                let Some([x]) = point::<1>(x, grad) else { return f64::NAN };
                grad[0] = self.derivative(x);
                self.value(x)
            }
            fn point_dim(&self) -> Option<usize> {
                Some(1)
            }
        }
        impl HessianObjective for $t {
            fn hessian(&self, x: &[f64], hess: &mut [f64]) {
                match (x, hess) {
                    ([x], [h]) => *h = self.second_derivative(*x),
                    (_, hess) => hess.fill(f64::NAN),
                }
            }
        }
    )*};
}

macro_rules! classical_2d {
    ($($t:ty),*) => {$(
        impl Objective for $t {
            fn value_grad(&self, x: &[f64], grad: &mut [f64]) -> f64 {
                let Some(x) = point::<2>(x, grad) else { return f64::NAN };
                grad.copy_from_slice(&self.gradient(x));
                self.value(x)
            }
            fn point_dim(&self) -> Option<usize> {
                Some(2)
            }
        }
        impl HessianObjective for $t {
            fn hessian(&self, x: &[f64], hess: &mut [f64]) {
                match (<[f64; 2]>::try_from(x), hess.len()) {
                    (Ok(x), 4) => hess.copy_from_slice(Objective2d::hessian(self, x).as_flattened()),
                    _ => hess.fill(f64::NAN),
                }
            }
        }
    )*};
}

classical_1d!(Square, XCos, Cosh, Cube, Tanh, Risk, EmpiricalRisk);
classical_2d!(Bowl, RotatedBowl, Saddle, Rosenbrock);

impl Objective for Quadratic {
    fn value_grad(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        if x.len() != self.dim() || grad.len() != self.dim() {
            grad.fill(f64::NAN);
            return f64::NAN;
        }
        self.gradient_into(x, grad);
        self.value_at(x)
    }
    fn point_dim(&self) -> Option<usize> {
        Some(self.dim())
    }
}

impl HessianObjective for Quadratic {
    fn hessian(&self, x: &[f64], hess: &mut [f64]) {
        let n = self.dim();
        if x.len() == n && hess.len() == n * n {
            for (k, h) in hess.iter_mut().enumerate() {
                *h = self.a(k / n, k % n);
            }
        } else {
            hess.fill(f64::NAN);
        }
    }
}

#[cfg(test)]
mod tests {
    use gradstep::classical::{Lbfgs, Newton, Stop};

    use super::*;

    #[test]
    fn library_newton_matches_the_hand_written_rule() {
        let f = XCos { c: 0.15 * std::f64::consts::PI };
        let newton = Newton::new(1.0).unwrap();
        let (mut x, mut state) = ([10.0], newton.init(1));
        let mut by_hand = 10.0;
        for _ in 0..10 {
            newton.step(&f, &mut x, &mut state).unwrap();
            by_hand -= f.derivative(by_hand) / f.second_derivative(by_hand);
            assert!((x[0] - by_hand).abs() < 1e-12 * by_hand.abs().max(1.0));
        }
        assert!((x[0] - 26.834133).abs() < 5e-6);
    }

    #[test]
    fn two_dimensional_objectives_work_with_lbfgs_and_newton() {
        let mut x = [-1.2, 1.0];
        let report =
            Lbfgs::new(5).unwrap().minimize(&Rosenbrock::default(), &mut x, Stop::default()).unwrap();
        assert!(report.converged && (x[0] - 1.0).abs() < 1e-5 && (x[1] - 1.0).abs() < 1e-5);
        let newton = Newton::new(1.0).unwrap();
        let (mut y, mut state) = ([-5.0, -2.0], newton.init(2));
        newton.step(&Bowl::new(1.0, 2.0), &mut y, &mut state).unwrap();
        assert!(y[0].abs() < 1e-12 && y[1].abs() < 1e-12, "one Newton step solves a quadratic");
    }

    #[test]
    fn a_quadratic_of_any_dimension_is_solved_by_one_newton_step() {
        let q = Quadratic::diagonal(&[1.0, 4.0, 9.0]).unwrap();
        let newton = Newton::new(1.0).unwrap();
        let (mut x, mut state) = ([3.0, -2.0, 1.0], newton.init(3));
        newton.step(&q, &mut x, &mut state).unwrap();
        let star = q.minimizer();
        assert!(x.iter().zip(&star).all(|(a, b)| (a - b).abs() < 1e-12));
    }

    #[test]
    fn a_point_of_the_wrong_dimension_is_nan_not_a_panic() {
        let mut g = [0.0; 3];
        assert!(Bowl::new(1.0, 2.0).value_grad(&[1.0, 2.0, 3.0], &mut g).is_nan());
        assert!(g.iter().all(|v| v.is_nan()));
        let mut g1 = [0.0];
        assert!(Square.value_grad(&[], &mut g1).is_nan());
        let mut h = [0.0; 4];
        Square.hessian(&[1.0, 2.0], &mut h);
        assert!(h.iter().all(|v| v.is_nan()));
        // The library's methods check the dimension first.
        let newton = Newton::new(1.0).unwrap();
        let mut state = newton.init(3);
        let err = newton.step(&Bowl::new(1.0, 2.0), &mut [1.0, 2.0, 3.0], &mut state).unwrap_err();
        assert_eq!(err, gradstep::Error::LengthMismatch { what: "point", expected: 2, got: 3 });
        let q = Quadratic::diagonal(&[1.0, 4.0]).unwrap();
        assert!(Lbfgs::new(3).unwrap().minimize(&q, &mut [1.0], Stop::default()).is_err());
    }
}
