//! Adadelta.

use serde::{Deserialize, Serialize};

use super::kernels::eps_of;
use super::kernels::{GradPrep, ema_square};
use super::parallel::{Threads, for_each_chunk};
use crate::error::{check_non_negative, check_positive, check_unit_interval, next_step};
use crate::{Float, Result};

/// Hyperparameters of [`Adadelta`]; names and defaults follow `torch.optim.Adadelta`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AdadeltaConfig {
    /// Learning rate η scaling the step (default 1.0, as in the paper).
    pub lr: f64,
    /// Decay ρ of both EMAs (default 0.9).
    pub rho: f64,
    /// ε inside both roots (default 1e-6).
    pub eps: f64,
    /// Coupled L2 weight decay λ (default 0).
    pub weight_decay: f64,
    /// Ascend instead of descend.
    pub maximize: bool,
}

impl Default for AdadeltaConfig {
    fn default() -> Self {
        Self { lr: 1.0, rho: 0.9, eps: 1e-6, weight_decay: 0.0, maximize: false }
    }
}

/// Adadelta, PyTorch's convention (optax's formula is the same).
///
/// Symbols: η = `lr`, ρ = `rho`, ε = `eps`, λ = `weight_decay`. With $v_0 = u_0 = 0$:
///
/// $$
/// \begin{aligned}
/// v_t &= \rho v_{t-1} + (1-\rho) g_t^2, \qquad
/// \Delta_t = \frac{\sqrt{u_{t-1} + \varepsilon}}{\sqrt{v_t + \varepsilon}}\, g_t,\\
/// u_t &= \rho u_{t-1} + (1-\rho) \Delta_t^2, \qquad x_t = x_{t-1} - \eta\,\Delta_t .
/// \end{aligned}
/// $$
///
/// The ratio of the two RMS values gives the step the units of $x$, so the method needs no
/// learning rate (η = 1).
///
/// **optax differs in its default**: `optax.adadelta(learning_rate=None)` applies no
/// learning-rate step at all, so the update is added without a sign flip and the default
/// optimizer *ascends*; pass `learning_rate=1.0` to get these numbers.
///
/// # Example
///
/// ```
/// use gradstep::{Adadelta, Optimizer};
///
/// let opt = Adadelta::new(1.0)?;
/// let mut x = [1.0_f64];
/// let mut state = opt.init(1);
/// opt.step(&mut x, &[1.0], &mut state)?;
/// // Δ = sqrt(1e-6)/sqrt(0.1 + 1e-6): the first steps are tiny.
/// assert!((x[0] - (1.0 - (1e-6f64).sqrt() / (0.1f64 + 1e-6).sqrt())).abs() < 1e-15);
/// # Ok::<(), gradstep::Error>(())
/// ```
///
/// # References
/// Zeiler (2012), *ADADELTA: An Adaptive Learning Rate Method*,
/// <https://arxiv.org/abs/1212.5701>.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "AdadeltaConfig", into = "AdadeltaConfig")]
pub struct Adadelta {
    config: AdadeltaConfig,
}

/// State of [`Adadelta`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename(deserialize = "state"))]
pub struct AdadeltaState<T> {
    /// Number of steps taken.
    pub step: u64,
    /// EMA of the squared gradient, $v$.
    pub square_avg: Vec<T>,
    /// EMA of the squared update, $u$.
    pub acc_delta: Vec<T>,
}

super::checked_state!(AdadeltaState for Adadelta: [non_negative square_avg, non_negative acc_delta]);

impl Adadelta {
    /// Adadelta with every hyperparameter given.
    ///
    /// # Errors
    /// [`crate::Error::Hyperparameter`] if `lr` or `weight_decay` is negative, `rho` is
    /// outside [0, 1), or `eps` is not > 0.
    pub fn from_config(config: AdadeltaConfig) -> Result<Self> {
        check_non_negative("lr", config.lr)?;
        check_unit_interval("rho", config.rho)?;
        check_positive("eps", config.eps)?;
        check_non_negative("weight_decay", config.weight_decay)?;
        Ok(Self { config })
    }

    fn init_state<T: Float>(&self, len: usize) -> AdadeltaState<T> {
        AdadeltaState { step: 0, square_avg: vec![T::zero(); len], acc_delta: vec![T::zero(); len] }
    }

    fn run<T: Float>(
        &self,
        params: &mut [T],
        grads: &[T],
        state: &mut AdadeltaState<T>,
        threads: impl Threads,
    ) -> Result<()> {
        let t = next_step(state.step)?;
        let c = &self.config;
        let (rho, one_minus_rho, eps) = (T::of(c.rho), T::of(1.0 - c.rho), eps_of::<T>(c.eps)?);
        let (neg_lr, prep) = (T::of(-c.lr), GradPrep::<T>::new(c.maximize, c.weight_decay, true));
        let bufs = [&mut state.square_avg[..], &mut state.acc_delta[..]];
        for_each_chunk(
            threads,
            params,
            grads,
            bufs,
            #[inline(always)]
            |p, g, [v, u]| {
                for (((x, &g), v), u) in p.iter_mut().zip(g).zip(v.iter_mut()).zip(u.iter_mut()) {
                    let g = prep.apply(g, *x);
                    *v = ema_square(*v, g, rho, one_minus_rho);
                    let std = (*v + eps).sqrt();
                    let delta = (*u + eps).sqrt() / std * g;
                    *u = ema_square(*u, delta, rho, one_minus_rho);
                    *x += neg_lr * delta;
                }
            },
        )?;
        state.step = t;
        Ok(())
    }
}

super::optimizer_methods! {
    /// Adadelta with learning rate `lr` and PyTorch's other defaults.
    Adadelta(AdadeltaConfig) -> AdadeltaState
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Optimizer;

    #[test]
    fn rejects_rho_of_one() {
        assert!(Adadelta::from_config(AdadeltaConfig { rho: 1.0, ..Default::default() }).is_err());
    }

    #[test]
    fn the_step_grows_as_the_update_history_fills() {
        let opt = Adadelta::new(1.0).unwrap();
        let mut x = [0.0_f64];
        let mut s = opt.init(1);
        let mut last = 0.0;
        let mut steps = Vec::new();
        for _ in 0..5 {
            opt.step(&mut x, &[1.0], &mut s).unwrap();
            steps.push(last - x[0]);
            last = x[0];
        }
        assert!(steps.windows(2).all(|w| w[1] > w[0]));
    }
}
