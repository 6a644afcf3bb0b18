//! Splitting one update across threads: a large buffer (and the state buffers that go with
//! it) is cut into contiguous chunks, and each chunk runs the same fused loop on its own
//! thread. Updates are elementwise, so the result is bit for bit the one of the serial loop,
//! whatever the number of threads.
//!
//! With the `rayon` feature (on by default) the chunks run on rayon's global pool, whose
//! threads live as long as the process: a step costs a wake-up, not a thread spawn. Without
//! it, each split spawns a scoped thread for the call.

use crate::Result;
use crate::error::{check_len, check_len_or_empty};

/// Below this many elements per thread, splitting costs more than it saves.
pub(crate) const MIN_CHUNK: usize = 1 << 15;

/// How an update runs: [`Serial`] for [`crate::Optimizer::step`], or split across at most
/// `n` threads for a `usize` n (0 counts as 1).
///
/// The two are types rather than one count so that a serial step does not name the thread
/// pool at all. An update rule is generic over its float type, so every crate that steps an
/// optimizer compiles its rule; with a count, each of them (each notebook cell, among others)
/// also compiled rayon's `join` and its job queue, which were over a third of the items in a
/// cell that only called `run_2d`.
pub(crate) trait Threads: Copy + Send + Sync {
    /// The number of parts a buffer of `len` elements is cut into.
    fn parts(self, len: usize) -> usize;

    /// Runs `a` and `b` and returns when both are done; at the same time if this is parallel.
    fn join(self, a: impl FnOnce() + Send, b: impl FnOnce() + Send);
}

/// One thread: the caller's.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Serial;

impl Threads for Serial {
    fn parts(self, _: usize) -> usize {
        1
    }

    fn join(self, a: impl FnOnce() + Send, b: impl FnOnce() + Send) {
        a();
        b();
    }
}

impl Threads for usize {
    fn parts(self, len: usize) -> usize {
        self.min(len / MIN_CHUNK).max(1)
    }

    fn join(self, a: impl FnOnce() + Send, b: impl FnOnce() + Send) {
        join(a, b);
    }
}

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
    threads: impl Threads,
    params: &mut [T],
    grads: &[T],
    bufs: [&mut [T]; N],
    f: F,
) -> Result<()>
where
    T: Send + Sync,
    F: Fn(&mut [T], &[T], [&mut [T]; N]) + Sync,
{
    for_each_chunk_at(
        threads,
        params,
        grads,
        bufs,
        #[inline(always)]
        |_, p, g, b| f(p, g, b),
    )
}

/// [`for_each_chunk`] for state buffers of any element type `B`, telling `f` where its chunk
/// starts in the whole buffer (for a kernel whose arithmetic depends on the index, such as a
/// counter-based rounding noise).
pub(crate) fn for_each_chunk_at<T, B, const N: usize, F>(
    threads: impl Threads,
    params: &mut [T],
    grads: &[T],
    bufs: [&mut [B]; N],
    f: F,
) -> Result<()>
where
    T: Send + Sync,
    B: Send,
    F: Fn(usize, &mut [T], &[T], [&mut [B]; N]) + Sync,
{
    let len = params.len();
    check_len("gradient", len, grads.len())?;
    for b in &bufs {
        check_len_or_empty("state buffer", len, b.len())?;
    }
    split(threads, threads.parts(len), 0, params, grads, bufs, &f);
    Ok(())
}

/// Halves the buffers (in proportion to the threads each half gets) until each part has one
/// thread, and runs the parts at once. Lengths were checked by the caller.
fn split<T, B, const N: usize, F>(
    how: impl Threads,
    threads: usize,
    offset: usize,
    params: &mut [T],
    grads: &[T],
    mut bufs: [&mut [B]; N],
    f: &F,
) where
    T: Send + Sync,
    B: Send,
    F: Fn(usize, &mut [T], &[T], [&mut [B]; N]) + Sync,
{
    if threads <= 1 {
        with_wide_vectors(
            #[inline(always)]
            || streamed(offset, params, grads, bufs, f),
        );
        return;
    }
    let left = threads / 2;
    let mid = params.len() / threads * left;
    let (p1, p2) = params.split_at_mut(mid);
    let (g1, g2) = grads.split_at(mid);
    let tails: [&mut [B]; N] = std::array::from_fn(|i| {
        let b = std::mem::take(&mut bufs[i]);
        if b.is_empty() {
            b
        } else {
            let (head, tail) = b.split_at_mut(mid);
            bufs[i] = head;
            tail
        }
    });
    how.join(
        || split(how, left, offset, p1, g1, bufs, f),
        || split(how, threads - left, offset + mid, p2, g2, tails, f),
    );
}

