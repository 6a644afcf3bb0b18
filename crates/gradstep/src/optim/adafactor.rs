//! Adafactor: a second moment factored into row and column statistics.

use serde::{Deserialize, Serialize};

use super::checks::StateCheck;
use super::kernels::{Lerp, lerp};
use super::parallel::Threads;
use super::reduce::{LANES, Lanes, sum_of_squares};
use super::scratch::Scratch;
use crate::error::{check, check_len, check_non_negative};
use crate::{Float, Result, Shape};

/// Hyperparameters of [`Adafactor`]; names and defaults follow `torch.optim.Adafactor`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AdafactorConfig {
    /// Learning rate η (default 1e-2): the relative step size is $\min(\eta, 1/\sqrt t)$.
    pub lr: f64,
    /// Exponent of the second moment's decay, $1-\beta_{2,t} = t^{\text{beta2\_decay}}$
    /// (default -0.8).
    pub beta2_decay: f64,
    /// (ε₁, ε₂): ε₁ floors the second moment (its square does) and the row mean, `None` for the
    /// element type's machine epsilon (2.2e-16 in `f64`, 1.2e-7 in `f32`); ε₂ floors the
    /// parameters' RMS in the step size (default (None, 1e-3)).
    pub eps: (Option<f64>, f64),
    /// Clipping threshold $d$ of the update's RMS (default 1).
    pub d: f64,
    /// Decoupled weight decay λ: $x \leftarrow (1-\eta\lambda)x$ (default 0).
    pub weight_decay: f64,
    /// Ascend instead of descend.
    pub maximize: bool,
}

impl Default for AdafactorConfig {
    fn default() -> Self {
        Self { lr: 1e-2, beta2_decay: -0.8, eps: (None, 1e-3), d: 1.0, weight_decay: 0.0, maximize: false }
    }
}

/// Adafactor, PyTorch's convention (`torch.optim.Adafactor`: no first moment, relative step
/// size, update clipping).
///
/// Symbols: η = `lr`, (ε₁, ε₂) = `eps`, $d$ = `d`, λ = `weight_decay`, $c = $ `beta2_decay`.
/// Step $t$ with gradient $G_t$ of an $R\times C$ matrix $X$:
///
/// $$
/// \begin{aligned}
/// \rho_t &= \min(\eta, 1/\sqrt t), \qquad
/// \alpha_t = \max\bigl(\varepsilon_2, \operatorname{RMS}(X_{t-1})\bigr)\,\rho_t, \qquad
/// \hat\beta_t = 1 - t^{c},\\
/// r_t &= \hat\beta_t r_{t-1} + (1-\hat\beta_t)\,\tfrac1C (G_t^{2}) 1_C, \qquad
/// c_t = \hat\beta_t c_{t-1} + (1-\hat\beta_t)\,\tfrac1R 1_R^\top (G_t^{2}),\\
/// \hat V_t &= \frac{r_t c_t}{\max(\operatorname{mean}(r_t), \varepsilon_1)}, \qquad
/// U_t = \frac{G_t}{\sqrt{\max(\hat V_t, \varepsilon_1^2)}},\\
/// X_t &= (1-\eta\lambda) X_{t-1} - \frac{\alpha_t}{\max\bigl(1, \operatorname{RMS}(U_t)/d\bigr)}\,U_t .
/// \end{aligned}
/// $$
///
/// The factored $\hat V$ is the rank-one matrix with the row sums and column sums of the
/// running $G^2$: $R + C$ numbers instead of $RC$, the memory saving Shazeer and Stern built
/// Adafactor for. A tensor with more than two dimensions is a batch of matrices over its last
/// two (each with its own $r$, $c$ and mean), as in PyTorch; a vector or a scalar keeps the
/// full $V_t = \hat\beta_t V_{t-1} + (1-\hat\beta_t) G_t^2$. Give the shape with
/// [`Optimizer::init_shaped`](crate::Optimizer::init_shaped);
/// [`Optimizer::init`](crate::Optimizer::init) treats the buffer as a vector.
///
/// PyTorch's version differs from the paper's (and from optax's `adafactor`): no first
/// moment, $\hat\beta_t = 1 - t^{-0.8}$ with no extra β₂ bound, ε₁ is squared before the
/// floor, the RMS clip divides by $d$, and weight decay is decoupled and multiplied by η
/// (not by the relative step). Each step reads the tensor three times (its RMS, the
/// statistics and the update's RMS, the update recomputed rather than stored) and writes it
/// once; only the column sums need a buffer, kept in the state.
///
/// # Example
///
/// ```
/// use gradstep::{Adafactor, Optimizer, Shape};
///
/// let opt = Adafactor::new(0.1)?;
/// let mut w = vec![1.0_f64; 6];
/// let mut state = opt.init_shaped(&Shape::matrix(2, 3))?;
/// assert_eq!((state.row_var.len(), state.col_var.len(), state.variance.len()), (2, 3, 0));
/// for _ in 0..20 {
///     let grad: Vec<f64> = w.iter().map(|w| 2.0 * w).collect(); // f = |W|²
///     opt.step(&mut w, &grad, &mut state)?;
/// }
/// assert!(w.iter().all(|&w| w.abs() < 0.5));
/// # Ok::<(), gradstep::Error>(())
/// ```
///
/// # References
/// Shazeer, Stern (2018), *Adafactor: Adaptive Learning Rates with Sublinear Memory Cost*,
/// ICML, <https://arxiv.org/abs/1804.04235>.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "AdafactorConfig", into = "AdafactorConfig")]
pub struct Adafactor {
    config: AdafactorConfig,
}

