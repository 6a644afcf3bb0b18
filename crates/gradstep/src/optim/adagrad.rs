//! Adagrad, with learning-rate decay and an initial accumulator.

use serde::{Deserialize, Serialize};

use super::EpsPlacement;
use super::kernels::eps_of;
use super::parallel::{Threads, for_each_chunk};
use crate::error::{check_non_negative, check_positive, next_step};
use crate::{Float, Result};

/// Hyperparameters of [`Adagrad`]; names and defaults follow `torch.optim.Adagrad`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AdagradConfig {
    /// Learning rate η (default 1e-2).
    pub lr: f64,
    /// Learning-rate decay κ: step $t$ uses $\eta/(1+(t-1)\kappa)$ (default 0).
    pub lr_decay: f64,
    /// Coupled L2 weight decay λ (default 0).
    pub weight_decay: f64,
    /// Starting value $G_0$ of the sum of squares (PyTorch 0; optax 0.1).
    pub initial_accumulator_value: f64,
    /// ε (PyTorch 1e-10 outside the root; optax 1e-7 inside it).
    pub eps: f64,
    /// Where ε goes (PyTorch: outside the root).
    pub eps_placement: EpsPlacement,
    /// Ascend instead of descend.
    pub maximize: bool,
}

impl Default for AdagradConfig {
    fn default() -> Self {
        Self {
            lr: 1e-2,
            lr_decay: 0.0,
            weight_decay: 0.0,
            initial_accumulator_value: 0.0,
            eps: 1e-10,
            eps_placement: EpsPlacement::OutsideSqrt,
            maximize: false,
        }
    }
}

/// Adagrad, PyTorch's convention.
///
/// Symbols: η = `lr`, κ = `lr_decay`, $G_0$ = `initial_accumulator_value`, ε = `eps`,
/// λ = `weight_decay`. With gradient $g_t$ ($+\lambda x_{t-1}$):
///
/// $$
/// G_t = G_{t-1} + g_t^2, \qquad
/// x_t = x_{t-1} - \frac{\eta}{1 + (t-1)\kappa}\,\frac{g_t}{\sqrt{G_t} + \varepsilon}.
/// $$
///
/// Each coordinate's step shrinks with the squared gradients it has seen, so rarely
/// updated coordinates keep a large step.
///
/// **PyTorch and optax differ**: optax's `adagrad` starts from $G_0 = 0.1$ and puts ε = 1e-7
/// *inside* the root, $g/\sqrt{G+\varepsilon}$ (and 0 where $G = 0$). Choose
/// [`EpsPlacement::InsideSqrt`] with `initial_accumulator_value: 0.1, eps: 1e-7` for optax's
/// numbers.
///
/// # Example
///
/// ```
/// use gradstep::{Adagrad, Optimizer};
///
/// let opt = Adagrad::new(0.5)?;
/// let mut x = [1.0_f64];
/// let mut state = opt.init(1);
/// opt.step(&mut x, &[4.0], &mut state)?; // G = 16: the step is 0.5·4/4
/// assert!((x[0] - 0.5).abs() < 1e-9);
/// # Ok::<(), gradstep::Error>(())
/// ```
///
/// # References
/// Duchi, Hazan, Singer (2011), *Adaptive Subgradient Methods for Online Learning and
/// Stochastic Optimization*, JMLR 12.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "AdagradConfig", into = "AdagradConfig")]
pub struct Adagrad {
    config: AdagradConfig,
}

/// State of [`Adagrad`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename(deserialize = "state"))]
pub struct AdagradState<T> {
    /// Number of steps taken.
    pub step: u64,
    /// The sum of squared gradients $G$.
    pub sum: Vec<T>,
}

super::checked_state!(AdagradState for Adagrad: [non_negative sum]);

