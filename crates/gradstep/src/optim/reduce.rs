//! Sums that vectorise: a float sum in one accumulator is a chain of dependent additions the
//! compiler may not reorder, which also keeps every other operation of its loop scalar. Eight
//! accumulators, one per lane, let the loop run on vector units; they are combined in a fixed
//! order, so a sum is the same bits on every run and every machine.

use crate::Float;

/// Number of independent accumulators.
pub(crate) const LANES: usize = 8;

/// Partial sums, lane `l` holding the terms `l, l + LANES, l + 2·LANES, …`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lanes<T>(pub(crate) [T; LANES]);

impl<T: Float> Lanes<T> {
    pub(crate) fn zero() -> Self {
        Self([T::zero(); LANES])
    }

    /// The total, added pairwise.
    pub(crate) fn total(self) -> T {
        let a = self.0;
        ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]))
    }
}

/// $\sum_i x_i^2$, in lanes.
pub(crate) fn sum_of_squares<T: Float>(x: &[T]) -> T {
    let mut acc = Lanes::zero();
    let chunks = x.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for (a, &v) in acc.0.iter_mut().zip(c) {
            *a += v * v;
        }
    }
    for (l, &v) in rest.iter().enumerate() {
        acc.0[l] += v * v;
    }
    acc.total()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_sum_every_term_once() {
        for n in [0, 1, 7, 8, 9, 17, 100] {
            let x: Vec<f64> = (0..n).map(|i| i as f64).collect();
            let want: f64 = x.iter().map(|v| v * v).sum();
            assert_eq!(sum_of_squares(&x), want, "n = {n}");
        }
    }
}
