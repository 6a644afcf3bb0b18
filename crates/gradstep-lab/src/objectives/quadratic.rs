//! The general convex quadratic of the momentum chapter's analysis, in the library's
//! convention ([`gradstep::classical::Quadratic`]): ½ xᵀAx − bᵀx.

use super::ObjectiveNd;

/// Why a [`Quadratic`] could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ObjectiveError {
    /// A is not square, or b does not have as many entries as A has rows.
    #[error("shape mismatch: {what}")]
    Shape {
        /// What does not fit.
        what: String,
    },
    /// An entry is NaN or infinite.
    #[error("non-finite entry in {0}")]
    NonFinite(&'static str),
    /// A differs from its transpose.
    #[error("A is not symmetric: A[{i}][{j}] = {a} but A[{j}][{i}] = {b}")]
    NotSymmetric {
        /// Row of the offending entry.
        i: usize,
        /// Column of the offending entry.
        j: usize,
        /// `A[i][j]`.
        a: f64,
        /// `A[j][i]`.
        b: f64,
    },
    /// A has an eigenvalue ≤ 0, so the quadratic has no unique minimum.
    #[error("A is not positive definite (Cholesky pivot {pivot} is {value})")]
    NotPositiveDefinite {
        /// The step of the Cholesky factorisation that failed.
        pivot: usize,
        /// The non-positive pivot.
        value: f64,
    },
}

/// h(x) = ½ xᵀAx − bᵀx with A symmetric positive definite: the model of every smooth
/// objective near its minimum. Its gradient is Ax − b, and its minimiser x* = A⁻¹b and
/// minimum −½ bᵀA⁻¹b are known in closed form, so a run's error can be measured exactly.
///
/// The sign convention is the library's ([`gradstep::classical::Quadratic`], and the usual
/// one of conjugate gradient: the minimiser solves Ax = b); a quadratic written
/// ½ xᵀQx + cᵀx is `Quadratic::new(Q, −c)`.
///
/// # Example
/// ```
/// use gradstep_lab::objectives::{ObjectiveNd, Quadratic};
///
/// let h = Quadratic::new(vec![vec![2.0, 0.5], vec![0.5, 1.0]], vec![-1.0, 1.0])?;
/// let x = h.minimizer();
/// let mut g = [0.0; 2];
/// h.gradient_into(&x, &mut g);
/// assert!(g.iter().all(|v| v.abs() < 1e-12));
/// assert!((h.value_at(&x) - h.min_value()).abs() < 1e-12);
/// # Ok::<(), gradstep_lab::objectives::ObjectiveError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Quadratic {
    n: usize,
    /// A, row-major.
    a: Vec<f64>,
    b: Vec<f64>,
    /// The Cholesky factor L (A = LLᵀ), row-major lower triangle.
    l: Vec<f64>,
}

