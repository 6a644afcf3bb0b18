//! LAMB: Adam's direction, rescaled per tensor by a trust ratio.

use serde::{Deserialize, Serialize};

use super::check_adam_family;
use super::kernels::bias_correction;
use super::parallel::Threads;
use super::reduce::{LANES, Lanes};
use crate::error::{check, check_non_negative};
use crate::{Float, Result};

/// Hyperparameters of [`Lamb`]; the names are PyTorch's keywords for optax's `lamb` arguments
/// (`betas` = (b1, b2)), the defaults optax's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LambConfig {
    /// Learning rate η (optax has no default; 1e-3 here).
    pub lr: f64,
    /// (β₁, β₂) (default (0.9, 0.999)).
    pub betas: (f64, f64),
    /// ε outside the root (default 1e-6).
    pub eps: f64,
    /// ε inside the root (default 0).
    pub eps_root: f64,
    /// Decoupled weight decay λ, added to the Adam direction before the trust ratio
    /// (default 0).
    pub weight_decay: f64,
}

impl Default for LambConfig {
    fn default() -> Self {
        Self { lr: 1e-3, betas: (0.9, 0.999), eps: 1e-6, eps_root: 0.0, weight_decay: 0.0 }
    }
}

/// LAMB, optax's convention (`optax.lamb`; PyTorch has no LAMB).
///
/// Symbols: η = `lr`, (β₁, β₂) = `betas`, ε = `eps`, ε_r = `eps_root`, λ = `weight_decay`.
/// For one tensor $x$ with gradient $g_t$, $m_0 = v_0 = 0$:
///
/// $$
/// \begin{aligned}
/// m_t &= (1-\beta_1) g_t + \beta_1 m_{t-1}, \qquad v_t = (1-\beta_2) g_t^2 + \beta_2 v_{t-1},\\
/// u_t &= \frac{m_t/(1-\beta_1^t)}{\sqrt{v_t/(1-\beta_2^t) + \varepsilon_r} + \varepsilon} + \lambda x_{t-1},\\
/// r_t &= \frac{\lVert x_{t-1}\rVert_2}{\lVert u_t\rVert_2}\quad(1 \text{ if either norm is } 0),\qquad
/// x_t = x_{t-1} - \eta\, r_t\, u_t .
/// \end{aligned}
/// $$
///
/// The norms are over the whole tensor, which is what makes LAMB layer-wise: each call of
/// [`crate::Optimizer::step`] is one tensor (one layer's weights, or its bias), so give
/// every tensor its own buffer and state (e.g. with [`crate::ParamGroups`]), not one buffer
/// holding the whole model. The trust ratio makes the step's length $\eta\lVert x\rVert$ in
/// every layer whatever the scale of its gradient, the property You et al. use to train BERT
/// with batches of 32k. This is optax's form: the paper also clips $\lVert x\rVert$ with a
/// scaling function φ, which optax (and gradstep) leave out (φ = identity).
///
/// Each step is two passes over the tensor: the first updates the moments and sums both
/// squared norms, the second recomputes $u_t$ from the stored moments (the same bits) and
/// moves $x$; nothing is allocated.
///
/// # Example
///
/// ```
/// use gradstep::{Lamb, Optimizer};
///
/// let opt = Lamb::new(0.1)?;
/// let mut x = vec![3.0_f64, 4.0];
/// let mut state = opt.init(2);
/// opt.step(&mut x, &[1.0, 1.0], &mut state)?;
/// // u = (1, 1) (up to ε), r = |x|/|u| = 5/√2: the step is η|x| = 0.5 long.
/// let moved = ((x[0] - 3.0).powi(2) + (x[1] - 4.0).powi(2)).sqrt();
/// assert!((moved - 0.5).abs() < 1e-6);
/// # Ok::<(), gradstep::Error>(())
/// ```
///
/// # References
/// You et al. (2020), *Large Batch Optimization for Deep Learning: Training BERT in 76
/// minutes*, ICLR, <https://arxiv.org/abs/1904.00962>.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "LambConfig", into = "LambConfig")]
pub struct Lamb {
    config: LambConfig,
}

/// State of [`Lamb`], for one tensor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LambState<T> {
    /// Number of steps taken, $t$.
    pub step: u64,
    /// First moment $m$.
    pub exp_avg: Vec<T>,
    /// Second moment $v$.
    pub exp_avg_sq: Vec<T>,
}

impl Lamb {
    /// LAMB with every hyperparameter given.
    ///
    /// # Errors
    /// [`crate::Error::Hyperparameter`] if `lr`, `eps`, `eps_root` or `weight_decay` is
    /// negative or not finite, a β is outside [0, 1), or `eps` and `eps_root` are both 0.
    pub fn from_config(config: LambConfig) -> Result<Self> {
        check_adam_family(config.lr, config.betas, None, Some(config.weight_decay))?;
        check_non_negative("eps", config.eps)?;
        check_non_negative("eps_root", config.eps_root)?;
        check(
            "eps",
            config.eps,
            config.eps > 0.0 || config.eps_root > 0.0,
            "eps and eps_root cannot both be 0",
        )?;
        Ok(Self { config })
    }

