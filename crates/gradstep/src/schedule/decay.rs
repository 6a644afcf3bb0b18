//! Constant, factor, multi-step, exponential, polynomial and inverse-square-root schedules.

use serde::Serialize;

use super::Schedule;
use crate::Result;
use crate::error::{check, check_non_negative};

/// The same rate at every step: $\eta_t = \eta_0$.
///
/// ```
/// use gradstep::schedule::{Constant, Schedule};
/// assert_eq!(Constant::new(0.3)?.sample(3), [0.3, 0.3, 0.3]);
/// # Ok::<(), gradstep::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Constant {
    lr: f64,
}

impl Constant {
    /// The constant rate `lr`.
    ///
    /// # Errors
    /// [`crate::Error::Hyperparameter`] if `lr` is negative or not finite.
    pub fn new(lr: f64) -> Result<Self> {
        check_non_negative("lr", lr)?;
        Ok(Self { lr })
    }
}

impl Schedule for Constant {
    fn lr(&self, _t: u64) -> f64 {
        self.lr
    }
}

/// Multiply by a factor each step, but never below a floor:
/// $\eta_t = \max(\eta_{\min},\ \eta_0\,\alpha^t)$.
///
/// Symbols: $\eta_0$ = `lr`, α = `factor`, $\eta_{\min}$ = `floor`. Dive into Deep
/// Learning's `FactorScheduler` updates its rate *before* returning it, so its call number
/// $t$ gives this schedule's $\eta_{t+1}$ (its first value for 2.0 and 0.9 is 1.8).
///
/// ```
/// use gradstep::schedule::{Factor, Schedule};
/// let s = Factor::new(2.0, 0.9, 0.01)?;
/// assert!((s.lr(1) - 1.8).abs() < 1e-15);
/// assert!((s.lr(50) - 2.0 * 0.9f64.powi(50)).abs() < 1e-12); // 0.0103
/// assert_eq!(s.lr(100), 0.01);
/// # Ok::<(), gradstep::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Factor {
    lr: f64,
    factor: f64,
    floor: f64,
}

impl Factor {
    /// Start at `lr`, multiply by `factor` each step, stop at `floor`.
    ///
    /// # Errors
    /// [`crate::Error::Hyperparameter`] if `lr` or `floor` is negative, or `factor` is not in
    /// (0, 1].
    pub fn new(lr: f64, factor: f64, floor: f64) -> Result<Self> {
        check_non_negative("lr", lr)?;
        check("factor", factor, factor > 0.0 && factor <= 1.0, "must be in (0, 1]")?;
        check_non_negative("floor", floor)?;
        Ok(Self { lr, factor, floor })
    }
}

impl Schedule for Factor {
    fn lr(&self, t: u64) -> f64 {
        (self.lr * self.factor.powf(t as f64)).max(self.floor)
    }
}

/// Multiply by γ at each milestone: $\eta_t = \eta_0\,\gamma^{\#\{m_i \le t\}}$
/// (`torch.optim.lr_scheduler.MultiStepLR`).
///
/// ```
/// use gradstep::schedule::{MultiStep, Schedule};
/// let s = MultiStep::new(0.5, vec![2, 4], 0.5)?;
/// assert_eq!(s.sample(6), [0.5, 0.5, 0.25, 0.25, 0.125, 0.125]);
/// # Ok::<(), gradstep::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MultiStep {
    lr: f64,
    milestones: Vec<u64>,
    gamma: f64,
}

impl MultiStep {
    /// Start at `lr`; at each step in `milestones` (strictly increasing), multiply by `gamma`.
    ///
    /// # Errors
    /// [`crate::Error::Hyperparameter`] if `lr` is negative, `gamma` is not > 0 and finite, or
    /// the milestones are not strictly increasing (the value is the first offending one).
    pub fn new(lr: f64, milestones: Vec<u64>, gamma: f64) -> Result<Self> {
        check_non_negative("lr", lr)?;
        check("gamma", gamma, gamma > 0.0 && gamma.is_finite(), "must be finite and > 0")?;
        for w in milestones.windows(2) {
            check("milestones", w[1] as f64, w[1] > w[0], "must be strictly increasing")?;
        }
        Ok(Self { lr, milestones, gamma })
    }
}

