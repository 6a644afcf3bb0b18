//! Reduce the learning rate when a metric stops improving.

use serde::{Deserialize, Serialize};

use crate::error::{check, check_non_negative};
use crate::{Float, Optimizer, Result};

/// Whether a smaller or a larger metric is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum PlateauMode {
    /// A loss: smaller is better.
    #[default]
    Min,
    /// An accuracy: larger is better.
    Max,
}

/// How much better a metric must be to count as an improvement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ThresholdMode {
    /// Better than `best·(1 ∓ threshold)`.
    #[default]
    Rel,
    /// Better than `best ∓ threshold`.
    Abs,
}

/// Reduce-on-plateau, `torch.optim.lr_scheduler.ReduceLROnPlateau`: when the metric has not
/// improved for more than `patience` observations, multiply the rate by `factor` (not below
/// `min_lr`), then wait `cooldown` observations before counting again.
///
/// Unlike the other schedules it depends on the metrics it is shown, so it is not a
/// [`super::Schedule`]: call [`ReduceOnPlateau::observe`] once per epoch and set the rate it
/// returns, or [`ReduceOnPlateau::apply`] to do both. Its fields are its state; save it with
/// serde next to the optimizer's. JSON has no infinity: the `best` of a run that has seen no
/// metric yet (±∞) is written as `"inf"` or `"-inf"` (`null`, what serde_json writes for an
/// infinity, is read as "no best yet"). Loading checks the fields as the constructors do.
///
/// ```
/// use gradstep::schedule::ReduceOnPlateau;
///
/// let mut p = ReduceOnPlateau::new(1.0, 0.5, 2)?; // lr 1.0, halve after 2 bad epochs
/// let lrs: Vec<f64> = [3.0, 2.0, 2.0, 2.0, 2.0, 2.0].iter().map(|&m| p.observe(m)).collect();
/// assert_eq!(lrs, [1.0, 1.0, 1.0, 1.0, 0.5, 0.5]);
/// # Ok::<(), gradstep::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReduceOnPlateau {
    /// The current learning rate.
    pub lr: f64,
    /// Multiplier applied on a plateau (PyTorch default 0.1).
    pub factor: f64,
    /// Bad observations tolerated before reducing (default 10).
    pub patience: u64,
    /// Minimum relative or absolute improvement (default 1e-4).
    pub threshold: f64,
    /// Relative or absolute threshold (default relative).
    pub threshold_mode: ThresholdMode,
    /// Smaller or larger is better (default smaller).
    pub mode: PlateauMode,
    /// Observations to wait after a reduction (default 0).
    pub cooldown: u64,
    /// The rate never goes below this (default 0).
    pub min_lr: f64,
    /// Reductions smaller than this are skipped (default 1e-8).
    pub eps: f64,
    /// Best metric so far (+∞ in `Min` mode, −∞ in `Max` mode before the first).
    #[serde(serialize_with = "serialize_best")]
    pub best: f64,
    /// Observations since the last improvement.
    pub num_bad: u64,
    /// Observations of cooldown left.
    pub cooldown_left: u64,
}

impl ReduceOnPlateau {
    /// Start at `lr`, multiply by `factor` after more than `patience` observations without
    /// improvement; PyTorch's other defaults.
    ///
    /// # Errors
    /// [`crate::Error::Hyperparameter`] if `lr` is negative or `factor` is not in (0, 1).
    pub fn new(lr: f64, factor: f64, patience: u64) -> Result<Self> {
        check_non_negative("lr", lr)?;
        check("factor", factor, factor > 0.0 && factor < 1.0, "must be in (0, 1)")?;
        Ok(Self {
            lr,
            factor,
            patience,
            threshold: 1e-4,
            threshold_mode: ThresholdMode::Rel,
            mode: PlateauMode::Min,
            cooldown: 0,
            min_lr: 0.0,
            eps: 1e-8,
            best: f64::INFINITY,
            num_bad: 0,
            cooldown_left: 0,
        })
    }

    /// The same with a different mode (resets `best`).
    pub fn mode(mut self, mode: PlateauMode) -> Self {
        self.mode = mode;
        self.best = if mode == PlateauMode::Min { f64::INFINITY } else { f64::NEG_INFINITY };
        self
    }

    /// The same with a different threshold.
    ///
    /// # Errors
    /// [`crate::Error::Hyperparameter`] if `threshold` is negative.
    pub fn threshold(mut self, threshold: f64, threshold_mode: ThresholdMode) -> Result<Self> {
        check_non_negative("threshold", threshold)?;
        self.threshold = threshold;
        self.threshold_mode = threshold_mode;
        Ok(self)
    }

    /// The same with a cooldown and a minimum rate.
    ///
    /// # Errors
    /// [`crate::Error::Hyperparameter`] if `min_lr` is negative.
    pub fn cooldown(mut self, cooldown: u64, min_lr: f64) -> Result<Self> {
        check_non_negative("min_lr", min_lr)?;
        self.cooldown = cooldown;
        self.min_lr = min_lr;
        Ok(self)
    }

    fn is_better(&self, a: f64) -> bool {
        let (best, th) = (self.best, self.threshold);
        match (self.mode, self.threshold_mode) {
            (PlateauMode::Min, ThresholdMode::Rel) => a < best * (1.0 - th),
            (PlateauMode::Min, ThresholdMode::Abs) => a < best - th,
            (PlateauMode::Max, ThresholdMode::Rel) => a > best * (th + 1.0),
            (PlateauMode::Max, ThresholdMode::Abs) => a > best + th,
        }
    }

