//! Multinomial logistic (softmax) regression in `f64`, an objective of the library's classical
//! methods: the full-batch convex problem of the conjugate-gradient and L-BFGS chapter.

use gradstep::classical::Objective;

use super::network::ModelError;
use crate::data::ImageSet;

/// Softmax regression with an L2 penalty on the weights: for examples $x_i \in \mathbb R^p$
/// with labels $y_i$, scores $z_{ic} = w_c^\top x_i + b_c$ and
///
/// $$
/// L(W, b) = \frac1N \sum_{i=1}^N \Bigl(\log \sum_c e^{z_{ic}} - z_{i y_i}\Bigr) +
///   \frac\lambda2 \lVert W\rVert^2 .
/// $$
///
/// The gradient is $\partial L/\partial w_c = \frac1N \sum_i (p_{ic} - [y_i = c])\, x_i +
/// \lambda w_c$ and $\partial L/\partial b_c = \frac1N \sum_i (p_{ic} - [y_i = c])$, with
/// $p_{ic}$ the softmax of the scores. The parameter vector holds the weights class by class
/// ($c \cdot p + j$), then the biases. A parameter vector of the wrong length gives a NaN value
/// and gradient, which the classical methods report as an error.
///
/// # Example
/// ```
/// use gradstep::classical::Objective;
/// use gradstep_lab::models::softmax_regression::SoftmaxRegression;
///
/// // Two examples of two features, three classes, no penalty.
/// let f = SoftmaxRegression::new(vec![1.0, 0.0, 0.0, 1.0], vec![0, 2], 3, 0.0)?;
/// let mut g = vec![0.0; f.num_params()];
/// // All scores zero: every class has probability 1/3, the loss is ln 3.
/// let loss = f.value_grad(&vec![0.0; f.num_params()], &mut g);
/// assert!((loss - 3f64.ln()).abs() < 1e-15);
/// assert!((g[0] - (1.0 / 3.0 - 1.0) / 2.0).abs() < 1e-15); // ∂L/∂w₀₀: only example 0 has x₀ = 1
/// # Ok::<(), gradstep_lab::models::network::ModelError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SoftmaxRegression {
    x: Vec<f64>,
    y: Vec<u8>,
    features: usize,
    classes: usize,
    lambda: f64,
}

impl SoftmaxRegression {
    /// The objective for the examples `x` (row-major, `y.len()` rows) with labels `y` below
    /// `classes`, and penalty `lambda`.
    ///
    /// # Errors
    /// [`ModelError::Input`] if `x` is not a whole, non-zero number of rows of `y.len()`
    /// examples; [`ModelError::Labels`] if a label is not below `classes`, `classes` < 2, or
    /// `lambda` is negative or not finite.
    pub fn new(x: Vec<f64>, y: Vec<u8>, classes: usize, lambda: f64) -> Result<Self, ModelError> {
        if y.is_empty() || x.is_empty() || !x.len().is_multiple_of(y.len()) {
            return Err(ModelError::Input { per_example: x.len() / y.len().max(1), got: x.len() });
        }
        if classes < 2 || y.iter().any(|&l| usize::from(l) >= classes) {
            return Err(ModelError::Labels(format!(
                "every label must be below {classes} (and classes >= 2)"
            )));
        }
        if !(lambda >= 0.0 && lambda.is_finite()) {
            return Err(ModelError::Labels(format!("the penalty must be finite and >= 0, not {lambda}")));
        }
        Ok(Self { features: x.len() / y.len(), x, y, classes, lambda })
    }

    /// The first `count` images of `set`, each averaged over `pool` × `pool` blocks of pixels
    /// (`pool` = 2 turns MNIST's 28 × 28 into 14 × 14 features), with penalty `lambda`.
    ///
    /// # Errors
    /// [`ModelError::Input`] if `pool` is 0 or does not divide both sides of an image, or
    /// `count` is 0 or more than the set holds; see [`SoftmaxRegression::new`].
    pub fn from_images(set: &ImageSet, count: usize, pool: usize, lambda: f64) -> Result<Self, ModelError> {
        let (rows, cols) = set.image_shape();
        if pool == 0
            || !rows.is_multiple_of(pool)
            || !cols.is_multiple_of(pool)
            || count == 0
            || count > set.len()
        {
            return Err(ModelError::Input { per_example: rows * cols, got: count });
        }
        let (r, c) = (rows / pool, cols / pool);
        let scale = 1.0 / (pool * pool) as f64;
        let pixels = set.pixels();
        let mut x = Vec::with_capacity(count * r * c);
        for image in pixels.rows().into_iter().take(count) {
            for i in 0..r {
                for j in 0..c {
                    let mut sum = 0.0;
                    for di in 0..pool {
                        for dj in 0..pool {
                            sum += f64::from(image[(i * pool + di) * cols + j * pool + dj]);
                        }
                    }
                    x.push(sum * scale);
                }
            }
        }
        Self::new(x, set.labels()[..count].to_vec(), set.classes(), lambda)
    }

    /// The examples `idx` (a minibatch), in that order, with the same penalty.
    ///
    /// # Errors
    /// [`ModelError::Input`] if `idx` is empty or an index is out of range.
    pub fn batch(&self, idx: &[usize]) -> Result<Self, ModelError> {
        let p = self.features;
        if idx.is_empty() || idx.iter().any(|&i| i >= self.y.len()) {
            return Err(ModelError::Input { per_example: p, got: idx.len() });
        }
        let mut x = Vec::with_capacity(idx.len() * p);
        for &i in idx {
            x.extend_from_slice(&self.x[i * p..(i + 1) * p]);
        }
        Ok(Self {
            x,
            y: idx.iter().map(|&i| self.y[i]).collect(),
            features: p,
            classes: self.classes,
            lambda: self.lambda,
        })
    }

