//! Stochastic gradient descent, with momentum, dampening, Nesterov and weight decay.

use serde::{Deserialize, Serialize};

use super::kernels::GradPrep;
use super::parallel::{Threads, for_each_chunk};
use crate::error::{check_non_negative, check_unit_interval, next_step};
use crate::{Error, Float, Result};

/// Hyperparameters of [`Sgd`]; names and defaults follow `torch.optim.SGD`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SgdConfig {
    /// Learning rate η (PyTorch's default, 1e-3).
    pub lr: f64,
    /// Momentum μ; 0 turns momentum off.
    pub momentum: f64,
    /// Dampening τ applied to the gradient in the momentum buffer (not on the first step).
    pub dampening: f64,
    /// Use Nesterov's look-ahead gradient `g + μ·b` instead of the buffer `b`.
    pub nesterov: bool,
    /// Coupled L2 weight decay λ: the gradient becomes `g + λx`.
    pub weight_decay: f64,
    /// Ascend instead of descend.
    pub maximize: bool,
}

impl Default for SgdConfig {
    fn default() -> Self {
        Self { lr: 1e-3, momentum: 0.0, dampening: 0.0, nesterov: false, weight_decay: 0.0, maximize: false }
    }
}

/// Stochastic gradient descent, PyTorch's convention.
///
/// With gradient $g_t$ (plus $\lambda x_{t-1}$ under weight decay), momentum buffer $b$:
///
/// $$
/// \begin{aligned}
/// b_1 &= g_1, \qquad b_t = \mu b_{t-1} + (1-\tau) g_t,\\
/// d_t &= \begin{cases} g_t + \mu b_t & \text{Nesterov}\\ b_t & \text{otherwise,}\end{cases}\\
/// x_t &= x_{t-1} - \eta\, d_t .
/// \end{aligned}
/// $$
///
/// With `momentum = 0` this is plain gradient descent, $x_t = x_{t-1} - \eta g_t$. The learning
/// rate multiplies the buffer rather than the gradient (PyTorch's and optax's form, not
/// Sutskever's $v = \mu v - \eta g$); the two differ once η changes during training.
///
/// # Example
///
/// ```
/// use gradstep::{Optimizer, Sgd, SgdConfig};
///
/// let opt = Sgd::from_config(SgdConfig { lr: 0.1, momentum: 0.9, ..Default::default() })?;
/// let mut w = vec![1.0_f32, -2.0];
/// let mut state = opt.init(w.len());
/// opt.step(&mut w, &[0.5, 0.5], &mut state)?;
/// assert_eq!(w, [0.95, -2.05]);
/// # Ok::<(), gradstep::Error>(())
/// ```
///
/// # References
/// Sutskever, Martens, Dahl, Hinton (2013), *On the importance of initialization and momentum
/// in deep learning*, ICML.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "SgdConfig", into = "SgdConfig")]
pub struct Sgd {
    config: SgdConfig,
}

/// State of [`Sgd`]: the momentum buffer (absent without momentum).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename(deserialize = "state"))]
pub struct SgdState<T> {
    /// Number of steps taken.
    pub step: u64,
    /// The momentum buffer $b$, empty when momentum is off.
    pub momentum_buffer: Vec<T>,
}

super::checked_state!(SgdState for Sgd: [signed momentum_buffer if |c| c.momentum != 0.0]);

impl Sgd {
    /// SGD with every hyperparameter given.
    ///
    /// # Errors
    /// [`Error::Hyperparameter`] if a value is out of range, or if Nesterov momentum is asked
    /// for with zero momentum or non-zero dampening (PyTorch's rule).
    pub fn from_config(config: SgdConfig) -> Result<Self> {
        check_non_negative("lr", config.lr)?;
        check_unit_interval("momentum", config.momentum)?;
        check_non_negative("dampening", config.dampening)?;
        check_non_negative("weight_decay", config.weight_decay)?;
        if config.nesterov && (config.momentum <= 0.0 || config.dampening != 0.0) {
            return Err(Error::Hyperparameter {
                name: "nesterov",
                value: 1.0,
                rule: "needs momentum > 0 and dampening = 0",
            });
        }
        Ok(Self { config })
    }

    fn init_state<T: Float>(&self, len: usize) -> SgdState<T> {
        let buffer_len = if self.config.momentum != 0.0 { len } else { 0 };
        SgdState { step: 0, momentum_buffer: vec![T::zero(); buffer_len] }
    }

