//! The one error type of the crate.

/// Everything that can go wrong when building or stepping an optimizer or a schedule.
///
/// Each variant names the offending value and the rule it broke, so that a message such as
/// ``invalid hyperparameter `lr` = -0.1: must be >= 0`` can be acted on without reading code.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A hyperparameter is outside its valid range.
    #[error("invalid hyperparameter `{name}` = {value}: {rule}")]
    Hyperparameter {
        /// The hyperparameter's name, as in the config struct (PyTorch's keyword).
        name: &'static str,
        /// The rejected value.
        value: f64,
        /// The rule it broke, e.g. "must be in [0, 1)".
        rule: &'static str,
    },
    /// Two buffers that must have the same length do not.
    #[error("length mismatch: {what} has {got} elements, expected {expected}")]
    LengthMismatch {
        /// Which buffer is the wrong length.
        what: &'static str,
        /// The length it should have.
        expected: usize,
        /// The length it has.
        got: usize,
    },
    /// A gradient entry is NaN or infinite.
    #[error("non-finite gradient {value} at index {index}")]
    NonFiniteGradient {
        /// Position of the first non-finite entry.
        index: usize,
        /// The entry itself.
        value: f64,
    },
    /// A linear system of a second-order method has no (stable) solution.
    #[error("singular matrix: {what} has no usable pivot at row {row}")]
    Singular {
        /// Which matrix, e.g. "Hessian".
        what: &'static str,
        /// The row where elimination broke down.
        row: usize,
    },
    /// A line search ended without a step that satisfies its conditions.
    #[error("line search failed after {evaluations} evaluations: {reason}")]
    LineSearch {
        /// Why it stopped.
        reason: &'static str,
        /// Objective evaluations spent.
        evaluations: usize,
    },
    /// A direction along which the objective does not decrease was given to a descent method.
    #[error("not a descent direction: directional derivative {slope} >= 0")]
    NotDescent {
        /// $\nabla f(x)^\top d$.
        slope: f64,
    },
    /// A state (loaded from a checkpoint, or edited by hand) breaks a rule the update relies on,
    /// e.g. a second moment below zero or a step count that cannot be incremented.
    #[error("invalid state: `{what}` {rule}")]
    InvalidState {
        /// The offending field.
        what: &'static str,
        /// The rule it broke, e.g. "must be finite and >= 0".
        rule: &'static str,
    },
    /// The objective's value or gradient is NaN or infinite at the starting point.
    #[error("non-finite objective value {value} at the starting point")]
    NonFiniteValue {
        /// The value.
        value: f64,
    },
    /// A tensor's shape does not suit the optimizer, e.g. a vector given to Muon, which
    /// orthogonalises matrices only.
    #[error("{optimizer} cannot update a tensor of shape {shape:?}: {rule}")]
    Shape {
        /// The optimizer, e.g. "Muon".
        optimizer: &'static str,
        /// The tensor's dimensions.
        shape: Vec<usize>,
        /// What the optimizer needs, e.g. "needs a matrix (2 dimensions)".
        rule: &'static str,
    },
    /// A state made by one optimizer was given to another (possible when a set of
    /// [`crate::ParamGroups`] mixes optimizers through [`crate::AnyOptimizer`]).
    #[error("state mismatch: {optimizer} was given a state of {state}")]
    StateMismatch {
        /// The optimizer asked to step.
        optimizer: &'static str,
        /// The optimizer the state belongs to.
        state: &'static str,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Checks that `value` lies in `[lo, hi)`; the shared rule behind β₁, β₂, ρ, α, momentum.
pub(crate) fn check_unit_interval(name: &'static str, value: f64) -> Result<()> {
    if (0.0..1.0).contains(&value) {
        Ok(())
    } else {
        Err(Error::Hyperparameter { name, value, rule: "must be in [0, 1)" })
    }
}

/// Checks that `value` is finite and `>= 0`; the rule behind learning rates and weight decay.
pub(crate) fn check_non_negative(name: &'static str, value: f64) -> Result<()> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(Error::Hyperparameter { name, value, rule: "must be finite and >= 0" })
    }
}

/// Checks that `value` is finite and `> 0`; the rule behind eps.
pub(crate) fn check_positive(name: &'static str, value: f64) -> Result<()> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(Error::Hyperparameter { name, value, rule: "must be finite and > 0" })
    }
}

/// Checks that two buffers have the same length.
pub(crate) fn check_len(what: &'static str, expected: usize, got: usize) -> Result<()> {
    if expected == got { Ok(()) } else { Err(Error::LengthMismatch { what, expected, got }) }
}

/// Checks an optional state buffer: empty (its option is off and it was never made) or exactly
/// `expected` long. A buffer of any other length is a state made for another parameter tensor.
pub(crate) fn check_len_or_empty(what: &'static str, expected: usize, got: usize) -> Result<()> {
    if got == 0 { Ok(()) } else { check_len(what, expected, got) }
}

/// The step count after `step`, or an error at `u64::MAX` (reachable only from an edited state),
/// checked before an update changes anything.
pub(crate) fn next_step(step: u64) -> Result<u64> {
    step.checked_add(1).ok_or(Error::InvalidState { what: "step", rule: "is at its maximum, 2^64 - 1" })
}

/// Checks that the buffers of one state have one length between them (the first one's); a
/// state whose buffers disagree was assembled by hand or edited.
pub(crate) fn check_same_len(bufs: &[(&'static str, usize)]) -> Result<()> {
    let Some(&(_, expected)) = bufs.first() else { return Ok(()) };
    bufs.iter().try_for_each(|&(what, got)| check_len(what, expected, got))
}

/// Checks that every entry of a state buffer is finite and, for a buffer of squares or
/// maxima of absolute values, `>= 0`.
pub(crate) fn check_entries<T: crate::Float>(
    what: &'static str,
    buf: &[T],
    non_negative: bool,
) -> Result<()> {
    let ok = if non_negative {
        buf.iter().all(|v| v.is_finite() && *v >= T::zero())
    } else {
        buf.iter().all(|v| v.is_finite())
    };
    match (ok, non_negative) {
        (true, _) => Ok(()),
        (false, true) => Err(Error::InvalidState { what, rule: "must hold finite entries >= 0" }),
        (false, false) => Err(Error::InvalidState { what, rule: "must hold finite entries" }),
    }
}

/// Checks a rule that [`check_non_negative`] and friends do not cover; `rule` says it in words.
pub(crate) fn check(name: &'static str, value: f64, ok: bool, rule: &'static str) -> Result<()> {
    if ok && !value.is_nan() { Ok(()) } else { Err(Error::Hyperparameter { name, value, rule }) }
}
