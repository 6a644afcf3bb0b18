//! The element types the optimizers run on.

use std::fmt::{Debug, Display};

use serde::{Serialize, de::DeserializeOwned};

/// A floating-point element type: `f32` or `f64`.
///
/// Hyperparameters are stored as `f64` and converted once per step with [`Float::of`], so
/// an `f32` model gets the same configuration types as an `f64` one.
pub trait Float:
    num_traits::Float
    + num_traits::FromPrimitive
    + num_traits::NumAssign
    + Default
    + Debug
    + Display
    + Send
    + Sync
    + Serialize
    + DeserializeOwned
    + 'static
{
    /// Converts an `f64` hyperparameter to this type (rounding for `f32`).
    fn of(x: f64) -> Self;
    /// Widens to `f64`, for error messages and reports.
    fn to_f64_lossless(self) -> f64;
}

impl Float for f32 {
    #[inline]
    fn of(x: f64) -> Self {
        x as f32
    }
    #[inline]
    fn to_f64_lossless(self) -> f64 {
        f64::from(self)
    }
}

impl Float for f64 {
    #[inline]
    fn of(x: f64) -> Self {
        x
    }
    #[inline]
    fn to_f64_lossless(self) -> f64 {
        self
    }
}
