//! First-order update rules.
//!
//! Every algorithm is a small config struct (its hyperparameters, with PyTorch's names and
//! defaults, checked when it is built) that implements [`Optimizer`]: [`Optimizer::init`]
//! makes the per-parameter state once, and [`Optimizer::step`] applies one update in place,
//! in one pass over the buffers, without allocating.
//!
//! | optimizer | reference | hyperparameters (PyTorch names) | optax's convention as an option |
//! |---|---|---|---|
//! | [`Sgd`] | `torch.optim.SGD` | lr, momentum, dampening, nesterov, weight_decay, maximize | (same as `optax.sgd`) |
//! | [`Adagrad`] | `torch.optim.Adagrad` | lr, lr_decay, weight_decay, initial_accumulator_value, eps, maximize | [`EpsPlacement::InsideSqrt`] |
//! | [`RmsProp`] | `torch.optim.RMSprop` | lr, alpha, eps, weight_decay, momentum, centered, maximize | [`EpsPlacement::InsideSqrt`] |
//! | [`Adadelta`] | `torch.optim.Adadelta` | lr, rho, eps, weight_decay, maximize | (same formula) |
//! | [`Adam`] | `torch.optim.Adam` | lr, betas, eps, weight_decay, amsgrad, decoupled_weight_decay, maximize | [`AmsgradMax::BiasCorrected`] |
//! | [`AdamW`] | `torch.optim.AdamW` | lr, betas, eps, weight_decay, amsgrad, maximize | (same math) |
//! | [`AdamBf16`] | Adam/AdamW with bfloat16 moments | as Adam (no amsgrad) | |
//! | [`Adam8bit`] | Adam/AdamW with block-wise 8-bit moments | as Adam (no amsgrad) | |
//! | [`NAdam`] | `torch.optim.NAdam` | lr, betas, eps, weight_decay, momentum_decay, decoupled_weight_decay, maximize | [`NadamVariant::Optax`] |
//! | [`RAdam`] | `torch.optim.RAdam` | lr, betas, eps, weight_decay, decoupled_weight_decay, maximize | |
//! | [`Adamax`] | `torch.optim.Adamax` | lr, betas, eps, weight_decay, maximize | (same formula) |
//! | [`Yogi`] | `optax.yogi` | lr, betas, eps, initial_accumulator_value | |
//! | [`Lion`] | `optax.lion` | lr, betas, weight_decay | |
//! | [`Rprop`] | `torch.optim.Rprop` | lr, etas, step_sizes, maximize | |
//! | [`Asgd`] | `torch.optim.ASGD` | lr, lambd, alpha, t0, weight_decay, maximize | |
//! | [`Adafactor`] | `torch.optim.Adafactor` | lr, beta2_decay, eps, d, weight_decay, maximize | |
//! | [`Muon`] | `torch.optim.Muon` | lr, weight_decay, momentum, nesterov, ns_coefficients, eps, ns_steps, adjust_lr_fn | |
//! | [`AdamWScheduleFree`] | `schedulefree.AdamWScheduleFree` | lr, betas, eps, weight_decay, warmup_steps, r, weight_lr_power | |
//! | [`Lamb`] | `optax.lamb` | lr, betas, eps, eps_root, weight_decay | |
//!
//! Adafactor and Muon use the tensor's shape ([`Optimizer::init_shaped`]); LAMB's trust
//! ratio is per tensor (one call of `step` per tensor). [`AnyOptimizer`] puts optimizers of
//! different types into one set of [`crate::ParamGroups`].
//!
//! The shared numeric pieces (the moment EMAs in PyTorch's operation order, bias correction
//! computed in `f64`, the gradient's sign and coupled weight decay) live in one private module,
//! so each file reads like its equation.