impl Quadratic {
    /// ½ xᵀAx − bᵀx from the rows of A and the vector b.
    ///
    /// # Errors
    /// [`ObjectiveError`] if A is not square, b does not fit, an entry is not finite, or A is
    /// not symmetric positive definite.
    pub fn new(a: Vec<Vec<f64>>, b: Vec<f64>) -> Result<Self, ObjectiveError> {
        let n = a.len();
        if n == 0 {
            return Err(ObjectiveError::Shape { what: "A has no rows".into() });
        }
        if let Some((i, row)) = a.iter().enumerate().find(|(_, r)| r.len() != n) {
            return Err(ObjectiveError::Shape {
                what: format!("row {i} of A has {} entries, expected {n}", row.len()),
            });
        }
        if b.len() != n {
            return Err(ObjectiveError::Shape { what: format!("b has {} entries, A has {n} rows", b.len()) });
        }
        let q: Vec<f64> = a.into_iter().flatten().collect();
        if q.iter().any(|v| !v.is_finite()) {
            return Err(ObjectiveError::NonFinite("A"));
        }
        if b.iter().any(|v| !v.is_finite()) {
            return Err(ObjectiveError::NonFinite("b"));
        }
        for i in 0..n {
            for j in 0..i {
                let (a, b) = (q[i * n + j], q[j * n + i]);
                if (a - b).abs() > 1e-12 * (1.0 + a.abs().max(b.abs())) {
                    return Err(ObjectiveError::NotSymmetric { i, j, a, b });
                }
            }
        }
        let mut l = vec![0.0; n * n];
        for j in 0..n {
            let d = q[j * n + j] - (0..j).map(|k| l[j * n + k] * l[j * n + k]).sum::<f64>();
            if d <= 0.0 || !d.is_finite() {
                return Err(ObjectiveError::NotPositiveDefinite { pivot: j, value: d });
            }
            let d = d.sqrt();
            l[j * n + j] = d;
            for i in j + 1..n {
                let s = q[i * n + j] - (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum::<f64>();
                l[i * n + j] = s / d;
            }
        }
        Ok(Self { n, a: q, b, l })
    }

    /// ½ Σ λᵢxᵢ² (b = 0): the decoupled quadratic of the momentum chapter's exercise.
    ///
    /// # Errors
    /// [`ObjectiveError`] if a λᵢ is not positive and finite, or the list is empty.
    ///
    /// # Example
    /// ```
    /// use gradstep_lab::objectives::{ObjectiveNd, Quadratic};
    ///
    /// let h = Quadratic::diagonal(&[1.0, 0.5, 0.25])?;
    /// assert_eq!(h.value_at(&[1.0, 2.0, 4.0]), 0.5 * (1.0 + 2.0 + 4.0));
    /// # Ok::<(), gradstep_lab::objectives::ObjectiveError>(())
    /// ```
    pub fn diagonal(lambdas: &[f64]) -> Result<Self, ObjectiveError> {
        let n = lambdas.len();
        let q = (0..n).map(|i| (0..n).map(|j| if i == j { lambdas[i] } else { 0.0 }).collect()).collect();
        Self::new(q, vec![0.0; n])
    }

    /// The entry `A[i][j]`.
    ///
    /// # Example
    /// ```
    /// # use gradstep_lab::objectives::Quadratic;
    /// assert_eq!(Quadratic::diagonal(&[3.0, 1.0])?.a(0, 0), 3.0);
    /// # Ok::<(), gradstep_lab::objectives::ObjectiveError>(())
    /// ```
    pub fn a(&self, i: usize, j: usize) -> f64 {
        self.a[i * self.n + j]
    }

    /// The linear term b (the quadratic subtracts bᵀx).
    ///
    /// # Example
    /// ```
    /// # use gradstep_lab::objectives::Quadratic;
    /// assert_eq!(Quadratic::diagonal(&[3.0, 1.0])?.b(), &[0.0, 0.0]);
    /// # Ok::<(), gradstep_lab::objectives::ObjectiveError>(())
    /// ```
    pub fn b(&self) -> &[f64] {
        &self.b
    }

    /// The minimiser x* = A⁻¹b, by the Cholesky factor computed in [`Quadratic::new`].
    ///
    /// # Example
    /// ```
    /// # use gradstep_lab::objectives::Quadratic;
    /// let h = Quadratic::new(vec![vec![2.0, 0.0], vec![0.0, 4.0]], vec![-2.0, 4.0])?;
    /// let x = h.minimizer();
    /// assert!((x[0] + 1.0).abs() < 1e-12 && (x[1] - 1.0).abs() < 1e-12);
    /// # Ok::<(), gradstep_lab::objectives::ObjectiveError>(())
    /// ```
    pub fn minimizer(&self) -> Vec<f64> {
        let n = self.n;
        // Solve L y = b, then Lᵀ x = y.
        let mut y = vec![0.0; n];
        for i in 0..n {
            let s = self.b[i] - (0..i).map(|k| self.l[i * n + k] * y[k]).sum::<f64>();
            y[i] = s / self.l[i * n + i];
        }
        let mut x = vec![0.0; n];
        for i in (0..n).rev() {
            let s = y[i] - (i + 1..n).map(|k| self.l[k * n + i] * x[k]).sum::<f64>();
            x[i] = s / self.l[i * n + i];
        }
        x
    }

    /// The minimum value h(x*) = −½ bᵀx* = −½ bᵀA⁻¹b.
    ///
    /// # Example
    /// ```
    /// # use gradstep_lab::objectives::Quadratic;
    /// let h = Quadratic::new(vec![vec![2.0]], vec![2.0])?; // x² − 2x, minimum −1 at 1
    /// assert!((h.min_value() + 1.0).abs() < 1e-12);
    /// # Ok::<(), gradstep_lab::objectives::ObjectiveError>(())
    /// ```
    pub fn min_value(&self) -> f64 {
        -0.5 * self.b.iter().zip(self.minimizer()).map(|(b, x)| b * x).sum::<f64>()
    }
}

impl ObjectiveNd for Quadratic {
    fn dim(&self) -> usize {
        self.n
    }
    fn value_at(&self, x: &[f64]) -> f64 {
        let n = self.n;
        let quad: f64 = (0..n).map(|i| x[i] * (0..n).map(|j| self.a[i * n + j] * x[j]).sum::<f64>()).sum();
        0.5 * quad - self.b.iter().zip(x).map(|(b, x)| b * x).sum::<f64>()
    }
    fn gradient_into(&self, x: &[f64], grad: &mut [f64]) {
        let n = self.n;
        for (i, g) in grad.iter_mut().enumerate().take(n) {
            *g = (0..n).map(|j| self.a[i * n + j] * x[j]).sum::<f64>() - self.b[i];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_matrices_are_rejected_with_the_reason() {
        assert!(matches!(Quadratic::new(vec![], vec![]), Err(ObjectiveError::Shape { .. })));
        assert!(matches!(Quadratic::new(vec![vec![1.0, 0.0]], vec![0.0]), Err(ObjectiveError::Shape { .. })));
        assert!(matches!(
            Quadratic::new(vec![vec![1.0, 2.0], vec![0.0, 1.0]], vec![0.0; 2]),
            Err(ObjectiveError::NotSymmetric { i: 1, j: 0, .. })
        ));
        assert!(matches!(
            Quadratic::new(vec![vec![1.0, 2.0], vec![2.0, 1.0]], vec![0.0; 2]),
            Err(ObjectiveError::NotPositiveDefinite { pivot: 1, .. })
        ));
        assert!(matches!(Quadratic::diagonal(&[1.0, f64::NAN]), Err(ObjectiveError::NonFinite("A"))));
    }

    #[test]
    fn the_convention_is_the_librarys() {
        // ½xᵀAx − bᵀx: value, gradient and Hessian agree with gradstep's Quadratic.
        use gradstep::classical::{HessianObjective, Objective};
        let (a, b) = (vec![vec![2.0, 0.5], vec![0.5, 1.0]], vec![-1.0, 1.0]);
        let lab = Quadratic::new(a.clone(), b.clone()).unwrap();
        let lib = gradstep::classical::Quadratic::new(a, b).unwrap();
        let x = [0.3, -1.7];
        let (mut g1, mut g2) = ([0.0; 2], [0.0; 2]);
        assert!((lab.value_grad(&x, &mut g1) - lib.value_grad(&x, &mut g2)).abs() < 1e-15);
        assert!(g1.iter().zip(&g2).all(|(u, v)| (u - v).abs() < 1e-15));
        let (mut h1, mut h2) = ([0.0; 4], [0.0; 4]);
        lab.hessian(&x, &mut h1);
        lib.hessian(&x, &mut h2);
        assert_eq!(h1, h2);
        // The minimiser solves Ax = b: x* = (−6/7, 10/7), minimum −8/7.
        let xs = lab.minimizer();
        assert!((xs[0] + 6.0 / 7.0).abs() < 1e-12 && (xs[1] - 10.0 / 7.0).abs() < 1e-12);
        assert!((lab.min_value() + 8.0 / 7.0).abs() < 1e-12);
    }

    proptest::proptest! {
        #[test]
        fn gradient_matches_finite_differences_and_vanishes_at_the_minimiser(
            a in 0.5..4.0_f64, b in -0.4..0.4_f64, d in 0.5..4.0_f64, e in 0.5..3.0_f64,
            rhs in proptest::collection::vec(-3.0..3.0_f64, 3), x in proptest::collection::vec(-3.0..3.0_f64, 3),
        ) {
            let h = Quadratic::new(vec![vec![a, b, 0.1], vec![b, d, 0.0], vec![0.1, 0.0, e]], rhs).unwrap();
            let mut g = [0.0; 3];
            h.gradient_into(&x, &mut g);
            for i in 0..3 {
                let (mut up, mut down) = (x.clone(), x.clone());
                up[i] += 1e-5;
                down[i] -= 1e-5;
                let fd = (h.value_at(&up) - h.value_at(&down)) / 2e-5;
                proptest::prop_assert!((fd - g[i]).abs() < 1e-6 * (1.0 + fd.abs()));
            }
            let xs = h.minimizer();
            h.gradient_into(&xs, &mut g);
            proptest::prop_assert!(g.iter().all(|v| v.abs() < 1e-9));
            proptest::prop_assert!(h.value_at(&x) >= h.min_value() - 1e-12);
        }
    }
}
