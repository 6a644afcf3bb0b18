//! Direct convolution kernels for x86-64 processors with AVX2 and FMA (and AVX-512 where the
//! processor has it).
//!
//! They compute what im2col followed by a matrix product computes, with the same roundings:
//! every output value is the same chain of fused multiply-adds, in the same order, as in
//! `matrixmultiply`'s AVX2 kernel, which the im2col path uses on such processors. That kernel
//! sums a product's inner dimension in blocks of [`KC`] entries: each block's sum starts from
//! zero, adds one product after another with one rounding each (an FMA), and is then added to
//! the output. The kernels here keep those blocks and that order, so a seeded training run gives
//! the numbers the chapters pin, bit for bit (a test compares every path on many shapes), while
//! skipping the im2col copies and the matrix packing, which took more time than the arithmetic
//! in LeNet's small convolutions. A vector lane computes one output value's chain whatever the
//! vector width, so the AVX-512 kernels give the AVX2 kernels' numbers.
//!
//! The layouts: each example's input planes are copied into a zero-padded buffer with rows of
//! `wp = w + 2p` values. Output pixel (oy, ox) then reads, for kernel entry (c, ki, kj), the
//! padded value at `c·plane + (oy + ki)·wp + ox + kj`, so the outputs of one row of the padded
//! width, `t = oy·wp + ox`, read a contiguous run of the buffer for each kernel entry. The
//! forward pass computes on that extended grid of oh × wp positions and drops its last k − 1
//! columns; the input gradient computes at the output pixels only (see [`input_grad`]).

use std::ops::Range;

use ndarray::ArrayViewMut2;

use super::simd::{Avx2, Avx512Ymm, Avx512Zmm, Isa, Simd};
use super::{Conv, Planes, Shape, copy_row, rows_in_parts};

/// `matrixmultiply`'s block of the inner dimension for `f32` (its `S_KC`).
const KC: usize = 256;

/// The forward pass's extended grid is a whole number of these: tiles of three vectors cover
/// 48 positions with AVX-512 and 24 with AVX2.
const CHUNK: usize = 48;

/// Values the padded batch, which the forward pass and the weight gradient share, may hold:
/// 64 MiB. Larger batches of larger images take the im2col path, whose groups keep memory
/// small, with the same results.
const SHARED_MAX: usize = 1 << 24;

/// Whether the kernels handle this convolution: images of more than one pixel in and out (so
/// that both are kept channel-major), kernels of at most [`MAX_K`] columns, and a padded batch
/// within [`SHARED_MAX`].
pub(super) fn fits(conv: &Conv<'_>) -> bool {
    let (s, o) = (conv.s, conv.o);
    s.h * s.w > 1
        && o.h * o.w > 1
        && conv.k <= MAX_K
        && conv.n * Geometry::of(conv).padded_len() <= SHARED_MAX
}

/// Input rows the input gradient's gather sums side by side.
const GATHER_ROWS: usize = 7;

/// The widest kernel the input gradient's gather keeps a mask per column for.
const MAX_K: usize = 8;

/// A convolution's padded geometry.
#[derive(Clone, Copy)]
struct Geometry {
    s: Shape,
    o: Shape,
    k: usize,
    p: usize,
    /// Padded row width.
    wp: usize,
    /// Padded plane size.
    plane: usize,
}

impl Geometry {
    fn of(conv: &Conv<'_>) -> Self {
        let (s, k, p) = (conv.s, conv.k, conv.p);
        let wp = s.w + 2 * p;
        Self { s, o: conv.o, k, p, wp, plane: (s.h + 2 * p) * wp }
    }

    /// Kernel entries (rows of the im2col matrix).
    fn ckk(&self) -> usize {
        self.s.c * self.k * self.k
    }

    /// Positions of the extended output grid, rounded up to whole tiles.
    fn ext(&self) -> usize {
        (self.o.h * self.wp).next_multiple_of(CHUNK)
    }

    /// A padded buffer long enough for every kernel entry's run over the extended grid.
    fn padded_len(&self) -> usize {
        let reach = (self.s.c - 1) * self.plane + (self.k - 1) * (self.wp + 1) + self.ext();
        reach.max(self.s.c * self.plane)
    }

    /// Output pixels, rounded up to a whole vector of 16 lanes.
    fn outputs(&self) -> usize {
        (self.o.h * self.o.w).next_multiple_of(16)
    }

    /// Offset in the padded buffer of kernel entry `q`.
    fn offset(&self, q: usize) -> usize {
        let k = self.k;
        q / (k * k) * self.plane + q / k % k * self.wp + q % k
    }
}

