//! Adam (with AMSGrad, coupled L2 or decoupled weight decay) and AdamW.

use serde::{Deserialize, Serialize};

use super::check_adam_family;
use super::kernels::eps_of;
use super::kernels::{GradPrep, Lerp, bias_correction, decoupled_shrink, ema_square, lerp};
use super::parallel::{Threads, for_each_chunk};
use crate::error::next_step;
use crate::{Float, Result};

/// Which second moment AMSGrad keeps the running maximum of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum AmsgradMax {
    /// PyTorch: $\hat v^{\max}_t = \max(\hat v^{\max}_{t-1}, v_t)$ on the raw EMA, then divided
    /// by $\sqrt{1-\beta_2^t}$.
    #[default]
    Raw,
    /// optax (`optax.amsgrad`): the maximum of the bias-corrected $v_t/(1-\beta_2^t)$. Since
    /// the correction shrinks over time, this maximum forgets the early, inflated estimates
    /// more slowly; the two runs differ visibly after a few steps.
    BiasCorrected,
}

/// Hyperparameters of [`Adam`]; names and defaults follow `torch.optim.Adam`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AdamConfig {
    /// Learning rate η (default 1e-3).
    pub lr: f64,
    /// Decay rates (β₁, β₂) of the first and second moment EMAs (default (0.9, 0.999)).
    pub betas: (f64, f64),
    /// ε, added to $\sqrt{\hat v}$ outside the root (default 1e-8).
    pub eps: f64,
    /// Weight decay λ (default 0): coupled L2 ($g + \lambda x$) unless
    /// [`decoupled_weight_decay`](Self::decoupled_weight_decay).
    pub weight_decay: f64,
    /// Keep the running maximum of the second moment (AMSGrad, default off).
    pub amsgrad: bool,
    /// Which second moment AMSGrad takes the maximum of (PyTorch's raw one by default).
    pub amsgrad_max: AmsgradMax,
    /// Shrink the parameters by $1-\eta\lambda$ before the step instead of adding $\lambda x$
    /// to the gradient: this is AdamW (default off).
    pub decoupled_weight_decay: bool,
    /// Ascend instead of descend.
    pub maximize: bool,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
            amsgrad_max: AmsgradMax::Raw,
            decoupled_weight_decay: false,
            maximize: false,
        }
    }
}

/// Adam, PyTorch's convention (which optax's `adam` shares).
///
/// Symbols: η = `lr`, (β₁, β₂) = `betas`, ε = `eps`, λ = `weight_decay`. With gradient
/// $g_t$ ($+\lambda x_{t-1}$ under coupled weight decay), $m_0 = v_0 = 0$:
///
/// $$
/// \begin{aligned}
/// m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2,\\
/// \hat m_t &= \frac{m_t}{1-\beta_1^t}, \qquad \hat v_t = \frac{v_t}{1-\beta_2^t},\\
/// x_t &= x_{t-1} - \eta\,\frac{\hat m_t}{\sqrt{\hat v_t} + \varepsilon}.
/// \end{aligned}
/// $$
///
/// With `amsgrad`, $v_t$ in the denominator is replaced by its running maximum
/// ([`AmsgradMax`] says of which $v$). With `decoupled_weight_decay`, the step starts with
/// $x \leftarrow (1-\eta\lambda)x$ and the gradient is left alone: that is [`AdamW`].
///
/// ε sits outside the square root and after bias correction, as in PyTorch and optax; the
/// TensorFlow/Keras "ε-hat" form $\eta\sqrt{1-\beta_2^t}/(1-\beta_1^t)\cdot m/(\sqrt v+\varepsilon)$
/// differs while $\sqrt{v}$ is small. optax's `adam` has no weight decay argument:
/// `chain(add_decayed_weights(λ), adam(η))` is the coupled form.
///
/// # Example
///
/// ```
/// use gradstep::{Adam, AdamConfig, Optimizer};
///
/// let opt = Adam::from_config(AdamConfig { lr: 0.1, ..Default::default() })?;
/// let mut x = vec![1.0_f64, -2.0];
/// let mut state = opt.init(x.len());
/// for _ in 0..100 {
///     let grad = [2.0 * x[0], 2.0 * x[1]]; // f(x) = |x|²
///     opt.step(&mut x, &grad, &mut state)?;
/// }
/// assert!(x[0].abs() < 0.05 && x[1].abs() < 0.05);
/// # Ok::<(), gradstep::Error>(())
/// ```
///
/// # References
/// - Kingma, Ba (2015), *Adam: A Method for Stochastic Optimization*, ICLR,
///   <https://arxiv.org/abs/1412.6980>.
/// - Reddi, Kale, Kumar (2018), *On the Convergence of Adam and Beyond*, ICLR (AMSGrad).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "AdamConfig", into = "AdamConfig")]
pub struct Adam {
    config: AdamConfig,
}

