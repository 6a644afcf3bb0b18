//! NAdam: Adam with Nesterov momentum.

use serde::{Deserialize, Serialize};

use super::check_adam_family;
use super::kernels::eps_of;
use super::kernels::{GradPrep, Lerp, bias_correction, decoupled_shrink, ema_square, lerp};
use super::parallel::{Threads, for_each_chunk};
use crate::error::{check_non_negative, next_step};
use crate::{Float, Result};

/// Which form of NAdam to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum NadamVariant {
    /// PyTorch: Dozat's momentum schedule $\mu_t = \beta_1(1 - ½\cdot 0.96^{t\psi})$ and the
    /// running product of the $\mu_t$ in the bias corrections.
    #[default]
    MomentumSchedule,
    /// optax (`optax.nadam`, `adam(nesterov=True)`): constant β₁,
    /// $\hat m_t = \beta_1 m_t/(1-\beta_1^{t+1}) + (1-\beta_1) g_t/(1-\beta_1^t)$, then Adam's
    /// step. `momentum_decay` is ignored. No setting makes the two forms equal.
    Optax,
}

/// Hyperparameters of [`NAdam`]; names and defaults follow `torch.optim.NAdam`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NAdamConfig {
    /// Learning rate η (default 2e-3).
    pub lr: f64,
    /// (β₁, β₂) (default (0.9, 0.999)).
    pub betas: (f64, f64),
    /// ε outside the root (default 1e-8).
    pub eps: f64,
    /// Weight decay λ (default 0), coupled unless `decoupled_weight_decay`.
    pub weight_decay: f64,
    /// Momentum decay ψ of the momentum schedule (default 4e-3).
    pub momentum_decay: f64,
    /// Decoupled (AdamW-style) weight decay (default off).
    pub decoupled_weight_decay: bool,
    /// PyTorch's form or optax's.
    pub variant: NadamVariant,
    /// Ascend instead of descend.
    pub maximize: bool,
}

impl Default for NAdamConfig {
    fn default() -> Self {
        Self {
            lr: 2e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            momentum_decay: 4e-3,
            decoupled_weight_decay: false,
            variant: NadamVariant::MomentumSchedule,
            maximize: false,
        }
    }
}

/// NAdam, PyTorch's convention (Dozat's momentum schedule).
///
/// Symbols: η = `lr`, (β₁, β₂) = `betas`, ε = `eps`, ψ = `momentum_decay`,
/// λ = `weight_decay`. With $\mu_t = \beta_1\left(1 - \tfrac12\, 0.96^{t\psi}\right)$ and
/// $\Pi_t = \prod_{i\le t}\mu_i$:
///
/// $$
/// \begin{aligned}
/// m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2,
/// \qquad d_t = \sqrt{v_t/(1-\beta_2^t)} + \varepsilon,\\
/// x_t &= x_{t-1} - \eta\,\frac{1-\mu_t}{1-\Pi_t}\,\frac{g_t}{d_t}
///        - \eta\,\frac{\mu_{t+1}}{1-\Pi_t\,\mu_{t+1}}\,\frac{m_t}{d_t}.
/// \end{aligned}
/// $$
///
/// The look-ahead mixes the fresh gradient and the momentum with the weights that the *next*
/// step's momentum will have. **PyTorch and optax differ**: optax's `nadam` has no momentum
/// schedule (see [`NadamVariant::Optax`]); no parameter setting makes them equal.
///
/// # Example
///
/// ```
/// use gradstep::{NAdam, Optimizer};
///
/// let opt = NAdam::new(0.1)?;
/// let mut x = [3.0_f64];
/// let mut state = opt.init(1);
/// for _ in 0..200 {
///     let grad = [2.0 * x[0]];
///     opt.step(&mut x, &grad, &mut state)?;
/// }
/// assert!(x[0].abs() < 0.1);
/// # Ok::<(), gradstep::Error>(())
/// ```
///
/// # References
/// Dozat (2016), *Incorporating Nesterov Momentum into Adam*, ICLR workshop.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "NAdamConfig", into = "NAdamConfig")]
pub struct NAdam {
    config: NAdamConfig,
}

/// State of [`NAdam`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename(deserialize = "state"))]
pub struct NAdamState<T> {
    /// Number of steps taken.
    pub step: u64,
    /// The product $\Pi_t$ of the momentum schedule (kept in `f64`, as PyTorch does with a
    /// float64 default dtype).
    pub mu_product: f64,
    /// First moment $m$.
    pub exp_avg: Vec<T>,
    /// Second moment $v$.
    pub exp_avg_sq: Vec<T>,
}

super::checked_state!(
    NAdamState for NAdam: [signed exp_avg, non_negative exp_avg_sq], first NAdamState::check_mu_product
);

