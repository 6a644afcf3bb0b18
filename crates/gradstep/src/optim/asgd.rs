//! ASGD: stochastic gradient descent with a decaying rate and Polyak–Ruppert averaging.

use serde::{Deserialize, Serialize};

use super::kernels::GradPrep;
use super::parallel::{Threads, for_each_chunk};
use crate::error::{check, check_len, check_non_negative};
use crate::{Float, Result};

/// Hyperparameters of [`Asgd`]; names and defaults follow `torch.optim.ASGD`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AsgdConfig {
    /// Base learning rate η₀ (default 1e-2).
    pub lr: f64,
    /// Decay term λ (default 1e-4): it both shrinks the parameters and slows the rate.
    pub lambd: f64,
    /// Power α of the rate's decay (default 0.75).
    pub alpha: f64,
    /// The step $t_0$ after which averaging starts (default 1e6).
    pub t0: f64,
    /// Coupled L2 weight decay, added to the gradient (default 0).
    pub weight_decay: f64,
    /// Ascend instead of descend.
    pub maximize: bool,
}

impl Default for AsgdConfig {
    fn default() -> Self {
        Self { lr: 1e-2, lambd: 1e-4, alpha: 0.75, t0: 1e6, weight_decay: 0.0, maximize: false }
    }
}

/// Averaged SGD, PyTorch's convention.
///
/// Symbols: η₀ = `lr`, λ = `lambd`, α = `alpha`, $t_0$ = `t0`; $\eta_0$ is the first step's
/// rate and $\mu_0 = 1$. Step $t$ with gradient $g_t$ (plus `weight_decay`·x):
///
/// $$
/// \begin{aligned}
/// x_t &= (1 - \lambda\eta_{t-1})\,x_{t-1} - \eta_{t-1} g_t,\\
/// \bar x_t &= \bar x_{t-1} + \mu_{t-1}(x_t - \bar x_{t-1}),\\
/// \eta_t &= \frac{\eta_0}{(1 + \lambda\eta_0 t)^{\alpha}}, \qquad
/// \mu_t = \frac{1}{\max(1,\ t - t_0)} .
/// \end{aligned}
/// $$
///
/// The parameters follow plain SGD with a slowly decaying rate; the average $\bar x$
/// ([`AsgdState::ax`]) is the point to evaluate: it stays equal to $x$ until step $t_0$
/// and is the running mean of the iterates after it. Polyak and Juditsky showed that this
/// average reaches the optimal asymptotic rate whatever the (slowly decaying) step size.
/// The rate and the weight are scalars of the state, kept in `f64` as PyTorch keeps them
/// (with its default dtype `float64`; with `float32` PyTorch rounds them to `f32`).
///
/// # Example
///
/// ```
/// use gradstep::{Asgd, AsgdConfig, Optimizer};
///
/// let opt = Asgd::from_config(AsgdConfig { lr: 0.1, t0: 10.0, ..Default::default() })?;
/// let mut x = [4.0_f64];
/// let mut state = opt.init(1);
/// for _ in 0..200 {
///     let grad = [x[0] - 1.0]; // f(x) = (x - 1)²/2
///     opt.step(&mut x, &grad, &mut state)?;
/// }
/// // The average of the iterates since step 10: still pulled by the early ones.
/// assert!((x[0] - 1.0).abs() < 1e-3 && state.ax[0] > 1.0);
/// # Ok::<(), gradstep::Error>(())
/// ```
///
/// # References
/// - Polyak, Juditsky (1992), *Acceleration of Stochastic Approximation by Averaging*, SIAM
///   Journal on Control and Optimization 30(4).
/// - Bottou (2012), *Stochastic Gradient Descent Tricks*, in *Neural Networks: Tricks of the
///   Trade* (the rate schedule used here).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "AsgdConfig", into = "AsgdConfig")]
pub struct Asgd {
    config: AsgdConfig,
}

/// State of [`Asgd`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AsgdState<T> {
    /// Number of steps taken, $t$.
    pub step: u64,
    /// The rate $\eta_t$ of the next step.
    pub eta: f64,
    /// The averaging weight $\mu_t$ of the next step.
    pub mu: f64,
    /// The average $\bar x$: the point to evaluate.
    pub ax: Vec<T>,
}