/// State of [`Adam`] and [`AdamW`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename(deserialize = "state"))]
pub struct AdamState<T> {
    /// Number of steps taken, $t$.
    pub step: u64,
    /// First moment $m$.
    pub exp_avg: Vec<T>,
    /// Second moment $v$.
    pub exp_avg_sq: Vec<T>,
    /// AMSGrad's running maximum of the second moment; empty without AMSGrad.
    pub max_exp_avg_sq: Vec<T>,
}

super::checked_state!(AdamState for Adam: [
    signed exp_avg,
    non_negative exp_avg_sq,
    non_negative max_exp_avg_sq if |c| c.amsgrad,
]);

impl Adam {
    /// Adam with every hyperparameter given.
    ///
    /// # Errors
    /// [`crate::Error::Hyperparameter`] if `lr` or `weight_decay` is negative, a β is outside
    /// [0, 1), or `eps` is not > 0.
    pub fn from_config(config: AdamConfig) -> Result<Self> {
        check_adam_family(config.lr, config.betas, Some(config.eps), Some(config.weight_decay))?;
        Ok(Self { config })
    }

    fn init_state<T: Float>(&self, len: usize) -> AdamState<T> {
        let max_len = if self.config.amsgrad { len } else { 0 };
        AdamState {
            step: 0,
            exp_avg: vec![T::zero(); len],
            exp_avg_sq: vec![T::zero(); len],
            max_exp_avg_sq: vec![T::zero(); max_len],
        }
    }

    fn run<T: Float>(
        &self,
        params: &mut [T],
        grads: &[T],
        state: &mut AdamState<T>,
        threads: impl Threads,
    ) -> Result<()> {
        let c = &self.config;
        let t = next_step(state.step)?;
        let (b1, b2) = c.betas;
        let bc1 = bias_correction(b1, t);
        let bc2 = bias_correction(b2, t);
        let w1 = Lerp::<T>::ema(b1);
        let (beta2, one_minus_b2) = (T::of(b2), T::of(1.0 - b2));
        let neg_step = T::of(-(c.lr / bc1));
        let (bc2_sqrt, bc2) = (T::of(bc2.sqrt()), T::of(bc2));
        let eps = eps_of::<T>(c.eps)?;
        let prep = GradPrep::<T>::new(c.maximize, c.weight_decay, !c.decoupled_weight_decay);
        let shrink = decoupled_shrink::<T>(c.lr, c.weight_decay, c.decoupled_weight_decay);
        let (amsgrad, corrected_max) = (c.amsgrad, c.amsgrad_max == AmsgradMax::BiasCorrected);
        let bufs = [&mut state.exp_avg[..], &mut state.exp_avg_sq[..], &mut state.max_exp_avg_sq[..]];
        for_each_chunk(
            threads,
            params,
            grads,
            bufs,
            #[inline(always)]
            |p, g, [m, v, vmax]| {
                let n = p.len();
                let (g, m, v) = (&g[..n], &mut m[..n], &mut v[..n]);
                if !amsgrad {
                    for i in 0..n {
                        let x = p[i] * shrink;
                        let g = prep.apply(g[i], x);
                        let mi = lerp(m[i], g, &w1);
                        let vi = ema_square(v[i], g, beta2, one_minus_b2);
                        m[i] = mi;
                        v[i] = vi;
                        let denom = vi.sqrt() / bc2_sqrt + eps;
                        p[i] = x + neg_step * mi / denom;
                    }
                } else {
                    let vmax = &mut vmax[..n];
                    for i in 0..n {
                        let x = p[i] * shrink;
                        let g = prep.apply(g[i], x);
                        let mi = lerp(m[i], g, &w1);
                        let vi = ema_square(v[i], g, beta2, one_minus_b2);
                        m[i] = mi;
                        v[i] = vi;
                        let denom = if corrected_max {
                            vmax[i] = vmax[i].max(vi / bc2);
                            vmax[i].sqrt() + eps
                        } else {
                            vmax[i] = vmax[i].max(vi);
                            vmax[i].sqrt() / bc2_sqrt + eps
                        };
                        p[i] = x + neg_step * mi / denom;
                    }
                }
            },
        )?;
        state.step = t;
        Ok(())
    }
}

