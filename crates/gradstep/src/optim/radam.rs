//! RAdam: Adam with a rectified adaptive learning rate.

use serde::{Deserialize, Serialize};

use super::check_adam_family;
use super::kernels::eps_of;
use super::kernels::{GradPrep, Lerp, bias_correction, decoupled_shrink, ema_square, lerp};
use super::parallel::{Threads, for_each_chunk};
use crate::error::next_step;
use crate::{Float, Result};

/// Hyperparameters of [`RAdam`]; names and defaults follow `torch.optim.RAdam`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RAdamConfig {
    /// Learning rate η (default 1e-3).
    pub lr: f64,
    /// (β₁, β₂) (default (0.9, 0.999)).
    pub betas: (f64, f64),
    /// ε outside the root (default 1e-8).
    pub eps: f64,
    /// Weight decay λ (default 0), coupled unless `decoupled_weight_decay`.
    pub weight_decay: f64,
    /// Decoupled (AdamW-style) weight decay (default off).
    pub decoupled_weight_decay: bool,
    /// Ascend instead of descend.
    pub maximize: bool,
}

impl Default for RAdamConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled_weight_decay: false,
            maximize: false,
        }
    }
}

/// RAdam, PyTorch's convention.
///
/// Symbols: η = `lr`, (β₁, β₂) = `betas`, ε = `eps`, λ = `weight_decay`. With $m, v$ as in
/// [`crate::Adam`], $\rho_\infty = 2/(1-\beta_2) - 1$ and
/// $\rho_t = \rho_\infty - 2t\beta_2^t/(1-\beta_2^t)$ (the length of the approximated
/// simple moving average):
///
/// $$
/// x_t = x_{t-1} - \eta\,\frac{m_t}{1-\beta_1^t}\cdot
/// \begin{cases}
///   r_t\,\dfrac{\sqrt{1-\beta_2^t}}{\sqrt{v_t}+\varepsilon}, &
///   r_t = \sqrt{\dfrac{(\rho_t-4)(\rho_t-2)\rho_\infty}{(\rho_\infty-4)(\rho_\infty-2)\rho_t}}
///   \quad\text{if } \rho_t > 5,\\
///   1 & \text{otherwise (SGD with momentum).}
/// \end{cases}
/// $$
///
/// While the variance of the adaptive step is intractable (the first few steps), RAdam takes
/// plain momentum steps. **optax's `radam` differs in two details**: it rectifies when
/// $\rho_t \ge 5$ (PyTorch: $> 5$), and it adds ε after bias correction,
/// $r_t\,\hat m_t/(\sqrt{\hat v_t} + \varepsilon)$, where PyTorch adds it to $\sqrt{v_t}$ before
/// (as written above); the two differ while $\sqrt{v_t}$ is not much larger than ε.
///
/// # Example
///
/// ```
/// use gradstep::{Optimizer, RAdam};
///
/// let opt = RAdam::new(0.1)?;
/// let mut x = [1.0_f64];
/// let mut state = opt.init(1);
/// opt.step(&mut x, &[0.5], &mut state)?; // ρ₁ = 1 ≤ 5: an SGD step η·m̂ = 0.1·0.5
/// assert!((x[0] - 0.95).abs() < 1e-12);
/// # Ok::<(), gradstep::Error>(())
/// ```
///
/// # References
/// Liu, Jiang, He, Chen, Liu, Gao, Han (2020), *On the Variance of the Adaptive Learning Rate
/// and Beyond*, ICLR, <https://arxiv.org/abs/1908.03265>.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RAdamConfig", into = "RAdamConfig")]
pub struct RAdam {
    config: RAdamConfig,
}

/// State of [`RAdam`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename(deserialize = "state"))]
pub struct RAdamState<T> {
    /// Number of steps taken.
    pub step: u64,
    /// First moment $m$.
    pub exp_avg: Vec<T>,
    /// Second moment $v$.
    pub exp_avg_sq: Vec<T>,
}

super::checked_state!(RAdamState for RAdam: [signed exp_avg, non_negative exp_avg_sq]);

impl RAdam {
    /// RAdam with every hyperparameter given.
    ///
    /// # Errors
    /// [`crate::Error::Hyperparameter`] if `lr` or `weight_decay` is negative, a β is outside
    /// [0, 1), or `eps` is not > 0.
    pub fn from_config(config: RAdamConfig) -> Result<Self> {
        check_adam_family(config.lr, config.betas, Some(config.eps), Some(config.weight_decay))?;
        Ok(Self { config })
    }

