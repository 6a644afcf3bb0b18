//! Newton's method, with the full Hessian or only its diagonal.

use serde::{Deserialize, Serialize};

use super::HessianObjective;
use crate::error::{check_len, check_non_negative};
use crate::{Error, Result};

/// Newton's method, $x \leftarrow x - \eta\, H^{-1}\nabla f(x)$ with $H = \nabla^2 f(x)$, or,
/// with [`Newton::diagonal`], the diagonally preconditioned gradient step
/// $x \leftarrow x - \eta\, \operatorname{diag}(H)^{-1} \nabla f(x)$ of the gradient-descent
/// chapter.
///
/// Symbols: η = `lr` (1 for the pure method). The linear system is solved by Gaussian
/// elimination with partial pivoting, so an indefinite Hessian is used as it is: Newton's
/// method then heads for a saddle point or a maximum just as readily as for a minimum (the
/// point of the nonconvex example in the course). A singular Hessian is an error.
///
/// # Example
///
/// ```
/// use gradstep::classical::{Newton, Quadratic};
///
/// // On a quadratic, one pure Newton step lands on the minimum.
/// let q = Quadratic::new(vec![vec![4.0, 1.0], vec![1.0, 3.0]], vec![1.0, 2.0])?;
/// let newton = Newton::new(1.0)?;
/// let mut x = [10.0, -7.0];
/// let mut state = newton.init(2);
/// newton.step(&q, &mut x, &mut state)?;
/// assert!((x[0] - 1.0 / 11.0).abs() < 1e-12 && (x[1] - 7.0 / 11.0).abs() < 1e-12);
/// # Ok::<(), gradstep::Error>(())
/// ```
///
/// # References
/// Nocedal, Wright (2006), *Numerical Optimization*, 2nd ed., Springer, section 3.3.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Newton {
    lr: f64,
    diagonal: bool,
    absolute: bool,
}

/// Workspace of [`Newton`]: the gradient, the Hessian and the step, allocated once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewtonState {
    /// Steps taken.
    pub step: u64,
    /// The gradient at the last point.
    pub grad: Vec<f64>,
    /// The Hessian (overwritten by its factorisation).
    hess: Vec<f64>,
    /// The step direction $H^{-1}\nabla f$.
    pub direction: Vec<f64>,
}

impl Newton {
    /// Newton's method with step size `lr`.
    ///
    /// # Errors
    /// [`Error::Hyperparameter`] if `lr` is negative or not finite.
    pub fn new(lr: f64) -> Result<Self> {
        check_non_negative("lr", lr)?;
        Ok(Self { lr, diagonal: false, absolute: false })
    }

    /// Gradient descent preconditioned by the Hessian's diagonal, with step size `lr`.
    ///
    /// # Errors
    /// [`Error::Hyperparameter`] if `lr` is negative or not finite.
    pub fn diagonal(lr: f64) -> Result<Self> {
        check_non_negative("lr", lr)?;
        Ok(Self { lr, diagonal: true, absolute: false })
    }

    /// The diagonal method dividing by $|h_{ii}|$ instead of $h_{ii}$: where the curvature is
    /// negative the step still goes downhill (the exercise of the gradient-descent chapter).
    /// No effect on the full method.
    pub fn absolute(mut self) -> Self {
        self.absolute = true;
        self
    }

    /// Workspace for `n` parameters.
    ///
    /// # Panics
    /// If the $n \times n$ Hessian cannot be allocated ($n^2$ overflows or memory runs out).
    pub fn init(&self, n: usize) -> NewtonState {
        NewtonState { step: 0, grad: vec![0.0; n], hess: vec![0.0; n * n], direction: vec![0.0; n] }
    }