super::optimizer_methods! {
    /// Adam with learning rate `lr` and PyTorch's other defaults.
    Adam(AdamConfig) -> AdamState
}

/// Hyperparameters of [`AdamW`]; names and defaults follow `torch.optim.AdamW`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AdamWConfig {
    /// Learning rate η (default 1e-3).
    pub lr: f64,
    /// (β₁, β₂) (default (0.9, 0.999)).
    pub betas: (f64, f64),
    /// ε outside the root (default 1e-8).
    pub eps: f64,
    /// Decoupled weight decay λ (PyTorch's default 1e-2; optax's `adamw` defaults to 1e-4).
    pub weight_decay: f64,
    /// AMSGrad (default off).
    pub amsgrad: bool,
    /// Ascend instead of descend.
    pub maximize: bool,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        Self { lr: 1e-3, betas: (0.9, 0.999), eps: 1e-8, weight_decay: 1e-2, amsgrad: false, maximize: false }
    }
}

/// AdamW: Adam with decoupled weight decay, PyTorch's convention.
///
/// Each step first shrinks the parameters, $x \leftarrow (1-\eta\lambda)\,x$, then takes the
/// [`Adam`] step with the raw gradient (symbols as there; λ = `weight_decay`). The decay is
/// multiplied by the learning rate in PyTorch and in optax alike (optax:
/// $u = -\eta(\text{adam update} + \lambda x)$, the same numbers); neither is the paper's form,
/// where λ is multiplied by the schedule factor only. The defaults differ: λ = 1e-2 in
/// PyTorch, 1e-4 in optax.
///
/// # Example
///
/// ```
/// use gradstep::{AdamW, Optimizer};
///
/// let opt = AdamW::new(0.1)?; // weight_decay = 0.01
/// let mut x = [1.0_f64];
/// let mut state = opt.init(1);
/// opt.step(&mut x, &[0.0], &mut state)?; // zero gradient: only the decay acts
/// assert_eq!(x[0], 1.0 - 0.1 * 0.01);
/// # Ok::<(), gradstep::Error>(())
/// ```
///
/// # References
/// Loshchilov, Hutter (2019), *Decoupled Weight Decay Regularization*, ICLR,
/// <https://arxiv.org/abs/1711.05101>.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "AdamWConfig", into = "AdamWConfig")]
pub struct AdamW {
    adam: Adam,
}

impl AdamW {
    /// AdamW with learning rate `lr` and PyTorch's other defaults (λ = 1e-2).
    ///
    /// # Errors
    /// [`crate::Error::Hyperparameter`] if `lr` is negative or not finite.
    pub fn new(lr: f64) -> Result<Self> {
        Self::from_config(AdamWConfig { lr, ..AdamWConfig::default() })
    }

