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
//! forward pass and the input gradient compute on that extended grid of oh × wp positions and
//! drop (or zero) its last k − 1 columns.

use std::arch::x86_64::{
    __m256, __m512, _mm256_add_ps, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_set1_ps, _mm256_setzero_ps,
    _mm256_storeu_ps, _mm512_add_ps, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_set1_ps, _mm512_setzero_ps,
    _mm512_storeu_ps,
};
use std::ops::Range;

use ndarray::ArrayViewMut2;

use super::{Conv, Planes, Shape, copy_row, rows_in_parts};

/// `matrixmultiply`'s block of the inner dimension for `f32` (its `S_KC`).
const KC: usize = 256;

/// Extended-grid positions per tile of the forward pass and the input gradient.
const CHUNK: usize = 48;

/// The vector instructions the kernels run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Isa {
    /// 16 lanes, 32 registers.
    Avx512,
    /// 8 lanes, 16 registers, with FMA.
    Avx2,
}

impl Isa {
    /// The widest this processor has, or `None` without AVX2 and FMA (then `matrixmultiply`
    /// runs another kernel, with other roundings, and convolutions take the im2col path).
    pub(super) fn detect() -> Option<Isa> {
        use std::arch::is_x86_feature_detected as has;
        if !(has!("avx2") && has!("fma")) {
            return None;
        }
        Some(if has!("avx512f") { Isa::Avx512 } else { Isa::Avx2 })
    }

    /// Every kernel set this processor runs (for tests).
    #[cfg(test)]
    pub(super) fn all() -> Vec<Isa> {
        match Isa::detect() {
            Some(Isa::Avx512) => vec![Isa::Avx512, Isa::Avx2],
            Some(Isa::Avx2) => vec![Isa::Avx2],
            None => vec![],
        }
    }

    /// Output channels per vector in the weight gradient: 16 for AVX-512 when there are more
    /// than 8 (fewer would leave most lanes idle), else 8.
    fn width(self, oc: usize) -> usize {
        if self == Isa::Avx512 && oc > 8 { 16 } else { 8 }
    }
}