    /// Records one observation of the metric and returns the rate to use next.
    pub fn observe(&mut self, metric: f64) -> f64 {
        if self.is_better(metric) {
            self.best = metric;
            self.num_bad = 0;
        } else {
            // Saturating: only an edited state comes near 2^64, and it must not panic.
            self.num_bad = self.num_bad.saturating_add(1);
        }
        if self.cooldown_left > 0 {
            self.cooldown_left -= 1;
            self.num_bad = 0;
        }
        if self.num_bad > self.patience {
            let new_lr = (self.lr * self.factor).max(self.min_lr);
            if self.lr - new_lr > self.eps {
                self.lr = new_lr;
            }
            self.cooldown_left = self.cooldown;
            self.num_bad = 0;
        }
        self.lr
    }

    /// [`ReduceOnPlateau::observe`], then sets the rate of `opt`.
    ///
    /// # Errors
    /// What [`Optimizer::set_learning_rate`] returns.
    pub fn apply<T: Float, O: Optimizer<T>>(&mut self, metric: f64, opt: &mut O) -> Result<f64> {
        let lr = self.observe(metric);
        opt.set_learning_rate(lr)?;
        Ok(lr)
    }
}

fn serialize_best<S: serde::Serializer>(best: &f64, s: S) -> std::result::Result<S::Ok, S::Error> {
    match *best {
        b if b.is_finite() => s.serialize_f64(b),
        b if b > 0.0 => s.serialize_str("inf"),
        b if b < 0.0 => s.serialize_str("-inf"),
        _ => s.serialize_str("nan"),
    }
}

/// `best` as it is written: a number, `"inf"`/`"-inf"`, or `null` (no best yet).
#[derive(Deserialize)]
#[serde(untagged)]
enum Best {
    Number(f64),
    Text(String),
}

impl<'de> Deserialize<'de> for ReduceOnPlateau {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(rename = "ReduceOnPlateau")]
        struct Raw {
            lr: f64,
            factor: f64,
            patience: u64,
            threshold: f64,
            threshold_mode: ThresholdMode,
            mode: PlateauMode,
            cooldown: u64,
            min_lr: f64,
            eps: f64,
            #[serde(default)]
            best: Option<Best>,
            num_bad: u64,
            cooldown_left: u64,
        }
        let r = Raw::deserialize(d)?;
        let none_yet = if r.mode == PlateauMode::Min { f64::INFINITY } else { f64::NEG_INFINITY };
        let best = match r.best {
            None => none_yet,
            Some(Best::Number(b)) => b,
            Some(Best::Text(t)) => match t.as_str() {
                "inf" => f64::INFINITY,
                "-inf" => f64::NEG_INFINITY,
                _ => f64::NAN,
            },
        };
        let p = Self {
            lr: r.lr,
            factor: r.factor,
            patience: r.patience,
            threshold: r.threshold,
            threshold_mode: r.threshold_mode,
            mode: r.mode,
            cooldown: r.cooldown,
            min_lr: r.min_lr,
            eps: r.eps,
            best,
            num_bad: r.num_bad,
            cooldown_left: r.cooldown_left,
        };
        p.check().map_err(serde::de::Error::custom)?;
        Ok(p)
    }
}

impl ReduceOnPlateau {
    /// The checks of the constructors, for a loaded state.
    fn check(&self) -> Result<()> {
        check_non_negative("lr", self.lr)?;
        check("factor", self.factor, self.factor > 0.0 && self.factor < 1.0, "must be in (0, 1)")?;
        check_non_negative("threshold", self.threshold)?;
        check_non_negative("min_lr", self.min_lr)?;
        check_non_negative("eps", self.eps)?;
        // A NaN best would never be improved on: the rate would fall forever.
        check("best", self.best, !self.best.is_nan(), "must be a number, \"inf\" or \"-inf\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Sgd;

    #[test]
    fn cooldown_delays_the_next_reduction_and_the_floor_holds() {
        let mut p = ReduceOnPlateau::new(1.0, 0.1, 0).unwrap().cooldown(2, 0.05).unwrap();
        let mut opt = Sgd::new(1.0).unwrap();
        let lrs: Vec<f64> = (0..7).map(|_| p.apply::<f64, _>(5.0, &mut opt).unwrap()).collect();
        // first observation improves on +inf; then reductions separated by the cooldown.
        assert_eq!(lrs[0], 1.0);
        assert!((lrs[1] - 0.1).abs() < 1e-15);
        assert!((lrs[4] - 0.05).abs() < 1e-15 && lrs[6] == 0.05);
        assert_eq!(Optimizer::<f64>::learning_rate(&opt), 0.05);
    }

    #[test]
    fn an_infinite_best_survives_json_and_a_bad_field_is_an_error() {
        for p in [
            ReduceOnPlateau::new(0.1, 0.5, 2).unwrap(),
            ReduceOnPlateau::new(0.1, 0.5, 2).unwrap().mode(PlateauMode::Max),
        ] {
            let json = serde_json::to_string(&p).unwrap();
            assert!(json.contains("inf"), "{json}");
            assert_eq!(serde_json::from_str::<ReduceOnPlateau>(&json).unwrap(), p);
            // What serde_json wrote for an infinity before: null, read as "no best yet".
            let legacy = json.replace("\"-inf\"", "null").replace("\"inf\"", "null");
            assert_eq!(serde_json::from_str::<ReduceOnPlateau>(&legacy).unwrap(), p);
        }
        let json = serde_json::to_string(&ReduceOnPlateau::new(0.1, 0.5, 2).unwrap()).unwrap();
        for (from, to) in
            [("\"lr\":0.1", "\"lr\":-0.1"), ("\"factor\":0.5", "\"factor\":1.5"), ("\"inf\"", "\"NaN\"")]
        {
            let bad = json.replace(from, to);
            assert_ne!(bad, json);
            assert!(serde_json::from_str::<ReduceOnPlateau>(&bad).is_err(), "{bad}");
        }
    }
}