impl Asgd {
    /// ASGD with every hyperparameter given.
    ///
    /// # Errors
    /// [`crate::Error::Hyperparameter`] if `lr`, `lambd`, `alpha` or `weight_decay` is
    /// negative or not finite, or `t0` is NaN.
    pub fn from_config(config: AsgdConfig) -> Result<Self> {
        check_non_negative("lr", config.lr)?;
        check_non_negative("lambd", config.lambd)?;
        check_non_negative("alpha", config.alpha)?;
        check("t0", config.t0, true, "must not be NaN")?;
        check_non_negative("weight_decay", config.weight_decay)?;
        Ok(Self { config })
    }

    fn init_state<T: Float>(&self, len: usize) -> AsgdState<T> {
        AsgdState { step: 0, eta: self.config.lr, mu: 1.0, ax: vec![T::zero(); len] }
    }

    fn run<T: Float>(
        &self,
        params: &mut [T],
        grads: &[T],
        state: &mut AsgdState<T>,
        threads: impl Threads,
    ) -> Result<()> {
        let c = &self.config;
        let t = state.step.saturating_add(1);
        let prep = GradPrep::<T>::new(c.maximize, c.weight_decay, true);
        let shrink = T::of(1.0 - c.lambd * state.eta);
        let neg_eta = T::of(-state.eta);
        let (average, mu) = (state.mu != 1.0, T::of(state.mu));
        for_each_chunk(
            threads,
            params,
            grads,
            [&mut state.ax[..]],
            #[inline(always)]
            |p, g, [ax]| {
                let n = p.len();
                let (g, ax) = (&g[..n], &mut ax[..n]);
                for i in 0..n {
                    let gi = prep.apply(g[i], p[i]);
                    let x = p[i] * shrink + neg_eta * gi;
                    p[i] = x;
                    ax[i] = if average { ax[i] + (x - ax[i]) * mu } else { x };
                }
            },
        )?;
        let tf = t as f64;
        state.eta = c.lr / (1.0 + c.lambd * c.lr * tf).powf(c.alpha);
        state.mu = 1.0 / (tf - c.t0).max(1.0);
        state.step = t;
        Ok(())
    }
}

super::state_buffers!(AsgdState for Asgd: [signed ax]);

super::optimizer_methods! {
    /// ASGD with learning rate `lr` and PyTorch's other defaults.
    Asgd(AsgdConfig) -> AsgdState;

    /// The average $\bar x$ ([`AsgdState::ax`]); the parameters themselves before the first
    /// step.
    fn eval_point(&self, params: &[T], state: &AsgdState<T>, out: &mut [T]) -> Result<()> {
        check_len("evaluation point", params.len(), out.len())?;
        if state.step == 0 {
            out.copy_from_slice(params);
        } else {
            check_len("ax", params.len(), state.ax.len())?;
            out.copy_from_slice(&state.ax);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Optimizer;

    #[test]
    fn the_average_is_the_mean_of_the_iterates_after_t0() {
        let opt =
            Asgd::from_config(AsgdConfig { lr: 0.5, lambd: 0.0, t0: 2.0, ..Default::default() }).unwrap();
        let mut x = [0.0_f64];
        let mut s = opt.init(1);
        let mut seen = Vec::new();
        for _ in 0..6 {
            opt.step(&mut x, &[-1.0], &mut s).unwrap();
            seen.push(x[0]);
        }
        // μ = 1/max(1, t - t₀) after step t: 1 for steps 1 to 4, then 1/2, 1/3: the mean of
        // x₄, x₅, x₆.
        let mean = seen[3..].iter().sum::<f64>() / 3.0;
        assert!((s.ax[0] - mean).abs() < 1e-15, "{} vs {mean}", s.ax[0]);
        let mut bad: AsgdState<f64> = opt.init(2);
        assert!(opt.step(&mut x, &[1.0], &mut bad).is_err());
    }
}