/// Serde for an optimizer goes through its config, so a deserialised optimizer has passed
/// `from_config`'s checks like a built one: `{"lr": -1.0}` is an error, not an optimizer.
macro_rules! validated_serde {
    ($opt:ident, $config:ident) => {
        impl TryFrom<$config> for $opt {
            type Error = crate::Error;
            fn try_from(config: $config) -> crate::Result<Self> {
                Self::from_config(config)
            }
        }

        impl From<$opt> for $config {
            fn from(o: $opt) -> Self {
                o.config
            }
        }
    };
}
pub(crate) use validated_serde;

/// The buffers of a state, in the order their checks report them ([`checks::Buffers`]):
/// `state_buffers!(NameState for Name: [kind field, ...])`, where `kind` is `signed` or
/// `non_negative` (squares, maxima, step sizes), and `if |c| condition` after a buffer says
/// that the optimizer uses it only while its config `c` meets the condition (an option that
/// is on); otherwise it may be empty.
macro_rules! state_buffers {
    ($state:ident for $opt:ident: [$($kind:ident $field:ident $(if |$c:ident| $used:expr)?),* $(,)?]) => {
        impl<T: $crate::Float> $crate::optim::checks::Buffers<$opt> for $state<T> {
            type Elem = T;
            fn buffers(&self, opt: Option<&$opt>) -> impl AsRef<[$crate::optim::checks::Buffer<'_, T>]> {
                let _ = opt; // read only for optional buffers
                [$(
                    $crate::optim::checks::Buffer::$kind(stringify!($field), &self.$field)
                        $(.optional(opt.is_some_and(|o| {
                            let $c = &o.config;
                            $used
                        })))?
                ),*]
            }
        }
    };
}
pub(crate) use state_buffers;

/// [`state_buffers!`], and serde for the state that checks, on loading, what can be checked
/// without the parameters ([`checks::on_load`]: the buffers agree in length, an optional one
/// may be empty, their entries are finite, and those that must be are `>= 0`). A hand-edited
/// checkpoint that breaks one of these is an error when it is loaded, not a NaN some steps
/// later.
///
/// The state derives serde with `#[serde(remote = "Self", rename(deserialize = "state"))]`,
/// which turns the derived code into inherent functions; this writes the two trait impls
/// around them, the loading one with the checks (after `, first check`, a check of the
/// state's scalars, run before them).
macro_rules! checked_state {
    ($state:ident for $opt:ident: [$($buffers:tt)*] $(, first $extra:path)?) => {
        $crate::optim::state_buffers!($state for $opt: [$($buffers)*]);

        impl<T: $crate::Float> serde::Serialize for $state<T> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                $state::serialize(self, s)
            }
        }

        impl<'de, T: $crate::Float> serde::Deserialize<'de> for $state<T> {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                let state = $state::deserialize(d)?;
                $($extra(&state).map_err(serde::de::Error::custom)?;)?
                $crate::optim::checks::on_load::<$opt, _>(&state).map_err(serde::de::Error::custom)?;
                Ok(state)
            }
        }
    };
}
pub(crate) use checked_state;