impl Adagrad {
    /// Adagrad with every hyperparameter given.
    ///
    /// # Errors
    /// [`crate::Error::Hyperparameter`] if `lr`, `lr_decay`, `weight_decay` or
    /// `initial_accumulator_value` is negative, or `eps` is not > 0.
    pub fn from_config(config: AdagradConfig) -> Result<Self> {
        check_non_negative("lr", config.lr)?;
        check_non_negative("lr_decay", config.lr_decay)?;
        check_non_negative("weight_decay", config.weight_decay)?;
        check_non_negative("initial_accumulator_value", config.initial_accumulator_value)?;
        check_positive("eps", config.eps)?;
        Ok(Self { config })
    }

    fn init_state<T: Float>(&self, len: usize) -> AdagradState<T> {
        AdagradState { step: 0, sum: vec![T::of(self.config.initial_accumulator_value); len] }
    }

    fn run<T: Float>(
        &self,
        params: &mut [T],
        grads: &[T],
        state: &mut AdagradState<T>,
        threads: impl Threads,
    ) -> Result<()> {
        let c = &self.config;
        let t = next_step(state.step)?;
        let neg_clr = T::of(-(c.lr / (1.0 + (t - 1) as f64 * c.lr_decay)));
        let (eps, prep) =
            (eps_of::<T>(c.eps)?, super::kernels::GradPrep::<T>::new(c.maximize, c.weight_decay, true));
        let inside = c.eps_placement == EpsPlacement::InsideSqrt;
        for_each_chunk(
            threads,
            params,
            grads,
            [&mut state.sum[..]],
            #[inline(always)]
            |p, g, [sum]| {
                let n = p.len();
                let (g, sum) = (&g[..n], &mut sum[..n]);
                if inside {
                    for i in 0..n {
                        let gi = prep.apply(g[i], p[i]);
                        let s = sum[i] + gi * gi;
                        sum[i] = s;
                        // optax: g·rsqrt(G + ε), and no step where G = 0 (x + 0 = x exactly).
                        let step = neg_clr * (gi / (s + eps).sqrt());
                        p[i] += if s > T::zero() { step } else { T::zero() };
                    }
                } else {
                    for i in 0..n {
                        let gi = prep.apply(g[i], p[i]);
                        let s = sum[i] + gi * gi;
                        sum[i] = s;
                        p[i] += neg_clr * gi / (s.sqrt() + eps);
                    }
                }
            },
        )?;
        state.step = t;
        Ok(())
    }
}

super::optimizer_methods! {
    /// Adagrad with learning rate `lr` and PyTorch's other defaults.
    Adagrad(AdagradConfig) -> AdagradState
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Optimizer;

    #[test]
    fn lr_decay_divides_the_step() {
        let opt =
            Adagrad::from_config(AdagradConfig { lr: 1.0, lr_decay: 1.0, ..Default::default() }).unwrap();
        let mut x = [0.0_f64];
        let mut s = opt.init(1);
        opt.step(&mut x, &[1.0], &mut s).unwrap(); // clr = 1, G = 1
        opt.step(&mut x, &[0.0], &mut s).unwrap(); // zero gradient
        assert!((x[0] + 1.0).abs() < 1e-9);
        opt.step(&mut x, &[1.0], &mut s).unwrap(); // clr = 1/3, G = 2
        assert!((x[0] + 1.0 + 1.0 / 3.0 / 2f64.sqrt()).abs() < 1e-9);
    }

    #[test]
    fn optax_placement_skips_coordinates_with_no_history() {
        let cfg = AdagradConfig {
            lr: 1.0,
            eps: 1e-7,
            eps_placement: EpsPlacement::InsideSqrt,
            ..Default::default()
        };
        let opt = Adagrad::from_config(cfg).unwrap();
        let mut x = [1.0_f64, 1.0];
        let mut s = opt.init(2);
        opt.step(&mut x, &[0.0, 2.0], &mut s).unwrap();
        assert_eq!(x[0], 1.0);
        assert!((x[1] - (1.0 - 2.0 / (4.0f64 + 1e-7).sqrt())).abs() < 1e-15);
    }
}