/// State of [`Adafactor`], for one tensor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdafactorState<T> {
    /// Number of steps taken, $t$.
    pub step: u64,
    /// The tensor's shape: factored if it has two or more dimensions.
    pub shape: Shape,
    /// Row statistics $r$, one per row of each matrix (batch-major); empty for a vector.
    pub row_var: Vec<T>,
    /// Column statistics $c$, one per column of each matrix; empty for a vector.
    pub col_var: Vec<T>,
    /// The full second moment of a vector or scalar; empty for a factored tensor.
    pub variance: Vec<T>,
    #[serde(skip)]
    col_sums: Scratch<T>,
}

impl Adafactor {
    /// Adafactor with every hyperparameter given.
    ///
    /// # Errors
    /// [`crate::Error::Hyperparameter`] if `lr`, ε₁, ε₂ or `weight_decay` is negative or not
    /// finite, `beta2_decay` is not in [-∞, 0] (finite), or `d` < 1.
    pub fn from_config(config: AdafactorConfig) -> Result<Self> {
        check_non_negative("lr", config.lr)?;
        let c = config.beta2_decay;
        check("beta2_decay", c, c <= 0.0 && c.is_finite(), "must be finite and <= 0")?;
        if let Some(e1) = config.eps.0 {
            check_non_negative("eps.0", e1)?;
        }
        check_non_negative("eps.1", config.eps.1)?;
        check("d", config.d, config.d >= 1.0 && config.d.is_finite(), "must be finite and >= 1")?;
        check_non_negative("weight_decay", config.weight_decay)?;
        Ok(Self { config })
    }

    /// Every shape: a tensor of two or more dimensions is factored, a vector or a scalar keeps
    /// its full second moment.
    fn shape_rule(&self, _: &Shape) -> Result<()> {
        Ok(())
    }

    /// The state of a vector.
    fn init_state<T: Float>(&self, len: usize) -> AdafactorState<T> {
        self.state_for(&Shape::vector(len))
    }

