//! Cosine annealing, once or with warm restarts.

use std::f64::consts::PI;

use serde::Serialize;

use super::Schedule;
use crate::Result;
use crate::error::{check, check_non_negative};

/// Cosine annealing from $\eta_0$ to $\eta_T$ over $T$ steps, then constant:
/// $\eta_t = \eta_T + \tfrac12(\eta_0 - \eta_T)\bigl(1 + \cos(\pi \min(t, T)/T)\bigr)$.
///
/// Symbols: $\eta_0$ = `lr`, $\eta_T$ = `final_lr`, $T$ = `steps`. This is optax's
/// `cosine_decay_schedule(init, T, alpha = η_T/η₀)` and Dive into Deep Learning's
/// `CosineScheduler`. **PyTorch differs after $T$**: `CosineAnnealingLR(T_max=T, eta_min)` is
/// identical up to $T$, then follows the cosine back *up* (period $2T$); this schedule holds
/// $\eta_T$.
///
/// ```
/// use gradstep::schedule::{Cosine, Schedule};
/// let s = Cosine::new(0.3, 0.01, 20)?;
/// assert_eq!(s.lr(0), 0.3);
/// assert!((s.lr(10) - 0.155).abs() < 1e-15);
/// assert_eq!(s.lr(20), 0.01);
/// assert_eq!(s.lr(25), 0.01);
/// # Ok::<(), gradstep::Error>(())
/// ```
///
/// # References
/// Loshchilov, Hutter (2017), *SGDR: Stochastic Gradient Descent with Warm Restarts*, ICLR.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Cosine {
    lr: f64,
    final_lr: f64,
    steps: u64,
}

impl Cosine {
    /// From `lr` down to `final_lr` over `steps` steps.
    ///
    /// # Errors
    /// [`crate::Error::Hyperparameter`] if a rate is negative or `steps` is 0 (or the rates are
    /// so far apart, near `f64::MAX`, that the cosine overflows).
    pub fn new(lr: f64, final_lr: f64, steps: u64) -> Result<Self> {
        check_non_negative("lr", lr)?;
        check_non_negative("final_lr", final_lr)?;
        super::check_span("final_lr", final_lr, lr, 2.0)?;
        check("steps", steps as f64, steps >= 1, "must be >= 1")?;
        Ok(Self { lr, final_lr, steps })
    }
}

/// $\eta_{\min} + \tfrac12(\eta_{\max} - \eta_{\min})(1 + \cos(\pi\,t/T))$, PyTorch's form.
fn cosine_between(max: f64, min: f64, t: f64, period: f64) -> f64 {
    min + (max - min) * (1.0 + (PI * t / period).cos()) / 2.0
}

impl Schedule for Cosine {
    fn lr(&self, t: u64) -> f64 {
        cosine_between(self.lr, self.final_lr, t.min(self.steps) as f64, self.steps as f64)
    }
}

/// Cosine annealing with warm restarts (SGDR): the cosine from $\eta_0$ to $\eta_{\min}$ restarts
/// after $T_0$ steps, then after $T_0 T_{\text{mult}}$ more, and so on.
///
/// Within a period of length $T_i$, at position $t_{\text{cur}}$:
/// $\eta_t = \eta_{\min} + \tfrac12(\eta_0 - \eta_{\min})(1 + \cos(\pi t_{\text{cur}}/T_i))$.
/// `torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(T_0, T_mult, eta_min)`; optax's
/// `sgdr_schedule` gives the same values for equal periods.
///
/// ```
/// use gradstep::schedule::{CosineWarmRestarts, Schedule};
/// let s = CosineWarmRestarts::new(1.0, 0.0, 2, 2)?;
/// // Periods of 2, 4, 8, … steps.
/// let v = s.sample(7);
/// assert_eq!((v[0], v[2], v[6]), (1.0, 1.0, 1.0));
/// assert!((v[1] - 0.5).abs() < 1e-15 && (v[4] - 0.5).abs() < 1e-15);
/// # Ok::<(), gradstep::Error>(())
/// ```
///
/// # References
/// Loshchilov, Hutter (2017), *SGDR: Stochastic Gradient Descent with Warm Restarts*, ICLR.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CosineWarmRestarts {
    lr: f64,
    min_lr: f64,
    first_period: u64,
    period_mult: u64,
}

impl CosineWarmRestarts {
    /// From `lr` to `min_lr` in periods of `first_period` steps, each `period_mult` times
    /// longer than the last (PyTorch's `T_0`, `T_mult`, `eta_min`).
    ///
    /// # Errors
    /// [`crate::Error::Hyperparameter`] if a rate is negative or a period parameter is 0 (or
    /// the rates are so far apart, near `f64::MAX`, that the cosine overflows).
    pub fn new(lr: f64, min_lr: f64, first_period: u64, period_mult: u64) -> Result<Self> {
        check_non_negative("lr", lr)?;
        check_non_negative("min_lr", min_lr)?;
        super::check_span("min_lr", min_lr, lr, 2.0)?;
        check("first_period", first_period as f64, first_period >= 1, "must be >= 1")?;
        check("period_mult", period_mult as f64, period_mult >= 1, "must be >= 1")?;
        Ok(Self { lr, min_lr, first_period, period_mult })
    }
}

impl Schedule for CosineWarmRestarts {
    fn lr(&self, t: u64) -> f64 {
        let (mut cur, mut period) = (t, self.first_period);
        if self.period_mult == 1 {
            cur %= period;
        } else {
            while cur >= period {
                cur -= period;
                period = period.saturating_mul(self.period_mult);
            }
        }
        cosine_between(self.lr, self.min_lr, cur as f64, period as f64)
    }
}

super::checked_deserialize!(Cosine { lr: f64, final_lr: f64, steps: u64 } => |r| Cosine::new(r.lr, r.final_lr, r.steps));

super::checked_deserialize!(CosineWarmRestarts { lr: f64, min_lr: f64, first_period: u64, period_mult: u64 } => |r| CosineWarmRestarts::new(r.lr, r.min_lr, r.first_period, r.period_mult));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restarts_with_equal_periods() {
        let s = CosineWarmRestarts::new(0.1, 0.0, 10, 1).unwrap();
        for t in 0..10 {
            assert_eq!(s.lr(t), s.lr(t + 10));
        }
        assert!(Cosine::new(0.1, 0.0, 0).is_err());
    }
}