/// Copies every example of the convolution's input into `padded`, zero-padded, one after the
/// other, `padded_len` values apart; the forward pass and the weight gradient both read it.
pub(super) fn pad_batch(conv: &Conv<'_>, threads: usize, padded: &mut Vec<f32>) {
    let g = Geometry::of(conv);
    let (s, p, stride) = (g.s, g.p, g.padded_len());
    let planes = Planes::of(s, conv.n);
    padded.resize(conv.n * stride, 0.0);
    rows_in_parts(threads, &mut padded[..conv.n * stride], stride, &|r, part| {
        for (i, xp) in r.zip(part.chunks_exact_mut(stride)) {
            xp.fill(0.0);
            for c in 0..s.c {
                let img = &conv.x[planes.at(c, i)..][..s.h * s.w];
                for (iy, row) in img.chunks_exact(s.w).enumerate() {
                    copy_row(&mut xp[c * g.plane + (iy + p) * g.wp + p..][..s.w], row);
                }
            }
        }
    });
}

/// Scratch values the forward pass needs per thread.
pub(super) fn forward_scratch(conv: &Conv<'_>) -> usize {
    conv.wm.nrows() * Geometry::of(conv).ext()
}

/// The outputs of the examples `part` with bias `b`, from the batch [`pad_batch`] wrote; `y`
/// is their block of the output matrix (channels × examples·pixels, each row contiguous).
pub(super) fn forward(
    conv: &Conv<'_>,
    isa: Isa,
    padded: &[f32],
    part: Range<usize>,
    b: &[f32],
    y: ArrayViewMut2<'_, f32>,
    scratch: &mut [f32],
) {
    // SAFETY: `isa` was detected on this processor, and both kernel sets have AVX2.
    unsafe { forward_with_avx2(conv, isa, padded, part, b, y, scratch) }
}

/// [`forward`], compiled for AVX2 so that filling the sums with the biases and copying them
/// out moves 8 values an instruction, not SSE's 4 (they took about a quarter of the pass).
#[target_feature(enable = "avx2,fma")]
unsafe fn forward_with_avx2(
    conv: &Conv<'_>,
    isa: Isa,
    padded: &[f32],
    part: Range<usize>,
    b: &[f32],
    mut y: ArrayViewMut2<'_, f32>,
    scratch: &mut [f32],
) {
    let g = Geometry::of(conv);
    let (oc, ohw, stride, ext) = (conv.wm.nrows(), g.o.h * g.o.w, g.padded_len(), g.ext());
    let w = conv.wm.as_slice().expect("the weights are one contiguous block");
    let acc = &mut scratch[..oc * ext];
    for (j, i) in part.enumerate() {
        let xp = &padded[i * stride..][..stride];
        for (row, &bias) in acc.chunks_exact_mut(ext).zip(b) {
            row.fill(bias);
        }
        // SAFETY: `isa` was detected on this processor; `xp` holds every kernel entry's run
        // over the extended grid (`padded_len`), `w` has `oc` rows of `ckk`, and `acc` has `oc`
        // rows of `ext`, a multiple of the chunk.
        unsafe {
            match isa {
                Isa::Avx512 => forward_512(&g, xp.as_ptr(), w.as_ptr(), oc, acc.as_mut_ptr()),
                Isa::Avx2 => forward_256(&g, xp.as_ptr(), w.as_ptr(), oc, acc.as_mut_ptr()),
            }
        }
        for (mut row, sums) in y.rows_mut().into_iter().zip(acc.chunks_exact(ext)) {
            let row = row.as_slice_mut().expect("an output row is contiguous");
            for oy in 0..g.o.h {
                copy_row(&mut row[j * ohw + oy * g.o.w..][..g.o.w], &sums[oy * g.wp..][..g.o.w]);
            }
        }
    }
}

compiled_for!(forward_256, forward_512, forward_example, Avx512Zmm, (g: &Geometry, xp: *const f32, w: *const f32, oc: usize, acc: *mut f32));

/// Adds to `acc` (`oc` rows of the extended grid, holding the biases) one example's sums over
/// the kernel entries, in blocks of [`KC`], a tile of output channels and three vectors of
/// positions at a time. A tile takes as many channels as the registers hold accumulators for:
/// up to 6 with AVX-512's 32 (18 accumulators, 3 inputs, a weight; at 8 the compiler spilled
/// accumulators to the stack), 4 with AVX2's 16. With 4, LeNet's 6 channels took two tiles
/// (4 and 2) that each loaded the input again.
#[inline(always)]
unsafe fn forward_example<S: Simd>(g: &Geometry, xp: *const f32, w: *const f32, oc: usize, acc: *mut f32) {
    let (ckk, ext) = (g.ckk(), g.ext());
    let widest = if S::REGS == 32 { 6 } else { 4 };
    for q in (0..ckk).step_by(KC) {
        let q = q..(q + KC).min(ckk);
        for t in (0..ext).step_by(3 * S::N) {
            let mut o = 0;
            while o < oc {
                let tile = (oc - o).min(widest);
                // SAFETY: the caller's buffers cover every tile.
                unsafe {
                    let (xs, ws, out) = (xp.add(t), w.add(o * ckk), acc.add(o * ext + t));
                    match tile {
                        6 => forward_tile::<S, 6>(g, xs, ws, q.clone(), out),
                        5 => forward_tile::<S, 5>(g, xs, ws, q.clone(), out),
                        4 => forward_tile::<S, 4>(g, xs, ws, q.clone(), out),
                        3 => forward_tile::<S, 3>(g, xs, ws, q.clone(), out),
                        2 => forward_tile::<S, 2>(g, xs, ws, q.clone(), out),
                        _ => forward_tile::<S, 1>(g, xs, ws, q.clone(), out),
                    }
                }
                o += tile;
            }
        }
    }
}

