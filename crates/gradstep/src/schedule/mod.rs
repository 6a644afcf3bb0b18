//! Learning-rate schedules: values you can sample before training (to plot them) and use to
//! drive any [`Optimizer`].
//!
//! A [`Schedule`] is a pure function of the step $t = 0, 1, \dots$ (the rate of the $t$-th
//! update), checked when it is built; its only state is the step count, so a run that
//! saves its optimizer state saves its schedule too. [`ReduceOnPlateau`] is the exception:
//! it depends on the losses it is shown, and keeps its own serde state.
//!
//! ```
//! use gradstep::schedule::{Cosine, Schedule, Scheduled};
//! use gradstep::{Optimizer, Sgd};
//!
//! // Cosine from 0.3 down to 0.01 over 20 steps, after 5 warmup steps from 0.
//! let schedule = Cosine::new(0.3, 0.01, 20)?.with_warmup(5, 0.0)?;
//! let lrs = schedule.sample(30); // for a plot
//! assert_eq!(lrs[0], 0.0);
//! assert!((lrs[5] - 0.3).abs() < 1e-15 && (lrs[29] - 0.01).abs() < 1e-15);
//!
//! // The same schedule drives an optimizer: step t uses lrs[t].
//! let opt = Scheduled::new(Sgd::new(1.0)?, schedule);
//! let mut x = [1.0_f64];
//! let mut state = opt.init(1);
//! opt.step(&mut x, &[1.0], &mut state)?; // lr 0: x stays
//! opt.step(&mut x, &[1.0], &mut state)?; // lr 0.06
//! assert!((x[0] - 0.94).abs() < 1e-15);
//! # Ok::<(), gradstep::Error>(())
//! ```

/// Deserialises a schedule through its constructor, so that a loaded schedule has passed the
/// same checks as a built one (a JSON `{"lr": -1.0}` is an error, not a schedule).
macro_rules! checked_deserialize {
    ($ty:ident { $($field:ident : $fty:ty),* $(,)? } => |$r:ident| $build:expr) => {
        const _: () = {
            #[derive(serde::Deserialize)]
            struct Raw {
                $($field: $fty),*
            }
            impl<'de> serde::Deserialize<'de> for $ty {
                fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                    let $r = Raw::deserialize(d)?;
                    $build.map_err(serde::de::Error::custom)
                }
            }
        };
    };
}
pub(crate) use checked_deserialize;

/// Checks that a schedule between the rates `from` and `to` can form $(to - from)\cdot$`scale`
/// (its formula's largest intermediate) without overflowing to ±∞, which would make its
/// rates infinite or NaN; only rates near `f64::MAX` fail.
pub(crate) fn check_span(name: &'static str, to: f64, from: f64, scale: f64) -> Result<()> {
    crate::error::check(
        name,
        to,
        ((to - from) * scale).is_finite(),
        "too far from the other rate: the schedule overflows",
    )
}

mod cosine;
mod decay;
mod one_cycle;
mod plateau;
mod warmup;

pub use cosine::{Cosine, CosineWarmRestarts};
pub use decay::{Constant, Exponential, Factor, InverseSqrt, MultiStep, Polynomial};
pub use one_cycle::OneCycle;
pub use plateau::{PlateauMode, ReduceOnPlateau, ThresholdMode};
pub use warmup::Warmup;

use serde::{Deserialize, Serialize};

use crate::{Float, Optimizer, Result};

/// A learning rate as a function of the step.
pub trait Schedule {
    /// The learning rate of update number `t` (the first update is `t = 0`).
    fn lr(&self, t: u64) -> f64;

    /// The rates of the first `steps` updates, `[lr(0), …, lr(steps - 1)]`, e.g. to plot.
    ///
    /// # Panics
    /// Like any `Vec`, if `steps` values cannot be allocated.
    fn sample(&self, steps: u64) -> Vec<f64> {
        (0..steps).map(|t| self.lr(t)).collect()
    }

    /// This schedule after `steps` steps of linear warmup from `start` up to `self.lr(0)`;
    /// the schedule itself then starts at step `steps` (it is shifted, as optax's
    /// `join_schedules` does).
    ///
    /// # Errors
    /// [`crate::Error::Hyperparameter`] if `start` is negative or not finite.
    fn with_warmup(self, steps: u64, start: f64) -> Result<Warmup<Self>>
    where
        Self: Sized,
    {
        Warmup::new(steps, start, self)
    }
}

