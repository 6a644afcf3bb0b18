//! Schedule-free AdamW: iterate averaging in place of a learning-rate schedule.

use serde::{Deserialize, Serialize};

use super::kernels::{Lerp, bias_correction, ema_square, lerp};
use super::parallel::{Threads, for_each_chunk};
use crate::error::{check, check_len, check_non_negative, check_positive, check_unit_interval};
use crate::{Float, Result};

/// Hyperparameters of [`AdamWScheduleFree`]; names and defaults follow
/// `schedulefree.AdamWScheduleFree`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AdamWScheduleFreeConfig {
    /// Learning rate γ (default 0.0025).
    pub lr: f64,
    /// (β₁, β₂): β₁ is the interpolation weight of the gradient point, β₂ the decay of the
    /// second moment (default (0.9, 0.999)).
    pub betas: (f64, f64),
    /// ε outside the root (default 1e-8).
    pub eps: f64,
    /// Weight decay λ, evaluated at the gradient point y (default 0).
    pub weight_decay: f64,
    /// Linear warm-up of the rate over this many steps (default 0).
    pub warmup_steps: u64,
    /// Power r of the step index in the averaging weight (default 0).
    pub r: f64,
    /// Power of the largest rate so far in the averaging weight (default 2).
    pub weight_lr_power: f64,
}

impl Default for AdamWScheduleFreeConfig {
    fn default() -> Self {
        Self {
            lr: 0.0025,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            warmup_steps: 0,
            r: 0.0,
            weight_lr_power: 2.0,
        }
    }
}

/// Schedule-free AdamW, the convention of the `schedulefree` package (its
/// `AdamWScheduleFree`, in train mode).
///
/// Three sequences: $z$ takes the optimizer's steps, $x$ is a weighted average of the $z$'s
/// (the point to evaluate), and the gradient is taken at $y$, between them. The parameters
/// passed to [`crate::Optimizer::step`] are $y$; [`AdamWScheduleFree::eval_point`] gives $x$.
/// Symbols: γ = `lr`, (β₁, β₂) = `betas`, ε = `eps`, λ = `weight_decay`, $z_0 = y_0$. Step
/// $t = 1, 2, \ldots$ with $g_t = \nabla f(y_{t-1})$:
///
/// $$
/// \begin{aligned}
/// \gamma_t &= \gamma\,\min(1, t/\text{warmup\_steps}), \qquad
/// w_t = t^{r}\,\bigl(\max_{s\le t}\gamma_s\bigr)^{\text{weight\_lr\_power}}, \qquad
/// c_t = \frac{w_t}{\sum_{s\le t} w_s},\\
/// v_t &= \beta_2 v_{t-1} + (1-\beta_2) g_t^2, \qquad
/// d_t = \frac{g_t}{\sqrt{v_t/(1-\beta_2^t)} + \varepsilon} + \lambda y_{t-1},\\
/// y_t &= (1-c_t)\,y_{t-1} + c_t z_{t-1} + \gamma_t\bigl(\beta_1(1-c_t) - 1\bigr) d_t,
/// \qquad z_t = z_{t-1} - \gamma_t d_t,\\
/// x_t &= y_t + (1 - 1/\beta_1)(z_t - y_t).
/// \end{aligned}
/// $$
///
/// This is $y_t = (1-\beta_1) z_t + \beta_1 x_t$ with $x_t = (1-c_t)x_{t-1} + c_t z_t$
/// written without storing $x$ (the package's trick, kept here: the state is $z$ and $v$
/// only). There is no bias correction of a first moment and no schedule: the averaging
/// replaces both, and the run can stop at any step. The step count, the weight sum and the
/// largest rate are kept per tensor (the package keeps them per group, the same numbers when
/// a group's tensors step together). The package calls its `train()` before the first step,
/// which changes nothing while $z$ does not exist yet; a run of gradstep is always in train
/// mode, and `eval_point` writes $x$ to a buffer of the caller's.
///
/// # Example
///
/// ```
/// use gradstep::{AdamWScheduleFree, AdamWScheduleFreeConfig, Optimizer};
///
/// let opt = AdamWScheduleFree::from_config(AdamWScheduleFreeConfig { lr: 0.1, warmup_steps: 5, ..Default::default() })?;
/// let mut y = vec![2.0_f64, -1.0];
/// let mut state = opt.init(2);
/// for _ in 0..200 {
///     let grad = [y[0], y[1]]; // f = |y|²/2
///     opt.step(&mut y, &grad, &mut state)?;
/// }
/// let mut x = vec![0.0; 2];
/// opt.eval_point(&y, &state, &mut x)?;
/// assert!(x[0].abs() < 0.1 && x[1].abs() < 0.1);
/// # Ok::<(), gradstep::Error>(())
/// ```
///
/// # References
/// Defazio, Yang, Mehta, Mishchenko, Khaled, Cutkosky (2024), *The Road Less Scheduled*,
/// NeurIPS, <https://arxiv.org/abs/2405.15682>.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "AdamWScheduleFreeConfig", into = "AdamWScheduleFreeConfig")]
pub struct AdamWScheduleFree {
    config: AdamWScheduleFreeConfig,
}

