//! First-order update rules.
//!
//! Every algorithm is a small config struct (its hyperparameters, checked when it is built)
//! that implements [`Optimizer`]: [`Optimizer::init`] makes the per-parameter state once, and
//! [`Optimizer::step`] applies one update in place, in one pass over the buffers.

mod sgd;

pub use sgd::{Sgd, SgdConfig, SgdState};

use ndarray::{ArrayBase, Data, DataMut, Dimension};
use serde::{Serialize, de::DeserializeOwned};

use crate::{Error, Float, Result};

/// A first-order update rule over flat parameter buffers.
///
/// The optimizer value holds only hyperparameters; everything that changes from step to step
/// (moment buffers, the step count) lives in [`Optimizer::State`]. Keeping them apart is what
/// lets one configuration drive many parameter tensors, and lets the state be saved with serde
/// and restored to continue a run bit for bit.
///
/// # Example
///
/// ```
/// use gradstep::{Optimizer, Sgd};
///
/// // Minimise f(x) = x² from x = 10 with plain gradient descent.
/// let opt = Sgd::new(0.2)?;
/// let mut x = [10.0_f64];
/// let mut state = opt.init(x.len());
/// for _ in 0..10 {
///     let grad = [2.0 * x[0]];
///     opt.step(&mut x, &grad, &mut state)?;
/// }
/// assert!((x[0] - 0.060466).abs() < 1e-6);
/// # Ok::<(), gradstep::Error>(())
/// ```
pub trait Optimizer<T: Float> {
    /// What the optimizer remembers between steps, for one parameter buffer.
    type State: Clone + std::fmt::Debug + PartialEq + Serialize + DeserializeOwned;

    /// Fresh state for a buffer of `len` parameters.
    fn init(&self, len: usize) -> Self::State;

    /// One update of `params` in place, given the gradient of the loss at `params`.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] if `grads` or the state do not match `params` in length.
    fn step(&self, params: &mut [T], grads: &[T], state: &mut Self::State) -> Result<()>;

    /// The current learning rate.
    fn learning_rate(&self) -> f64;

    /// Sets the learning rate, e.g. from a schedule.
    ///
    /// # Errors
    /// [`Error::Hyperparameter`] if `lr` is negative or not finite.
    fn set_learning_rate(&mut self, lr: f64) -> Result<()>;

    /// [`Optimizer::step`] for ndarray arrays of any shape, without copying.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] if the shapes differ, or if either array is not contiguous
    /// in memory (`what` is then "non-contiguous array").
    fn step_array<S1, S2, D>(
        &self,
        params: &mut ArrayBase<S1, D>,
        grads: &ArrayBase<S2, D>,
        state: &mut Self::State,
    ) -> Result<()>
    where
        S1: DataMut<Elem = T>,
        S2: Data<Elem = T>,
        D: Dimension,
    {
        if params.shape() != grads.shape() {
            return Err(Error::LengthMismatch {
                what: "gradient array",
                expected: params.len(),
                got: grads.len(),
            });
        }
        // Both arrays must also agree in memory order, or element i of one would meet a
        // different element of the other.
        if params.strides() != grads.strides() {
            return Err(Error::LengthMismatch {
                what: "non-contiguous array",
                expected: params.len(),
                got: 0,
            });
        }
        let len = params.len();
        let p = params.as_slice_memory_order_mut().ok_or(Error::LengthMismatch {
            what: "non-contiguous array",
            expected: len,
            got: 0,
        })?;
        let g = grads.as_slice_memory_order().ok_or(Error::LengthMismatch {
            what: "non-contiguous array",
            expected: len,
            got: 0,
        })?;
        self.step(p, g, state)
    }
}
