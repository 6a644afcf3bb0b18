//! # gradstep
//!
//! First-order optimizers for deep learning, learning-rate schedules, and the classical methods
//! they grew out of, written to agree with PyTorch's `torch.optim` and optax to the last digits.
//!
//! - [`optim`]: the update rules, all behind one trait, [`Optimizer`]: [`Sgd`] (momentum,
//!   dampening, Nesterov), [`Adagrad`], [`RmsProp`] (centered, momentum), [`Adadelta`],
//!   [`Adam`] (AMSGrad, coupled or decoupled weight decay), [`AdamW`], [`NAdam`], [`RAdam`],
//!   [`Adamax`], [`Yogi`], [`Lion`], [`Rprop`], [`Asgd`], [`Adafactor`], [`Muon`],
//!   [`AdamWScheduleFree`] and [`Lamb`]. Optimizers that look at a tensor's shape
//!   (Adafactor factors matrices, Muon orthogonalises them) get it once, as a [`Shape`],
//!   when the state is made; every step still takes the flat buffer.
//! - [`schedule`]: learning-rate schedules, sampled for plots or driving any optimizer
//!   ([`schedule::Scheduled`]); reduce-on-plateau.
//! - [`ParamGroups`]: several tensors, each group with its own hyperparameters (and, through
//!   [`AnyOptimizer`], its own optimizer: Muon for hidden matrices, AdamW for the rest); [`clip`]:
//!   gradient clipping by value and by global norm; [`SkipNonFinite`]: an opt-in guard that
//!   skips (and counts) steps whose gradient is not finite.
//! - [`classical`]: Newton's method (full Hessian or diagonal preconditioner), line searches
//!   (bisection, Armijo backtracking, strong Wolfe), nonlinear conjugate gradient
//!   (Fletcher–Reeves, Polak–Ribière+, Hestenes–Stiefel) and L-BFGS (Nocedal and Wright's,
//!   and PyTorch's `torch.optim.LBFGS` step for step).
//!
//! Every optimizer works on flat `&mut [T]` buffers and on ndarray arrays
//! ([`Optimizer::step_array`]), for `T` = `f32` or `f64`. Hyperparameters are checked when an
//! optimizer or schedule is built, and a bad one is an [`Error`] that names the value and the
//! rule; mismatched buffers are an error too, never a panic. The state is a plain serde value:
//! a run resumed from a saved state continues bit for bit, and a loaded state or optimizer is
//! checked as a built one is (a hand-edited checkpoint with a negative `lr` or buffers of
//! different lengths is an error). Each update is one fused loop over
//! its buffers, allocates nothing, runs with the CPU's widest vector unit (AVX-512/AVX2,
//! detected at run time, the same bits as the scalar loop), and can be split across threads
//! with [`Optimizer::step_parallel`] (on rayon's persistent thread pool with the default
//! `rayon` feature; `default-features = false` leaves only the standard library, and then each
//! split spawns its threads).
//!
//! ## Conventions
//!
//! PyTorch's by default, for the formulas and the defaults alike; where optax differs, the
//! optimizer's documentation says how, and the other convention is an option where it teaches
//! something ([`EpsPlacement`] for Adagrad and RMSprop, [`AmsgradMax`], [`NadamVariant`]).
//! Yogi and Lion, which PyTorch lacks, follow optax. The crate's tests replay trajectories
//! recorded from PyTorch 2.15 and optax 0.2.8 (`tests/fixtures*/`, written by the scripts in
//! `tools/`) and agree to a few parts in 10¹⁵ in `f64` (to an `f32` ulp in `f32`); the classical
//! methods are checked against `torch.optim.LBFGS`, scipy's conjugate gradient and Newton's
//! closed form (`tests/fixtures-classical/`).
//!
//! ## Example
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
//!
//! Training a model: groups, clipping, a schedule, a checkpoint.
//!
//! ```
//! use gradstep::clip::clip_by_global_norm;
//! use gradstep::schedule::{Cosine, Schedule};
//! use gradstep::{AdamW, AdamWConfig, ParamGroups};
//!
//! let (mut w, mut b) = (vec![0.5_f32; 6], vec![0.0_f32; 2]);
//! let mut groups = ParamGroups::new();
//! groups.push(AdamW::new(1e-2)?, &[w.len()]); // weights: decay 1e-2
//! groups.push(AdamW::from_config(AdamWConfig { lr: 1e-2, weight_decay: 0.0, ..Default::default() })?, &[b.len()]);
//! let mut state = groups.init();
//! let factor = Cosine::new(1.0, 0.1, 100)?.with_warmup(10, 0.0)?; // a factor on each group's lr
//! for t in 0..20 {
//!     let (mut gw, mut gb) = (vec![0.1_f32; 6], vec![-0.2_f32; 2]); // from backprop
//!     clip_by_global_norm(&mut [&mut gw[..], &mut gb[..]], 1.0)?;
//!     groups.set_lr_factor(factor.lr(t))?;
//!     groups.step(&mut [&mut w[..], &mut b[..]], &[&gw[..], &gb[..]], &mut state)?;
//! }
//! let checkpoint = serde_json::to_string(&state).expect("serialisable");
//! # let _ = checkpoint;
//! # Ok::<(), gradstep::Error>(())
//! ```
#![warn(missing_docs)]

pub mod classical;
pub mod clip;
mod error;
mod float;
mod groups;
mod guard;
pub mod optim;
pub mod schedule;
mod shape;

pub use error::{Error, Result};
pub use float::Float;
pub use groups::{GroupsState, ParamGroup, ParamGroups};
pub use guard::{GuardState, SkipNonFinite, all_finite};
pub use optim::{
    Adadelta, AdadeltaConfig, AdadeltaState, Adagrad, AdagradConfig, AdagradState, Adam, AdamBf16,
    AdamBf16State, AdamConfig, AdamState, AdamW, AdamWConfig, Adamax, AdamaxConfig, AdamaxState, AmsgradMax,
    Bf16, EpsPlacement, Lion, LionConfig, LionState, NAdam, NAdamConfig, NAdamState, NadamVariant, Optimizer,
    RAdam, RAdamConfig, RAdamState, RmsProp, RmsPropConfig, RmsPropState, Sgd, SgdConfig, SgdState, Yogi,
    YogiConfig, YogiState,
};
pub use optim::{
    Adafactor, AdafactorConfig, AdafactorState, Adam8bit, Adam8bitState, AdamWScheduleFree,
    AdamWScheduleFreeConfig, AdamWScheduleFreeState, AdjustLr, AnyOptimizer, AnyState, Asgd, AsgdConfig,
    AsgdState, Lamb, LambConfig, LambState, Muon, MuonConfig, MuonState, Rprop, RpropConfig, RpropState,
};
pub use shape::Shape;