    fn state_for<T: Float>(&self, shape: &Shape) -> AdafactorState<T> {
        let (rows, cols, full) = match shape.as_batched_matrix() {
            Some((b, r, c)) => (b * r, b * c, 0),
            None => (0, 0, shape.len()),
        };
        AdafactorState {
            step: 0,
            shape: shape.clone(),
            row_var: vec![T::zero(); rows],
            col_var: vec![T::zero(); cols],
            variance: vec![T::zero(); full],
            col_sums: Scratch::default(),
        }
    }

    /// One tensor's statistics and norms: serial, whatever `threads` says.
    fn run<T: Float>(
        &self,
        params: &mut [T],
        grads: &[T],
        state: &mut AdafactorState<T>,
        _threads: impl Threads,
    ) -> Result<()> {
        let (n, c) = (params.len(), &self.config);
        let t = state.step.saturating_add(1);
        let tf = t as f64;
        let rho = c.lr.min(1.0 / tf.powf(0.5));
        let sqrt_n = (n as f64).powf(0.5);
        let x_norm = sum_of_squares(params).sqrt().to_f64_lossless();
        let alpha = c.eps.1.max(x_norm / sqrt_n) * rho;
        let eps1 = c.eps.0.unwrap_or_else(|| T::epsilon().to_f64_lossless());
        let k = Kernel {
            w: Lerp::weight(tf.powf(c.beta2_decay)),
            eps1: T::of(eps1),
            floor: T::of(eps1 * eps1),
            flip: if c.maximize { -T::one() } else { T::one() },
        };
        // With no element, a shape read from a file may still name huge rows and columns (a
        // zero among the dimensions): there is nothing to do, and no buffer to size by them.
        let factored = state.shape.as_batched_matrix().filter(|_| n > 0);
        // The statistics and the update's norm first (U is recomputed in the second pass, the
        // same bits), then the step.
        let uu = match factored {
            Some(dims) => k.factored_statistics(dims, grads, state),
            None => k.full_statistics(grads, &mut state.variance[..n]),
        };
        let denom = 1.0_f64.max(uu.sqrt().to_f64_lossless() / (sqrt_n * c.d));
        let coeff = T::of(-alpha / denom);
        let shrink = if c.weight_decay != 0.0 { T::of(1.0 - c.lr * c.weight_decay) } else { T::one() };
        match factored {
            Some(dims) => k.factored_step(dims, params, grads, state, |x, u| x * shrink + coeff * u),
            None => {
                for ((x, &v), &g) in params.iter_mut().zip(&state.variance).zip(grads) {
                    *x = *x * shrink + coeff * full_update(v, k.floor, g * k.flip);
                }
            }
        }
        state.step = t;
        Ok(())
    }
}

/// The per-step constants of [`Adafactor`]'s update, and its passes over a factored tensor
/// (a batch of R×C matrices) or a full one.
struct Kernel<T> {
    /// The weight $1-\hat\beta_t$ of the new squared gradient.
    w: Lerp<T>,
    /// ε₁, the floor of the row mean, and ε₁², the floor of $\hat V$.
    eps1: T,
    floor: T,
    /// −1 to ascend.
    flip: T,
}

impl<T: Float> Kernel<T> {
    /// Updates the row and column statistics of every matrix and returns $\lVert U\rVert^2$.
    fn factored_statistics(
        &self,
        (batch, rows, cols): (usize, usize, usize),
        grads: &[T],
        state: &mut AdafactorState<T>,
    ) -> T {
        let sums = state.col_sums.at_least(cols);
        let (rf, cf) = (T::of(rows as f64), T::of(cols as f64));
        let mut uu = Lanes::<T>::zero();
        for b in 0..batch {
            let g = &grads[b * rows * cols..(b + 1) * rows * cols];
            let rv = &mut state.row_var[b * rows..(b + 1) * rows];
            let cv = &mut state.col_var[b * cols..(b + 1) * cols];
            sums.fill(T::zero());
            for (r, g) in rv.iter_mut().zip(g.chunks_exact(cols)) {
                let s = row_squares(g, self.flip, sums).sqrt();
                // PyTorch squares the norm: sqrt then square, as `vector_norm(..).square_()`.
                *r = lerp(*r, s * s / cf, &self.w);
            }
            for (cj, &s) in cv.iter_mut().zip(sums.iter()) {
                let s = s.sqrt();
                *cj = lerp(*cj, s * s / rf, &self.w);
            }
            let mean = self.row_mean(rv);
            for (&ri, g) in rv.iter().zip(g.chunks_exact(cols)) {
                update_squares(ri, cv, g, mean, self.floor, self.flip, &mut uu);
            }
        }
        uu.total()
    }