impl<T> NAdamState<T> {
    fn check_mu_product(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.mu_product) {
            return Err(crate::Error::InvalidState { what: "mu_product", rule: "must be in [0, 1]" });
        }
        Ok(())
    }
}

impl NAdam {
    /// NAdam with every hyperparameter given.
    ///
    /// # Errors
    /// [`crate::Error::Hyperparameter`] if `lr`, `weight_decay` or `momentum_decay` is
    /// negative, a β is outside [0, 1), or `eps` is not > 0.
    pub fn from_config(config: NAdamConfig) -> Result<Self> {
        check_adam_family(config.lr, config.betas, Some(config.eps), Some(config.weight_decay))?;
        check_non_negative("momentum_decay", config.momentum_decay)?;
        Ok(Self { config })
    }

    fn init_state<T: Float>(&self, len: usize) -> NAdamState<T> {
        NAdamState {
            step: 0,
            mu_product: 1.0,
            exp_avg: vec![T::zero(); len],
            exp_avg_sq: vec![T::zero(); len],
        }
    }

    fn run<T: Float>(
        &self,
        params: &mut [T],
        grads: &[T],
        state: &mut NAdamState<T>,
        threads: impl Threads,
    ) -> Result<()> {
        let c = &self.config;
        let t = next_step(state.step)?;
        let (b1, b2) = c.betas;
        let bc2 = bias_correction(b2, t);
        let tf = t as f64;
        let (c_grad, c_avg, mu_product) = match c.variant {
            NadamVariant::MomentumSchedule => {
                let mu = b1 * (1.0 - 0.5 * 0.96f64.powf(tf * c.momentum_decay));
                let mu_next = b1 * (1.0 - 0.5 * 0.96f64.powf((tf + 1.0) * c.momentum_decay));
                let mu_product = state.mu_product * mu;
                let mu_product_next = mu_product * mu_next;
                let c_grad = -c.lr * (1.0 - mu) / (1.0 - mu_product);
                let c_avg = (-c.lr * mu_next) / (1.0 - mu_product_next);
                (c_grad, c_avg, mu_product)
            }
            NadamVariant::Optax => {
                let c_grad = -c.lr * (1.0 - b1) / bias_correction(b1, t);
                let c_avg = -c.lr * b1 / bias_correction(b1, t.saturating_add(1));
                (c_grad, c_avg, state.mu_product)
            }
        };
        let (c_grad, c_avg) = (T::of(c_grad), T::of(c_avg));
        let w1 = Lerp::<T>::ema(b1);
        let (beta2, one_minus_b2, bc2, eps) = (T::of(b2), T::of(1.0 - b2), T::of(bc2), eps_of::<T>(c.eps)?);
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
                for (((x, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
                    *x *= shrink;
                    let g = prep.apply(g, *x);
                    *m = lerp(*m, g, &w1);
                    *v = ema_square(*v, g, beta2, one_minus_b2);
                    let d = (*v / bc2).sqrt() + eps;
                    *x += c_grad * g / d;
                    *x += c_avg * *m / d;
                }
            },
        )?;
        state.step = t;
        state.mu_product = mu_product;
        Ok(())
    }
}

super::optimizer_methods! {
    /// NAdam with learning rate `lr` and PyTorch's other defaults.
    NAdam(NAdamConfig) -> NAdamState
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Optimizer;

    #[test]
    fn the_momentum_product_follows_the_schedule() {
        let opt = NAdam::new(0.01).unwrap();
        let mut x = [1.0_f64];
        let mut s = opt.init(1);
        opt.step(&mut x, &[1.0], &mut s).unwrap();
        opt.step(&mut x, &[1.0], &mut s).unwrap();
        let mu = |t: f64| 0.9 * (1.0 - 0.5 * 0.96f64.powf(t * 4e-3));
        assert!((s.mu_product - mu(1.0) * mu(2.0)).abs() < 1e-15);
    }

    #[test]
    fn the_optax_variant_is_adam_with_a_nesterov_first_moment() {
        // Step 1 with m₀ = 0: m̂ = β₁(1-β₁)g/(1-β₁²) + (1-β₁)g/(1-β₁) = (β₁/(1+β₁) + 1)·g.
        let cfg = NAdamConfig { lr: 1.0, variant: NadamVariant::Optax, eps: 1e-12, ..Default::default() };
        let opt = NAdam::from_config(cfg).unwrap();
        let mut x = [0.0_f64];
        let mut s = opt.init(1);
        opt.step(&mut x, &[2.0], &mut s).unwrap();
        assert!((x[0] + (0.9 / 1.9 + 1.0)).abs() < 1e-9);
    }
}