/// State of [`AdamWScheduleFree`], for one tensor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdamWScheduleFreeState<T> {
    /// Number of steps taken, $t$ (the package's `k`).
    pub step: u64,
    /// $\sum_s w_s$.
    pub weight_sum: f64,
    /// The largest rate so far ($-1$ before the first step, as in the package).
    pub lr_max: f64,
    /// The base sequence $z$ (set to the parameters at the first step).
    pub z: Vec<T>,
    /// Second moment $v$.
    pub exp_avg_sq: Vec<T>,
}

impl AdamWScheduleFree {
    /// Schedule-free AdamW with every hyperparameter given.
    ///
    /// # Errors
    /// [`crate::Error::Hyperparameter`] if `lr` or `weight_decay` is negative or not finite,
    /// β₁ is outside (0, 1) (the evaluation point divides by it), β₂ outside [0, 1), `eps` is
    /// not > 0, or `r` or `weight_lr_power` is not finite. The package checks none of these.
    pub fn from_config(config: AdamWScheduleFreeConfig) -> Result<Self> {
        check_non_negative("lr", config.lr)?;
        let b1 = config.betas.0;
        check("betas.0", b1, b1 > 0.0 && b1 < 1.0, "must be in (0, 1)")?;
        check_unit_interval("betas.1", config.betas.1)?;
        check_positive("eps", config.eps)?;
        check_non_negative("weight_decay", config.weight_decay)?;
        check("r", config.r, config.r.is_finite(), "must be finite")?;
        check_non_negative("weight_lr_power", config.weight_lr_power)?;
        Ok(Self { config })
    }

    /// Writes the evaluation point $x = y + (1 - 1/\beta_1)(z - y)$ of the parameters `y`
    /// to `out` (the package's `eval()`, without changing `y`). Before the first step $x = y$.
    ///
    /// # Errors
    /// [`crate::Error::LengthMismatch`] if `out` or the state does not match `y`.
    pub fn eval_point<T: Float>(
        &self,
        y: &[T],
        state: &AdamWScheduleFreeState<T>,
        out: &mut [T],
    ) -> Result<()> {
        check_len("evaluation point", y.len(), out.len())?;
        if state.step == 0 {
            out.copy_from_slice(y);
            return Ok(());
        }
        check_len("z", y.len(), state.z.len())?;
        let w = Lerp::<T>::weight(1.0 - 1.0 / self.config.betas.0);
        for ((o, &y), &z) in out.iter_mut().zip(y).zip(&state.z) {
            *o = lerp(y, z, &w);
        }
        Ok(())
    }