    fn init_state<T: Float>(&self, len: usize) -> LambState<T> {
        LambState { step: 0, exp_avg: vec![T::zero(); len], exp_avg_sq: vec![T::zero(); len] }
    }

    fn run<T: Float>(
        &self,
        params: &mut [T],
        grads: &[T],
        state: &mut LambState<T>,
        _threads: impl Threads,
    ) -> Result<()> {
        let n = params.len();
        let c = &self.config;
        let t = state.step.saturating_add(1);
        let (b1, b2) = c.betas;
        let (beta1, one_minus_b1) = (T::of(b1), T::of(1.0 - b1));
        let (beta2, one_minus_b2) = (T::of(b2), T::of(1.0 - b2));
        let (bc1, bc2) = (T::of(bias_correction(b1, t)), T::of(bias_correction(b2, t)));
        let (eps, eps_root, wd) = (T::of(c.eps), T::of(c.eps_root), T::of(c.weight_decay));
        let k = Coeffs { beta1, one_minus_b1, beta2, one_minus_b2, bc1, bc2, eps, eps_root, wd };
        let (m, v) = (&mut state.exp_avg[..n], &mut state.exp_avg_sq[..n]);
        // Both squared norms in lanes, so that this loop (sqrt and divisions included) runs
        // on vector units; the lanes are summed in a fixed order.
        let (mut xx, mut uu) = (Lanes::<T>::zero(), Lanes::<T>::zero());
        let lanes = params.chunks_exact(LANES).zip(grads.chunks_exact(LANES));
        for ((x, g), (m, v)) in lanes.zip(m.chunks_exact_mut(LANES).zip(v.chunks_exact_mut(LANES))) {
            for l in 0..LANES {
                let u = k.moments(g[l], &mut m[l], &mut v[l], x[l]);
                xx.0[l] += x[l] * x[l];
                uu.0[l] += u * u;
            }
        }
        let done = n - n % LANES;
        for i in done..n {
            let u = k.moments(grads[i], &mut m[i], &mut v[i], params[i]);
            xx.0[i - done] += params[i] * params[i];
            uu.0[i - done] += u * u;
        }
        let (x_norm, u_norm) = (xx.total().sqrt(), uu.total().sqrt());
        let ratio = if x_norm == T::zero() || u_norm == T::zero() { T::one() } else { x_norm / u_norm };
        let neg_lr = T::of(-c.lr);
        for ((x, &m), &v) in params.iter_mut().zip(m.iter()).zip(v.iter()) {
            let u = k.direction(m, v, *x);
            *x += neg_lr * (u * ratio);
        }
        state.step = t;
        Ok(())
    }
}

/// The per-step constants of the update.
#[derive(Clone, Copy)]
struct Coeffs<T> {
    beta1: T,
    one_minus_b1: T,
    beta2: T,
    one_minus_b2: T,
    bc1: T,
    bc2: T,
    eps: T,
    eps_root: T,
    wd: T,
}

impl<T: Float> Coeffs<T> {
    /// Updates the moments, optax's operation order ((1-β)·g + β·m), and returns $u$.
    #[inline(always)]
    fn moments(&self, g: T, m: &mut T, v: &mut T, x: T) -> T {
        *m = self.one_minus_b1 * g + self.beta1 * *m;
        *v = self.one_minus_b2 * (g * g) + self.beta2 * *v;
        self.direction(*m, *v, x)
    }

    /// $u$ from the stored moments: the same bits in both passes.
    #[inline(always)]
    fn direction(&self, m: T, v: T, x: T) -> T {
        (m / self.bc1) / ((v / self.bc2 + self.eps_root).sqrt() + self.eps) + self.wd * x
    }
}

super::state_buffers!(LambState for Lamb: [signed exp_avg, non_negative exp_avg_sq]);

super::optimizer_methods! {
    /// LAMB with learning rate `lr` and optax's other defaults.
    Lamb(LambConfig) -> LambState
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Optimizer;

    #[test]
    fn zero_parameters_take_the_plain_adam_step_and_bad_states_are_errors() {
        let opt = Lamb::new(0.1).unwrap();
        let mut x = [0.0_f64, 0.0];
        let mut s = opt.init(2);
        opt.step(&mut x, &[2.0, -0.5], &mut s).unwrap();
        assert!((x[0] + 0.1).abs() < 1e-6 && (x[1] - 0.1).abs() < 1e-6);
        s.exp_avg_sq.push(0.0);
        assert!(opt.step(&mut x, &[1.0, 1.0], &mut s).is_err());
        assert!(Lamb::from_config(LambConfig { eps: 0.0, ..Default::default() }).is_err());
    }
}
