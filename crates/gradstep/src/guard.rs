//! An opt-in guard that skips steps whose gradient is not finite.

use serde::{Deserialize, Serialize};

use crate::{Float, Optimizer, Result};

/// Wraps an optimizer so that a step whose gradient holds a NaN or an infinity is skipped —
/// parameters and state untouched — and counted in [`GuardState::skipped`], instead of
/// poisoning the parameters (what mixed-precision loss scaling does with overflowing steps).
///
/// It costs one extra read of the gradient per step.
///
/// ```
/// use gradstep::{Optimizer, Sgd, SkipNonFinite};
///
/// let opt = SkipNonFinite::new(Sgd::new(0.1)?);
/// let mut x = [1.0_f64];
/// let mut state = opt.init(1);
/// opt.step(&mut x, &[f64::NAN], &mut state)?;
/// opt.step(&mut x, &[1.0], &mut state)?;
/// assert_eq!((x[0], state.skipped), (0.9, 1));
/// # Ok::<(), gradstep::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SkipNonFinite<O> {
    /// The guarded optimizer.
    pub inner: O,
}

/// State of [`SkipNonFinite`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuardState<S> {
    /// The guarded optimizer's state.
    pub inner: S,
    /// Steps skipped so far.
    pub skipped: u64,
}

impl<O> SkipNonFinite<O> {
    /// Guards `inner`.
    pub fn new(inner: O) -> Self {
        Self { inner }
    }
}

impl<T: Float, O: Optimizer<T>> Optimizer<T> for SkipNonFinite<O> {
    type State = GuardState<O::State>;

    fn init(&self, len: usize) -> Self::State {
        GuardState { inner: self.inner.init(len), skipped: 0 }
    }

    fn check_shape(&self, shape: &crate::Shape) -> Result<()> {
        self.inner.check_shape(shape)
    }

    fn init_shaped(&self, shape: &crate::Shape) -> Result<Self::State> {
        Ok(GuardState { inner: self.inner.init_shaped(shape)?, skipped: 0 })
    }

    fn check_state(&self, len: usize, state: &Self::State) -> Result<()> {
        self.inner.check_state(len, &state.inner)
    }

    fn eval_point(&self, params: &[T], state: &Self::State, out: &mut [T]) -> Result<()> {
        self.inner.eval_point(params, &state.inner, out)
    }

    fn elementwise(&self) -> bool {
        self.inner.elementwise()
    }

    // `step` calls the inner `step`, not `step_parallel`: a serial step then never compiles
    // the thread pool (see `optim::parallel::Threads`).
    fn step(&self, params: &mut [T], grads: &[T], state: &mut Self::State) -> Result<()> {
        if skipped(params, grads, state)? {
            return Ok(());
        }
        self.inner.step(params, grads, &mut state.inner)
    }

    fn step_parallel(
        &self,
        params: &mut [T],
        grads: &[T],
        state: &mut Self::State,
        threads: usize,
    ) -> Result<()> {
        if skipped(params, grads, state)? {
            return Ok(());
        }
        self.inner.step_parallel(params, grads, &mut state.inner, threads)
    }

    fn learning_rate(&self) -> f64 {
        self.inner.learning_rate()
    }

    fn set_learning_rate(&mut self, lr: f64) -> Result<()> {
        self.inner.set_learning_rate(lr)
    }
}

/// Counts a step skipped if `grads` has a non-finite entry, and says whether it did.
fn skipped<T: Float, S>(params: &[T], grads: &[T], state: &mut GuardState<S>) -> Result<bool> {
    if grads.iter().all(|g| g.is_finite()) {
        return Ok(false);
    }
    crate::error::check_len("gradient", params.len(), grads.len())?;
    state.skipped = state.skipped.saturating_add(1);
    Ok(true)
}

/// Whether every entry of every tensor is finite: the check [`SkipNonFinite`] makes, for
/// several tensors at once (e.g. to skip a whole [`crate::ParamGroups`] step).
///
/// ```
/// assert!(gradstep::all_finite::<f32>(&[&[1.0, 2.0], &[3.0]]));
/// assert!(!gradstep::all_finite::<f64>(&[&[1.0], &[f64::INFINITY]]));
/// ```
pub fn all_finite<T: Float>(grads: &[&[T]]) -> bool {
    grads.iter().all(|g| g.iter().all(|v| v.is_finite()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Adam, Error};

    #[test]
    fn infinite_gradients_leave_params_and_state_untouched() {
        let opt = SkipNonFinite::new(Adam::new(0.1).unwrap());
        let mut x = [1.0_f32, 2.0];
        let mut s = opt.init(2);
        opt.step(&mut x, &[0.5, 0.5], &mut s).unwrap();
        let (x1, s1) = (x, s.clone());
        opt.step(&mut x, &[f32::INFINITY, 0.5], &mut s).unwrap();
        assert_eq!(x, x1);
        assert_eq!(s.inner, s1.inner);
        assert_eq!(s.skipped, 1);
        let e = opt.step(&mut x, &[f32::NAN], &mut s).unwrap_err();
        assert_eq!(e, Error::LengthMismatch { what: "gradient", expected: 2, got: 1 });
    }
}
