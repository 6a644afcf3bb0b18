//! Parameter groups: several parameter tensors, each group with its own hyperparameters.

use std::marker::PhantomData;

use serde::{Deserialize, Serialize};

use crate::error::{check_len, check_non_negative};
use crate::{Error, Float, Optimizer, Result, Shape};

/// One group: an optimizer (its hyperparameters) and the shapes of the tensors it updates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamGroup<O> {
    /// The group's optimizer; its learning rate is the group's current rate.
    pub optimizer: O,
    /// Shapes of the group's tensors, in the order they are passed to [`ParamGroups::step`]
    /// (a vector of its length for a tensor pushed with [`ParamGroups::push`]). Saved groups
    /// that list lengths (`"lens": [6, 3]`) read as vectors.
    #[serde(alias = "lens")]
    pub shapes: Vec<Shape>,
    /// The group's base learning rate, which [`ParamGroups::set_lr_factor`] scales.
    pub base_lr: f64,
}

/// Several parameter tensors in groups, each group with its own hyperparameters, like the
/// `param_groups` of a `torch.optim` optimizer (optax does the same with
/// `multi_transform`).
///
/// Tensors are passed to [`ParamGroups::step`] as one list, group after group, each as its
/// flat row-major buffer; [`ParamGroups::push_shaped`] gives their shapes to the optimizers
/// that use them ([`crate::Adafactor`], [`crate::Muon`]). One set of groups can mix
/// optimizers of different types through [`crate::AnyOptimizer`], e.g. Muon for the hidden
/// matrices and AdamW for everything else. A schedule
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
        self.groups.iter().map(|g| g.shapes.len()).sum()
    }
}

impl<T: Float, O: Optimizer<T>> ParamGroups<T, O> {
    /// Adds a group of tensors with the given lengths (vectors), updated by `optimizer`;
    /// returns the group's index.
    pub fn push(&mut self, optimizer: O, lens: &[usize]) -> usize {
        let base_lr = optimizer.learning_rate();
        self.groups.push(ParamGroup {
            optimizer,
            shapes: lens.iter().map(|&n| Shape::vector(n)).collect(),
            base_lr,
        });
        self.groups.len() - 1
    }

    /// Adds a group of tensors with the given shapes, updated by `optimizer`; returns the
    /// group's index.
    ///
    /// ```
    /// use gradstep::{AdamW, AnyOptimizer, Muon, ParamGroups, Shape};
    ///
    /// // Muon for the hidden 4×3 matrix, AdamW for its bias, in one set of groups.
    /// let mut groups = ParamGroups::<f32, AnyOptimizer>::new();
    /// groups.push_shaped(Muon::new(0.02)?.into(), &[Shape::matrix(4, 3)])?;
    /// groups.push_shaped(AdamW::new(1e-3)?.into(), &[Shape::vector(4)])?;
    /// let (mut w, mut b) = (vec![0.1_f32; 12], vec![0.0_f32; 4]);
    /// let (gw, gb) = (vec![0.5_f32; 12], vec![-1.0_f32; 4]);
    /// let mut state = groups.init();
    /// groups.step(&mut [&mut w[..], &mut b[..]], &[&gw[..], &gb[..]], &mut state)?;
    /// assert!(w.iter().all(|&w| w < 0.1) && b.iter().all(|&b| b > 0.0));
    /// // Muon takes matrices only.
    /// assert!(groups.push_shaped(Muon::new(0.02)?.into(), &[Shape::vector(4)]).is_err());
    /// # Ok::<(), gradstep::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Shape`] if `optimizer` cannot update a tensor of one of the shapes; no group
    /// is added then.
    pub fn push_shaped(&mut self, optimizer: O, shapes: &[Shape]) -> Result<usize> {
        for s in shapes {
            optimizer.check_shape(s)?;
        }
        let base_lr = optimizer.learning_rate();
        self.groups.push(ParamGroup { optimizer, shapes: shapes.to_vec(), base_lr });
        Ok(self.groups.len() - 1)
    }

    /// Fresh state for every tensor.
    ///
    /// A shape the optimizer refuses cannot come from [`ParamGroups::push_shaped`]; in groups
    /// read from a file it gets a vector's state, which [`ParamGroups::step`] then rejects
    /// with the optimizer's typed error.
    pub fn init(&self) -> GroupsState<O::State> {
        GroupsState {
            states: self
                .groups
                .iter()
                .map(|g| {
                    g.shapes
                        .iter()
                        .map(|s| g.optimizer.init_shaped(s).unwrap_or_else(|_| g.optimizer.init(s.len())))
                        .collect()
                })
                .collect(),
        }
    }

    /// One step of every tensor with its group's optimizer.
    ///
    /// Everything is checked before anything is written (counts, lengths, and each state
    /// with [`Optimizer::check_state`]), so a step that fails leaves every tensor and every
    /// state as it was.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] if the number of tensors, gradients or states, or a tensor's
    /// length, differs from what the groups were built with, or a state's buffers do not fit
    /// its tensor; [`Error::Shape`] or [`Error::StateMismatch`] if a state does not suit its
    /// group's optimizer.
    pub fn step(
        &self,
        params: &mut [&mut [T]],
        grads: &[&[T]],
        state: &mut GroupsState<O::State>,
    ) -> Result<()> {
        let total = self.tensor_count();
        check_len("parameter tensors", total, params.len())?;
        check_len("gradient tensors", total, grads.len())?;
        check_len("state groups", self.groups.len(), state.states.len())?;
        let mut k = 0;
        for (g, s) in self.groups.iter().zip(&state.states) {
            check_len("group states", g.shapes.len(), s.len())?;
            for (shape, st) in g.shapes.iter().zip(s) {
                let n = shape.len();
                check_len("parameter tensor", n, params[k].len())?;
                check_len("gradient tensor", n, grads[k].len())?;
                g.optimizer.check_state(n, st)?;
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

    #[test]
    fn a_bad_state_in_a_later_tensor_fails_the_step_before_anything_moves() {
        let mut groups = ParamGroups::<f64, _>::new();
        groups.push(crate::Adam::new(0.1).unwrap(), &[2, 2]);
        let mut s = groups.init();
        s.states[0][1].exp_avg_sq.pop();
        let before = s.clone();
        let (mut a, mut b) = ([1.0, 1.0], [1.0, 1.0]);
        let err = groups.step(&mut [&mut a, &mut b], &[&[1.0, 1.0], &[1.0, 1.0]], &mut s).unwrap_err();
        assert_eq!(err, Error::LengthMismatch { what: "exp_avg_sq", expected: 2, got: 1 });
        assert_eq!((a, b, s), ([1.0, 1.0], [1.0, 1.0], before));
    }

    #[test]
    fn shapes_reach_the_optimizer_and_old_checkpoints_read_as_vectors() {
        let mut groups = ParamGroups::<f64, crate::Adafactor>::new();
        groups
            .push_shaped(crate::Adafactor::new(0.1).unwrap(), &[Shape::matrix(2, 3), Shape::vector(4)])
            .unwrap();
        let s = groups.init();
        assert_eq!((s.states[0][0].row_var.len(), s.states[0][1].variance.len()), (2, 4));
        let old = r#"{"groups": [{"optimizer": {"lr": 0.1}, "lens": [6, 3], "base_lr": 0.1}]}"#;
        let g: ParamGroups<f64, Sgd> = serde_json::from_str(old).unwrap();
        assert_eq!(g.groups()[0].shapes, vec![Shape::vector(6), Shape::vector(3)]);
    }
}