/// Walks the kernel entries `q` of a tile: calls `f(q, offset)` with each entry's offset in
/// the padded buffer, stepped along rather than divided out for every entry.
#[inline(always)]
fn entries(g: &Geometry, q: Range<usize>, mut f: impl FnMut(usize, usize)) {
    let k = g.k;
    let (mut kj, mut ki, mut off) = (q.start % k, q.start / k % k, g.offset(q.start));
    for q in q {
        f(q, off);
        kj += 1;
        off += 1;
        if kj == k {
            (kj, ki, off) = (0, ki + 1, off + g.wp - k);
            if ki == k {
                (ki, off) = (0, off + g.plane - k * g.wp);
            }
        }
    }
}

/// Adds, for `O` output channels (weights `w`, rows of `ckk`) and three vectors of extended
/// positions from `xs`, the sum over kernel entries `q` to `out` (rows `ext` apart).
#[inline(always)]
unsafe fn forward_tile<S: Simd, const O: usize>(
    g: &Geometry,
    xs: *const f32,
    w: *const f32,
    q: Range<usize>,
    out: *mut f32,
) {
    let (ckk, ext) = (g.ckk(), g.ext());
    // SAFETY (every block below): the caller's buffers cover these reads and writes.
    let mut acc = [[unsafe { S::zero() }; 3]; O];
    entries(g, q, |q, off| unsafe {
        let x = xs.add(off);
        let xv = [S::load(x), S::load(x.add(S::N)), S::load(x.add(2 * S::N))];
        for (o, acc) in acc.iter_mut().enumerate() {
            let wv = S::splat(*w.add(o * ckk + q));
            for (a, x) in acc.iter_mut().zip(xv) {
                *a = S::fma(wv, x, *a);
            }
        }
    });
    for (o, acc) in acc.iter().enumerate() {
        for (v, a) in acc.iter().enumerate() {
            unsafe {
                let at = out.add(o * ext + v * S::N);
                S::store(at, S::add(S::load(at), *a));
            }
        }
    }
}

/// Output channels per vector in the weight gradient: 16 for AVX-512 when there are more
/// than 8 (fewer would leave most lanes idle), else 8.
fn width(isa: Isa, oc: usize) -> usize {
    if isa == Isa::Avx512 && oc > 8 { 16 } else { 8 }
}

/// Output channels rounded up to whole vectors of the weight gradient.
fn lanes(isa: Isa, oc: usize) -> usize {
    oc.next_multiple_of(width(isa, oc))
}

/// Writes the output gradient of example `i` pixel-major into `dyt`: per output pixel, a vector
/// of its output channels (zero past `oc`), so that the weight gradient loads channels as
/// vectors. One example at a time keeps it in the cache for the weight gradient: the whole
/// batch transposed (1.6 MB for LeNet's first convolution on a shard of 64 images, most of a
/// core's L2) went out to memory and back, and the copy took 8 % of a training step. When
/// threads share one layer's weight gradient, each transposes every example itself: a copy
/// that stays in its own cache, where sharing one transposed batch had to go through memory.
fn transpose_example(conv: &Conv<'_>, lanes: usize, dy: &[f32], i: usize, dyt: &mut [f32]) {
    let (oc, ohw) = (conv.wm.nrows(), conv.o.h * conv.o.w);
    let out = Planes::of(conv.o, conv.n);
    for c0 in (0..lanes).step_by(8) {
        let rows = std::array::from_fn(|c| (c0 + c < oc).then(|| &dy[out.at(c0 + c, i)..][..ohw]));
        // SAFETY: the kernels run only where AVX2 was detected.
        unsafe { transpose_8(&rows, ohw, &mut dyt[c0..], lanes) };
    }
}

