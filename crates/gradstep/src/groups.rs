//! Parameter groups: several parameter tensors, each group with its own hyperparameters.

use std::marker::PhantomData;

use serde::{Deserialize, Serialize};

use crate::error::check_non_negative;
use crate::{Error, Float, Optimizer, Result};

/// One group: an optimizer (its hyperparameters) and the lengths of the tensors it updates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamGroup<O> {
    /// The group's optimizer; its learning rate is the group's current rate.
    pub optimizer: O,
    /// Lengths of the group's tensors, in the order they are passed to [`ParamGroups::step`].
    pub lens: Vec<usize>,
    /// The group's base learning rate, which [`ParamGroups::set_lr_factor`] scales.
    pub base_lr: f64,
}

/// Several parameter tensors in groups, each group with its own hyperparameters, like the
/// `param_groups` of a `torch.optim` optimizer (optax does the same with
/// `multi_transform`).
///
/// Tensors are passed to [`ParamGroups::step`] as one list, group after group. A schedule
/// drives all groups at once through [`ParamGroups::set_lr_factor`]: each group's rate
/// becomes its base rate times the factor, as PyTorch's schedulers scale each group's
/// `initial_lr`.
///
/// ```
/// use gradstep::{AdamW, AdamWConfig, ParamGroups};
///
/// // Weights with decay, biases without.
/// let mut groups = ParamGroups::new();
/// groups.push(AdamW::new(0.01)?, &[6]); // a 2×3 weight matrix
/// groups.push(AdamW::from_config(AdamWConfig { lr: 0.01, weight_decay: 0.0, ..Default::default() })?, &[3]);
/// let (mut w, mut b) = (vec![1.0_f32; 6], vec![0.0_f32; 3]);
/// let (gw, gb) = (vec![0.5_f32; 6], vec![-1.0_f32; 3]);
/// let mut state = groups.init();
/// groups.step(&mut [&mut w[..], &mut b[..]], &[&gw[..], &gb[..]], &mut state)?;
/// groups.set_lr_factor(0.5)?; // e.g. from a schedule built with lr 1.0
/// assert!(b.iter().all(|&b| (b - 0.01).abs() < 1e-6));
/// # Ok::<(), gradstep::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamGroups<T, O> {
    groups: Vec<ParamGroup<O>>,
    #[serde(skip)]
    element: PhantomData<fn() -> T>,
}

/// State of [`ParamGroups`]: one optimizer state per tensor, group by group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupsState<S> {
    /// `states[g][k]` belongs to tensor `k` of group `g`.
    pub states: Vec<Vec<S>>,
}

impl<T, O> Default for ParamGroups<T, O> {
    fn default() -> Self {
        Self { groups: Vec::new(), element: PhantomData }
    }
}

impl<T, O> ParamGroups<T, O> {
    /// No groups yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The groups.
    pub fn groups(&self) -> &[ParamGroup<O>] {
        &self.groups
    }

    /// Number of tensors over all groups.
    pub fn tensor_count(&self) -> usize {
        self.groups.iter().map(|g| g.lens.len()).sum()
    }
}

impl<T: Float, O: Optimizer<T>> ParamGroups<T, O> {
    /// Adds a group of tensors with the given lengths, updated by `optimizer`; returns the
    /// group's index.
    pub fn push(&mut self, optimizer: O, lens: &[usize]) -> usize {
        let base_lr = optimizer.learning_rate();
        self.groups.push(ParamGroup { optimizer, lens: lens.to_vec(), base_lr });
        self.groups.len() - 1
    }

    /// Fresh state for every tensor.
    pub fn init(&self) -> GroupsState<O::State> {
        GroupsState {
            states: self
                .groups
                .iter()
                .map(|g| g.lens.iter().map(|&n| g.optimizer.init(n)).collect())
                .collect(),
        }
    }

    /// One step of every tensor with its group's optimizer.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] if the number of tensors, gradients or states, or a tensor's
    /// length, differs from what the groups were built with; nothing is updated then.
    pub fn step(
        &self,
        params: &mut [&mut [T]],
        grads: &[&[T]],
        state: &mut GroupsState<O::State>,
    ) -> Result<()> {
        let total = self.tensor_count();
        crate::error::check_len("parameter tensors", total, params.len())?;
        crate::error::check_len("gradient tensors", total, grads.len())?;
        crate::error::check_len("state groups", self.groups.len(), state.states.len())?;
        let mut k = 0;
        for (g, s) in self.groups.iter().zip(&state.states) {
            crate::error::check_len("group states", g.lens.len(), s.len())?;
            for &n in &g.lens {
                crate::error::check_len("parameter tensor", n, params[k].len())?;
                crate::error::check_len("gradient tensor", n, grads[k].len())?;
                k += 1;
            }
        }
        let mut k = 0;
        for (g, s) in self.groups.iter().zip(&mut state.states) {
            for st in s.iter_mut() {
                g.optimizer.step(params[k], grads[k], st)?;
                k += 1;
            }
        }
        Ok(())
    }

    /// Sets each group's learning rate to its base rate times `factor`.
    ///
    /// # Errors
    /// [`Error::Hyperparameter`] if `factor` is negative or not finite.
    pub fn set_lr_factor(&mut self, factor: f64) -> Result<()> {
        check_non_negative("factor", factor)?;
        for g in &mut self.groups {
            g.optimizer.set_learning_rate(g.base_lr * factor)?;
        }
        Ok(())
    }

    /// The optimizer of group `i`, to change its hyperparameters.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] if there is no group `i`.
    pub fn group_mut(&mut self, i: usize) -> Result<&mut ParamGroup<O>> {
        let n = self.groups.len();
        self.groups.get_mut(i).ok_or(Error::LengthMismatch { what: "group index", expected: n, got: i })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Sgd;

    #[test]
    fn each_group_uses_its_own_rate_and_mismatches_update_nothing() {
        let mut groups = ParamGroups::<f64, _>::new();
        groups.push(Sgd::new(0.1).unwrap(), &[2]);
        groups.push(Sgd::new(1.0).unwrap(), &[1, 1]);
        let mut s = groups.init();
        let (mut a, mut b, mut c) = ([1.0, 1.0], [1.0], [1.0]);
        groups.step(&mut [&mut a, &mut b, &mut c], &[&[1.0, 1.0], &[1.0], &[0.5]], &mut s).unwrap();
        assert_eq!((a, b, c), ([0.9, 0.9], [0.0], [0.5]));
        let err = groups.step(&mut [&mut a, &mut b, &mut c], &[&[1.0, 1.0], &[1.0, 2.0], &[0.5]], &mut s);
        assert!(err.is_err());
        assert_eq!((a, b, c), ([0.9, 0.9], [0.0], [0.5]));
        groups.set_lr_factor(0.5).unwrap();
        assert_eq!(Optimizer::<f64>::learning_rate(&groups.groups()[1].optimizer), 0.5);
        assert!(groups.group_mut(2).is_err());
    }
}
