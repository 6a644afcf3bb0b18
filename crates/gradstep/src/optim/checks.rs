//! What a state must satisfy, written once for every optimizer from the list of its buffers:
//! on loading ([`on_load`], without the parameters) and before each step ([`StateCheck`],
//! which [`crate::Optimizer::check_state`] runs alone: [`crate::ParamGroups::step`] checks
//! every tensor before it steps any, so that a step that fails changes nothing).
//!
//! Both report the first bad buffer in the order the state lists them.

use crate::error::{check_entries, check_len, check_len_or_empty};
use crate::{Float, Result};

/// One buffer of a state, as the checks see it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Buffer<'a, T> {
    name: &'static str,
    data: &'a [T],
    /// Its entries are `>= 0` (squares, maxima of absolute values, step sizes).
    non_negative: bool,
    /// It belongs to an option that is off: it may be empty (it was never made) or as long as
    /// the parameters, nothing else. Unused, a buffer of another length would still be a state
    /// made for another tensor, and would be split wrongly across threads.
    may_be_empty: bool,
}

impl<'a, T> Buffer<'a, T> {
    /// A buffer of values of either sign (a first moment, a momentum, an average).
    pub(crate) fn signed(name: &'static str, data: &'a [T]) -> Self {
        Self { name, data, non_negative: false, may_be_empty: false }
    }

    /// A buffer of values `>= 0`: squares, maxima of absolute values, step sizes.
    pub(crate) fn non_negative(name: &'static str, data: &'a [T]) -> Self {
        Self { non_negative: true, ..Self::signed(name, data) }
    }

    /// The buffer of an option, needed only while `used` (on loading, with no optimizer to
    /// ask, pass `false`: either length is accepted).
    pub(crate) fn optional(self, used: bool) -> Self {
        Self { may_be_empty: !used, ..self }
    }
}

/// The buffers of a state of optimizer `O`, in the order their checks report them.
pub(crate) trait Buffers<O> {
    /// The element type.
    type Elem: Float;

    /// The buffers; `opt` says which optional ones are in use (`None` when the state is being
    /// loaded, without its optimizer).
    fn buffers(&self, opt: Option<&O>) -> impl AsRef<[Buffer<'_, Self::Elem>]>;
}

/// The state checks of optimizer `O`, for a buffer of `len` parameters.
pub(crate) trait StateCheck<O> {
    fn check_for(&self, opt: &O, len: usize) -> Result<()>;
}

/// Every buffer is as long as the parameters, or empty if its option is off.
impl<O, S: Buffers<O>> StateCheck<O> for S {
    fn check_for(&self, opt: &O, len: usize) -> Result<()> {
        self.buffers(Some(opt)).as_ref().iter().try_for_each(|b| {
            if b.may_be_empty {
                check_len_or_empty(b.name, len, b.data.len())
            } else {
                check_len(b.name, len, b.data.len())
            }
        })
    }
}

/// What a loaded state must satisfy: its buffers as long as the first (an optional one may
/// be empty), then their entries finite, and `>= 0` where they must be.
pub(crate) fn on_load<O, S: Buffers<O>>(state: &S) -> Result<()>
where
    S::Elem: Float,
{
    let buffers = state.buffers(None);
    let buffers = buffers.as_ref();
    let Some(first) = buffers.first() else { return Ok(()) };
    let n = first.data.len();
    for b in buffers {
        if b.may_be_empty {
            check_len_or_empty(b.name, n, b.data.len())?;
        } else {
            check_len(b.name, n, b.data.len())?;
        }
    }
    buffers.iter().try_for_each(|b| check_entries(b.name, b.data, b.non_negative))
}