/// `out[p·stride + c] = rows[c][p]` for the first `n` values of 8 rows (0 for a missing row),
/// `out` holding a row of 8 at each of those positions.
#[target_feature(enable = "avx2")]
unsafe fn transpose_8(rows: &[Option<&[f32]>; 8], n: usize, out: &mut [f32], stride: usize) {
    use std::arch::x86_64::{
        _mm256_loadu_ps, _mm256_permute2f128_ps as lanes_of, _mm256_setzero_ps, _mm256_shuffle_ps as shuffle,
        _mm256_storeu_ps, _mm256_unpackhi_ps as high, _mm256_unpacklo_ps as low,
    };
    assert!(rows.iter().flatten().all(|r| r.len() >= n) && out.len() >= n.saturating_sub(1) * stride + 8);
    let blocks = n / 8 * 8;
    for p in (0..blocks).step_by(8) {
        // SAFETY: every row holds 8 values from p, and `out` 8 from (p + j)·stride for j < 8
        // (the assertion above).
        unsafe {
            let r =
                rows.map(|row| row.map_or(_mm256_setzero_ps(), |row| _mm256_loadu_ps(row.as_ptr().add(p))));
            let t = [
                low(r[0], r[1]),
                high(r[0], r[1]),
                low(r[2], r[3]),
                high(r[2], r[3]),
                low(r[4], r[5]),
                high(r[4], r[5]),
                low(r[6], r[7]),
                high(r[6], r[7]),
            ];
            let u = [
                shuffle::<0x44>(t[0], t[2]),
                shuffle::<0xEE>(t[0], t[2]),
                shuffle::<0x44>(t[1], t[3]),
                shuffle::<0xEE>(t[1], t[3]),
                shuffle::<0x44>(t[4], t[6]),
                shuffle::<0xEE>(t[4], t[6]),
                shuffle::<0x44>(t[5], t[7]),
                shuffle::<0xEE>(t[5], t[7]),
            ];
            for j in 0..4 {
                let at = out.as_mut_ptr().add((p + j) * stride);
                _mm256_storeu_ps(at, lanes_of::<0x20>(u[j], u[j + 4]));
                _mm256_storeu_ps(at.add(4 * stride), lanes_of::<0x31>(u[j], u[j + 4]));
            }
        }
    }
    for p in blocks..n {
        for (c, row) in rows.iter().enumerate() {
            out[p * stride + c] = row.map_or(0.0, |row| row[p]);
        }
    }
}

/// Scratch values the weight gradient needs per thread.
pub(super) fn weight_grad_scratch(conv: &Conv<'_>, isa: Isa) -> usize {
    let g = Geometry::of(conv);
    (g.ckk() + g.o.h * g.o.w) * lanes(isa, conv.wm.nrows())
}

/// Adds the gradient of the weight columns `rows` (kernel entries) to `gw` (out channels ×
/// `rows`), summing over the batch example after example, from the padded batch and the
/// output gradient `dy`.
#[allow(clippy::too_many_arguments)]
pub(super) fn weight_grad(
    conv: &Conv<'_>,
    isa: Isa,
    padded: &[f32],
    dy: &[f32],
    rows: Range<usize>,
    mut gw: ArrayViewMut2<'_, f32>,
    scratch: &mut [f32],
) {
    let g = Geometry::of(conv);
    let (oc, ohw, stride) = (conv.wm.nrows(), g.o.h * g.o.w, g.padded_len());
    let lanes = lanes(isa, oc);
    // The gradient's columns, transposed: a vector of output channels per kernel entry, so
    // that a tile adds its sums with vector adds (the same roundings as one add per entry).
    let (gwt, dyt) = scratch.split_at_mut(rows.len() * lanes);
    let dyt = &mut dyt[..ohw * lanes];
    gwt.fill(0.0);
    for ((o, q), v) in gw.indexed_iter() {
        gwt[q * lanes + o] = *v;
    }
    for i in 0..conv.n {
        transpose_example(conv, lanes, dy, i, dyt);
        let (xp, dyt) = (padded[i * stride..][..stride].as_ptr(), dyt.as_ptr());
        let gwt = gwt.as_mut_ptr();
        // SAFETY: `isa` was detected on this processor; every offset plus a pixel's base
        // position lies inside the example's padded planes, `dyt` has a row of `lanes` per
        // pixel and `gwt` one per kernel entry in `rows`.
        unsafe {
            match (isa, lanes % 16) {
                (Isa::Avx512, 0) => weight_512(&g, xp, dyt, lanes, rows.clone(), gwt),
                (Isa::Avx512, _) => weight_512_narrow(&g, xp, dyt, lanes, rows.clone(), gwt),
                (Isa::Avx2, _) => weight_256(&g, xp, dyt, lanes, rows.clone(), gwt),
            }
        }
    }
    for ((o, q), v) in gw.indexed_iter_mut() {
        *v = gwt[q * lanes + o];
    }
}

compiled_for!(weight_256, weight_512, weight_example, Avx512Zmm, (g: &Geometry, xp: *const f32, dyt: *const f32, lanes: usize, rows: Range<usize>, gwt: *mut f32));

