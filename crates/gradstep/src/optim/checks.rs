//! What each optimizer's step checks of its state before it writes anything, written apart
//! from the update rules so that [`crate::Optimizer::check_state`] can run it alone (see
//! [`crate::ParamGroups::step`], which checks every tensor before it steps any).
//!
//! Each check lists the same buffers, in the same order, as the step's own checks, so the
//! first bad buffer is the one reported either way.

use super::*;
use crate::Result;
use crate::error::check_len;

/// The state checks of optimizer `O`, for a buffer of `len` parameters.
pub(crate) trait StateCheck<O> {
    fn check_for(&self, opt: &O, len: usize) -> Result<()>;
}

impl<T> StateCheck<Sgd> for SgdState<T> {
    fn check_for(&self, opt: &Sgd, len: usize) -> Result<()> {
        if opt.config().momentum != 0.0 {
            check_len("momentum buffer", len, self.momentum_buffer.len())?;
        }
        Ok(())
    }
}

impl<T> StateCheck<Adagrad> for AdagradState<T> {
    fn check_for(&self, _: &Adagrad, len: usize) -> Result<()> {
        check_len("sum", len, self.sum.len())
    }
}

impl<T> StateCheck<RmsProp> for RmsPropState<T> {
    fn check_for(&self, opt: &RmsProp, len: usize) -> Result<()> {
        let c = opt.config();
        check_len("square_avg", len, self.square_avg.len())?;
        if c.centered {
            check_len("grad_avg", len, self.grad_avg.len())?;
        }
        if c.momentum > 0.0 {
            check_len("momentum_buffer", len, self.momentum_buffer.len())?;
        }
        Ok(())
    }
}

impl<T> StateCheck<Adadelta> for AdadeltaState<T> {
    fn check_for(&self, _: &Adadelta, len: usize) -> Result<()> {
        check_len("square_avg", len, self.square_avg.len())?;
        check_len("acc_delta", len, self.acc_delta.len())
    }
}

impl<T> StateCheck<Adam> for AdamState<T> {
    fn check_for(&self, opt: &Adam, len: usize) -> Result<()> {
        check_len("exp_avg", len, self.exp_avg.len())?;
        check_len("exp_avg_sq", len, self.exp_avg_sq.len())?;
        if opt.config().amsgrad {
            check_len("max_exp_avg_sq", len, self.max_exp_avg_sq.len())?;
        }
        Ok(())
    }
}

impl<T> StateCheck<Adamax> for AdamaxState<T> {
    fn check_for(&self, _: &Adamax, len: usize) -> Result<()> {
        check_len("exp_avg", len, self.exp_avg.len())?;
        check_len("exp_inf", len, self.exp_inf.len())
    }
}

impl<T> StateCheck<Lion> for LionState<T> {
    fn check_for(&self, _: &Lion, len: usize) -> Result<()> {
        check_len("exp_avg", len, self.exp_avg.len())
    }
}

impl<T> StateCheck<NAdam> for NAdamState<T> {
    fn check_for(&self, _: &NAdam, len: usize) -> Result<()> {
        check_len("exp_avg", len, self.exp_avg.len())?;
        check_len("exp_avg_sq", len, self.exp_avg_sq.len())
    }
}

impl<T> StateCheck<RAdam> for RAdamState<T> {
    fn check_for(&self, _: &RAdam, len: usize) -> Result<()> {
        check_len("exp_avg", len, self.exp_avg.len())?;
        check_len("exp_avg_sq", len, self.exp_avg_sq.len())
    }
}

impl<T> StateCheck<Yogi> for YogiState<T> {
    fn check_for(&self, _: &Yogi, len: usize) -> Result<()> {
        check_len("exp_avg", len, self.exp_avg.len())?;
        check_len("exp_avg_sq", len, self.exp_avg_sq.len())
    }
}