    fn init_state<T: Float>(&self, len: usize) -> AdamWScheduleFreeState<T> {
        AdamWScheduleFreeState {
            step: 0,
            weight_sum: 0.0,
            lr_max: -1.0,
            z: vec![T::zero(); len],
            exp_avg_sq: vec![T::zero(); len],
        }
    }

    fn run<T: Float>(
        &self,
        params: &mut [T],
        grads: &[T],
        state: &mut AdamWScheduleFreeState<T>,
        threads: impl Threads,
    ) -> Result<()> {
        let c = &self.config;
        let k = state.step;
        // Saturating: a step count read from a corrupt file must not overflow.
        let k1 = k.saturating_add(1);
        let sched = if k < c.warmup_steps { k1 as f64 / c.warmup_steps as f64 } else { 1.0 };
        let (b1, b2) = c.betas;
        let bc2 = bias_correction(b2, k1);
        let lr = c.lr * sched;
        let lr_max = lr.max(state.lr_max);
        let weight = (k1 as f64).powf(c.r) * lr_max.powf(c.weight_lr_power);
        let weight_sum = state.weight_sum + weight;
        // The package catches Python's ZeroDivisionError (γ = 0 at the first step) as c = 0.
        let ckp1 = if weight_sum == 0.0 { 0.0 } else { weight / weight_sum };
        if k == 0 {
            state.z.copy_from_slice(params);
        }
        let (beta2, one_minus_b2) = (T::of(b2), T::of(1.0 - b2));
        let (bc2, eps, wd) = (T::of(bc2), T::of(c.eps), T::of(c.weight_decay));
        let to_z = Lerp::<T>::weight(ckp1);
        let y_coeff = T::of(lr * (b1 * (1.0 - ckp1) - 1.0));
        let neg_lr = T::of(-lr);
        for_each_chunk(
            threads,
            params,
            grads,
            [&mut state.z[..], &mut state.exp_avg_sq[..]],
            #[inline(always)]
            |y, g, [z, v]| {
                let n = y.len();
                let (g, z, v) = (&g[..n], &mut z[..n], &mut v[..n]);
                for i in 0..n {
                    let vi = ema_square(v[i], g[i], beta2, one_minus_b2);
                    v[i] = vi;
                    let d = g[i] / ((vi / bc2).sqrt() + eps) + wd * y[i];
                    y[i] = lerp(y[i], z[i], &to_z) + y_coeff * d;
                    z[i] += neg_lr * d;
                }
            },
        )?;
        state.lr_max = lr_max;
        state.weight_sum = weight_sum;
        state.step = k1;
        Ok(())
    }
}

super::state_buffers!(AdamWScheduleFreeState for AdamWScheduleFree: [signed z, non_negative exp_avg_sq]);

super::optimizer_methods! {
    /// Schedule-free AdamW with learning rate `lr` and the package's other defaults.
    AdamWScheduleFree(AdamWScheduleFreeConfig) -> AdamWScheduleFreeState;

    /// $x$, as [`AdamWScheduleFree::eval_point`].
    fn eval_point(&self, params: &[T], state: &AdamWScheduleFreeState<T>, out: &mut [T]) -> Result<()> {
        AdamWScheduleFree::eval_point(self, params, state, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Optimizer;

    #[test]
    fn without_warmup_the_first_step_is_a_sign_step_of_y_and_x_follows_z() {
        let opt = AdamWScheduleFree::new(0.1).unwrap();
        let mut y = [1.0_f64];
        let mut s = opt.init(1);
        opt.step(&mut y, &[3.0], &mut s).unwrap();
        // c₁ = 1: y₁ = z₀ + γ(0 - 1)·d with d ≈ sign(g); z₁ = z₀ - γd.
        assert!((y[0] - 0.9).abs() < 1e-7 && (s.z[0] - 0.9).abs() < 1e-7);
        let mut x = [0.0];
        opt.eval_point(&y, &s, &mut x).unwrap();
        assert!((x[0] - 0.9).abs() < 1e-7);
        assert!(opt.eval_point(&y, &s, &mut [0.0; 2]).is_err());
    }
}