/// `weight_512` for channels that fill vectors of 8, not 16.
#[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
unsafe fn weight_512_narrow(
    g: &Geometry,
    xp: *const f32,
    dyt: *const f32,
    lanes: usize,
    rows: Range<usize>,
    gwt: *mut f32,
) {
    unsafe { weight_example::<Avx512Ymm>(g, xp, dyt, lanes, rows, gwt) }
}

/// Adds one example's weight gradient to `gwt` (a row of `lanes` per kernel entry in `rows`),
/// block after block of [`KC`] pixels, a tile of kernel entries and output channels at a time.
/// Whole kernel rows of 3 or 5 entries read consecutive values from fixed offsets; other
/// shapes look each entry's offset up.
#[inline(always)]
unsafe fn weight_example<S: Simd>(
    g: &Geometry,
    xp: *const f32,
    dyt: *const f32,
    lanes: usize,
    rows: Range<usize>,
    gwt: *mut f32,
) {
    let (k, ohw) = (g.k, g.o.h * g.o.w);
    let by_rows = (k == 3 || k == 5) && rows.start.is_multiple_of(k) && rows.end.is_multiple_of(k);
    let offset = |q: usize| if q < rows.end { g.offset(q) } else { 0 };
    // Tiles take as many accumulators as the registers hold: with 16 registers, two vectors of
    // channels at a time when there are that many left.
    let wide = S::REGS == 32;
    macro_rules! tiles {
        ($kernel:ident, $step:expr, ($($c:literal),*), $d:expr, $at:expr, $pixels:expr) => {{
            for q in rows.clone().step_by($step) {
                let starts = std::array::from_fn(|t| offset(q + if by_rows { k * t } else { t }));
                let valid = (rows.end - q).min($step);
                // SAFETY: the caller's buffers cover every tile.
                unsafe { $kernel::<S, $($c),*>(g, xp, &starts, $d, lanes, $pixels.clone(), $at(q), valid) };
            }
        }};
    }
    for block in (0..ohw).step_by(KC) {
        let pixels = block..(block + KC).min(ohw);
        let mut v = 0;
        while v < lanes {
            let d = unsafe { dyt.add(v) };
            let at = |q: usize| unsafe { gwt.add((q - rows.start) * lanes + v) };
            let pair = !wide && lanes - v >= 2 * S::N;
            match (by_rows, k, wide, pair) {
                (true, 5, true, _) => tiles!(weight_rows, 25, (5, 5, 1), d, at, pixels),
                (true, _, true, _) => tiles!(weight_rows, 27, (3, 9, 1), d, at, pixels),
                (true, 5, false, true) => tiles!(weight_rows, 5, (5, 1, 2), d, at, pixels),
                (true, _, false, true) => tiles!(weight_rows, 6, (3, 2, 2), d, at, pixels),
                (true, 5, false, false) => tiles!(weight_rows, 10, (5, 2, 1), d, at, pixels),
                (true, _, false, false) => tiles!(weight_rows, 12, (3, 4, 1), d, at, pixels),
                (false, _, true, _) => tiles!(weight_tile, 25, (25, 1), d, at, pixels),
                (false, _, false, true) => tiles!(weight_tile, 6, (6, 2), d, at, pixels),
                (false, _, false, false) => tiles!(weight_tile, 13, (13, 1), d, at, pixels),
            }
            v += if pair { 2 * S::N } else { S::N };
        }
    }
}

/// Adds to `sums` (the first `valid` of `R` kernel rows of `K` entries, rows `lanes` apart)
/// the sums over `pixels` of dy (`V` vectors of output channels from `dyt`) times the input
/// value each entry reads there; row r's entries read from `starts[r]` on.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn weight_rows<S: Simd, const K: usize, const R: usize, const V: usize>(
    g: &Geometry,
    xp: *const f32,
    starts: &[usize; R],
    dyt: *const f32,
    lanes: usize,
    pixels: Range<usize>,
    sums: *mut f32,
    valid: usize,
) {
    // SAFETY (every block below): the caller's buffers cover these reads and writes.
    let mut acc = [[[unsafe { S::zero() }; V]; K]; R];
    let ow = g.o.w;
    let (mut oy, mut ox) = (pixels.start / ow, pixels.start % ow);
    for pix in pixels {
        unsafe {
            let base = xp.add(oy * g.wp + ox);
            let d: [S::V; V] = std::array::from_fn(|v| S::load(dyt.add(pix * lanes + v * S::N)));
            for (acc, start) in acc.iter_mut().zip(starts) {
                let row = base.add(*start);
                for (kj, acc) in acc.iter_mut().enumerate() {
                    let xv = S::splat(*row.add(kj));
                    for (a, d) in acc.iter_mut().zip(d) {
                        *a = S::fma(d, xv, *a);
                    }
                }
            }
        }
        ox += 1;
        if ox == ow {
            (ox, oy) = (0, oy + 1);
        }
    }
    // The block's sums go onto the gradient, one add per entry.
    for (r, acc) in acc.iter().enumerate().take(valid.div_ceil(K)) {
        for (kj, acc) in acc.iter().enumerate() {
            for (v, a) in acc.iter().enumerate() {
                unsafe {
                    let at = sums.add((r * K + kj) * lanes + v * S::N);
                    S::store(at, S::add(S::load(at), *a));
                }
            }
        }
    }
}

