//! Rprop: resilient backpropagation, a step size per parameter driven by gradient signs.

use serde::{Deserialize, Serialize};

use super::kernels::sign;
use super::parallel::{Threads, for_each_chunk};
use crate::error::{check, check_non_negative};
use crate::{Float, Result};

/// Hyperparameters of [`Rprop`]; names and defaults follow `torch.optim.Rprop`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RpropConfig {
    /// Initial step size of every parameter (default 1e-2). Only [`crate::Optimizer::init`]
    /// reads it, as in PyTorch: a schedule that changes it later does not touch the step sizes
    /// a state already holds.
    pub lr: f64,
    /// (η⁻, η⁺): the factors a step size is multiplied by when the gradient's sign flips or
    /// stays (default (0.5, 1.2)); 0 < η⁻ < 1 < η⁺.
    pub etas: (f64, f64),
    /// (Δ_min, Δ_max): the bounds every step size is clamped to (default (1e-6, 50)).
    pub step_sizes: (f64, f64),
    /// Ascend instead of descend.
    pub maximize: bool,
}

impl Default for RpropConfig {
    fn default() -> Self {
        Self { lr: 1e-2, etas: (0.5, 1.2), step_sizes: (1e-6, 50.0), maximize: false }
    }
}

/// Rprop, PyTorch's convention (which is Rprop without weight backtracking, "Rprop⁻").
///
/// Symbols: (η⁻, η⁺) = `etas`, (Δ_min, Δ_max) = `step_sizes`, $\Delta_0 = $ `lr` in every
/// coordinate, $g_0 = 0$. Per coordinate, with the gradient $g_t$:
///
/// $$
/// \begin{aligned}
/// \Delta_t &= \operatorname{clamp}\bigl(\Delta_{t-1}\cdot
///   \begin{cases} \eta^+ & g_t\, g_{t-1} > 0\\ \eta^- & g_t\, g_{t-1} < 0\\ 1 & \text{else}\end{cases},
///   \ \Delta_{\min}, \Delta_{\max}\bigr),\\
/// g_t &\leftarrow 0 \quad\text{if } g_t\, g_{t-1} < 0,\\
/// x_t &= x_{t-1} - \operatorname{sign}(g_t)\,\Delta_t .
/// \end{aligned}
/// $$
///
/// Only the sign of the gradient moves the parameters, so Rprop ignores the gradient's scale:
/// a full-batch method (it misbehaves with noisy minibatch gradients, whose signs flip at
/// random). After a sign flip the coordinate rests one step (its remembered gradient is set
/// to 0), which is PyTorch's choice; the original Rprop also undoes the previous step.
/// PyTorch checks only `lr` and `etas`; gradstep also asks for 0 ≤ Δ_min ≤ Δ_max < ∞.
///
/// # Example
///
/// ```
/// use gradstep::{Optimizer, Rprop};
///
/// let opt = Rprop::new(0.1)?;
/// let mut x = [3.0_f64];
/// let mut state = opt.init(1);
/// for _ in 0..50 {
///     let grad = [2.0 * x[0]]; // f(x) = x²
///     opt.step(&mut x, &grad, &mut state)?;
/// }
/// assert!(x[0].abs() < 1e-3);
/// # Ok::<(), gradstep::Error>(())
/// ```
///
/// # References
/// Riedmiller, Braun (1993), *A Direct Adaptive Method for Faster Backpropagation Learning:
/// The RPROP Algorithm*, IEEE International Conference on Neural Networks.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RpropConfig", into = "RpropConfig")]
pub struct Rprop {
    config: RpropConfig,
}

/// State of [`Rprop`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RpropState<T> {
    /// Number of steps taken.
    pub step: u64,
    /// The previous step's gradient $g_{t-1}$ (0 where its sign had flipped).
    pub prev: Vec<T>,
    /// The step sizes $\Delta$.
    pub step_size: Vec<T>,
}