/// An optimizer whose learning rate follows a schedule: update number $t$ (counted in the
/// state, so it is saved and restored with it) uses `schedule.lr(t)`.
///
/// The wrapped optimizer is copied for each step with its learning rate set (a few words on
/// the stack; nothing is allocated).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scheduled<O, S> {
    /// The optimizer whose learning rate is replaced.
    pub optimizer: O,
    /// The schedule.
    pub schedule: S,
}

/// State of [`Scheduled`]: the wrapped optimizer's and the schedule's step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduledState<S> {
    /// Updates taken so far, the `t` of the next `schedule.lr(t)`.
    pub step: u64,
    /// The wrapped optimizer's state.
    pub inner: S,
}

impl<O, S: Schedule> Scheduled<O, S> {
    /// `optimizer` driven by `schedule`.
    pub fn new(optimizer: O, schedule: S) -> Self {
        Self { optimizer, schedule }
    }

    /// Takes one step with `update`, given a copy of the optimizer at this step's rate.
    fn scheduled<T: Float>(
        &self,
        state: &mut ScheduledState<O::State>,
        update: impl FnOnce(&O, &mut O::State) -> Result<()>,
    ) -> Result<()>
    where
        O: Optimizer<T> + Clone,
    {
        let next = crate::error::next_step(state.step)?;
        let mut opt = self.optimizer.clone();
        opt.set_learning_rate(self.schedule.lr(state.step))?;
        update(&opt, &mut state.inner)?;
        state.step = next;
        Ok(())
    }
}

impl<T, O, S> Optimizer<T> for Scheduled<O, S>
where
    T: Float,
    O: Optimizer<T> + Clone,
    S: Schedule,
{
    type State = ScheduledState<O::State>;

    fn init(&self, len: usize) -> Self::State {
        ScheduledState { step: 0, inner: self.optimizer.init(len) }
    }

    fn check_shape(&self, shape: &crate::Shape) -> Result<()> {
        self.optimizer.check_shape(shape)
    }

    fn init_shaped(&self, shape: &crate::Shape) -> Result<Self::State> {
        Ok(ScheduledState { step: 0, inner: self.optimizer.init_shaped(shape)? })
    }

    fn check_state(&self, len: usize, state: &Self::State) -> Result<()> {
        self.optimizer.check_state(len, &state.inner)
    }

    fn eval_point(&self, params: &[T], state: &Self::State, out: &mut [T]) -> Result<()> {
        self.optimizer.eval_point(params, &state.inner, out)
    }

    fn elementwise(&self) -> bool {
        self.optimizer.elementwise()
    }

    // `step` calls the inner `step`, not `step_parallel`: a serial step then never compiles
    // the thread pool (see `optim::parallel::Threads`).
    fn step(&self, params: &mut [T], grads: &[T], state: &mut Self::State) -> Result<()> {
        self.scheduled(state, |opt, inner| opt.step(params, grads, inner))
    }

    fn step_parallel(
        &self,
        params: &mut [T],
        grads: &[T],
        state: &mut Self::State,
        threads: usize,
    ) -> Result<()> {
        self.scheduled(state, |opt, inner| opt.step_parallel(params, grads, inner, threads))
    }

    /// The learning rate of the wrapped optimizer (the schedule overrides it at each step).
    fn learning_rate(&self) -> f64 {
        self.optimizer.learning_rate()
    }

    fn set_learning_rate(&mut self, lr: f64) -> Result<()> {
        self.optimizer.set_learning_rate(lr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Sgd;

    #[test]
    fn scheduled_optimizer_uses_the_rate_of_each_step() {
        let opt = Scheduled::new(Sgd::new(0.0).unwrap(), MultiStep::new(1.0, vec![1, 2], 0.5).unwrap());
        let mut x = [0.0_f64];
        let mut s = opt.init(1);
        for _ in 0..3 {
            opt.step(&mut x, &[-1.0], &mut s).unwrap();
        }
        assert_eq!(x[0], 1.0 + 0.5 + 0.25);
        assert_eq!(s.step, 3);
    }
}