/// Elements per call of an update's loop in [`streamed`].
pub(crate) const STREAM_CHUNK: usize = 64;

/// How far ahead of the loop [`streamed`] asks for each buffer's bytes.
const PREFETCH_AHEAD: usize = 2048;

/// Runs `f` over the part `STREAM_CHUNK` elements at a time, and before each call asks for the
/// cache lines `PREFETCH_AHEAD` bytes further on in every buffer.
///
/// An update streams five to eight buffers through one core, more than the hardware's own
/// prefetcher follows at full speed: Adam on 10⁷ `f32` took 9.1 ms per step without these
/// requests and 6.8–7.3 ms with them (a loop like Adam's, alternated in one process). Asking
/// for a few lines before every short call spreads the requests out; asking for 512 elements'
/// worth at once was slower than not asking at all.
#[inline(always)]
fn streamed<T, B, const N: usize, F>(
    offset: usize,
    params: &mut [T],
    grads: &[T],
    mut bufs: [&mut [B]; N],
    f: &F,
) where
    F: Fn(usize, &mut [T], &[T], [&mut [B]; N]),
{
    let len = params.len();
    let mut start = 0;
    while start < len {
        let end = len.min(start + STREAM_CHUNK);
        prefetch_ahead(params.as_ptr().cast(), start, size_of::<T>());
        prefetch_ahead(grads.as_ptr().cast(), start, size_of::<T>());
        for b in &bufs {
            if !b.is_empty() {
                prefetch_ahead(b.as_ptr().cast(), start, size_of::<B>());
            }
        }
        let chunk = bufs.each_mut().map(|b| if b.is_empty() { &mut [][..] } else { &mut b[start..end] });
        f(offset + start, &mut params[start..end], &grads[start..end], chunk);
        start = end;
    }
}

/// Asks for the cache lines `PREFETCH_AHEAD` bytes past elements `start..start + STREAM_CHUNK`
/// of a buffer at `base` with `size`-byte elements.
#[inline(always)]
pub(crate) fn prefetch_ahead(base: *const u8, start: usize, size: usize) {
    prefetch::<true>(base, start * size + PREFETCH_AHEAD, STREAM_CHUNK * size);
}

/// Asks for the cache lines of bytes `from..from + len` past `base`: into the first-level cache
/// if `NEAR`, else into the second.
#[inline(always)]
pub(crate) fn prefetch<const NEAR: bool>(base: *const u8, from: usize, len: usize) {
    #[cfg(target_arch = "x86_64")]
    for byte in (from..from + len).step_by(64) {
        use std::arch::x86_64::{_MM_HINT_T0, _MM_HINT_T1, _mm_prefetch};
        let line = base.wrapping_add(byte).cast();
        // SAFETY: a prefetch is a hint that never faults, whatever the address; the pointer is
        // formed with wrapping arithmetic and never read through.
        unsafe {
            if NEAR {
                _mm_prefetch::<_MM_HINT_T0>(line);
            } else {
                _mm_prefetch::<_MM_HINT_T1>(line);
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (base, from, len);
}

/// Runs `a` and `b` at the same time and returns when both are done.
#[cfg(feature = "rayon")]
pub(crate) fn join(a: impl FnOnce() + Send, b: impl FnOnce() + Send) {
    rayon::join(a, b);
}

/// Runs `a` and `b` at the same time and returns when both are done.
#[cfg(not(feature = "rayon"))]
pub(crate) fn join(a: impl FnOnce() + Send, b: impl FnOnce() + Send) {
    std::thread::scope(|s| {
        s.spawn(b);
        a();
    });
}

/// Runs `f` compiled for the widest vector unit the CPU has (AVX-512 or AVX2 on x86-64),
/// detected at run time, so a binary built for the baseline target still gets 8- or 16-wide
/// loops. Only the width changes: the loops use `+`, `*`, `/` and `sqrt`, which IEEE 754
/// rounds the same in every width, and Rust never fuses a multiply and an add on its own, so
/// the results are the same bits as the scalar loop's. (A loop that asks for `mul_add` gets the
/// FMA instruction, which rounds once, as `mul_add` does everywhere.)
#[inline(always)]
pub(crate) fn with_wide_vectors<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F, checked just above.
            return unsafe { with_avx512(f) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports AVX2 and FMA, checked just above.
            return unsafe { with_avx2(f) };
        }
    }
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
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