    /// Updates the full second moment `var` and returns $\lVert U\rVert^2$.
    fn full_statistics(&self, grads: &[T], var: &mut [T]) -> T {
        let n = var.len();
        let mut uu = Lanes::<T>::zero();
        for (v, g) in var.chunks_exact_mut(LANES).zip(grads.chunks_exact(LANES)) {
            for l in 0..LANES {
                let g = g[l] * self.flip;
                v[l] = lerp(v[l], g * g, &self.w);
                let u = full_update(v[l], self.floor, g);
                uu.0[l] += u * u;
            }
        }
        let done = n - n % LANES;
        for i in done..n {
            let g = grads[i] * self.flip;
            var[i] = lerp(var[i], g * g, &self.w);
            let u = full_update(var[i], self.floor, g);
            uu.0[i - done] += u * u;
        }
        uu.total()
    }

    /// $x \leftarrow$ `step(x, U)` over every matrix, with $U$ from the statistics.
    fn factored_step(
        &self,
        (batch, rows, cols): (usize, usize, usize),
        params: &mut [T],
        grads: &[T],
        state: &AdafactorState<T>,
        step: impl Fn(T, T) -> T,
    ) {
        for b in 0..batch {
            let off = b * rows * cols;
            let rv = &state.row_var[b * rows..(b + 1) * rows];
            let cv = &state.col_var[b * cols..(b + 1) * cols];
            let mean = self.row_mean(rv);
            let (x, g) = (&mut params[off..off + rows * cols], &grads[off..off + rows * cols]);
            for ((&ri, x), g) in rv.iter().zip(x.chunks_exact_mut(cols)).zip(g.chunks_exact(cols)) {
                for ((&cj, x), &gij) in cv.iter().zip(x.iter_mut()).zip(g) {
                    *x = step(*x, factored_update(ri, cj, mean, self.floor, gij * self.flip));
                }
            }
        }
    }

    /// $\max(\operatorname{mean}(r), \varepsilon_1)$.
    fn row_mean(&self, rv: &[T]) -> T {
        let mean = rv.iter().fold(T::zero(), |a, &r| a + r) / T::of(rv.len() as f64);
        if mean < self.eps1 { self.eps1 } else { mean }
    }
}

/// $U = G/\sqrt{\max(r_i c_j / \bar r, \varepsilon_1^2)}$, in PyTorch's order (`rsqrt` then
/// times the gradient).
#[inline(always)]
fn factored_update<T: Float>(r: T, c: T, mean: T, floor: T, g: T) -> T {
    full_update(r * c / mean, floor, g)
}

#[inline(always)]
fn full_update<T: Float>(v: T, floor: T, g: T) -> T {
    let v = if v < floor { floor } else { v };
    T::one() / v.sqrt() * g
}

/// $\sum_j g_j^2$ of one row (in lanes), adding each $g_j^2$ to its column's sum too.
#[inline(always)]
fn row_squares<T: Float>(g: &[T], flip: T, col_sums: &mut [T]) -> T {
    let mut acc = Lanes::zero();
    let (g_chunks, s_chunks) = (g.chunks_exact(LANES), col_sums.chunks_exact_mut(LANES));
    let done = g.len() - g_chunks.remainder().len();
    for (g, s) in g_chunks.zip(s_chunks) {
        for l in 0..LANES {
            let v = g[l] * flip;
            acc.0[l] += v * v;
            s[l] += v * v;
        }
    }
    for j in done..g.len() {
        let v = g[j] * flip;
        acc.0[j - done] += v * v;
        col_sums[j] += v * v;
    }
    acc.total()
}

