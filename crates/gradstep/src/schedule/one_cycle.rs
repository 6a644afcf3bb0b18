//! The one-cycle policy.

use std::f64::consts::PI;

use serde::Serialize;

use super::Schedule;
use crate::Result;
use crate::error::{check, check_non_negative};

/// The one-cycle policy, `torch.optim.lr_scheduler.OneCycleLR` with cosine annealing:
/// from $\eta_{\max}/d$ up to $\eta_{\max}$ over the first fraction $p$ of the steps, then down
/// to $\eta_{\max}/(d\,d_f)$ at the last step.
///
/// Symbols: $\eta_{\max}$ = `max_lr`, $N$ = `total_steps`, $p$ = `pct_start` (0.3),
/// $d$ = `div_factor` (25), $d_f$ = `final_div_factor` (1e4). With phase ends
/// $e_1 = pN - 1$ and $e_2 = N - 1$, a phase from $a$ to $b$ over $[s, e]$ gives
/// $b + \tfrac12(a-b)(1+\cos(\pi (t-s)/(e-s)))$. The peak is at step $pN - 1$ and the
/// minimum at step $N-1$; **optax's `cosine_onecycle_schedule` is one step later** (peak at
/// $pN$, end at $N$).
///
/// ```
/// use gradstep::schedule::{OneCycle, Schedule};
/// let s = OneCycle::new(0.1, 30)?;
/// let v = s.sample(30);
/// assert!((v[0] - 0.1 / 25.0).abs() < 1e-15);
/// let peak = v.iter().cloned().fold(0.0, f64::max);
/// assert!((peak - 0.1).abs() < 1e-4);
/// assert!((v[29] - 0.1 / 25.0 / 1e4).abs() < 1e-15);
/// # Ok::<(), gradstep::Error>(())
/// ```
///
/// # References
/// Smith, Topin (2019), *Super-Convergence: Very Fast Training of Neural Networks Using Large
/// Learning Rates*, <https://arxiv.org/abs/1708.07120>.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OneCycle {
    max_lr: f64,
    total_steps: u64,
    pct_start: f64,
    div_factor: f64,
    final_div_factor: f64,
}

impl OneCycle {
    /// One cycle of `total_steps` steps peaking at `max_lr`, with PyTorch's other defaults.
    ///
    /// # Errors
    /// As [`OneCycle::with`].
    pub fn new(max_lr: f64, total_steps: u64) -> Result<Self> {
        Self::with(max_lr, total_steps, 0.3, 25.0, 1e4)
    }

    /// One cycle with every parameter given.
    ///
    /// # Errors
    /// [`crate::Error::Hyperparameter`] if `max_lr` is negative, `total_steps` < 2,
    /// `pct_start` is not in (0, 1), a divisor is not > 0 (or so small that `max_lr / div_factor` overflows), or the warmup phase would be
    /// shorter than one step ($pN < 2$).
    pub fn with(
        max_lr: f64,
        total_steps: u64,
        pct_start: f64,
        div_factor: f64,
        final_div_factor: f64,
    ) -> Result<Self> {
        check_non_negative("max_lr", max_lr)?;
        check("total_steps", total_steps as f64, total_steps >= 2, "must be >= 2")?;
        check("pct_start", pct_start, pct_start > 0.0 && pct_start < 1.0, "must be in (0, 1)")?;
        check(
            "div_factor",
            div_factor,
            div_factor > 0.0 && div_factor.is_finite(),
            "must be finite and > 0",
        )?;
        let f = final_div_factor;
        check("final_div_factor", f, f > 0.0 && f.is_finite(), "must be finite and > 0")?;
        // A divisor near 0 makes the starting rate infinite, and the cosine NaN.
        let initial = max_lr / div_factor;
        check("div_factor", div_factor, initial.is_finite(), "max_lr / div_factor must be finite")?;
        let min = initial / f;
        check(
            "final_div_factor",
            f,
            min.is_finite(),
            "max_lr / div_factor / final_div_factor must be finite",
        )?;
        let e1 = pct_start * total_steps as f64 - 1.0;
        check(
            "pct_start",
            pct_start,
            e1 >= 1.0 && e1 < total_steps as f64 - 1.0,
            "pct_start·total_steps must be in [2, total_steps)",
        )?;
        Ok(Self { max_lr, total_steps, pct_start, div_factor, final_div_factor })
    }
}

fn anneal_cos(start: f64, end: f64, pct: f64) -> f64 {
    let cos_out = (PI * pct).cos() + 1.0;
    end + (start - end) / 2.0 * cos_out
}

impl Schedule for OneCycle {
    fn lr(&self, t: u64) -> f64 {
        let initial = self.max_lr / self.div_factor;
        let min = initial / self.final_div_factor;
        // PyTorch's phase ends, in floating point as it computes them.
        let e1 = self.pct_start * self.total_steps as f64 - 1.0;
        let e2 = self.total_steps as f64 - 1.0;
        let t = t as f64;
        if t <= e1 {
            anneal_cos(initial, self.max_lr, t / e1)
        } else {
            anneal_cos(self.max_lr, min, ((t - e1) / (e2 - e1)).min(1.0))
        }
    }
}

super::checked_deserialize!(OneCycle { max_lr: f64, total_steps: u64, pct_start: f64, div_factor: f64, final_div_factor: f64 } => |r| OneCycle::with(r.max_lr, r.total_steps, r.pct_start, r.div_factor, r.final_div_factor));