    fn init_state<T: Float>(&self, len: usize) -> RAdamState<T> {
        RAdamState { step: 0, exp_avg: vec![T::zero(); len], exp_avg_sq: vec![T::zero(); len] }
    }

    fn run<T: Float>(
        &self,
        params: &mut [T],
        grads: &[T],
        state: &mut RAdamState<T>,
        threads: impl Threads,
    ) -> Result<()> {
        let c = &self.config;
        let t = next_step(state.step)?;
        let (b1, b2) = c.betas;
        let bc1 = bias_correction(b1, t);
        let bc2 = bias_correction(b2, t);
        let rho_inf = 2.0 / (1.0 - b2) - 1.0;
        let rho_t = rho_inf - 2.0 * t as f64 * b2.powf(t as f64) / bc2;
        let rectified = rho_t > 5.0;
        let rect = if rectified {
            ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)).sqrt()
        } else {
            1.0
        };
        let (bc1, lr, bc2_sqrt, rect, eps) =
            (T::of(bc1), T::of(c.lr), T::of(bc2.sqrt()), T::of(rect), eps_of::<T>(c.eps)?);
        let w1 = Lerp::<T>::ema(b1);
        let (beta2, one_minus_b2) = (T::of(b2), T::of(1.0 - b2));
        let prep = GradPrep::<T>::new(c.maximize, c.weight_decay, !c.decoupled_weight_decay);
        let shrink = decoupled_shrink::<T>(c.lr, c.weight_decay, c.decoupled_weight_decay);
        let bufs = [&mut state.exp_avg[..], &mut state.exp_avg_sq[..]];
        for_each_chunk(
            threads,
            params,
            grads,
            bufs,
            #[inline(always)]
            |p, g, [m, v]| {
                let n = p.len();
                let (g, m, v) = (&g[..n], &mut m[..n], &mut v[..n]);
                // One loop per phase, so that each is a straight line the compiler vectorises.
                if rectified {
                    for i in 0..n {
                        let x = p[i] * shrink;
                        let g = prep.apply(g[i], x);
                        m[i] = lerp(m[i], g, &w1);
                        v[i] = ema_square(v[i], g, beta2, one_minus_b2);
                        // PyTorch: (m/bc₁)·η·(√bc₂ · 1/(√v + ε))·r, in this order.
                        let adaptive = (T::one() / (v[i].sqrt() + eps)) * bc2_sqrt;
                        p[i] = x - m[i] / bc1 * lr * adaptive * rect;
                    }
                } else {
                    for i in 0..n {
                        let x = p[i] * shrink;
                        let g = prep.apply(g[i], x);
                        m[i] = lerp(m[i], g, &w1);
                        v[i] = ema_square(v[i], g, beta2, one_minus_b2);
                        p[i] = x - m[i] / bc1 * lr;
                    }
                }
            },
        )?;
        state.step = t;
        Ok(())
    }
}

super::optimizer_methods! {
    /// RAdam with learning rate `lr` and PyTorch's other defaults.
    RAdam(RAdamConfig) -> RAdamState
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Optimizer;

    #[test]
    fn rectification_starts_after_the_sixth_step_for_the_default_beta2() {
        // ρ_t > 5 first at t = 6 for β₂ = 0.999 (ρ₅ ≈ 4.99, ρ₆ ≈ 5.99).
        let rho = |t: f64| {
            let b2: f64 = 0.999;
            let rho_inf = 2.0 / (1.0 - b2) - 1.0;
            rho_inf - 2.0 * t * b2.powf(t) / (1.0 - b2.powf(t))
        };
        assert!(rho(5.0) <= 5.0 && rho(6.0) > 5.0);
        let opt = RAdam::new(0.1).unwrap();
        let mut x = [0.0_f64];
        let mut s = opt.init(1);
        for _ in 0..5 {
            opt.step(&mut x, &[1.0], &mut s).unwrap();
        }
        // Five SGD-with-momentum steps with m̂ = 1: x = -0.5 exactly up to rounding.
        assert!((x[0] + 0.5).abs() < 1e-12);
    }
}
