//! Yogi: Adam with an additive second-moment update.

use serde::{Deserialize, Serialize};

use super::check_adam_family;
use super::kernels::eps_of;
use super::kernels::{bias_correction, sign};
use super::parallel::{Threads, for_each_chunk};
use crate::error::{check_non_negative, next_step};
use crate::{Float, Result};

/// Hyperparameters of [`Yogi`]; names follow the rest of the crate, defaults follow
/// `optax.yogi` (there is no Yogi in `torch.optim`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct YogiConfig {
    /// Learning rate η (optax requires one; default here 1e-2, the paper's choice).
    pub lr: f64,
    /// (β₁, β₂), optax's `b1`, `b2` (default (0.9, 0.999)).
    pub betas: (f64, f64),
    /// ε outside the root (default 1e-3, much larger than Adam's).
    pub eps: f64,
    /// Starting value of both $m$ and $v$ (default 1e-6).
    pub initial_accumulator_value: f64,
    /// Ascend instead of descend.
    pub maximize: bool,
}

impl Default for YogiConfig {
    fn default() -> Self {
        Self { lr: 1e-2, betas: (0.9, 0.999), eps: 1e-3, initial_accumulator_value: 1e-6, maximize: false }
    }
}

/// Yogi, optax's convention.
///
/// Symbols: η = `lr`, (β₁, β₂) = `betas` (optax `b1`, `b2`), ε = `eps`,
/// $m_0 = v_0$ = `initial_accumulator_value`:
///
/// $$
/// \begin{aligned}
/// m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
/// v_t = v_{t-1} - (1-\beta_2)\,\operatorname{sign}(v_{t-1} - g_t^2)\, g_t^2,\\
/// x_t &= x_{t-1} - \eta\,\frac{m_t/(1-\beta_1^t)}{\sqrt{v_t/(1-\beta_2^t)} + \varepsilon}.
/// \end{aligned}
/// $$
///
/// Where Adam moves $v$ a fraction $1-\beta_2$ of the way to $g^2$ (a multiplicative change),
/// Yogi moves it by $(1-\beta_2)g^2$ towards $g^2$ (an additive one), so a burst of large
/// gradients cannot shrink the effective learning rate as fast. The bias corrections are
/// optax's, although $m_0, v_0 \ne 0$.
///
/// # Example
///
/// ```
/// use gradstep::{Optimizer, Yogi};
///
/// let opt = Yogi::new(0.1)?;
/// let mut x = [2.0_f64];
/// let mut state = opt.init(1);
/// for _ in 0..300 {
///     let grad = [2.0 * x[0]];
///     opt.step(&mut x, &grad, &mut state)?;
/// }
/// assert!(x[0].abs() < 0.05);
/// # Ok::<(), gradstep::Error>(())
/// ```
///
/// # References
/// Zaheer, Reddi, Sachan, Kale, Kumar (2018), *Adaptive Methods for Nonconvex
/// Optimization*, NeurIPS.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "YogiConfig", into = "YogiConfig")]
pub struct Yogi {
    config: YogiConfig,
}

/// State of [`Yogi`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename(deserialize = "state"))]
pub struct YogiState<T> {
    /// Number of steps taken.
    pub step: u64,
    /// First moment $m$.
    pub exp_avg: Vec<T>,
    /// Second moment $v$.
    pub exp_avg_sq: Vec<T>,
}

super::checked_state!(YogiState for Yogi: [signed exp_avg, non_negative exp_avg_sq]);

impl Yogi {
    /// Yogi with every hyperparameter given.
    ///
    /// # Errors
    /// [`crate::Error::Hyperparameter`] if `lr` or `initial_accumulator_value` is negative, a
    /// β is outside [0, 1), or `eps` is not > 0.
    pub fn from_config(config: YogiConfig) -> Result<Self> {
        check_adam_family(config.lr, config.betas, Some(config.eps), None)?;
        check_non_negative("initial_accumulator_value", config.initial_accumulator_value)?;
        Ok(Self { config })
    }

    fn init_state<T: Float>(&self, len: usize) -> YogiState<T> {
        let v0 = T::of(self.config.initial_accumulator_value);
        YogiState { step: 0, exp_avg: vec![v0; len], exp_avg_sq: vec![v0; len] }
    }

    fn run<T: Float>(
        &self,
        params: &mut [T],
        grads: &[T],
        state: &mut YogiState<T>,
        threads: impl Threads,
    ) -> Result<()> {
        let c = &self.config;
        let t = next_step(state.step)?;
        let (b1, b2) = c.betas;
        let (beta1, one_minus_b1, one_minus_b2) = (T::of(b1), T::of(1.0 - b1), T::of(1.0 - b2));
        let (bc1, bc2) = (T::of(bias_correction(b1, t)), T::of(bias_correction(b2, t)));
        let (neg_lr, eps, maximize) = (T::of(-c.lr), eps_of::<T>(c.eps)?, c.maximize);
        let bufs = [&mut state.exp_avg[..], &mut state.exp_avg_sq[..]];
        for_each_chunk(
            threads,
            params,
            grads,
            bufs,
            #[inline(always)]
            |p, g, [m, v]| {
                for (((x, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
                    let g = if maximize { -g } else { g };
                    // optax's operation order: (1-β₁)g + β₁m, and v - ((1-β₂)·sign(v - g²))·g².
                    *m = one_minus_b1 * g + beta1 * *m;
                    let g2 = g * g;
                    *v = *v - one_minus_b2 * sign(*v - g2) * g2;
                    let update = (*m / bc1) / ((*v / bc2).sqrt() + eps);
                    *x += neg_lr * update;
                }
            },
        )?;
        state.step = t;
        Ok(())
    }
}

super::optimizer_methods! {
    /// Yogi with learning rate `lr` and optax's other defaults.
    Yogi(YogiConfig) -> YogiState
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Optimizer;

    #[test]
    fn the_second_moment_moves_additively() {
        let cfg = YogiConfig { lr: 0.1, initial_accumulator_value: 0.0, ..Default::default() };
        let opt = Yogi::from_config(cfg).unwrap();
        let mut x = [0.0_f64];
        let mut s = opt.init(1);
        opt.step(&mut x, &[10.0], &mut s).unwrap();
        // v₀ = 0 < g² = 100: v₁ = 0 + 0.001·100.
        assert!((s.exp_avg_sq[0] - 0.1).abs() < 1e-15);
        opt.step(&mut x, &[0.0], &mut s).unwrap();
        // v₁ > g² = 0: sign = +1 but g² = 0, v stays.
        assert!((s.exp_avg_sq[0] - 0.1).abs() < 1e-15);
    }
}