/// [`weight_rows`] for any kernel shape: `Q` entries, each at its own offset `offs[t]`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn weight_tile<S: Simd, const Q: usize, const V: usize>(
    g: &Geometry,
    xp: *const f32,
    offs: &[usize; Q],
    dyt: *const f32,
    lanes: usize,
    pixels: Range<usize>,
    sums: *mut f32,
    valid: usize,
) {
    // SAFETY (every block below): the caller's buffers cover these reads and writes.
    let mut acc = [[unsafe { S::zero() }; V]; Q];
    let ow = g.o.w;
    let (mut oy, mut ox) = (pixels.start / ow, pixels.start % ow);
    for pix in pixels {
        unsafe {
            let base = xp.add(oy * g.wp + ox);
            let d: [S::V; V] = std::array::from_fn(|v| S::load(dyt.add(pix * lanes + v * S::N)));
            for (acc, off) in acc.iter_mut().zip(offs) {
                let xv = S::splat(*base.add(*off));
                for (a, d) in acc.iter_mut().zip(d) {
                    *a = S::fma(d, xv, *a);
                }
            }
        }
        ox += 1;
        if ox == ow {
            (ox, oy) = (0, oy + 1);
        }
    }
    for (t, acc) in acc.iter().enumerate().take(valid) {
        for (v, a) in acc.iter().enumerate() {
            unsafe {
                let at = sums.add(t * lanes + v * S::N);
                S::store(at, S::add(S::load(at), *a));
            }
        }
    }
}

/// Kernel entries per tile of the input gradient's products.
const INPUT_TILE: usize = 4;

/// The layout of the input gradient's columns: a row per kernel entry (rows past `ckk` take
/// a tile's spare entries), each the entry's products at the output pixels (`t = oy·ow + ox`,
/// rounded up to whole vectors), with a margin of `front` values before them and room after
/// them for a vector that starts at any pixel the gather reads.
#[derive(Clone)]
struct Columns {
    rows: usize,
    front: usize,
    len: usize,
}

impl Columns {
    fn of(g: &Geometry) -> Self {
        // k − 1 zero rows of the output before the pixels (and after them), so that the gather
        // reads zeros where an output row does not exist, and a few values for the columns.
        let rows_out = (g.k - 1) * g.o.w;
        let front = (rows_out + g.k + g.p).next_multiple_of(16);
        // The gather's last group of rows may run GATHER_ROWS − 1 rows past the input.
        let after = (g.k - 1 + GATHER_ROWS + g.p) * g.o.w + g.k + g.s.w;
        let len = front + g.outputs().max(g.o.h * g.o.w + after) + 16;
        Self { rows: g.ckk().next_multiple_of(INPUT_TILE), front, len }
    }
}

/// Scratch values the input gradient needs per thread.
pub(super) fn input_grad_scratch(conv: &Conv<'_>) -> usize {
    let g = Geometry::of(conv);
    let cols = Columns::of(&g);
    conv.wm.nrows() * g.outputs() + cols.rows * cols.len
}

/// The input gradient of the examples `part`; `dx` is their block of the input (channels ×
/// examples·pixels, each row contiguous). As with im2col: first the columns Wᵀ·dY, a row per
/// kernel entry (their products at the output pixels, a few entries at a time), then each
/// input value gathers its columns' entries in the order of the kernel entries, as col2im adds
/// them.
///
/// The products cover the output pixels only, not the forward pass's extended grid (LeNet's
/// second convolution: seven vectors of 16 pixels per entry instead of nine), and the gather
/// writes straight into `dx`. With the masked loads this takes in the gather, the pass took
/// 0.89–0.92 of the extended grid's time (LeNet's second convolution, 64 images, both versions
/// timed alternately in one process).
pub(super) fn input_grad(
    conv: &Conv<'_>,
    isa: Isa,
    dy: &[f32],
    part: Range<usize>,
    dx: ArrayViewMut2<'_, f32>,
    scratch: &mut [f32],
) {
    // SAFETY: `isa` was detected on this processor, and both kernel sets have AVX2.
    unsafe { input_grad_with_avx2(conv, isa, dy, part, dx, scratch) }
}