/// Whether the kernels handle this convolution: images of more than one pixel in and out, so
/// that both are kept channel-major.
pub(super) fn fits(s: Shape, o: Shape) -> bool {
    s.h * s.w > 1 && o.h * o.w > 1
}

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
    mut y: ArrayViewMut2<'_, f32>,
    scratch: &mut [f32],
) {
    let g = Geometry::of(conv);
    let (oc, ckk, ohw, stride, ext) = (conv.wm.nrows(), g.ckk(), g.o.h * g.o.w, g.padded_len(), g.ext());
    let w = conv.wm.as_slice().expect("the weights are one contiguous block");
    let acc = &mut scratch[..oc * ext];
    for (j, i) in part.enumerate() {
        let xp = &padded[i * stride..][..stride];
        for (row, &bias) in acc.chunks_exact_mut(ext).zip(b) {
            row.fill(bias);
        }
        for q in (0..ckk).step_by(KC) {
            let q = q..(q + KC).min(ckk);
            for t in (0..ext).step_by(CHUNK) {
                let mut o = 0;
                while o < oc {
                    let tile = (oc - o).min(4);
                    let (xs, ws, out) =
                        (xp[t..].as_ptr(), w[o * ckk..].as_ptr(), acc[o * ext + t..].as_mut_ptr());
                    // SAFETY: `isa` was detected on this processor; `xp` holds every kernel
                    // entry's run from `t` on (`padded_len`), `w` has `oc` rows of `ckk`, and
                    // `acc` has `oc` rows of `ext`, a multiple of the chunk.
                    unsafe {
                        match (isa, tile) {
                            (Isa::Avx512, 4) => forward_tile_512::<4>(&g, xs, ws, q.clone(), out, ext),
                            (Isa::Avx512, 3) => forward_tile_512::<3>(&g, xs, ws, q.clone(), out, ext),
                            (Isa::Avx512, 2) => forward_tile_512::<2>(&g, xs, ws, q.clone(), out, ext),
                            (Isa::Avx512, _) => forward_tile_512::<1>(&g, xs, ws, q.clone(), out, ext),
                            (Isa::Avx2, 4) => forward_tile::<4>(&g, xs, ws, q.clone(), out, ext),
                            (Isa::Avx2, 3) => forward_tile::<3>(&g, xs, ws, q.clone(), out, ext),
                            (Isa::Avx2, 2) => forward_tile::<2>(&g, xs, ws, q.clone(), out, ext),
                            (Isa::Avx2, _) => forward_tile::<1>(&g, xs, ws, q.clone(), out, ext),
                        }
                    }
                    o += tile;
                }
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

/// Adds, for `O` output channels (weights `w`, rows of `ckk`) and the 48 extended positions
/// from `xs`, the sum over kernel entries `q` to `out` (rows `ext` apart): two halves of 24.
#[target_feature(enable = "avx2,fma")]
unsafe fn forward_tile<const O: usize>(
    g: &Geometry,
    xs: *const f32,
    w: *const f32,
    q: Range<usize>,
    out: *mut f32,
    ext: usize,
) {
    let ckk = g.ckk();
    for half in [0, 24] {
        let mut acc = [[_mm256_setzero_ps(); 3]; O];
        entries(g, q.clone(), |q, off| {
            // SAFETY (this block and the next): the caller's buffers cover these reads and
            // writes.
            unsafe {
                let x = xs.add(off + half);
                let xv = [_mm256_loadu_ps(x), _mm256_loadu_ps(x.add(8)), _mm256_loadu_ps(x.add(16))];
                for (o, acc) in acc.iter_mut().enumerate() {
                    let wv = _mm256_set1_ps(*w.add(o * ckk + q));
                    for (a, x) in acc.iter_mut().zip(xv) {
                        *a = _mm256_fmadd_ps(wv, x, *a);
                    }
                }
            }
        });
        for (o, acc) in acc.iter().enumerate() {
            for (v, a) in acc.iter().enumerate() {
                unsafe {
                    let at = out.add(o * ext + half + 8 * v);
                    _mm256_storeu_ps(at, _mm256_add_ps(_mm256_loadu_ps(at), *a));
                }
            }
        }
    }
}

/// [`forward_tile`] with vectors of 16.
#[target_feature(enable = "avx512f")]
unsafe fn forward_tile_512<const O: usize>(
    g: &Geometry,
    xs: *const f32,
    w: *const f32,
    q: Range<usize>,
    out: *mut f32,
    ext: usize,
) {
    let ckk = g.ckk();
    let mut acc = [[_mm512_setzero_ps(); 3]; O];
    entries(g, q, |q, off| {
        // SAFETY (this block and the next): the caller's buffers cover these reads and writes.
        unsafe {
            let x = xs.add(off);
            let xv = [_mm512_loadu_ps(x), _mm512_loadu_ps(x.add(16)), _mm512_loadu_ps(x.add(32))];
            for (o, acc) in acc.iter_mut().enumerate() {
                let wv = _mm512_set1_ps(*w.add(o * ckk + q));
                for (a, x) in acc.iter_mut().zip(xv) {
                    *a = _mm512_fmadd_ps(wv, x, *a);
                }
            }
        }
    });
    for (o, acc) in acc.iter().enumerate() {
        for (v, a) in acc.iter().enumerate() {
            unsafe {
                let at = out.add(o * ext + 16 * v);
                _mm512_storeu_ps(at, _mm512_add_ps(_mm512_loadu_ps(at), *a));
            }
        }
    }
}

/// Output channels rounded up to whole vectors of the weight gradient.
fn lanes(isa: Isa, oc: usize) -> usize {
    oc.next_multiple_of(isa.width(oc))
}

/// Writes dy of the whole batch pixel-major into `dyt`: per example, per output pixel, a vector
/// of its output channels (zero past `oc`), so that the weight gradient loads channels as
/// vectors.
pub(super) fn transpose_dy(conv: &Conv<'_>, isa: Isa, dy: &[f32], threads: usize, dyt: &mut Vec<f32>) {
    let (oc, o) = (conv.wm.nrows(), conv.o);
    let (ohw, lanes) = (o.h * o.w, lanes(isa, oc));
    let out = Planes::of(o, conv.n);
    dyt.resize(conv.n * ohw * lanes, 0.0);
    rows_in_parts(threads, &mut dyt[..conv.n * ohw * lanes], ohw * lanes, &|r, part| {
        for (i, example) in r.zip(part.chunks_exact_mut(ohw * lanes)) {
            for (pix, v) in example.chunks_exact_mut(lanes).enumerate() {
                for (c, v) in v.iter_mut().enumerate() {
                    *v = if c < oc { dy[out.at(c, i) + pix] } else { 0.0 };
                }
            }
        }
    });
}

/// Scratch values the weight gradient needs per thread.
pub(super) fn weight_grad_scratch(conv: &Conv<'_>, isa: Isa) -> usize {
    Geometry::of(conv).ckk() * lanes(isa, conv.wm.nrows())
}

/// Adds the gradient of the weight columns `rows` (kernel entries) to `gw` (out channels ×
/// `rows`), summing over the batch example after example, from the padded batch and the
/// transposed dy.
#[allow(clippy::too_many_arguments)]
pub(super) fn weight_grad(
    conv: &Conv<'_>,
    isa: Isa,
    padded: &[f32],
    dyt: &[f32],
    rows: Range<usize>,
    mut gw: ArrayViewMut2<'_, f32>,
    scratch: &mut [f32],
) {
    let g = Geometry::of(conv);
    let (oc, ohw, stride) = (conv.wm.nrows(), g.o.h * g.o.w, g.padded_len());
    let (lanes, width) = (lanes(isa, oc), isa.width(oc));
    // The gradient's columns, transposed: a vector of output channels per kernel entry, so
    // that a tile adds its sums with vector adds (the same roundings as one add per entry).
    let gwt = &mut scratch[..rows.len() * lanes];
    gwt.fill(0.0);
    for ((o, q), v) in gw.indexed_iter() {
        gwt[q * lanes + o] = *v;
    }
    let offsets = |q: usize| if q < rows.end { g.offset(q) } else { 0 };
    for i in 0..conv.n {
        let xp = padded[i * stride..][..stride].as_ptr();
        let dyt = &dyt[i * ohw * lanes..][..ohw * lanes];
        for block in (0..ohw).step_by(KC) {
            let pixels = block..(block + KC).min(ohw);
            let mut v = 0;
            while v < lanes {
                let mut at = |q: usize| gwt[(q - rows.start) * lanes + v..].as_mut_ptr();
                let d = dyt[v..].as_ptr();
                // SAFETY: `isa` was detected on this processor; every offset plus a pixel's
                // base position lies inside the example's padded planes, `dyt` has a row of
                // `lanes` per pixel and `gwt` one per kernel entry in `rows`.
                unsafe {
                    if width == 16 {
                        for q in rows.clone().step_by(25) {
                            let offs = std::array::from_fn(|t| offsets(q + t));
                            let valid = (rows.end - q).min(25);
                            weight_tile_512::<25>(&g, xp, &offs, d, lanes, pixels.clone(), at(q), valid);
                        }
                        v += 16;
                    } else if lanes - v >= 16 {
                        for q in rows.clone().step_by(6) {
                            let offs = std::array::from_fn(|t| offsets(q + t));
                            let valid = (rows.end - q).min(6);
                            weight_tile::<6, 2>(&g, xp, &offs, d, lanes, pixels.clone(), at(q), valid);
                        }
                        v += 16;
                    } else {
                        for q in rows.clone().step_by(13) {
                            let offs = std::array::from_fn(|t| offsets(q + t));
                            let valid = (rows.end - q).min(13);
                            weight_tile::<13, 1>(&g, xp, &offs, d, lanes, pixels.clone(), at(q), valid);
                        }
                        v += 8;
                    }
                }
            }
        }
    }
    for ((o, q), v) in gw.indexed_iter_mut() {
        *v = gwt[q * lanes + o];
    }
}

/// Adds to `sums` (the first `valid` of `Q` kernel entries, rows `lanes` apart) the sums over
/// `pixels` of dy (`V` vectors of output channels from `dyt`) times the input value each entry
/// reads there.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2,fma")]
unsafe fn weight_tile<const Q: usize, const V: usize>(
    g: &Geometry,
    xp: *const f32,
    offs: &[usize; Q],
    dyt: *const f32,
    lanes: usize,
    pixels: Range<usize>,
    sums: *mut f32,
    valid: usize,
) {
    let mut acc = [[_mm256_setzero_ps(); V]; Q];
    let ow = g.o.w;
    let (mut oy, mut ox) = (pixels.start / ow, pixels.start % ow);
    for pix in pixels {
        // SAFETY: the caller's buffers cover these reads.
        unsafe {
            let base = xp.add(oy * g.wp + ox);
            let d: [__m256; V] = std::array::from_fn(|v| _mm256_loadu_ps(dyt.add(pix * lanes + 8 * v)));
            for (acc, off) in acc.iter_mut().zip(offs) {
                let xv = _mm256_set1_ps(*base.add(*off));
                for (a, d) in acc.iter_mut().zip(d) {
                    *a = _mm256_fmadd_ps(d, xv, *a);
                }
            }
        }
        ox += 1;
        if ox == ow {
            (ox, oy) = (0, oy + 1);
        }
    }
    // The block's sums go onto the gradient, one add per entry.
    for (t, acc) in acc.iter().enumerate().take(valid) {
        for (v, a) in acc.iter().enumerate() {
            // SAFETY: the caller's `sums` has `valid` rows of `V` vectors.
            unsafe {
                let at = sums.add(t * lanes + 8 * v);
                _mm256_storeu_ps(at, _mm256_add_ps(_mm256_loadu_ps(at), *a));
            }
        }
    }
}

/// [`weight_tile`] with one vector of 16 output channels.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
unsafe fn weight_tile_512<const Q: usize>(
    g: &Geometry,
    xp: *const f32,
    offs: &[usize; Q],
    dyt: *const f32,
    lanes: usize,
    pixels: Range<usize>,
    sums: *mut f32,
    valid: usize,
) {
    let mut acc = [_mm512_setzero_ps(); Q];
    let ow = g.o.w;
    let (mut oy, mut ox) = (pixels.start / ow, pixels.start % ow);
    for pix in pixels {
        // SAFETY: the caller's buffers cover these reads.
        unsafe {
            let base = xp.add(oy * g.wp + ox);
            let d: __m512 = _mm512_loadu_ps(dyt.add(pix * lanes));
            for (a, off) in acc.iter_mut().zip(offs) {
                *a = _mm512_fmadd_ps(d, _mm512_set1_ps(*base.add(*off)), *a);
            }
        }
        ox += 1;
        if ox == ow {
            (ox, oy) = (0, oy + 1);
        }
    }
    for (t, a) in acc.iter().enumerate().take(valid) {
        // SAFETY: the caller's `sums` has `valid` rows of 16 values.
        unsafe {
            let at = sums.add(t * lanes);
            _mm512_storeu_ps(at, _mm512_add_ps(_mm512_loadu_ps(at), *a));
        }
    }
}

/// Scratch values the input gradient needs per thread.
pub(super) fn input_grad_scratch(conv: &Conv<'_>) -> usize {
    let g = Geometry::of(conv);
    g.padded_len() + conv.wm.nrows() * g.ext()
}

/// The input gradient of the examples `part`; `dx` is their block of the input (channels ×
/// examples·pixels, each row contiguous). Per input value, the contributions of the kernel
/// entries are added in their order, as col2im adds them.
pub(super) fn input_grad(
    conv: &Conv<'_>,
    isa: Isa,
    dy: &[f32],
    part: Range<usize>,
    mut dx: ArrayViewMut2<'_, f32>,
    scratch: &mut [f32],
) {
    let g = Geometry::of(conv);
    let (oc, ckk, hw, ext) = (conv.wm.nrows(), g.ckk(), g.s.h * g.s.w, g.ext());
    let w = conv.wm.as_slice().expect("the weights are one contiguous block");
    let (dxp, dye) = scratch.split_at_mut(g.padded_len());
    let dye = &mut dye[..oc * ext];
    let out = Planes::of(g.o, conv.n);
    for (j, i) in part.enumerate() {
        // dy on the extended grid, zero in its extra columns.
        dye.fill(0.0);
        for (o, row) in dye.chunks_exact_mut(ext).enumerate() {
            let plane = &dy[out.at(o, i)..][..g.o.h * g.o.w];
            for (oy, src) in plane.chunks_exact(g.o.w).enumerate() {
                copy_row(&mut row[oy * g.wp..][..g.o.w], src);
            }
        }
        dxp.fill(0.0);
        entries(&g, 0..ckk, |q, off| {
            for t in (0..ext).step_by(CHUNK) {
                let (ws, d, x) = (w[q..].as_ptr(), dye[t..].as_ptr(), dxp[off + t..].as_mut_ptr());
                // SAFETY: `isa` was detected on this processor; `dye` has `oc` rows of `ext`,
                // and `dxp` covers every kernel entry's run (`padded_len`).
                unsafe {
                    match isa {
                        Isa::Avx512 => input_tile_512(ws, ckk, oc, d, ext, x),
                        Isa::Avx2 => input_tile(ws, ckk, oc, d, ext, x),
                    }
                }
            }
        });
        for (c, mut row) in dx.rows_mut().into_iter().enumerate() {
            let row = row.as_slice_mut().expect("an input row is contiguous");
            for iy in 0..g.s.h {
                let src = &dxp[c * g.plane + (iy + g.p) * g.wp + g.p..][..g.s.w];
                copy_row(&mut row[j * hw + iy * g.s.w..][..g.s.w], src);
            }
        }
    }
}

/// Adds to 48 positions from `dx` the sum over output channels of weight (column `w`, rows
/// `ckk` apart) times dy (rows `ext` apart from `dy`), in blocks of [`KC`] channels.
#[target_feature(enable = "avx2,fma")]
unsafe fn input_tile(w: *const f32, ckk: usize, oc: usize, dy: *const f32, ext: usize, dx: *mut f32) {
    let mut total = [_mm256_setzero_ps(); 6];
    for block in (0..oc).step_by(KC) {
        let mut acc = [_mm256_setzero_ps(); 6];
        for o in block..(block + KC).min(oc) {
            // SAFETY (this block and the next): the caller's buffers cover these reads and writes.
            unsafe {
                let wv = _mm256_set1_ps(*w.add(o * ckk));
                let d = dy.add(o * ext);
                for (v, a) in acc.iter_mut().enumerate() {
                    *a = _mm256_fmadd_ps(wv, _mm256_loadu_ps(d.add(8 * v)), *a);
                }
            }
        }
        // The product's first block is its value; later ones are added to it.
        if block == 0 {
            total = acc;
        } else {
            for (t, a) in total.iter_mut().zip(acc) {
                *t = _mm256_add_ps(*t, a);
            }
        }
    }
    for (v, t) in total.iter().enumerate() {
        unsafe {
            let at = dx.add(8 * v);
            _mm256_storeu_ps(at, _mm256_add_ps(_mm256_loadu_ps(at), *t));
        }
    }
}

/// [`input_tile`] with vectors of 16.
#[target_feature(enable = "avx512f")]
unsafe fn input_tile_512(w: *const f32, ckk: usize, oc: usize, dy: *const f32, ext: usize, dx: *mut f32) {
    let mut total = [_mm512_setzero_ps(); 3];
    for block in (0..oc).step_by(KC) {
        let mut acc = [_mm512_setzero_ps(); 3];
        for o in block..(block + KC).min(oc) {
            // SAFETY (this block and the next): the caller's buffers cover these reads and writes.
            unsafe {
                let wv = _mm512_set1_ps(*w.add(o * ckk));
                let d = dy.add(o * ext);
                for (v, a) in acc.iter_mut().enumerate() {
                    *a = _mm512_fmadd_ps(wv, _mm512_loadu_ps(d.add(16 * v)), *a);
                }
            }
        }
        if block == 0 {
            total = acc;
        } else {
            for (t, a) in total.iter_mut().zip(acc) {
                *t = _mm512_add_ps(*t, a);
            }
        }
    }
    for (v, t) in total.iter().enumerate() {
        unsafe {
            let at = dx.add(16 * v);
            _mm512_storeu_ps(at, _mm512_add_ps(_mm512_loadu_ps(at), *t));
        }
    }
}
