//! Seeded minibatch sampling.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{DataError, Result};

/// How the examples of an epoch are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sampling {
    /// A fresh random permutation each epoch: every example exactly once (PyTorch's
    /// `DataLoader(shuffle=True)`, the source's choice).
    #[default]
    WithoutReplacement,
    /// n independent uniform draws each epoch: an example appears at least once with
    /// probability about 1 − 1/e ≈ 0.63 (the SGD chapter's exercise).
    WithReplacement,
}

/// Splits the indices 0..n into minibatches, reshuffled every epoch from a seeded generator
/// (ChaCha8), so the same seed gives the same batches everywhere. The last batch of an epoch
/// is smaller when the batch size does not divide n.
///
/// # Example
/// ```
/// use gradstep_lab::data::{Minibatches, Sampling};
///
/// let mut batches = Minibatches::new(10, 4, Sampling::WithoutReplacement, 0)?;
/// let epoch: Vec<Vec<usize>> = batches.epoch().map(<[usize]>::to_vec).collect();
/// assert_eq!(epoch.iter().map(Vec::len).collect::<Vec<_>>(), [4, 4, 2]);
/// let mut seen: Vec<usize> = epoch.concat();
/// seen.sort();
/// assert_eq!(seen, (0..10).collect::<Vec<_>>());
/// # Ok::<(), gradstep_lab::data::DataError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Minibatches {
    n: usize,
    batch: usize,
    sampling: Sampling,
    rng: ChaCha8Rng,
    order: Vec<usize>,
}

impl Minibatches {
    /// Batches of `batch` indices out of 0..n.
    ///
    /// # Errors
    /// [`DataError::Argument`] if `n` or `batch` is 0.
    pub fn new(n: usize, batch: usize, sampling: Sampling, seed: u64) -> Result<Self> {
        if n == 0 {
            return Err(DataError::Argument { name: "n", rule: "there must be at least one example".into() });
        }
        if batch == 0 {
            return Err(DataError::Argument { name: "batch", rule: "must be at least 1".into() });
        }
        Ok(Self { n, batch, sampling, rng: ChaCha8Rng::seed_from_u64(seed), order: (0..n).collect() })
    }

    /// The batch size.
    pub fn batch_size(&self) -> usize {
        self.batch
    }

    /// The number of examples per epoch.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Always false: a sampler has at least one example.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Batches per epoch, ⌈n / batch⌉.
    pub fn batches_per_epoch(&self) -> usize {
        self.n.div_ceil(self.batch)
    }

    /// Draws the next epoch and returns its batches of indices.
    pub fn epoch(&mut self) -> std::slice::Chunks<'_, usize> {
        match self.sampling {
            Sampling::WithoutReplacement => {
                self.order.sort_unstable();
                self.order.shuffle(&mut self.rng);
            }
            Sampling::WithReplacement => {
                for o in &mut self.order {
                    *o = self.rng.random_range(0..self.n);
                }
            }
        }
        self.order.chunks(self.batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_batches_and_epochs_differ() {
        let mut a = Minibatches::new(100, 10, Sampling::WithoutReplacement, 5).unwrap();
        let mut b = Minibatches::new(100, 10, Sampling::WithoutReplacement, 5).unwrap();
        let (a1, b1): (Vec<usize>, Vec<usize>) =
            (a.epoch().flatten().copied().collect(), b.epoch().flatten().copied().collect());
        assert_eq!(a1, b1);
        let a2: Vec<usize> = a.epoch().flatten().copied().collect();
        assert_ne!(a1, a2);
        let mut s = a2.clone();
        s.sort();
        assert_eq!(s, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn with_replacement_repeats_examples_about_as_often_as_expected() {
        let mut m = Minibatches::new(10_000, 100, Sampling::WithReplacement, 1).unwrap();
        let mut count = vec![0u32; 10_000];
        for &i in m.epoch().flatten() {
            count[i] += 1;
        }
        let once_or_more = count.iter().filter(|&&c| c > 0).count() as f64 / 10_000.0;
        let exactly_once = count.iter().filter(|&&c| c == 1).count() as f64 / 10_000.0;
        assert!((once_or_more - 0.632).abs() < 0.02, "{once_or_more}");
        assert!((exactly_once - 0.368).abs() < 0.02, "{exactly_once}");
    }

    #[test]
    fn zero_sizes_are_rejected() {
        assert!(Minibatches::new(0, 1, Sampling::WithoutReplacement, 0).is_err());
        assert!(Minibatches::new(5, 0, Sampling::WithReplacement, 0).is_err());
    }
}