/// [`input_grad`], compiled for AVX2 for its copies.
#[target_feature(enable = "avx2,fma")]
unsafe fn input_grad_with_avx2(
    conv: &Conv<'_>,
    isa: Isa,
    dy: &[f32],
    part: Range<usize>,
    mut dx: ArrayViewMut2<'_, f32>,
    scratch: &mut [f32],
) {
    let g = Geometry::of(conv);
    let (oc, hw, ohw, outs) = (conv.wm.nrows(), g.s.h * g.s.w, g.o.h * g.o.w, g.outputs());
    let w = conv.wm.as_slice().expect("the weights are one contiguous block");
    let layout = Columns::of(&g);
    let (dyc, cols) = scratch.split_at_mut(oc * outs);
    let cols = &mut cols[..layout.rows * layout.len];
    // The margins, and dy's values past the last pixel, stay zero.
    cols.fill(0.0);
    dyc.fill(0.0);
    let out = Planes::of(g.o, conv.n);
    assert!(dx.ncols() >= part.len() * hw && dx.nrows() == g.s.c);
    let row_stride = dx.strides()[0];
    for (j, i) in part.enumerate() {
        for (o, row) in dyc.chunks_exact_mut(outs).enumerate() {
            copy_row(&mut row[..ohw], &dy[out.at(o, i)..][..ohw]);
        }
        // SAFETY: `dx` has a row per channel with room for example j's pixels.
        let dx0 = unsafe { dx.as_mut_ptr().add(j * hw) };
        let (w, dyc, cols) = (w.as_ptr(), dyc.as_ptr(), cols.as_mut_ptr());
        // SAFETY: `isa` was detected on this processor; `dyc` has `oc` rows of `outputs`, `w`
        // has `oc` rows of `ckk`, `cols` is laid out as `layout` says, and `dx0` starts
        // example j's pixels in channel 0's row, the other channels `row_stride` apart.
        unsafe {
            match isa {
                Isa::Avx512 => input_512(&g, w, oc, dyc, &layout, cols, dx0, row_stride),
                Isa::Avx2 => input_256(&g, w, oc, dyc, &layout, cols, dx0, row_stride),
            }
        }
    }
}

compiled_for!(input_256, input_512, input_example, Avx512Zmm, (g: &Geometry, w: *const f32, oc: usize, dyc: *const f32, layout: &Columns, cols: *mut f32, dx: *mut f32, row_stride: isize));

/// One example's input gradient, written to `dx` (channel c's pixels at `dx + c·row_stride`):
/// its columns, `INPUT_TILE` kernel entries and up to three vectors of pixels at a time, then
/// each channel's gather.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn input_example<S: Simd>(
    g: &Geometry,
    w: *const f32,
    oc: usize,
    dyc: *const f32,
    layout: &Columns,
    cols: *mut f32,
    dx: *mut f32,
    row_stride: isize,
) {
    let (ckk, outs) = (g.ckk(), g.outputs());
    for q in (0..layout.rows).step_by(INPUT_TILE) {
        // Spare entries past the last repeat its weights; their rows are never read.
        let ws: [usize; INPUT_TILE] = std::array::from_fn(|t| (q + t).min(ckk - 1));
        for t in (0..outs).step_by(3 * S::N) {
            let vectors = ((outs - t) / S::N).min(3);
            // SAFETY (this block and the next): the caller's buffers cover every tile.
            unsafe {
                let (dy, to) = (dyc.add(t), cols.add(q * layout.len + layout.front + t));
                match vectors {
                    3 => columns::<S, 3>(w, &ws, ckk, oc, dy, outs, to, layout.len),
                    2 => columns::<S, 2>(w, &ws, ckk, oc, dy, outs, to, layout.len),
                    _ => columns::<S, 1>(w, &ws, ckk, oc, dy, outs, to, layout.len),
                }
            }
        }
    }
    let kk = g.k * g.k;
    for c in 0..g.s.c {
        unsafe {
            let first = cols.add(c * kk * layout.len + layout.front);
            gather::<S>(g, first, layout.len, dx.offset(c as isize * row_stride));
        }
    }
}

