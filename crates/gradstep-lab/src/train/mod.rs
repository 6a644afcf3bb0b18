//! Training loops that print and record like the source's.
//!
//! - [`linreg`]: the minibatch chapters' `train_ch11` (an update the chapter writes) and
//!   `train_concise_ch11` (any optimizer of the library) on the airfoil data.
//! - [`classify`]: epochs of minibatch training of an image classifier with a per-epoch
//!   learning-rate schedule, recording loss and accuracies (the learning-rate chapter), with
//!   one optimizer or with groups of tensors each with its own (Muon beside AdamW), evaluated
//!   at the optimizer's evaluation point.

pub mod classify;
pub mod linreg;

use crate::data::DataError;

/// Why a training run stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// The data could not be batched (e.g. batch size 0).
    #[error(transparent)]
    Data(#[from] DataError),
    /// The optimizer rejected a step or a learning rate.
    #[error(transparent)]
    Optimizer(#[from] gradstep::Error),
    /// A setting is out of range.
    #[error("invalid setting `{name}`: {rule}")]
    Setting {
        /// The setting.
        name: &'static str,
        /// The rule it broke.
        rule: String,
    },
}