    fn run<T: Float>(
        &self,
        params: &mut [T],
        grads: &[T],
        state: &mut SgdState<T>,
        threads: impl Threads,
    ) -> Result<()> {
        let c = &self.config;
        let t = next_step(state.step)?;
        let (neg_lr, mu) = (T::of(-c.lr), T::of(c.momentum));
        let prep = GradPrep::<T>::new(c.maximize, c.weight_decay, true);
        let keep = T::of(1.0 - c.dampening);
        let nesterov = c.nesterov;
        if c.momentum == 0.0 {
            for_each_chunk(
                threads,
                params,
                grads,
                [],
                #[inline(always)]
                |p, g, []| {
                    let n = p.len();
                    let g = &g[..n];
                    for i in 0..n {
                        p[i] += neg_lr * prep.apply(g[i], p[i]);
                    }
                },
            )?;
        } else {
            let first = state.step == 0;
            for_each_chunk(
                threads,
                params,
                grads,
                [&mut state.momentum_buffer[..]],
                #[inline(always)]
                |p, g, [buf]| {
                    let n = p.len();
                    let (g, buf) = (&g[..n], &mut buf[..n]);
                    // PyTorch clones the gradient into the buffer on the first step. One loop per
                    // case, so that each is a straight line the compiler vectorises.
                    match (first, nesterov) {
                        (true, false) => {
                            for i in 0..n {
                                let gi = prep.apply(g[i], p[i]);
                                buf[i] = gi;
                                p[i] += neg_lr * gi;
                            }
                        }
                        (true, true) => {
                            for i in 0..n {
                                let gi = prep.apply(g[i], p[i]);
                                buf[i] = gi;
                                p[i] += neg_lr * (gi + mu * gi);
                            }
                        }
                        (false, false) => {
                            for i in 0..n {
                                let gi = prep.apply(g[i], p[i]);
                                let b = buf[i] * mu + keep * gi;
                                buf[i] = b;
                                p[i] += neg_lr * b;
                            }
                        }
                        (false, true) => {
                            for i in 0..n {
                                let gi = prep.apply(g[i], p[i]);
                                let b = buf[i] * mu + keep * gi;
                                buf[i] = b;
                                p[i] += neg_lr * (gi + mu * b);
                            }
                        }
                    }
                },
            )?;
        }
        state.step = t;
        Ok(())
    }
}

super::optimizer_methods! {
    /// Plain gradient descent with learning rate `lr`.
    Sgd(SgdConfig) -> SgdState
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Optimizer;

    #[test]
    fn gradient_descent_on_a_parabola_matches_the_closed_form() {
        // x_t = (1 - 2η)^t x_0 for f(x) = x².
        let opt = Sgd::new(0.2).unwrap();
        let mut x = [10.0_f64];
        let mut s = opt.init(1);
        for _ in 0..10 {
            let g = [2.0 * x[0]];
            opt.step(&mut x, &g, &mut s).unwrap();
        }
        assert!((x[0] - 10.0 * 0.6_f64.powi(10)).abs() < 1e-12);
    }

    #[test]
    fn momentum_first_step_takes_the_raw_gradient_even_with_dampening() {
        let cfg = SgdConfig { lr: 1.0, momentum: 0.9, dampening: 0.5, ..Default::default() };
        let opt = Sgd::from_config(cfg).unwrap();
        let mut x = [0.0_f64];
        let mut s = opt.init(1);
        opt.step(&mut x, &[1.0], &mut s).unwrap();
        assert_eq!(x, [-1.0]);
        opt.step(&mut x, &[1.0], &mut s).unwrap();
        // b = 0.9·1 + 0.5·1 = 1.4
        assert!((x[0] + 2.4).abs() < 1e-15);
    }

    #[test]
    fn bad_hyperparameters_are_rejected_with_their_value() {
        let err = Sgd::new(-0.1).unwrap_err();
        assert_eq!(err.to_string(), "invalid hyperparameter `lr` = -0.1: must be finite and >= 0");
        assert!(Sgd::from_config(SgdConfig { momentum: 1.0, ..Default::default() }).is_err());
        assert!(Sgd::from_config(SgdConfig { nesterov: true, ..Default::default() }).is_err());
    }

    #[test]
    fn mismatched_lengths_are_an_error_not_a_panic() {
        let opt = Sgd::new(0.1).unwrap();
        let mut s = Optimizer::<f64>::init(&opt, 2);
        let err = opt.step(&mut [1.0, 2.0], &[1.0], &mut s).unwrap_err();
        assert_eq!(err, Error::LengthMismatch { what: "gradient", expected: 2, got: 1 });
    }
}
