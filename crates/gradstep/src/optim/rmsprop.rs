//! RMSprop, plain or centered, with momentum and weight decay.

use serde::{Deserialize, Serialize};

use super::EpsPlacement;
use super::kernels::eps_of;
use super::kernels::{GradPrep, Lerp, ema_square, lerp};
use super::parallel::{Threads, for_each_chunk};
use crate::error::{check_non_negative, check_positive, check_unit_interval, next_step};
use crate::{Float, Result};

/// Hyperparameters of [`RmsProp`]; names and defaults follow `torch.optim.RMSprop`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RmsPropConfig {
    /// Learning rate η (default 1e-2).
    pub lr: f64,
    /// Decay α of the squared-gradient EMA (PyTorch 0.99; optax's `decay` 0.9).
    pub alpha: f64,
    /// ε (default 1e-8; outside the root in PyTorch, inside in optax by default).
    pub eps: f64,
    /// Where ε goes (PyTorch: outside the root).
    pub eps_placement: EpsPlacement,
    /// Coupled L2 weight decay λ (default 0).
    pub weight_decay: f64,
    /// Momentum μ applied to the scaled gradient (default 0, off).
    pub momentum: f64,
    /// Divide by an estimate of the standard deviation instead of the RMS (default off).
    pub centered: bool,
    /// Ascend instead of descend.
    pub maximize: bool,
}

impl Default for RmsPropConfig {
    fn default() -> Self {
        Self {
            lr: 1e-2,
            alpha: 0.99,
            eps: 1e-8,
            eps_placement: EpsPlacement::OutsideSqrt,
            weight_decay: 0.0,
            momentum: 0.0,
            centered: false,
            maximize: false,
        }
    }
}

/// RMSprop, PyTorch's convention.
///
/// Symbols: η = `lr`, α = `alpha`, ε = `eps`, μ = `momentum`, λ = `weight_decay`. With
/// $v_0 = \bar g_0 = b_0 = 0$ and no bias correction:
///
/// $$
/// \begin{aligned}
/// v_t &= \alpha v_{t-1} + (1-\alpha) g_t^2, \qquad
/// \bar g_t = \alpha \bar g_{t-1} + (1-\alpha) g_t \ \text{(centered only)},\\
/// d_t &= \sqrt{v_t - \bar g_t^2} + \varepsilon \ \text{(centered) or } \sqrt{v_t} + \varepsilon,\\
/// b_t &= \mu b_{t-1} + g_t / d_t, \qquad x_t = x_{t-1} - \eta\, b_t
/// \quad(\text{with } \mu = 0:\ x_t = x_{t-1} - \eta\, g_t/d_t).
/// \end{aligned}
/// $$
///
/// **PyTorch and optax differ**: optax's `rmsprop` defaults to `decay` = 0.9 and puts ε inside
/// the root, $\sqrt{v+\varepsilon}$; with `eps_in_sqrt=False` it matches PyTorch exactly.
/// [`EpsPlacement::InsideSqrt`] gives optax's default form.
///
/// # Example
///
/// ```
/// use gradstep::{Optimizer, RmsProp, RmsPropConfig};
///
/// let opt = RmsProp::from_config(RmsPropConfig { lr: 0.01, alpha: 0.0, ..Default::default() })?;
/// let mut x = [1.0_f64];
/// let mut state = opt.init(1);
/// opt.step(&mut x, &[5.0], &mut state)?; // α = 0: v = g², the step is η·sign(g)
/// assert!((x[0] - 0.99).abs() < 1e-9);
/// # Ok::<(), gradstep::Error>(())
/// ```
///
/// # References
/// - Tieleman, Hinton (2012), *Lecture 6.5 — RMSProp*, COURSERA: Neural Networks for Machine
///   Learning.
/// - Graves (2013), *Generating Sequences With Recurrent Neural Networks*,
///   <https://arxiv.org/abs/1308.0850> (the centered form).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RmsPropConfig", into = "RmsPropConfig")]
pub struct RmsProp {
    config: RmsPropConfig,
}

/// State of [`RmsProp`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename(deserialize = "state"))]
pub struct RmsPropState<T> {
    /// Number of steps taken.
    pub step: u64,
    /// EMA of the squared gradient, $v$.
    pub square_avg: Vec<T>,
    /// EMA of the gradient, $\bar g$; empty unless centered.
    pub grad_avg: Vec<T>,
    /// Momentum buffer $b$; empty without momentum.
    pub momentum_buffer: Vec<T>,
}

super::checked_state!(RmsPropState for RmsProp: [
    non_negative square_avg,
    signed grad_avg if |c| c.centered,
    signed momentum_buffer if |c| c.momentum > 0.0,
]);

impl RmsProp {
    /// RMSprop with every hyperparameter given.
    ///
    /// # Errors
    /// [`crate::Error::Hyperparameter`] if `lr` or `weight_decay` is negative, `alpha` or
    /// `momentum` is outside [0, 1), or `eps` is not > 0.
    pub fn from_config(config: RmsPropConfig) -> Result<Self> {
        check_non_negative("lr", config.lr)?;
        check_unit_interval("alpha", config.alpha)?;
        check_positive("eps", config.eps)?;
        check_non_negative("weight_decay", config.weight_decay)?;
        check_unit_interval("momentum", config.momentum)?;
        Ok(Self { config })
    }