/// Adds $U_{ij}^2$ of row $i$ to the lanes `acc`.
#[inline(always)]
fn update_squares<T: Float>(ri: T, cv: &[T], g: &[T], mean: T, floor: T, flip: T, acc: &mut Lanes<T>) {
    let (c_chunks, g_chunks) = (cv.chunks_exact(LANES), g.chunks_exact(LANES));
    let done = g.len() - g_chunks.remainder().len();
    for (c, g) in c_chunks.zip(g_chunks) {
        for l in 0..LANES {
            let u = factored_update(ri, c[l], mean, floor, g[l] * flip);
            acc.0[l] += u * u;
        }
    }
    for j in done..g.len() {
        let u = factored_update(ri, cv[j], mean, floor, g[j] * flip);
        acc.0[j - done] += u * u;
    }
}

impl<T> StateCheck<Adafactor> for AdafactorState<T> {
    fn check_for(&self, _: &Adafactor, len: usize) -> Result<()> {
        check_len("shape", len, self.shape.len())?;
        match self.shape.as_batched_matrix() {
            Some((b, r, c)) => {
                check_len("row_var", b.saturating_mul(r), self.row_var.len())?;
                check_len("col_var", b.saturating_mul(c), self.col_var.len())?;
                check_len("variance", 0, self.variance.len())
            }
            None => {
                check_len("row_var", 0, self.row_var.len())?;
                check_len("col_var", 0, self.col_var.len())?;
                check_len("variance", len, self.variance.len())
            }
        }
    }
}

super::optimizer_methods! {
    /// Adafactor with learning rate `lr` and PyTorch's other defaults.
    Adafactor(AdafactorConfig) -> AdafactorState, shaped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Optimizer;

    #[test]
    fn a_rank_one_squared_gradient_is_factored_exactly() {
        // G² = r cᵀ is rank one, so V̂ = G² at the first step (β̂ = 0) and U = sign(G).
        let opt = Adafactor::new(0.1).unwrap();
        let g = [1.0_f64, 2.0, 3.0, -2.0, -4.0, -6.0];
        let mut x = [0.0_f64; 6];
        let mut s = opt.init_shaped(&Shape::matrix(2, 3)).unwrap();
        opt.step(&mut x, &g, &mut s).unwrap();
        // α = ε₂·min(η, 1) = 1e-4, RMS(U) = 1: every entry moves by 1e-4 against its sign.
        for (x, g) in x.iter().zip(&g) {
            assert!((x + 1e-4 * g.signum()).abs() < 1e-15, "{x}");
        }
    }

    #[test]
    fn vectors_keep_a_full_second_moment_and_bad_states_are_errors() {
        let opt = Adafactor::new(0.1).unwrap();
        let mut s: AdafactorState<f64> = opt.init_shaped(&Shape::vector(3)).unwrap();
        assert_eq!((s.row_var.len(), s.variance.len()), (0, 3));
        let mut x = [1.0, 2.0, 3.0];
        opt.step(&mut x, &[0.1, 0.2, 0.3], &mut s).unwrap();
        assert_eq!(s.variance, vec![0.1 * 0.1, 0.2 * 0.2, 0.3 * 0.3]);
        let mut wrong = opt.init_shaped(&Shape::matrix(3, 1)).unwrap();
        wrong.col_var.push(0.0);
        assert!(opt.step(&mut x, &[0.1, 0.2, 0.3], &mut wrong).is_err());
        assert!(Adafactor::from_config(AdafactorConfig { d: 0.5, ..Default::default() }).is_err());
    }
}