impl Rprop {
    /// Rprop with every hyperparameter given.
    ///
    /// # Errors
    /// [`crate::Error::Hyperparameter`] if `lr` is negative or not finite, the etas are not
    /// 0 < η⁻ < 1 < η⁺ (η⁺ finite), or the step sizes are not 0 ≤ Δ_min ≤ Δ_max < ∞.
    pub fn from_config(config: RpropConfig) -> Result<Self> {
        check_non_negative("lr", config.lr)?;
        let (em, ep) = config.etas;
        check("etas.0", em, em > 0.0 && em < 1.0, "must be in (0, 1)")?;
        check("etas.1", ep, ep > 1.0 && ep.is_finite(), "must be finite and > 1")?;
        let (lo, hi) = config.step_sizes;
        check_non_negative("step_sizes.0", lo)?;
        check("step_sizes.1", hi, hi.is_finite() && hi >= lo, "must be finite and >= step_sizes.0")?;
        Ok(Self { config })
    }

    fn init_state<T: Float>(&self, len: usize) -> RpropState<T> {
        RpropState { step: 0, prev: vec![T::zero(); len], step_size: vec![T::of(self.config.lr); len] }
    }

    fn run<T: Float>(
        &self,
        params: &mut [T],
        grads: &[T],
        state: &mut RpropState<T>,
        threads: impl Threads,
    ) -> Result<()> {
        let c = &self.config;
        let (eta_minus, eta_plus) = (T::of(c.etas.0), T::of(c.etas.1));
        let (lo, hi) = (T::of(c.step_sizes.0), T::of(c.step_sizes.1));
        let flip = if c.maximize { -T::one() } else { T::one() };
        for_each_chunk(
            threads,
            params,
            grads,
            [&mut state.prev[..], &mut state.step_size[..]],
            #[inline(always)]
            |p, g, [prev, size]| {
                let n = p.len();
                let (g, prev, size) = (&g[..n], &mut prev[..n], &mut size[..n]);
                for i in 0..n {
                    let gi = g[i] * flip;
                    let s = sign(gi * prev[i]);
                    let zero = T::zero();
                    let factor = if s > zero {
                        eta_plus
                    } else if s < zero {
                        eta_minus
                    } else if s == zero {
                        T::one()
                    } else {
                        s // NaN, as PyTorch leaves it
                    };
                    // clamp that keeps NaN, as torch.clamp does (f64::max would drop it).
                    let d = size[i] * factor;
                    let d = if d < lo {
                        lo
                    } else if d > hi {
                        hi
                    } else {
                        d
                    };
                    size[i] = d;
                    let gi = if s < zero { zero } else { gi };
                    p[i] += -sign(gi) * d;
                    prev[i] = gi;
                }
            },
        )?;
        state.step = state.step.saturating_add(1);
        Ok(())
    }
}

super::state_buffers!(RpropState for Rprop: [signed prev, non_negative step_size]);

super::optimizer_methods! {
    /// Rprop with initial step size `lr` and PyTorch's other defaults.
    Rprop(RpropConfig) -> RpropState
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Error, Optimizer};

    #[test]
    fn step_sizes_grow_while_the_sign_holds_and_shrink_when_it_flips() {
        let opt = Rprop::new(0.1).unwrap();
        let mut x = [0.0_f64];
        let mut s = opt.init(1);
        opt.step(&mut x, &[1.0], &mut s).unwrap();
        assert_eq!((x[0], s.step_size[0]), (-0.1, 0.1));
        opt.step(&mut x, &[2.0], &mut s).unwrap();
        assert!((s.step_size[0] - 0.12).abs() < 1e-15);
        opt.step(&mut x, &[-1.0], &mut s).unwrap();
        // A flip halves the step and rests the coordinate for one step.
        assert!((s.step_size[0] - 0.06).abs() < 1e-15 && s.prev[0] == 0.0);
        assert!((x[0] + 0.22).abs() < 1e-15);
    }

    #[test]
    fn rejects_etas_on_the_wrong_side_of_one_and_bad_states() {
        let e = Rprop::from_config(RpropConfig { etas: (0.5, 1.0), ..Default::default() }).unwrap_err();
        assert_eq!(e, Error::Hyperparameter { name: "etas.1", value: 1.0, rule: "must be finite and > 1" });
        assert!(Rprop::from_config(RpropConfig { step_sizes: (1.0, 0.5), ..Default::default() }).is_err());
        let opt = Rprop::new(0.1).unwrap();
        let mut s: RpropState<f64> = opt.init(2);
        s.step_size.pop();
        assert!(opt.step(&mut [0.0; 2], &[1.0; 2], &mut s).is_err());
    }
}