/// What every optimizer has and no optimizer does differently: `new(lr)` (the config's
/// defaults with this learning rate), `config()`, serde through the config
/// ([`validated_serde!`]), and the [`Optimizer`] methods that only delegate or check: `init`
/// to the algorithm's own `init_state`, `check_state` to its state's
/// [`checks::StateCheck`], `step` and `step_parallel` to those checks and then its own `run`
/// (with [`parallel::Serial`], or `threads`), and the learning rate read from and written to the
/// config, after the check every `from_config` makes. Each file keeps what is its own:
/// `from_config` (its checks), `init_state` (its state), its state's buffers and `run` (its
/// update rule, which can start writing at once: the lengths are checked).
///
/// `optimizer_methods! { Name(NameConfig) -> NameState }`, with the first line of `new`'s
/// documentation as a doc comment before `Name`, writes all of it. Options after the state:
/// `, shaped` for an optimizer that reads the tensor's shape (its `state_for(shape)` makes
/// the state, its `shape_rule(shape)` says which shapes it takes, and it is not
/// [`Optimizer::elementwise`]); `; fn ...` items for trait methods of its own (an
/// `eval_point`). `optimizer_methods!(Name -> NameState, via inner)` writes only the trait,
/// for an optimizer that is another one with a config of its own (AdamW is an Adam).
macro_rules! optimizer_methods {
    (
        $(#[$new_doc:meta])* $opt:ident($config:ident) -> $state:ident $(, $extra:ident)*
        $(; $($item:item)*)?
    ) => {
        impl $opt {
            $(#[$new_doc])*
            ///
            /// # Errors
            /// [`crate::Error::Hyperparameter`] if `lr` is negative or not finite.
            pub fn new(lr: f64) -> $crate::Result<Self> {
                Self::from_config($config { lr, ..$config::default() })
            }

            /// The hyperparameters.
            pub fn config(&self) -> &$config {
                &self.config
            }
        }

        $crate::optim::optimizer_methods!(@trait $opt, $state, [], [$($extra)*], [$($($item)*)?]);
        $crate::optim::validated_serde!($opt, $config);
    };
    ($opt:ident -> $state:ident, via $inner:ident) => {
        $crate::optim::optimizer_methods!(@trait $opt, $state, [$inner], [], []);
    };
    (@trait $opt:ident, $state:ident, [$($inner:ident)?], [$($extra:ident)*], [$($item:item)*]) => {
        impl<T: $crate::Float> $crate::optim::Optimizer<T> for $opt {
            type State = $state<T>;

            fn init(&self, len: usize) -> $state<T> {
                self$(.$inner)?.init_state(len)
            }

            fn check_state(&self, len: usize, state: &$state<T>) -> $crate::Result<()> {
                $crate::optim::checks::StateCheck::check_for(state, &self$(.$inner)?, len)
            }

            fn step(&self, params: &mut [T], grads: &[T], state: &mut $state<T>) -> $crate::Result<()> {
                let rule = &self$(.$inner)?;
                $crate::error::check_len("gradient", params.len(), grads.len())?;
                $crate::optim::checks::StateCheck::check_for(state, rule, params.len())?;
                rule.run(params, grads, state, $crate::optim::parallel::Serial)
            }

            fn step_parallel(
                &self,
                params: &mut [T],
                grads: &[T],
                state: &mut $state<T>,
                threads: usize,
            ) -> $crate::Result<()> {
                let rule = &self$(.$inner)?;
                $crate::error::check_len("gradient", params.len(), grads.len())?;
                $crate::optim::checks::StateCheck::check_for(state, rule, params.len())?;
                rule.run(params, grads, state, threads)
            }

            fn learning_rate(&self) -> f64 {
                self$(.$inner)?.config.lr
            }

            fn set_learning_rate(&mut self, lr: f64) -> $crate::Result<()> {
                $crate::error::check_non_negative("lr", lr)?;
                self$(.$inner)?.config.lr = lr;
                Ok(())
            }

            $($crate::optim::optimizer_methods!(@$extra $state);)*

            $($item)*
        }
    };
    (@shaped $state:ident) => {
        fn check_shape(&self, shape: &$crate::Shape) -> $crate::Result<()> {
            self.shape_rule(shape)
        }

        fn init_shaped(&self, shape: &$crate::Shape) -> $crate::Result<$state<T>> {
            self.shape_rule(shape)?;
            Ok(self.state_for(shape))
        }

        fn elementwise(&self) -> bool {
            false
        }
    };
}
pub(crate) use optimizer_methods;

/// What the compact-state Adams ([`AdamBf16`], [`Adam8bit`]) share around their step: the
/// constructors from an [`AdamConfig`] (which refuse AMSGrad: a third buffer of maxima would
/// undo the saving) or an [`AdamWConfig`], serde through the config, and the [`Optimizer`]
/// impl. Each provides `State::zeros(len)`, `State::check(&self, len)` and
/// `run(&self, params, grads, state, threads: impl parallel::Threads)`.
macro_rules! compact_adam {
    ($opt:ident, $state:ident, $what:literal) => {
        impl $opt {
            #[doc = concat!("Adam with ", $what, " state, the given hyperparameters.")]
            ///
            /// # Errors
            /// [`Error::Hyperparameter`] for the checks [`Adam::from_config`](super::Adam::from_config)
            /// makes, and for `amsgrad`.
            pub fn from_config(config: AdamConfig) -> Result<Self> {
                check_adam_family(config.lr, config.betas, Some(config.eps), Some(config.weight_decay))?;
                if config.amsgrad {
                    return Err(Error::Hyperparameter {
                        name: "amsgrad",
                        value: 1.0,
                        rule: concat!("is not available with ", $what, " state"),
                    });
                }
                Ok(Self { config })
            }

            #[doc = concat!("AdamW (decoupled weight decay, PyTorch's `lr`-scaled form) with ", $what, " state.")]
            ///
            /// # Errors
            /// As [`from_config`](Self::from_config).
            pub fn adamw(config: AdamWConfig) -> Result<Self> {
                Self::from_config(AdamConfig {
                    lr: config.lr,
                    betas: config.betas,
                    eps: config.eps,
                    weight_decay: config.weight_decay,
                    amsgrad: config.amsgrad,
                    maximize: config.maximize,
                    decoupled_weight_decay: true,
                    ..AdamConfig::default()
                })
            }

            /// Zero moments for `len` parameters (as [`Optimizer::init`], without naming the
            /// parameters' type).
            pub fn init(&self, len: usize) -> $state {
                $state::zeros(len)
            }

            /// The hyperparameters.
            pub fn config(&self) -> &AdamConfig {
                &self.config
            }
        }

        impl TryFrom<AdamConfig> for $opt {
            type Error = Error;
            fn try_from(config: AdamConfig) -> Result<Self> {
                Self::from_config(config)
            }
        }

        impl From<$opt> for AdamConfig {
            fn from(o: $opt) -> Self {
                o.config
            }
        }

        impl<T: Float> Optimizer<T> for $opt {
            type State = $state;

            fn init(&self, len: usize) -> $state {
                $state::zeros(len)
            }

            fn check_state(&self, len: usize, state: &$state) -> Result<()> {
                state.check(len)
            }

            fn step(&self, params: &mut [T], grads: &[T], state: &mut $state) -> Result<()> {
                self.run(params, grads, state, $crate::optim::parallel::Serial)
            }

            fn step_parallel(&self, params: &mut [T], grads: &[T], state: &mut $state, threads: usize) -> Result<()> {
                self.run(params, grads, state, threads)
            }

            fn learning_rate(&self) -> f64 {
                self.config.lr
            }

            fn set_learning_rate(&mut self, lr: f64) -> Result<()> {
                check_non_negative("lr", lr)?;
                self.config.lr = lr;
                Ok(())
            }
        }
    };
}
pub(crate) use compact_adam;

/// The first step of a compact-state Adam and of [`Adam`] from the same point, for the two
/// compact optimizers' tests: `n` parameters (three thread chunks and a few), lr 1e-2 and
/// decoupled weight decay.
#[cfg(test)]
pub(crate) struct FirstSteps<S> {
    pub x0: Vec<f32>,
    pub g: Vec<f32>,
    /// The compact optimizer's point and state after its step.
    pub compact: (Vec<f32>, S),
    /// Adam's.
    pub full: (Vec<f32>, AdamState<f32>),
}

#[cfg(test)]
pub(crate) fn first_steps<O: Optimizer<f32>>(
    make: impl Fn(AdamConfig) -> Result<O>,
) -> (O, FirstSteps<O::State>) {
    let n = 3 * parallel::MIN_CHUNK + 5;
    let x0: Vec<f32> = (0..n).map(|i| ((i as f32) * 0.37).sin()).collect();
    let g: Vec<f32> = (0..n).map(|i| ((i as f32) * 0.11).cos() * 0.01).collect();
    let config =
        AdamConfig { lr: 1e-2, weight_decay: 0.1, decoupled_weight_decay: true, ..Default::default() };
    let (compact, full) = (make(config).unwrap(), Adam::from_config(config).unwrap());
    let (mut a, mut b) = (x0.clone(), x0.clone());
    let mut sa = compact.init(n);
    compact.step(&mut a, &g, &mut sa).unwrap();
    let mut sb = Optimizer::<f32>::init(&full, n);
    full.step(&mut b, &g, &mut sb).unwrap();
    (compact, FirstSteps { x0, g, compact: (a, sa), full: (b, sb) })
}

/// The checks the Adam family's configs share, in this order (so the first bad value is the
/// one reported): `lr` finite and >= 0, `betas.0` and `betas.1` in [0, 1), then `eps` finite
/// and > 0 and `weight_decay` finite and >= 0 for the optimizers that have them (Lion has no
/// ε, Yogi no weight decay).
pub(crate) fn check_adam_family(
    lr: f64,
    betas: (f64, f64),
    eps: Option<f64>,
    weight_decay: Option<f64>,
) -> Result<()> {
    check_non_negative("lr", lr)?;
    check_unit_interval("betas.0", betas.0)?;
    check_unit_interval("betas.1", betas.1)?;
    if let Some(eps) = eps {
        check_positive("eps", eps)?;
    }
    if let Some(weight_decay) = weight_decay {
        check_non_negative("weight_decay", weight_decay)?;
    }
    Ok(())
}

mod adadelta;
mod adafactor;
mod adagrad;
mod adam;
mod adam_8bit;
mod adam_bf16;
mod adamax;
mod any;
mod asgd;
pub(crate) mod checks;
pub(crate) mod kernels;
mod lamb;
mod lion;
mod muon;
mod nadam;
pub(crate) mod parallel;
mod radam;
pub(crate) mod reduce;
mod rmsprop;
mod rprop;
mod schedule_free;
mod scratch;
mod sgd;
mod yogi;

pub use adadelta::{Adadelta, AdadeltaConfig, AdadeltaState};
pub use adafactor::{Adafactor, AdafactorConfig, AdafactorState};
pub use adagrad::{Adagrad, AdagradConfig, AdagradState};
pub use adam::{Adam, AdamConfig, AdamState, AdamW, AdamWConfig, AmsgradMax};
pub use adam_8bit::{Adam8bit, Adam8bitState};
pub use adam_bf16::{AdamBf16, AdamBf16State, Bf16};
pub use adamax::{Adamax, AdamaxConfig, AdamaxState};
pub use any::{AnyOptimizer, AnyState};
pub use asgd::{Asgd, AsgdConfig, AsgdState};
pub use lamb::{Lamb, LambConfig, LambState};
pub use lion::{Lion, LionConfig, LionState};
pub use muon::{AdjustLr, Muon, MuonConfig, MuonState};
pub use nadam::{NAdam, NAdamConfig, NAdamState, NadamVariant};
pub use radam::{RAdam, RAdamConfig, RAdamState};
pub use rmsprop::{RmsProp, RmsPropConfig, RmsPropState};
pub use rprop::{Rprop, RpropConfig, RpropState};
pub use schedule_free::{AdamWScheduleFree, AdamWScheduleFreeConfig, AdamWScheduleFreeState};
pub use sgd::{Sgd, SgdConfig, SgdState};
pub use yogi::{Yogi, YogiConfig, YogiState};

/// Where ε goes in a denominator built from a root: PyTorch adds it outside,
/// $\sqrt{v} + \varepsilon$; optax's `adagrad` and (by default) `rmsprop` inside,
/// $\sqrt{v + \varepsilon}$. Inside, ε bounds the step by $|g|/\sqrt{\varepsilon}$ while
/// $v$ is tiny; outside, by $|g|/\varepsilon$, a far larger number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum EpsPlacement {
    /// $\sqrt{v} + \varepsilon$ (PyTorch).
    #[default]
    OutsideSqrt,
    /// $\sqrt{v + \varepsilon}$ (optax's default for Adagrad and RMSprop).
    InsideSqrt,
}

use ndarray::{ArrayBase, Data, DataMut, Dimension};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::error::{check_non_negative, check_positive, check_unit_interval};
use crate::{Error, Float, Result, Shape};

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

    /// Fresh state for a buffer of `len` parameters, seen as a vector.
    ///
    /// # Panics
    /// Like `vec![0.0; len]`, if the state's buffers cannot be allocated.
    fn init(&self, len: usize) -> Self::State;

    /// Checks that the optimizer can update a tensor of this shape. Every shape suits an
    /// element-wise optimizer (the default); [`Muon`] takes matrices only.
    ///
    /// # Errors
    /// [`Error::Shape`] if it cannot.
    fn check_shape(&self, shape: &Shape) -> Result<()> {
        let _ = shape;
        Ok(())
    }

    /// Fresh state for a tensor of shape `shape` (its flat buffer is row-major). The state
    /// remembers what the optimizer needs of the shape, so [`Optimizer::step`] still takes
    /// the flat buffer. Element-wise optimizers ignore the shape (the default is
    /// [`Optimizer::init`] of its length); [`Adafactor`] factors matrices, [`Muon`]
    /// orthogonalises them.
    ///
    /// ```
    /// use gradstep::{Muon, Optimizer, Shape};
    ///
    /// let muon = Muon::new(0.02)?;
    /// let mut w = vec![0.1_f64; 6];
    /// let mut state = muon.init_shaped(&Shape::matrix(2, 3))?;
    /// muon.step(&mut w, &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0], &mut state)?;
    /// assert!(Optimizer::<f64>::init_shaped(&muon, &Shape::vector(6)).is_err());
    /// # Ok::<(), gradstep::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Shape`] if the optimizer cannot update a tensor of this shape.
    fn init_shaped(&self, shape: &Shape) -> Result<Self::State> {
        self.check_shape(shape)?;
        Ok(self.init(shape.len()))
    }

    /// Checks, without changing anything, that `state` can step a buffer of `len`
    /// parameters: the checks [`Optimizer::step`] makes before it writes. [`crate::ParamGroups`]
    /// runs it on every tensor first, so that a step that fails changes nothing. The default
    /// accepts everything; every optimizer of this crate says what it needs.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] (or [`Error::Shape`], [`Error::StateMismatch`]) as `step`
    /// would return.
    fn check_state(&self, len: usize, state: &Self::State) -> Result<()> {
        let _ = (len, state);
        Ok(())
    }

    /// One update of `params` in place, given the gradient of the loss at `params`.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] if `grads` or the state do not match `params` in length (a
    /// buffer of an option that is off, such as AMSGrad's maximum, must be empty or of that
    /// length too); [`Error::InvalidState`] if the state's step count is at `u64::MAX`. An
    /// error is returned before anything changes.
    fn step(&self, params: &mut [T], grads: &[T], state: &mut Self::State) -> Result<()>;

    /// [`Optimizer::step`] with the buffers split into chunks across at most `threads`
    /// threads; the result is bit for bit the serial one. The chunks run on rayon's global
    /// pool, whose threads persist between calls (the `rayon` feature, on by default), or on
    /// threads spawned for the call without it. Buffers shorter than 32768 elements per thread
    /// are not split.
    ///
    /// # Errors
    /// As [`Optimizer::step`].
    fn step_parallel(
        &self,
        params: &mut [T],
        grads: &[T],
        state: &mut Self::State,
        threads: usize,
    ) -> Result<()> {
        let _ = threads;
        self.step(params, grads, state)
    }

    /// Writes the point at which to evaluate the model (a validation loss, the final answer)
    /// to `out`. For most optimizers that is the parameters themselves (the default); the
    /// ones that keep an average apart from the iterate say so: [`Asgd`] (its average
    /// $\bar x$) and [`AdamWScheduleFree`] (its $x$, the parameters being $y$).
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] if `out` or the state does not match `params`.
    fn eval_point(&self, params: &[T], state: &Self::State, out: &mut [T]) -> Result<()> {
        let _ = state;
        crate::error::check_len("evaluation point", params.len(), out.len())?;
        out.copy_from_slice(params);
        Ok(())
    }

    /// The current learning rate.
    fn learning_rate(&self) -> f64;

    /// Sets the learning rate, e.g. from a schedule.
    ///
    /// # Errors
    /// [`Error::Hyperparameter`] if `lr` is negative or not finite.
    fn set_learning_rate(&mut self, lr: f64) -> Result<()>;

    /// Whether the update works on the flat buffer in any element order: true (the default)
    /// when each element's update depends on its own history and on whole-tensor sums at most
    /// (LAMB's norms); false for [`Adafactor`] and [`Muon`], which read the buffer as a
    /// row-major matrix.
    fn elementwise(&self) -> bool {
        true
    }

    /// [`Optimizer::step`] for ndarray arrays of any shape, without copying. For an
    /// optimizer that uses the shape, make the state with
    /// `init_shaped(&Shape::from(array.shape()))`.
    ///
    /// ```
    /// use gradstep::{Muon, Optimizer, Shape};
    /// use ndarray::{Array2, ShapeBuilder};
    ///
    /// let muon = Muon::new(0.02)?;
    /// let mut w = Array2::<f32>::eye(3);
    /// let g = Array2::<f32>::ones((3, 3));
    /// let mut state = muon.init_shaped(&Shape::from(w.shape()))?;
    /// muon.step_array(&mut w, &g, &mut state)?;
    /// // A column-major array is not the row-major matrix Muon reads: an error.
    /// let (mut wf, gf) = (Array2::<f32>::zeros((3, 3).f()), Array2::<f32>::ones((3, 3).f()));
    /// assert!(muon.step_array(&mut wf, &gf, &mut state).is_err());
    /// # Ok::<(), gradstep::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] if the shapes differ, or if either array is not contiguous
    /// in memory (`what` is then "non-contiguous array"), or, for an optimizer that is not
    /// [`Optimizer::elementwise`], not in row-major order ("array not in row-major order").
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
        if !self.elementwise() && !params.is_standard_layout() {
            return Err(Error::LengthMismatch {
                what: "array not in row-major order",
                expected: len,
                got: 0,
            });
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, s};

    #[test]
    fn deserialising_checks_the_hyperparameters() {
        let adam: Adam = serde_json::from_str(r#"{"lr": 0.5, "amsgrad": true}"#).unwrap();
        assert_eq!(adam.config().lr, 0.5);
        assert!(adam.config().amsgrad && adam.config().betas == (0.9, 0.999));
        let err = serde_json::from_str::<Sgd>(r#"{"lr": -1.0}"#).unwrap_err();
        assert!(err.to_string().contains("invalid hyperparameter `lr` = -1"), "{err}");
        let w = AdamW::new(0.1).unwrap();
        assert_eq!(serde_json::from_str::<AdamW>(&serde_json::to_string(&w).unwrap()).unwrap(), w);
    }

    #[test]
    fn arrays_step_in_place_and_views_must_be_contiguous() {
        let opt = Adam::new(0.1).unwrap();
        let mut w = Array2::<f32>::ones((2, 3));
        let g = Array2::<f32>::from_elem((2, 3), 0.5);
        let mut state = opt.init(w.len());
        opt.step_array(&mut w, &g, &mut state).unwrap();
        assert!(w.iter().all(|&v| (v - 0.9).abs() < 1e-6));
        let mut col = w.slice_mut(s![.., 0..1]);
        let gcol = g.slice(s![.., 0..1]);
        let mut s2 = opt.init(2);
        assert!(opt.step_array(&mut col, &gcol, &mut s2).is_err());
        let g_wrong = Array2::<f32>::zeros((3, 2));
        assert!(opt.step_array(&mut w, &g_wrong, &mut state).is_err());
    }
}