    /// One step from `x` in place; returns $f(x)$ before the step.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] if the workspace was made for another size, or `x` does not
    /// have the objective's dimension ([`super::Objective::point_dim`]);
    /// [`Error::Singular`] if the Hessian (or a diagonal entry) cannot be inverted.
    pub fn step<F: HessianObjective + ?Sized>(
        &self,
        f: &F,
        x: &mut [f64],
        state: &mut NewtonState,
    ) -> Result<f64> {
        let n = x.len();
        super::check_dim(f, n)?;
        let next = crate::error::next_step(state.step)?;
        check_len("gradient workspace", n, state.grad.len())?;
        check_len("Hessian workspace", n * n, state.hess.len())?;
        check_len("direction workspace", n, state.direction.len())?;
        let fx = f.value_grad(x, &mut state.grad);
        f.hessian(x, &mut state.hess);
        if self.diagonal {
            for i in 0..n {
                let h = state.hess[i * n + i];
                let h = if self.absolute { h.abs() } else { h };
                if h == 0.0 || !h.is_finite() {
                    return Err(Error::Singular { what: "Hessian diagonal", row: i });
                }
                state.direction[i] = state.grad[i] / h;
            }
        } else {
            state.direction.copy_from_slice(&state.grad);
            solve_in_place(&mut state.hess, &mut state.direction, n)?;
        }
        for (xi, di) in x.iter_mut().zip(&state.direction) {
            *xi -= self.lr * di;
        }
        state.step = next;
        Ok(fx)
    }
}