    fn init_state<T: Float>(&self, len: usize) -> RmsPropState<T> {
        let c = &self.config;
        RmsPropState {
            step: 0,
            square_avg: vec![T::zero(); len],
            grad_avg: vec![T::zero(); if c.centered { len } else { 0 }],
            momentum_buffer: vec![T::zero(); if c.momentum > 0.0 { len } else { 0 }],
        }
    }

    fn run<T: Float>(
        &self,
        params: &mut [T],
        grads: &[T],
        state: &mut RmsPropState<T>,
        threads: impl Threads,
    ) -> Result<()> {
        let c = &self.config;
        let t = next_step(state.step)?;
        let (alpha, one_minus_alpha, w) = (T::of(c.alpha), T::of(1.0 - c.alpha), Lerp::<T>::ema(c.alpha));
        let (neg_lr, eps, mu) = (T::of(-c.lr), eps_of::<T>(c.eps)?, T::of(c.momentum));
        let prep = GradPrep::<T>::new(c.maximize, c.weight_decay, true);
        let (centered, momentum) = (c.centered, c.momentum > 0.0);
        let inside = c.eps_placement == EpsPlacement::InsideSqrt;
        let k = Kernel { alpha, one_minus_alpha, w, neg_lr, eps, mu, prep };
        let bufs = [&mut state.square_avg[..], &mut state.grad_avg[..], &mut state.momentum_buffer[..]];
        for_each_chunk(
            threads,
            params,
            grads,
            bufs,
            #[inline(always)]
            |p, g, [v, gbar, buf]| match (centered, momentum, inside) {
                (false, false, false) => k.run::<false, false, false>(p, g, v, gbar, buf),
                (false, false, true) => k.run::<false, false, true>(p, g, v, gbar, buf),
                (false, true, false) => k.run::<false, true, false>(p, g, v, gbar, buf),
                (false, true, true) => k.run::<false, true, true>(p, g, v, gbar, buf),
                (true, false, false) => k.run::<true, false, false>(p, g, v, gbar, buf),
                (true, false, true) => k.run::<true, false, true>(p, g, v, gbar, buf),
                (true, true, false) => k.run::<true, true, false>(p, g, v, gbar, buf),
                (true, true, true) => k.run::<true, true, true>(p, g, v, gbar, buf),
            },
        )?;
        state.step = t;
        Ok(())
    }
}

/// The per-step constants of [`RmsProp`], and its loop for each combination of options (as
/// const parameters, so that each variant is a straight line the compiler vectorises).
struct Kernel<T> {
    alpha: T,
    one_minus_alpha: T,
    w: Lerp<T>,
    neg_lr: T,
    eps: T,
    mu: T,
    prep: GradPrep<T>,
}

impl<T: Float> Kernel<T> {
    #[inline(always)]
    fn run<const CENTERED: bool, const MOMENTUM: bool, const INSIDE: bool>(
        &self,
        p: &mut [T],
        g: &[T],
        v: &mut [T],
        gbar: &mut [T],
        buf: &mut [T],
    ) {
        let n = p.len();
        let (g, v) = (&g[..n], &mut v[..n]);
        let gbar = if CENTERED { &mut gbar[..n] } else { gbar };
        let buf = if MOMENTUM { &mut buf[..n] } else { buf };
        for i in 0..n {
            let gi = self.prep.apply(g[i], p[i]);
            let vi = ema_square(v[i], gi, self.alpha, self.one_minus_alpha);
            v[i] = vi;
            let var = if CENTERED {
                let m = lerp(gbar[i], gi, &self.w);
                gbar[i] = m;
                // PyTorch: square_avg.addcmul(grad_avg, grad_avg, value=-1).
                vi + -m * m
            } else {
                vi
            };
            let d = if INSIDE { (var + self.eps).sqrt() } else { var.sqrt() + self.eps };
            if MOMENTUM {
                let b = buf[i] * self.mu + gi / d;
                buf[i] = b;
                p[i] += self.neg_lr * b;
            } else {
                p[i] += self.neg_lr * gi / d;
            }
        }
    }
}

super::optimizer_methods! {
    /// RMSprop with learning rate `lr` and PyTorch's other defaults.
    RmsProp(RmsPropConfig) -> RmsPropState
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Optimizer;

    #[test]
    fn centered_divides_by_the_standard_deviation() {
        // A constant gradient has zero variance: the centered step is g/ε-sized only through
        // ε, so with a huge ε it is tiny, while the uncentered one divides by |g|.
        let cfg = RmsPropConfig { lr: 1.0, alpha: 0.5, eps: 1.0, centered: true, ..Default::default() };
        let opt = RmsProp::from_config(cfg).unwrap();
        let mut x = [0.0_f64];
        let mut s = opt.init(1);
        opt.step(&mut x, &[2.0], &mut s).unwrap();
        // v = 2, ḡ = 1, sqrt(2 - 1) + 1 = 2: step = 2/2.
        assert!((x[0] + 1.0).abs() < 1e-15);
    }

    #[test]
    fn momentum_accumulates_scaled_gradients() {
        let cfg = RmsPropConfig { lr: 1.0, alpha: 0.0, eps: 1e-12, momentum: 0.5, ..Default::default() };
        let opt = RmsProp::from_config(cfg).unwrap();
        let mut x = [0.0_f64];
        let mut s = opt.init(1);
        opt.step(&mut x, &[3.0], &mut s).unwrap();
        opt.step(&mut x, &[3.0], &mut s).unwrap();
        assert!((x[0] + 2.5).abs() < 1e-9);
    }
}