/// Writes the columns of `INPUT_TILE` kernel entries (weight columns `ws`) at `V` vectors of
/// output pixels: each the sum over output channels of weight times dy (rows `outs` apart
/// from `dy`), in blocks of [`KC`] channels, to `cols` (rows `len` apart).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn columns<S: Simd, const V: usize>(
    w: *const f32,
    ws: &[usize; INPUT_TILE],
    ckk: usize,
    oc: usize,
    dy: *const f32,
    outs: usize,
    cols: *mut f32,
    len: usize,
) {
    // SAFETY (every block below): the caller's buffers cover these reads and writes.
    let mut total = [[unsafe { S::zero() }; V]; INPUT_TILE];
    for block in (0..oc).step_by(KC) {
        let mut acc = [[unsafe { S::zero() }; V]; INPUT_TILE];
        for o in block..(block + KC).min(oc) {
            unsafe {
                let d = dy.add(o * outs);
                let dv: [S::V; V] = std::array::from_fn(|v| S::load(d.add(v * S::N)));
                for (acc, q) in acc.iter_mut().zip(ws) {
                    let wv = S::splat(*w.add(o * ckk + q));
                    for (a, d) in acc.iter_mut().zip(dv) {
                        *a = S::fma(wv, d, *a);
                    }
                }
            }
        }
        // The product's first block is its value; later ones are added to it.
        for (total, acc) in total.iter_mut().zip(acc) {
            for (t, a) in total.iter_mut().zip(acc) {
                *t = if block == 0 { a } else { unsafe { S::add(*t, a) } };
            }
        }
    }
    for (r, total) in total.iter().enumerate() {
        for (v, t) in total.iter().enumerate() {
            unsafe { S::store(cols.add(r * len + v * S::N), *t) };
        }
    }
}

/// One channel's input gradient, [`GATHER_ROWS`] rows of `S::N` pixels at a time (so that
/// their chains of adds overlap): each value the sum, from zero and in the order of the kernel
/// entries, of the column entries it received; `first` is the channel's first column row,
/// after its margin. Where an entry's output pixel does not exist, col2im adds a zero: a
/// missing output row is read from the zero margins, a missing column's lane is masked off and
/// so left out. No column entry is −0 (each is a sum of FMAs from +0), so leaving zeros out
/// keeps every bit.
#[inline(always)]
unsafe fn gather<S: Simd>(g: &Geometry, first: *const f32, len: usize, dx: *mut f32) {
    const ROWS: usize = GATHER_ROWS;
    let (k, p, w, h, ow) = (g.k, g.p as isize, g.s.w, g.s.h, g.o.w as isize);
    for x0 in (0..w).step_by(S::N) {
        let x = x0 as isize;
        // Lanes whose pixel x0 + l reaches an output column x0 + l + p − kj inside the output.
        let masks: [S::M; MAX_K] = std::array::from_fn(|kj| {
            let lo = (kj as isize - p - x).clamp(0, S::N as isize) as usize;
            let hi = (ow + kj as isize - p - x).min((w - x0) as isize).clamp(0, S::N as isize) as usize;
            // SAFETY: the caller has the vector instructions of `S`.
            unsafe { S::lanes(lo.min(hi), hi) }
        });
        let store = unsafe { S::lanes(0, (w - x0).min(S::N)) };
        // Rows of the input a few at a time, so that their sums' chains of adds overlap.
        for y0 in (0..h).step_by(ROWS) {
            let rows = (h - y0).min(ROWS);
            // SAFETY (every block below): every read is inside a row of `len` (the margins and
            // `Columns::of` bound them; a missing output row reads the zero margin), and the
            // store writes this row's pixels only.
            let mut acc = [unsafe { S::zero() }; ROWS];
            for ki in 0..k {
                for (kj, &mask) in masks.iter().enumerate().take(k) {
                    unsafe {
                        let row = first.add((ki * k + kj) * len);
                        let at = row.offset((y0 as isize + p - ki as isize) * ow + x + p - kj as isize);
                        for (r, acc) in acc.iter_mut().enumerate() {
                            *acc = S::add(*acc, S::load_masked(at.offset(r as isize * ow), mask));
                        }
                    }
                }
            }
            for (r, acc) in acc.iter().enumerate().take(rows) {
                unsafe { S::store_masked(dx.add((y0 + r) * w + x0), store, *acc) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eight_rows_transposed_in_registers_match_a_plain_transposition() {
        if Isa::detect().is_none() {
            return;
        }
        // Whole blocks of 8 and a tail, missing rows (channels past the last), and an output
        // row of 16 of which the call fills 8.
        for (n, present, stride) in [(1, 8, 8), (7, 3, 8), (16, 8, 8), (100, 6, 16), (27, 0, 16)] {
            let data: Vec<Vec<f32>> =
                (0..8).map(|c| (0..n).map(|p| (100 * c + p) as f32).collect()).collect();
            let rows: [Option<&[f32]>; 8] = std::array::from_fn(|c| (c < present).then(|| &data[c][..]));
            let mut out = vec![f32::NAN; n * stride];
            // SAFETY: AVX2 was detected above.
            unsafe { transpose_8(&rows, n, &mut out, stride) };
            for p in 0..n {
                for c in 0..stride {
                    let expected = if c >= 8 {
                        f32::NAN
                    } else if c < present {
                        data[c][p]
                    } else {
                        0.0
                    };
                    let got = out[p * stride + c];
                    assert!(
                        got == expected || (got.is_nan() && expected.is_nan()),
                        "n {n}, pixel {p}, row {c}"
                    );
                }
            }
        }
    }
}