impl Schedule for MultiStep {
    fn lr(&self, t: u64) -> f64 {
        let passed = self.milestones.partition_point(|&m| m <= t);
        // γ > 1 over many milestones overflows to ∞; a rate of 0 stays 0 rather than 0·∞ = NaN.
        if self.lr == 0.0 { 0.0 } else { self.lr * self.gamma.powi(passed as i32) }
    }
}

/// Exponential decay $\eta_t = \eta_0\,\gamma^t$ (`ExponentialLR`; optax's
/// `exponential_decay` with `transition_steps = 1`).
///
/// ```
/// use gradstep::schedule::{Exponential, Schedule};
/// assert_eq!(Exponential::new(1.0, 0.5)?.sample(3), [1.0, 0.5, 0.25]);
/// # Ok::<(), gradstep::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Exponential {
    lr: f64,
    gamma: f64,
}

impl Exponential {
    /// Start at `lr` and multiply by `gamma` each step.
    ///
    /// # Errors
    /// [`crate::Error::Hyperparameter`] if `lr` is negative or `gamma` is not in (0, 1].
    pub fn new(lr: f64, gamma: f64) -> Result<Self> {
        check_non_negative("lr", lr)?;
        check("gamma", gamma, gamma > 0.0 && gamma <= 1.0, "must be in (0, 1]")?;
        Ok(Self { lr, gamma })
    }
}

impl Schedule for Exponential {
    fn lr(&self, t: u64) -> f64 {
        self.lr * self.gamma.powf(t as f64)
    }
}

/// Polynomial decay to a final rate over `decay_steps`, then constant:
/// $\eta_t = (\eta_0 - \eta_T)\,(1 - \min(t, T)/T)^p + \eta_T$.
///
/// optax's `polynomial_schedule`; PyTorch's `PolynomialLR(total_iters=T, power=p)` is the case
/// $\eta_T = 0$.
///
/// ```
/// use gradstep::schedule::{Polynomial, Schedule};
/// let s = Polynomial::new(1.0, 0.0, 2.0, 4)?;
/// assert_eq!(s.sample(6), [1.0, 0.5625, 0.25, 0.0625, 0.0, 0.0]);
/// # Ok::<(), gradstep::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Polynomial {
    lr: f64,
    end: f64,
    power: f64,
    decay_steps: u64,
}

impl Polynomial {
    /// From `lr` to `end` with exponent `power` over `decay_steps` steps.
    ///
    /// # Errors
    /// [`crate::Error::Hyperparameter`] if a rate or `power` is negative, or `decay_steps` is 0.
    pub fn new(lr: f64, end: f64, power: f64, decay_steps: u64) -> Result<Self> {
        check_non_negative("lr", lr)?;
        check_non_negative("end", end)?;
        check_non_negative("power", power)?;
        check("decay_steps", decay_steps as f64, decay_steps >= 1, "must be >= 1")?;
        Ok(Self { lr, end, power, decay_steps })
    }
}

impl Schedule for Polynomial {
    fn lr(&self, t: u64) -> f64 {
        let frac = 1.0 - t.min(self.decay_steps) as f64 / self.decay_steps as f64;
        (self.lr - self.end) * frac.powf(self.power) + self.end
    }
}

/// Inverse square root decay $\eta_t = \eta_0 / \sqrt{1 + t/\tau}$.
///
/// With τ = 1 this is Dive into Deep Learning's `SquareRootScheduler`,
/// $\eta_0 (t+1)^{-1/2}$; a larger τ (the timescale) keeps the rate near $\eta_0$ longer,
/// like the Transformer's schedule after its warmup.
///
/// ```
/// use gradstep::schedule::{InverseSqrt, Schedule};
/// let s = InverseSqrt::new(0.1, 1.0)?;
/// assert!((s.lr(3) - 0.05).abs() < 1e-15);
/// # Ok::<(), gradstep::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct InverseSqrt {
    lr: f64,
    timescale: f64,
}