    /// AdamW with every hyperparameter given.
    ///
    /// # Errors
    /// As [`Adam::from_config`].
    pub fn from_config(c: AdamWConfig) -> Result<Self> {
        let adam = Adam::from_config(AdamConfig {
            lr: c.lr,
            betas: c.betas,
            eps: c.eps,
            weight_decay: c.weight_decay,
            amsgrad: c.amsgrad,
            amsgrad_max: AmsgradMax::Raw,
            decoupled_weight_decay: true,
            maximize: c.maximize,
        })?;
        Ok(Self { adam })
    }

    /// The hyperparameters, as the equivalent [`AdamConfig`] (with `decoupled_weight_decay`).
    pub fn config(&self) -> &AdamConfig {
        self.adam.config()
    }
}

super::optimizer_methods!(AdamW -> AdamState, via adam);

impl TryFrom<AdamWConfig> for AdamW {
    type Error = crate::Error;
    fn try_from(config: AdamWConfig) -> Result<Self> {
        Self::from_config(config)
    }
}

impl From<AdamW> for AdamWConfig {
    fn from(o: AdamW) -> Self {
        let c = o.adam.config;
        Self {
            lr: c.lr,
            betas: c.betas,
            eps: c.eps,
            weight_decay: c.weight_decay,
            amsgrad: c.amsgrad,
            maximize: c.maximize,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;
    use crate::Optimizer;

    #[test]
    fn first_step_moves_every_coordinate_by_about_lr() {
        // m̂₁ = g, v̂₁ = g², so the first step is lr·g/(|g| + ε) ≈ lr·sign(g).
        let opt = Adam::new(0.1).unwrap();
        let mut x = [0.0_f64, 0.0];
        let mut s = opt.init(2);
        opt.step(&mut x, &[3.0, -0.02], &mut s).unwrap();
        assert!((x[0] + 0.1).abs() < 1e-8 && (x[1] - 0.1).abs() < 1e-6);
    }

    #[test]
    fn amsgrad_never_lets_the_denominator_shrink() {
        let opt = Adam::from_config(AdamConfig { lr: 0.1, amsgrad: true, ..Default::default() }).unwrap();
        let mut x = [0.0_f64];
        let mut s = opt.init(1);
        opt.step(&mut x, &[10.0], &mut s).unwrap();
        let before = s.max_exp_avg_sq[0];
        opt.step(&mut x, &[0.1], &mut s).unwrap();
        assert!(s.max_exp_avg_sq[0] >= before);
        assert!(s.exp_avg_sq[0] < before);
    }

    #[test]
    fn adamw_equals_adam_with_decoupled_decay() {
        let w =
            AdamW::from_config(AdamWConfig { lr: 0.05, weight_decay: 0.1, ..Default::default() }).unwrap();
        let a = Adam::from_config(AdamConfig {
            lr: 0.05,
            weight_decay: 0.1,
            decoupled_weight_decay: true,
            ..Default::default()
        })
        .unwrap();
        let (mut x, mut y) = ([1.0_f64, -1.0], [1.0_f64, -1.0]);
        let (mut sx, mut sy) = (w.init(2), a.init(2));
        for k in 0..5 {
            let g = [x[0] * k as f64, 0.5];
            w.step(&mut x, &g, &mut sx).unwrap();
            a.step(&mut y, &g, &mut sy).unwrap();
        }
        assert_eq!(x, y);
    }

    #[test]
    fn rejects_betas_outside_the_unit_interval_and_non_positive_eps() {
        let e = Adam::from_config(AdamConfig { betas: (0.9, 1.0), ..Default::default() }).unwrap_err();
        assert_eq!(e, Error::Hyperparameter { name: "betas.1", value: 1.0, rule: "must be in [0, 1)" });
        assert!(Adam::from_config(AdamConfig { eps: 0.0, ..Default::default() }).is_err());
        let mut s = Optimizer::<f64>::init(&Adam::new(0.1).unwrap(), 3);
        assert!(Adam::new(0.1).unwrap().step(&mut [0.0; 2], &[0.0; 2], &mut s).is_err());
    }
}