    /// The number of parameters, `classes` · (`features` + 1).
    pub fn num_params(&self) -> usize {
        self.classes * (self.features + 1)
    }

    /// The number of examples.
    pub fn examples(&self) -> usize {
        self.y.len()
    }

    /// The number of features of an example.
    pub fn features(&self) -> usize {
        self.features
    }

    /// The fraction of examples whose highest score is their label's (NaN for a parameter
    /// vector of the wrong length).
    pub fn accuracy(&self, theta: &[f64]) -> f64 {
        if theta.len() != self.num_params() {
            return f64::NAN;
        }
        let (p, k) = (self.features, self.classes);
        let (w, b) = theta.split_at(k * p);
        let correct = self
            .x
            .chunks_exact(p)
            .zip(&self.y)
            .filter(|&(xi, &yi)| {
                let score = |c: usize| b[c] + dot(&w[c * p..(c + 1) * p], xi);
                let best = (1..k).fold(0, |best, c| if score(c) > score(best) { c } else { best });
                best == usize::from(yi)
            })
            .count();
        correct as f64 / self.y.len() as f64
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

impl Objective for SoftmaxRegression {
    fn value_grad(&self, theta: &[f64], grad: &mut [f64]) -> f64 {
        let (p, k, n) = (self.features, self.classes, self.y.len());
        if theta.len() != self.num_params() || grad.len() != theta.len() {
            grad.fill(f64::NAN);
            return f64::NAN;
        }
        let (w, b) = theta.split_at(k * p);
        let (gw, gb) = grad.split_at_mut(k * p);
        for (g, wi) in gw.iter_mut().zip(w) {
            *g = self.lambda * wi;
        }
        gb.fill(0.0);
        let mut loss = 0.5 * self.lambda * dot(w, w);
        let inv_n = 1.0 / n as f64;
        // One buffer of scores per call, reused for every example.
        let mut z = vec![0.0; k];
        for (xi, &yi) in self.x.chunks_exact(p).zip(&self.y) {
            for (c, zc) in z.iter_mut().enumerate() {
                *zc = b[c] + dot(&w[c * p..(c + 1) * p], xi);
            }
            // Subtracting the largest score keeps exp from overflowing.
            let m = z.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
            let sum: f64 = z.iter().map(|v| (v - m).exp()).sum();
            loss += (m + sum.ln() - z[usize::from(yi)]) * inv_n;
            for (c, &zc) in z.iter().enumerate() {
                let target = if c == usize::from(yi) { 1.0 } else { 0.0 };
                let r = ((zc - m).exp() / sum - target) * inv_n;
                gb[c] += r;
                for (g, x) in gw[c * p..(c + 1) * p].iter_mut().zip(xi) {
                    *g += r * x;
                }
            }
        }
        loss
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> SoftmaxRegression {
        let x: Vec<f64> = (0..5 * 4).map(|i| (f64::from(i) * 0.37).sin()).collect();
        SoftmaxRegression::new(x, vec![0, 2, 1, 2, 0], 3, 0.1).unwrap()
    }

    #[test]
    fn gradient_matches_central_differences() {
        let f = small();
        let n = f.num_params();
        let theta: Vec<f64> = (0..n).map(|i| (i as f64 * 0.9).cos()).collect();
        let mut g = vec![0.0; n];
        f.value_grad(&theta, &mut g);
        let mut scratch = vec![0.0; n];
        for i in 0..n {
            let h = 1e-6;
            let (mut up, mut down) = (theta.clone(), theta.clone());
            up[i] += h;
            down[i] -= h;
            let fd = (f.value_grad(&up, &mut scratch) - f.value_grad(&down, &mut scratch)) / (2.0 * h);
            assert!((fd - g[i]).abs() < 1e-8, "parameter {i}: {fd} vs {}", g[i]);
        }
    }

    #[test]
    fn a_batch_of_every_example_is_the_whole_objective() {
        let f = small();
        let all = f.batch(&[0, 1, 2, 3, 4]).unwrap();
        let theta = vec![0.3; f.num_params()];
        let (mut g1, mut g2) = (vec![0.0; f.num_params()], vec![0.0; f.num_params()]);
        assert_eq!(f.value_grad(&theta, &mut g1), all.value_grad(&theta, &mut g2));
        assert_eq!(g1, g2);
        assert!(f.batch(&[]).is_err() && f.batch(&[5]).is_err());
    }

    #[test]
    fn bad_input_is_an_error_or_nan_not_a_panic() {
        assert!(SoftmaxRegression::new(vec![1.0; 3], vec![0, 1], 2, 0.0).is_err());
        assert!(SoftmaxRegression::new(vec![1.0; 4], vec![0, 2], 2, 0.0).is_err());
        assert!(SoftmaxRegression::new(vec![1.0; 4], vec![0, 1], 2, -1.0).is_err());
        let f = small();
        let mut g = vec![0.0; 2];
        assert!(f.value_grad(&[0.0, 0.0], &mut g).is_nan() && g.iter().all(|v| v.is_nan()));
        assert!(f.accuracy(&[0.0]).is_nan());
        let set = ImageSet::new(vec![0.5; 2 * 4 * 4], vec![0, 1], (4, 4), 2).unwrap();
        let pooled = SoftmaxRegression::from_images(&set, 2, 2, 0.0).unwrap();
        assert_eq!((pooled.examples(), pooled.features(), pooled.x[0]), (2, 4, 0.5));
        assert!(SoftmaxRegression::from_images(&set, 2, 3, 0.0).is_err());
        assert!(SoftmaxRegression::from_images(&set, 3, 2, 0.0).is_err());
    }
}
