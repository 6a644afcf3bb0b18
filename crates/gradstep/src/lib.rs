//! # gradstep
//!
//! First-order optimizers for deep learning, learning-rate schedules, and the classical methods
//! they grew out of, written to agree with PyTorch's `torch.optim` and optax to the last digits.
//!
//! - [`optim`]: the update rules ([`Sgd`], …), all behind one trait, [`Optimizer`].
//!
//! Every optimizer works on flat `&mut [T]` buffers and on ndarray arrays, for `T` = `f32` or
//! `f64`; hyperparameters are checked when an optimizer is built, and a bad one is an
//! [`Error`] that names the value and the rule.
//!
//! ```
//! use gradstep::{Optimizer, Sgd};
//!
//! let opt = Sgd::new(0.1)?;
//! let mut x = vec![-5.0_f64, -2.0];
//! let mut state = opt.init(x.len());
//! for _ in 0..20 {
//!     // f(x) = x₁² + 2x₂²
//!     let grad = [2.0 * x[0], 4.0 * x[1]];
//!     opt.step(&mut x, &grad, &mut state)?;
//! }
//! assert!((x[0] + 0.057646).abs() < 1e-6 && (x[1] + 0.000073).abs() < 1e-6);
//! # Ok::<(), gradstep::Error>(())
//! ```
#![warn(missing_docs)]

mod error;
mod float;
pub mod optim;

pub use error::{Error, Result};
pub use float::Float;
pub use optim::{Optimizer, Sgd, SgdConfig, SgdState};