/// Solves $A z = r$ in place ($A$ row-major $n\times n$, overwritten; $r$ becomes $z$) by
/// Gaussian elimination with partial pivoting.
fn solve_in_place(a: &mut [f64], r: &mut [f64], n: usize) -> Result<()> {
    let scale = a.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    for k in 0..n {
        let p = (k..n).max_by(|&i, &j| a[i * n + k].abs().total_cmp(&a[j * n + k].abs())).unwrap_or(k);
        let pivot = a[p * n + k];
        if !pivot.is_finite() || pivot.abs() <= scale * 1e-14 {
            return Err(Error::Singular { what: "Hessian", row: k });
        }
        if p != k {
            for j in 0..n {
                a.swap(p * n + j, k * n + j);
            }
            r.swap(p, k);
        }
        for i in k + 1..n {
            let m = a[i * n + k] / pivot;
            if m != 0.0 {
                for j in k..n {
                    a[i * n + j] -= m * a[k * n + j];
                }
                r[i] -= m * r[k];
            }
        }
    }
    for k in (0..n).rev() {
        let s: f64 = (k + 1..n).map(|j| a[k * n + j] * r[j]).sum();
        r[k] = (r[k] - s) / a[k * n + k];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classical::{Objective, Quadratic};

    /// d2l's nonconvex example f(x) = x·cos(cx), c = 0.15π.
    struct XCos;
    const C: f64 = 0.15 * std::f64::consts::PI;
    impl Objective for XCos {
        fn value_grad(&self, x: &[f64], g: &mut [f64]) -> f64 {
            g[0] = (C * x[0]).cos() - C * x[0] * (C * x[0]).sin();
            x[0] * (C * x[0]).cos()
        }
    }
    impl HessianObjective for XCos {
        fn hessian(&self, x: &[f64], h: &mut [f64]) {
            h[0] = -2.0 * C * (C * x[0]).sin() - C * C * x[0] * (C * x[0]).cos();
        }
    }

    #[test]
    fn newton_on_the_nonconvex_example_matches_the_source() {
        // Dive into Deep Learning, gd chapter, 10 steps from x = 10: η = 1 goes wrong to
        // 26.8341, η = 0.5 ends at 7.2699.
        for (lr, want) in [(1.0, 26.8341), (0.5, 7.2699)] {
            let newton = Newton::new(lr).unwrap();
            let mut x = [10.0];
            let mut s = newton.init(1);
            for _ in 0..10 {
                newton.step(&XCos, &mut x, &mut s).unwrap();
            }
            assert!((x[0] - want).abs() < 1e-4, "lr {lr}: {}", x[0]);
        }
        // At x = 2 the curvature is negative: Newton climbs, the |f''| variant descends.
        let mut g = [0.0];
        let f0 = XCos.value_grad(&[2.0], &mut g);
        for (newton, climbs) in
            [(Newton::diagonal(0.5).unwrap(), true), (Newton::diagonal(0.5).unwrap().absolute(), false)]
        {
            let mut x = [2.0];
            let mut s = newton.init(1);
            newton.step(&XCos, &mut x, &mut s).unwrap();
            assert_eq!(XCos.value_grad(&x, &mut g) > f0, climbs);
        }
    }

    #[test]
    fn diagonal_preconditioning_solves_a_diagonal_quadratic_in_one_step() {
        let q = Quadratic::new(vec![vec![0.2, 0.0], vec![0.0, 4.0]], vec![0.0, 0.0]).unwrap();
        let newton = Newton::diagonal(1.0).unwrap();
        let mut x = [-5.0, -2.0];
        let mut s = newton.init(2);
        newton.step(&q, &mut x, &mut s).unwrap();
        assert_eq!(x, [0.0, 0.0]);
    }

    #[test]
    fn a_singular_hessian_is_an_error() {
        let q = Quadratic::new(vec![vec![1.0, 2.0], vec![2.0, 4.0]], vec![0.0, 0.0]).unwrap();
        let newton = Newton::new(1.0).unwrap();
        let mut s = newton.init(2);
        assert_eq!(
            newton.step(&q, &mut [1.0, 1.0], &mut s),
            Err(Error::Singular { what: "Hessian", row: 1 })
        );
        let mut s3 = newton.init(3);
        assert!(newton.step(&q, &mut [1.0, 1.0], &mut s3).is_err());
    }

    #[test]
    fn a_point_of_the_wrong_dimension_is_an_error_for_every_method() {
        use crate::classical::{Backtracking, ConjugateGradient, Lbfgs, LbfgsTorch, LineSearch, Stop};
        let q = Quadratic::new(vec![vec![2.0, 0.0], vec![0.0, 1.0]], vec![1.0, 1.0]).unwrap();
        let point: Result<()> = Err(Error::LengthMismatch { what: "point", expected: 2, got: 3 });
        for newton in [Newton::new(1.0).unwrap(), Newton::diagonal(1.0).unwrap()] {
            let mut s = newton.init(3);
            assert_eq!(newton.step(&q, &mut [1.0; 3], &mut s).map(|_| ()), point);
            let mut s1 = newton.init(1);
            assert!(newton.step(&q, &mut [1.0], &mut s1).is_err());
        }
        let stop = Stop::default();
        assert_eq!(Lbfgs::new(3).unwrap().minimize(&q, &mut [1.0; 3], stop).map(|_| ()), point);
        let cg = ConjugateGradient::new(crate::classical::CgFormula::PolakRibierePlus);
        assert_eq!(cg.minimize(&q, &mut [1.0; 3], stop).map(|_| ()), point);
        let torch = LbfgsTorch::new();
        assert_eq!(torch.step(&q, &mut [1.0; 3], &mut torch.init(3)).map(|_| ()), point);
        let (x, g, d) = ([1.0; 3], [1.0; 3], [-1.0; 3]);
        let r = Backtracking::default().search(&q, &x, 0.0, &g, &d, 1.0, &mut [0.0; 3], &mut [0.0; 3]);
        assert_eq!(r.map(|_| ()), point);
        // Evaluated by hand at a wrong point, the quadratic says NaN rather than panicking.
        let mut g = [0.0; 3];
        assert!(q.value_grad(&[1.0; 3], &mut g).is_nan() && g.iter().all(|v| v.is_nan()));
        let mut h = [0.0; 4];
        q.hessian(&[1.0; 3], &mut h);
        assert!(h.iter().all(|v| v.is_nan()));
    }
}
