//! Linear regression ŷ = Xw + b with the squared loss, the model of the minibatch chapters.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, Uniform};

/// A linear model ŷ = x·w + b over `f32` features, with its parameters as two buffers (like the
/// source's `[w, b]`), so an optimizer keeps separate state for each.
///
/// The loss is the source's squared loss ½(ŷ − y)², averaged over a batch.
///
/// # Example
/// ```
/// use gradstep_lab::models::linreg::LinearRegression;
///
/// let mut m = LinearRegression::zeros(2);
/// m.w.copy_from_slice(&[1.0, -1.0]);
/// m.b[0] = 0.5;
/// let x = [1.0, 2.0, 3.0, 0.0]; // two examples, row-major
/// assert_eq!(m.loss(&x, &[-0.5, 3.5]), 0.0);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LinearRegression {
    /// The weights, one per feature.
    pub w: Vec<f32>,
    /// The bias, a buffer of length 1.
    pub b: Vec<f32>,
}

impl LinearRegression {
    /// All parameters zero.
    pub fn zeros(dim: usize) -> Self {
        Self { w: vec![0.0; dim], b: vec![0.0] }
    }

    /// The source's from-scratch initialisation: w ~ N(0, 0.01²), b = 0, seeded.
    ///
    /// # Example
    /// ```
    /// use gradstep_lab::models::linreg::LinearRegression;
    ///
    /// let m = LinearRegression::normal_init(5, 0);
    /// assert_eq!(m, LinearRegression::normal_init(5, 0));
    /// assert!(m.w.iter().all(|w| w.abs() < 0.05) && m.b == [0.0]);
    /// ```
    pub fn normal_init(dim: usize, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let normal = Normal::new(0.0f32, 0.01).expect("a valid standard deviation");
        Self { w: (0..dim).map(|_| normal.sample(&mut rng)).collect(), b: vec![0.0] }
    }

    /// The concise version's initialisation: w ~ N(0, 0.01²) and PyTorch's default bias for
    /// `Linear(dim, 1)`, b ~ U(−1/√dim, 1/√dim), seeded.
    ///
    /// # Example
    /// ```
    /// use gradstep_lab::models::linreg::LinearRegression;
    ///
    /// let m = LinearRegression::torch_init(5, 0);
    /// assert!(m.b[0].abs() <= 1.0 / 5f32.sqrt());
    /// ```
    pub fn torch_init(dim: usize, seed: u64) -> Self {
        let mut m = Self::normal_init(dim, seed);
        let bound = 1.0 / (dim.max(1) as f32).sqrt();
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x9e37_79b9_7f4a_7c15);
        m.b[0] = Uniform::new_inclusive(-bound, bound).expect("a valid range").sample(&mut rng);
        m
    }

    /// The number of features.
    pub fn dim(&self) -> usize {
        self.w.len()
    }

    /// ŷ for one example.
    #[inline]
    pub fn predict(&self, x: &[f32]) -> f32 {
        x.iter().zip(&self.w).map(|(a, b)| a * b).sum::<f32>() + self.b.first().copied().unwrap_or(0.0)
    }

    /// The mean squared loss ½(ŷ − y)² over the examples in `x` (row-major, `y.len()` rows),
    /// accumulated in `f64`. 0 for no examples.
    pub fn loss(&self, x: &[f32], y: &[f32]) -> f64 {
        if y.is_empty() {
            return 0.0;
        }
        let d = self.dim();
        let total: f64 = x
            .chunks_exact(d)
            .zip(y)
            .map(|(row, &t)| {
                let e = f64::from(self.predict(row) - t);
                0.5 * e * e
            })
            .sum();
        total / y.len() as f64
    }

    /// Writes the gradient of [`LinearRegression::loss`] into `gw` and `gb` (overwriting them):
    /// ∂/∂w = mean (ŷ − y)·x, ∂/∂b = mean (ŷ − y). `x` holds `y.len()` rows of
    /// [`LinearRegression::dim`] features; `gw` has `dim` entries and `gb` one.
    ///
    /// # Example
    /// ```
    /// use gradstep_lab::models::linreg::LinearRegression;
    ///
    /// let m = LinearRegression::zeros(1);
    /// let (mut gw, mut gb) = ([0.0], [0.0]);
    /// m.gradient(&[2.0], &[1.0], &mut gw, &mut gb); // ŷ − y = −1
    /// assert_eq!((gw, gb), ([-2.0], [-1.0]));
    /// ```
    pub fn gradient(&self, x: &[f32], y: &[f32], gw: &mut [f32], gb: &mut [f32]) {
        gw.fill(0.0);
        gb.fill(0.0);
        if y.is_empty() {
            return;
        }
        let d = self.dim();
        for (row, &t) in x.chunks_exact(d).zip(y) {
            let e = self.predict(row) - t;
            for (g, a) in gw.iter_mut().zip(row) {
                *g += e * a;
            }
            if let Some(g) = gb.first_mut() {
                *g += e;
            }
        }
        let scale = 1.0 / y.len() as f32;
        gw.iter_mut().chain(gb.iter_mut()).for_each(|g| *g *= scale);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn gradient_matches_finite_differences(
            w in proptest::collection::vec(-1.0..1.0_f32, 3),
            b in -1.0..1.0_f32,
            x in proptest::collection::vec(-2.0..2.0_f32, 12),
            y in proptest::collection::vec(-2.0..2.0_f32, 4),
        ) {
            let m = LinearRegression { w, b: vec![b] };
            let (mut gw, mut gb) = (vec![0.0; 3], vec![0.0]);
            m.gradient(&x, &y, &mut gw, &mut gb);
            let h = 1e-3;
            let all: Vec<f32> = gw.iter().chain(&gb).copied().collect();
            for (i, &g) in all.iter().enumerate() {
                let (mut up, mut down) = (m.clone(), m.clone());
                if i < 3 { up.w[i] += h; down.w[i] -= h; } else { up.b[0] += h; down.b[0] -= h; }
                let fd = (up.loss(&x, &y) - down.loss(&x, &y)) / (2.0 * f64::from(h));
                let g = f64::from(g);
                proptest::prop_assert!((fd - g).abs() < 2e-3 * (1.0 + fd.abs()), "{} vs {}", fd, g);
            }
        }
    }
}
