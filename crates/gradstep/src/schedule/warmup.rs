//! Linear warmup in front of any schedule.

use serde::Serialize;

use super::Schedule;
use crate::Result;
use crate::error::check_non_negative;

/// Linear warmup from `start` to the first rate of `inner` over `steps` steps, then `inner`
/// (shifted by `steps`):
///
/// $$
/// \eta_t = \begin{cases}
/// \eta_{\text{start}} + (\eta^{\text{inner}}_0 - \eta_{\text{start}})\, t/W & t < W,\\
/// \eta^{\text{inner}}_{t-W} & t \ge W.
/// \end{cases}
/// $$
///
/// Usually built with [`Schedule::with_warmup`]. Warmup keeps the first, badly scaled
/// updates of an adaptive method small while its moment estimates settle.
///
/// ```
/// use gradstep::schedule::{Constant, Schedule};
/// let s = Constant::new(1.0)?.with_warmup(4, 0.0)?;
/// assert_eq!(s.sample(6), [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]);
/// # Ok::<(), gradstep::Error>(())
/// ```
///
/// # References
/// Goyal et al. (2017), *Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour*,
/// <https://arxiv.org/abs/1706.02677>.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Warmup<S> {
    steps: u64,
    start: f64,
    inner: S,
}

impl<S: Schedule> Warmup<S> {
    /// `steps` steps of warmup from `start`, then `inner`.
    ///
    /// # Errors
    /// [`crate::Error::Hyperparameter`] if `start` is negative or not finite (or so far from
    /// the peak, near `f64::MAX`, that the ramp overflows).
    pub fn new(steps: u64, start: f64, inner: S) -> Result<Self> {
        check_non_negative("start", start)?;
        super::check_span("start", start, inner.lr(0), steps as f64)?;
        Ok(Self { steps, start, inner })
    }

    /// The schedule after the warmup.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S: Schedule> Schedule for Warmup<S> {
    fn lr(&self, t: u64) -> f64 {
        if t < self.steps {
            let peak = self.inner.lr(0);
            self.start + (peak - self.start) * t as f64 / self.steps as f64
        } else {
            self.inner.lr(t - self.steps)
        }
    }
}

impl<'de, S: Schedule + serde::Deserialize<'de>> serde::Deserialize<'de> for Warmup<S> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        struct Raw<S> {
            steps: u64,
            start: f64,
            inner: S,
        }
        let r = Raw::<S>::deserialize(d)?;
        Warmup::new(r.steps, r.start, r.inner).map_err(serde::de::Error::custom)
    }
}