impl InverseSqrt {
    /// Start at `lr`; the rate halves at $t = 3\tau$.
    ///
    /// # Errors
    /// [`crate::Error::Hyperparameter`] if `lr` is negative or `timescale` is not > 0.
    pub fn new(lr: f64, timescale: f64) -> Result<Self> {
        check_non_negative("lr", lr)?;
        check("timescale", timescale, timescale > 0.0 && timescale.is_finite(), "must be finite and > 0")?;
        Ok(Self { lr, timescale })
    }
}

impl Schedule for InverseSqrt {
    fn lr(&self, t: u64) -> f64 {
        self.lr / (1.0 + t as f64 / self.timescale).sqrt()
    }
}

super::checked_deserialize!(Constant { lr: f64 } => |r| Constant::new(r.lr));

super::checked_deserialize!(Factor { lr: f64, factor: f64, floor: f64 } => |r| Factor::new(r.lr, r.factor, r.floor));

super::checked_deserialize!(MultiStep { lr: f64, milestones: Vec<u64>, gamma: f64 } => |r| MultiStep::new(r.lr, r.milestones, r.gamma));

super::checked_deserialize!(Exponential { lr: f64, gamma: f64 } => |r| Exponential::new(r.lr, r.gamma));

super::checked_deserialize!(Polynomial { lr: f64, end: f64, power: f64, decay_steps: u64 } => |r| Polynomial::new(r.lr, r.end, r.power, r.decay_steps));

super::checked_deserialize!(InverseSqrt { lr: f64, timescale: f64 } => |r| InverseSqrt::new(r.lr, r.timescale));

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    #[test]
    fn bad_values_are_named() {
        assert_eq!(
            MultiStep::new(0.1, vec![5, 3], 0.5).unwrap_err(),
            Error::Hyperparameter { name: "milestones", value: 3.0, rule: "must be strictly increasing" }
        );
        assert!(Factor::new(1.0, 1.5, 0.0).is_err());
        assert!(Exponential::new(-1.0, 0.5).is_err());
        assert!(Polynomial::new(1.0, 0.0, 1.0, 0).is_err());
        assert!(InverseSqrt::new(1.0, 0.0).is_err());
    }

    #[test]
    fn loading_a_schedule_checks_it_like_building_one() {
        let s = MultiStep::new(0.5, vec![2, 4], 0.5).unwrap();
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<MultiStep>(&json).unwrap(), s);
        let err = serde_json::from_str::<MultiStep>(r#"{"lr": 0.5, "milestones": [4, 2], "gamma": 0.5}"#)
            .unwrap_err();
        assert!(err.to_string().contains("milestones"), "{err}");
        let w = Constant::new(1.0).unwrap().with_warmup(3, 0.0).unwrap();
        let back: super::super::Warmup<Constant> =
            serde_json::from_str(&serde_json::to_string(&w).unwrap()).unwrap();
        assert_eq!(back, w);
        assert!(serde_json::from_str::<Constant>(r#"{"lr": -2.0}"#).is_err());
    }

    #[test]
    fn dive_into_deep_learning_square_root_and_factor_values() {
        let s = InverseSqrt::new(0.1, 1.0).unwrap();
        assert!((s.lr(0) - 0.1).abs() < 1e-15 && (s.lr(99) - 0.01).abs() < 1e-15);
        // FactorScheduler(0.9, 0.01, 2.0): 50 values, first 1.8, last 0.0103.
        let f = Factor::new(2.0, 0.9, 0.01).unwrap();
        let v: Vec<f64> = (1..=50).map(|t| f.lr(t)).collect();
        assert!((v[0] - 1.8).abs() < 1e-15 && (v[49] - 0.0103).abs() < 1e-4);
    }
}
