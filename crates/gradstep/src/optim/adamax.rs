//! Adamax, Adam with the infinity norm.

use serde::{Deserialize, Serialize};

use super::check_adam_family;
use super::kernels::eps_of;
use super::kernels::{GradPrep, Lerp, bias_correction, lerp};
use super::parallel::{Threads, for_each_chunk};
use crate::error::next_step;
use crate::{Float, Result};

/// Hyperparameters of [`Adamax`]; names and defaults follow `torch.optim.Adamax`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AdamaxConfig {
    /// Learning rate η (default 2e-3).
    pub lr: f64,
    /// (β₁, β₂) (default (0.9, 0.999)).
    pub betas: (f64, f64),
    /// ε, added to $|g|$ inside the maximum (default 1e-8).
    pub eps: f64,
    /// Coupled L2 weight decay λ (default 0).
    pub weight_decay: f64,
    /// Ascend instead of descend.
    pub maximize: bool,
}

impl Default for AdamaxConfig {
    fn default() -> Self {
        Self { lr: 2e-3, betas: (0.9, 0.999), eps: 1e-8, weight_decay: 0.0, maximize: false }
    }
}

/// Adamax, PyTorch's convention.
///
/// Symbols: η = `lr`, (β₁, β₂) = `betas`, ε = `eps`, λ = `weight_decay`. With
/// $m_0 = u_0 = 0$:
///
/// $$
/// m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
/// u_t = \max(\beta_2 u_{t-1},\ |g_t| + \varepsilon), \qquad
/// x_t = x_{t-1} - \frac{\eta}{1-\beta_1^t}\,\frac{m_t}{u_t}.
/// $$
///
/// The second moment of Adam becomes an exponentially weighted infinity norm, which needs no
/// bias correction. optax's `adamax` computes the same formula (ε inside the maximum too);
/// it only orders the scalings differently, $-\eta\,(m/(1-\beta_1^t))/u$, a last-bit
/// difference.
///
/// # Example
///
/// ```
/// use gradstep::{Adamax, Optimizer};
///
/// let opt = Adamax::new(0.1)?;
/// let mut x = [0.0_f64];
/// let mut state = opt.init(1);
/// opt.step(&mut x, &[-4.0], &mut state)?; // m̂ = g, u = |g|: a step of η
/// assert!((x[0] - 0.1).abs() < 1e-9);
/// # Ok::<(), gradstep::Error>(())
/// ```
///
/// # References
/// Kingma, Ba (2015), *Adam: A Method for Stochastic Optimization*, ICLR, section 7.1,
/// <https://arxiv.org/abs/1412.6980>.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "AdamaxConfig", into = "AdamaxConfig")]
pub struct Adamax {
    config: AdamaxConfig,
}

/// State of [`Adamax`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename(deserialize = "state"))]
pub struct AdamaxState<T> {
    /// Number of steps taken.
    pub step: u64,
    /// First moment $m$.
    pub exp_avg: Vec<T>,
    /// Exponentially weighted infinity norm $u$.
    pub exp_inf: Vec<T>,
}

super::checked_state!(AdamaxState for Adamax: [signed exp_avg, non_negative exp_inf]);

impl Adamax {
    /// Adamax with every hyperparameter given.
    ///
    /// # Errors
    /// [`crate::Error::Hyperparameter`] if `lr` or `weight_decay` is negative, a β is outside
    /// [0, 1), or `eps` is not > 0.
    pub fn from_config(config: AdamaxConfig) -> Result<Self> {
        check_adam_family(config.lr, config.betas, Some(config.eps), Some(config.weight_decay))?;
        Ok(Self { config })
    }

    fn init_state<T: Float>(&self, len: usize) -> AdamaxState<T> {
        AdamaxState { step: 0, exp_avg: vec![T::zero(); len], exp_inf: vec![T::zero(); len] }
    }

    fn run<T: Float>(
        &self,
        params: &mut [T],
        grads: &[T],
        state: &mut AdamaxState<T>,
        threads: impl Threads,
    ) -> Result<()> {
        let c = &self.config;
        let t = next_step(state.step)?;
        let w1 = Lerp::<T>::ema(c.betas.0);
        let (b2, eps) = (T::of(c.betas.1), eps_of::<T>(c.eps)?);
        let neg_clr = T::of(-(c.lr / bias_correction(c.betas.0, t)));
        let prep = GradPrep::<T>::new(c.maximize, c.weight_decay, true);
        let bufs = [&mut state.exp_avg[..], &mut state.exp_inf[..]];
        for_each_chunk(
            threads,
            params,
            grads,
            bufs,
            #[inline(always)]
            |p, g, [m, u]| {
                for (((x, &g), m), u) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(u.iter_mut()) {
                    let g = prep.apply(g, *x);
                    *m = lerp(*m, g, &w1);
                    *u = (*u * b2).max(g.abs() + eps);
                    *x += neg_clr * *m / *u;
                }
            },
        )?;
        state.step = t;
        Ok(())
    }
}

super::optimizer_methods! {
    /// Adamax with learning rate `lr` and PyTorch's other defaults.
    Adamax(AdamaxConfig) -> AdamaxState
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Optimizer;

    #[test]
    fn the_norm_decays_but_never_below_the_latest_gradient() {
        let opt = Adamax::new(0.1).unwrap();
        let mut x = [0.0_f64];
        let mut s = opt.init(1);
        opt.step(&mut x, &[10.0], &mut s).unwrap();
        opt.step(&mut x, &[1.0], &mut s).unwrap();
        assert!((s.exp_inf[0] - 10.0 * 0.999).abs() < 1e-6);
        opt.step(&mut x, &[20.0], &mut s).unwrap();
        assert!((s.exp_inf[0] - 20.0).abs() < 1e-6);
    }
}
