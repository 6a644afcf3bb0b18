//! The general convex quadratic of the momentum chapter's analysis.

use super::ObjectiveNd;

/// Why a [`Quadratic`] could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ObjectiveError {
    /// Q is not square, or c does not have as many entries as Q has rows.
    #[error("shape mismatch: {what}")]
    Shape {
        /// What does not fit.
        what: String,
    },
    /// An entry is NaN or infinite.
    #[error("non-finite entry in {0}")]
    NonFinite(&'static str),
    /// Q differs from its transpose.
    #[error("Q is not symmetric: Q[{i}][{j}] = {a} but Q[{j}][{i}] = {b}")]
    NotSymmetric {
        /// Row of the offending entry.
        i: usize,
        /// Column of the offending entry.
        j: usize,
        /// `Q[i][j]`.
        a: f64,
        /// `Q[j][i]`.
        b: f64,
    },
    /// Q has an eigenvalue ≤ 0, so the quadratic has no unique minimum.
    #[error("Q is not positive definite (Cholesky pivot {pivot} is {value})")]
    NotPositiveDefinite {
        /// The step of the Cholesky factorisation that failed.
        pivot: usize,
        /// The non-positive pivot.
        value: f64,
    },
}

/// h(x) = ½ xᵀQx + cᵀx with Q symmetric positive definite: the model of every smooth
/// objective near its minimum. Its minimiser x* = −Q⁻¹c and minimum −½ cᵀQ⁻¹c are known in
/// closed form, so a run's error can be measured exactly.
///
/// # Example
/// ```
/// use gradstep_lab::objectives::{ObjectiveNd, Quadratic};
///
/// let h = Quadratic::new(vec![vec![2.0, 0.5], vec![0.5, 1.0]], vec![1.0, -1.0])?;
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
    /// Q, row-major.
    q: Vec<f64>,
    c: Vec<f64>,
    /// The Cholesky factor L (Q = LLᵀ), row-major lower triangle.
    l: Vec<f64>,
}

