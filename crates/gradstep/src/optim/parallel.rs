//! Splitting one update across threads: a large buffer (and the state buffers that go with
//! it) is cut into contiguous chunks, and each chunk runs the same fused loop on its own
//! thread with `std::thread::scope`. Updates are elementwise, so the result is bit for bit
//! the one of the serial loop, whatever the number of threads.

use crate::Result;
use crate::error::{check_len, check_len_or_empty};

/// Below this many elements per thread, spawning costs more than it saves.
pub(crate) const MIN_CHUNK: usize = 1 << 15;

/// Runs `f` over `params`, `grads` and the `N` state buffers `bufs`, serially or split into
/// at most `threads` chunks (0 counts as 1). A state buffer that is empty (an option that is
/// off, such as AMSGrad's maximum) is passed empty to every chunk.
///
/// # Errors
/// [`crate::Error::LengthMismatch`] if `grads` or a non-empty buffer is not as long as `params`,
/// before anything runs. Each update rule checks its own buffers first, by name (it alone
/// knows which must not be empty); this is the backstop that keeps a missed check from
/// becoming a panic in the split.
pub(crate) fn for_each_chunk<T, const N: usize, F>(
    threads: usize,
    params: &mut [T],
    grads: &[T],
    bufs: [&mut [T]; N],
    f: F,
) -> Result<()>
where
    T: Send + Sync,
    F: Fn(&mut [T], &[T], [&mut [T]; N]) + Sync,
{
    let len = params.len();
    check_len("gradient", len, grads.len())?;
    for b in &bufs {
        check_len_or_empty("state buffer", len, b.len())?;
    }
    let threads = threads.min(len / MIN_CHUNK).max(1);
    if threads == 1 {
        with_wide_vectors(
            #[inline(always)]
            || f(params, grads, bufs),
        );
        return Ok(());
    }
    let chunk = len.div_ceil(threads);
    let f = &f;
    std::thread::scope(|s| {
        let (mut p, mut g, mut bufs) = (params, grads, bufs);
        while !p.is_empty() {
            let n = chunk.min(p.len());
            let (ph, pt) = std::mem::take(&mut p).split_at_mut(n);
            let (gh, gt) = g.split_at(n);
            g = gt;
            p = pt;
            let heads: [&mut [T]; N] = std::array::from_fn(|i| {
                let b = std::mem::take(&mut bufs[i]);
                if b.is_empty() {
                    b
                } else {
                    let (h, t) = b.split_at_mut(n);
                    bufs[i] = t;
                    h
                }
            });
            if p.is_empty() {
                with_wide_vectors(
                    #[inline(always)]
                    || f(ph, gh, heads),
                );
            } else {
                s.spawn(move || {
                    with_wide_vectors(
                        #[inline(always)]
                        || f(ph, gh, heads),
                    )
                });
            }
        }
    });
    Ok(())
}

/// Runs `f` compiled for the widest vector unit the CPU has (AVX-512 or AVX2 on x86-64),
/// detected at run time, so a binary built for the baseline target still gets 8- or 16-wide
/// loops. Only the width changes: the loops use `+`, `*`, `/` and `sqrt`, which IEEE 754
/// rounds the same in every width, and Rust never fuses a multiply and an add on its own, so
/// the results are the same bits as the scalar loop's.
#[inline(always)]
pub(crate) fn with_wide_vectors<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F, checked just above.
            return unsafe { with_avx512(f) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { with_avx2(f) };
        }
    }
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn with_avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn with_avx512<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kinds of operations the updates use, in one loop.
    fn kernel(x: &mut [f32], v: &[f32]) {
        for (x, &v) in x.iter_mut().zip(v) {
            *x = (*x * 0.9 + 0.1 * v * v).sqrt() / 1.7 + 1e-8 - 0.3 * v / (v.abs() + 1e-3);
        }
    }

    #[test]
    fn wide_vectors_give_the_scalar_bits() {
        let v: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.37).sin() * 3.0).collect();
        let mut a: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.11).cos().abs()).collect();
        let mut b = a.clone();
        let mut c = a.clone();
        kernel(&mut a, &v);
        with_wide_vectors(
            #[inline(always)]
            || kernel(&mut b, &v),
        );
        // Element by element, the same operations without any vector unit.
        for (x, &v) in c.iter_mut().zip(&v) {
            *x = std::hint::black_box((*x * 0.9 + 0.1 * v * v).sqrt() / 1.7 + 1e-8)
                - 0.3 * v / (v.abs() + 1e-3);
        }
        assert_eq!(a, b);
        assert_eq!(a, c);
    }

    #[test]
    fn chunks_cover_every_element_once_with_their_own_state() {
        let n = 4 * MIN_CHUNK + 17;
        let mut p: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let g = vec![1.0; n];
        let mut m = vec![0.0; n];
        let mut empty: Vec<f64> = Vec::new();
        for_each_chunk(3, &mut p, &g, [&mut m, &mut empty], |p, g, [m, e]| {
            assert!(e.is_empty());
            assert_eq!(p.len(), m.len());
            for ((x, &g), m) in p.iter_mut().zip(g).zip(m.iter_mut()) {
                *m += *x;
                *x += g;
            }
        })
        .unwrap();
        assert!(p.iter().enumerate().all(|(i, &x)| x == i as f64 + 1.0));
        assert!(m.iter().enumerate().all(|(i, &x)| x == i as f64));
    }

    #[test]
    fn a_buffer_of_another_length_is_an_error_before_anything_runs() {
        let n = 2 * MIN_CHUNK + 1;
        let mut p = vec![0.0_f32; n];
        let g = vec![1.0; n];
        for bad in [1, n - 1, n + 1, 3 * n] {
            let mut m = vec![0.0; bad];
            let r = for_each_chunk(2, &mut p, &g, [&mut m[..]], |_, _, _| panic!("ran"));
            assert_eq!(r, Err(crate::Error::LengthMismatch { what: "state buffer", expected: n, got: bad }));
        }
        let r = for_each_chunk(0, &mut p, &g[1..], [], |_, _, []| panic!("ran"));
        assert!(r.is_err());
    }
}
