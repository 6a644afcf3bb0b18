//! Lion: the sign of an interpolated momentum.

use serde::{Deserialize, Serialize};

use super::check_adam_family;
use super::kernels::sign;
use super::parallel::{Threads, for_each_chunk};
use crate::error::next_step;
use crate::{Float, Result};

/// Hyperparameters of [`Lion`]; names follow the rest of the crate, defaults follow
/// `optax.lion` (there is no Lion in `torch.optim`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LionConfig {
    /// Learning rate η (optax requires one; default here 1e-4, since Lion's sign steps want a
    /// rate 3–10× smaller than AdamW's).
    pub lr: f64,
    /// (β₁, β₂), optax's `b1`, `b2` (default (0.9, 0.99)).
    pub betas: (f64, f64),
    /// Decoupled weight decay λ, multiplied by η (default 1e-3).
    pub weight_decay: f64,
    /// Ascend instead of descend.
    pub maximize: bool,
}

impl Default for LionConfig {
    fn default() -> Self {
        Self { lr: 1e-4, betas: (0.9, 0.99), weight_decay: 1e-3, maximize: false }
    }
}

/// Lion, optax's convention.
///
/// Symbols: η = `lr`, (β₁, β₂) = `betas`, λ = `weight_decay`. With $m_0 = 0$:
///
/// $$
/// \begin{aligned}
/// c_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
/// x_t = x_{t-1} - \eta\,\bigl(\operatorname{sign}(c_t) + \lambda x_{t-1}\bigr),\\
/// m_t &= \beta_2 m_{t-1} + (1-\beta_2) g_t .
/// \end{aligned}
/// $$
///
/// Every coordinate moves by exactly η (plus decay): the update has the same norm whatever the
/// gradient's scale. Two betas: the step interpolates with β₁, the memory with β₂.
/// $\operatorname{sign}(0) = 0$, as `jnp.sign`.
///
/// # Example
///
/// ```
/// use gradstep::{Lion, LionConfig, Optimizer};
///
/// let opt = Lion::from_config(LionConfig { lr: 0.1, weight_decay: 0.0, ..Default::default() })?;
/// let mut x = [1.0_f64, 1.0];
/// let mut state = opt.init(2);
/// opt.step(&mut x, &[1e-3, -50.0], &mut state)?;
/// assert_eq!(x, [0.9, 1.1]);
/// # Ok::<(), gradstep::Error>(())
/// ```
///
/// # References
/// Chen et al. (2023), *Symbolic Discovery of Optimization Algorithms*, NeurIPS,
/// <https://arxiv.org/abs/2302.06675>.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "LionConfig", into = "LionConfig")]
pub struct Lion {
    config: LionConfig,
}

/// State of [`Lion`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename(deserialize = "state"))]
pub struct LionState<T> {
    /// Number of steps taken.
    pub step: u64,
    /// Momentum $m$.
    pub exp_avg: Vec<T>,
}

super::checked_state!(LionState for Lion: [signed exp_avg]);

impl Lion {
    /// Lion with every hyperparameter given.
    ///
    /// # Errors
    /// [`crate::Error::Hyperparameter`] if `lr` or `weight_decay` is negative or a β is
    /// outside [0, 1).
    pub fn from_config(config: LionConfig) -> Result<Self> {
        check_adam_family(config.lr, config.betas, None, Some(config.weight_decay))?;
        Ok(Self { config })
    }

    fn init_state<T: Float>(&self, len: usize) -> LionState<T> {
        LionState { step: 0, exp_avg: vec![T::zero(); len] }
    }

    fn run<T: Float>(
        &self,
        params: &mut [T],
        grads: &[T],
        state: &mut LionState<T>,
        threads: impl Threads,
    ) -> Result<()> {
        let t = next_step(state.step)?;
        let c = &self.config;
        let (b1, b2) = c.betas;
        let (beta1, one_minus_b1, beta2, one_minus_b2) =
            (T::of(b1), T::of(1.0 - b1), T::of(b2), T::of(1.0 - b2));
        let (neg_lr, wd, maximize) = (T::of(-c.lr), T::of(c.weight_decay), c.maximize);
        for_each_chunk(
            threads,
            params,
            grads,
            [&mut state.exp_avg[..]],
            #[inline(always)]
            |p, g, [m]| {
                for ((x, &g), m) in p.iter_mut().zip(g).zip(m.iter_mut()) {
                    let g = if maximize { -g } else { g };
                    let u = sign(one_minus_b1 * g + beta1 * *m) + wd * *x;
                    *m = one_minus_b2 * g + beta2 * *m;
                    *x += neg_lr * u;
                }
            },
        )?;
        state.step = t;
        Ok(())
    }
}

super::optimizer_methods! {
    /// Lion with learning rate `lr` and optax's other defaults.
    Lion(LionConfig) -> LionState
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Optimizer;

    #[test]
    fn a_zero_gradient_with_no_momentum_moves_only_by_the_decay() {
        let opt = Lion::from_config(LionConfig { lr: 0.5, weight_decay: 0.1, ..Default::default() }).unwrap();
        let mut x = [2.0_f64];
        let mut s = opt.init(1);
        opt.step(&mut x, &[0.0], &mut s).unwrap();
        assert_eq!(x[0], 2.0 - 0.5 * 0.1 * 2.0);
    }
}