impl Quadratic {
    /// ½ xᵀQx + cᵀx from the rows of Q and the vector c.
    ///
    /// # Errors
    /// [`ObjectiveError`] if Q is not square, c does not fit, an entry is not finite, or Q is
    /// not symmetric positive definite.
    pub fn new(q: Vec<Vec<f64>>, c: Vec<f64>) -> Result<Self, ObjectiveError> {
        let n = q.len();
        if n == 0 {
            return Err(ObjectiveError::Shape { what: "Q has no rows".into() });
        }
        if let Some((i, row)) = q.iter().enumerate().find(|(_, r)| r.len() != n) {
            return Err(ObjectiveError::Shape {
                what: format!("row {i} of Q has {} entries, expected {n}", row.len()),
            });
        }
        if c.len() != n {
            return Err(ObjectiveError::Shape { what: format!("c has {} entries, Q has {n} rows", c.len()) });
        }
        let q: Vec<f64> = q.into_iter().flatten().collect();
        if q.iter().any(|v| !v.is_finite()) {
            return Err(ObjectiveError::NonFinite("Q"));
        }
        if c.iter().any(|v| !v.is_finite()) {
            return Err(ObjectiveError::NonFinite("c"));
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
        Ok(Self { n, q, c, l })
    }

    /// ½ Σ λᵢxᵢ² (c = 0): the decoupled quadratic of the momentum chapter's exercise.
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

    /// The entry `Q[i][j]`.
    ///
    /// # Example
    /// ```
    /// # use gradstep_lab::objectives::Quadratic;
    /// assert_eq!(Quadratic::diagonal(&[3.0, 1.0])?.q(0, 0), 3.0);
    /// # Ok::<(), gradstep_lab::objectives::ObjectiveError>(())
    /// ```
    pub fn q(&self, i: usize, j: usize) -> f64 {
        self.q[i * self.n + j]
    }

    /// The linear term c.
    ///
    /// # Example
    /// ```
    /// # use gradstep_lab::objectives::Quadratic;
    /// assert_eq!(Quadratic::diagonal(&[3.0, 1.0])?.c(), &[0.0, 0.0]);
    /// # Ok::<(), gradstep_lab::objectives::ObjectiveError>(())
    /// ```
    pub fn c(&self) -> &[f64] {
        &self.c
    }

    /// The minimiser x* = −Q⁻¹c, by the Cholesky factor computed in [`Quadratic::new`].
    ///
    /// # Example
    /// ```
    /// # use gradstep_lab::objectives::Quadratic;
    /// let h = Quadratic::new(vec![vec![2.0, 0.0], vec![0.0, 4.0]], vec![2.0, -4.0])?;
    /// let x = h.minimizer();
    /// assert!((x[0] + 1.0).abs() < 1e-12 && (x[1] - 1.0).abs() < 1e-12);
    /// # Ok::<(), gradstep_lab::objectives::ObjectiveError>(())
    /// ```
    pub fn minimizer(&self) -> Vec<f64> {
        let n = self.n;
        // Solve L y = −c, then Lᵀ x = y.
        let mut y = vec![0.0; n];
        for i in 0..n {
            let s = -self.c[i] - (0..i).map(|k| self.l[i * n + k] * y[k]).sum::<f64>();
            y[i] = s / self.l[i * n + i];
        }
        let mut x = vec![0.0; n];
        for i in (0..n).rev() {
            let s = y[i] - (i + 1..n).map(|k| self.l[k * n + i] * x[k]).sum::<f64>();
            x[i] = s / self.l[i * n + i];
        }
        x
    }

    /// The minimum value h(x*) = ½ cᵀx* = −½ cᵀQ⁻¹c.
    ///
    /// # Example
    /// ```
    /// # use gradstep_lab::objectives::Quadratic;
    /// let h = Quadratic::new(vec![vec![2.0]], vec![-2.0])?; // x² − 2x, minimum −1 at 1
    /// assert!((h.min_value() + 1.0).abs() < 1e-12);
    /// # Ok::<(), gradstep_lab::objectives::ObjectiveError>(())
    /// ```
    pub fn min_value(&self) -> f64 {
        0.5 * self.c.iter().zip(self.minimizer()).map(|(c, x)| c * x).sum::<f64>()
    }
}

impl ObjectiveNd for Quadratic {
    fn dim(&self) -> usize {
        self.n
    }
    fn value_at(&self, x: &[f64]) -> f64 {
        let n = self.n;
        let quad: f64 = (0..n).map(|i| x[i] * (0..n).map(|j| self.q[i * n + j] * x[j]).sum::<f64>()).sum();
        0.5 * quad + self.c.iter().zip(x).map(|(c, x)| c * x).sum::<f64>()
    }
    fn gradient_into(&self, x: &[f64], grad: &mut [f64]) {
        let n = self.n;
        for (i, g) in grad.iter_mut().enumerate().take(n) {
            *g = self.c[i] + (0..n).map(|j| self.q[i * n + j] * x[j]).sum::<f64>();
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
        assert!(matches!(Quadratic::diagonal(&[1.0, f64::NAN]), Err(ObjectiveError::NonFinite("Q"))));
    }

    proptest::proptest! {
        #[test]
        fn gradient_matches_finite_differences_and_vanishes_at_the_minimiser(
            a in 0.5..4.0_f64, b in -0.4..0.4_f64, d in 0.5..4.0_f64, e in 0.5..3.0_f64,
            c in proptest::collection::vec(-3.0..3.0_f64, 3), x in proptest::collection::vec(-3.0..3.0_f64, 3),
        ) {
            let h = Quadratic::new(vec![vec![a, b, 0.1], vec![b, d, 0.0], vec![0.1, 0.0, e]], c).unwrap();
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
