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
    // Whole kernel rows go through the kernels for k = 3 and 5, whose entries along a row
    // read consecutive values (fixed offsets from a row's start, no table to look up).
    let k = g.k;
    let by_rows = (k == 3 || k == 5) && rows.start % k == 0 && rows.end % k == 0;
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
                    if by_rows {
                        v += weight_rows(
                            &g,
                            isa,
                            width,
                            lanes - v,
                            xp,
                            &offsets,
                            rows.clone(),
                            d,
                            lanes,
                            pixels.clone(),
                            &mut at,
                        );
                    } else if width == 16 {
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

/// The weight gradient's tiles of whole kernel rows (k = 3 or 5) over the vectors of output
/// channels from `d` on (`left` lanes of them): returns how many lanes it covered.
#[allow(clippy::too_many_arguments)]
unsafe fn weight_rows(
    g: &Geometry,
    isa: Isa,
    width: usize,
    left: usize,
    xp: *const f32,
    offset: &impl Fn(usize) -> usize,
    rows: Range<usize>,
    d: *const f32,
    lanes: usize,
    pixels: Range<usize>,
    at: &mut impl FnMut(usize) -> *mut f32,
) -> usize {
    // Kernel rows per tile: as many accumulators as the registers hold.
    macro_rules! tiles {
        ($kernel:ident, $k:literal, $r:literal $(, $v:literal)?) => {{
            for q in rows.clone().step_by($k * $r) {
                let starts = std::array::from_fn(|t| offset(q + $k * t));
                let valid = (rows.end - q).min($k * $r) / $k;
                // SAFETY: as in `weight_grad`, whose caller checked `isa`.
                unsafe { $kernel::<$k, $r $(, $v)?>(g, xp, &starts, d, lanes, pixels.clone(), at(q), valid) };
            }
        }};
    }
    match (isa, width, left >= 16, g.k) {
        (Isa::Avx512, 16, _, 5) => tiles!(weight_rows_512, 5, 5),
        (Isa::Avx512, 16, _, _) => tiles!(weight_rows_512, 3, 9),
        (Isa::Avx512, _, _, 5) => tiles!(weight_rows_vl, 5, 5, 1),
        (Isa::Avx512, _, _, _) => tiles!(weight_rows_vl, 3, 9, 1),
        (_, _, true, 5) => tiles!(weight_rows_256, 5, 1, 2),
        (_, _, true, _) => tiles!(weight_rows_256, 3, 2, 2),
        (_, _, false, 5) => tiles!(weight_rows_256, 5, 2, 1),
        (_, _, false, _) => tiles!(weight_rows_256, 3, 4, 1),
    }
    if width == 16 || left >= 16 { 16 } else { 8 }
}

macro_rules! weight_rows_256 {
    ($(#[$doc:meta])* $name:ident, $features:literal) => {
        $(#[$doc])*
        #[allow(clippy::too_many_arguments)]
        #[target_feature(enable = $features)]
        unsafe fn $name<const K: usize, const R: usize, const V: usize>(
            g: &Geometry,
            xp: *const f32,
            starts: &[usize; R],
            dyt: *const f32,
            lanes: usize,
            pixels: Range<usize>,
            sums: *mut f32,
            valid: usize,
        ) {
            let mut acc = [[[_mm256_setzero_ps(); V]; K]; R];
            let ow = g.o.w;
            let (mut oy, mut ox) = (pixels.start / ow, pixels.start % ow);
            for pix in pixels {
                // SAFETY: the caller's buffers cover these reads.
                unsafe {
                    let base = xp.add(oy * g.wp + ox);
                    let d: [__m256; V] = std::array::from_fn(|v| _mm256_loadu_ps(dyt.add(pix * lanes + 8 * v)));
                    for (acc, start) in acc.iter_mut().zip(starts) {
                        let row = base.add(*start);
                        for (kj, acc) in acc.iter_mut().enumerate() {
                            let xv = _mm256_set1_ps(*row.add(kj));
                            for (a, d) in acc.iter_mut().zip(d) {
                                *a = _mm256_fmadd_ps(d, xv, *a);
                            }
                        }
                    }
                }
                ox += 1;
                if ox == ow {
                    (ox, oy) = (0, oy + 1);
                }
            }
            for (r, acc) in acc.iter().enumerate().take(valid) {
                for (kj, acc) in acc.iter().enumerate() {
                    for (v, a) in acc.iter().enumerate() {
                        // SAFETY: the caller's `sums` has `valid` rows of `K` entries.
                        unsafe {
                            let at = sums.add((r * K + kj) * lanes + 8 * v);
                            _mm256_storeu_ps(at, _mm256_add_ps(_mm256_loadu_ps(at), *a));
                        }
                    }
                }
            }
}
    };
}

weight_rows_256!(
    /// Adds to `sums` (the first `valid` of `R` kernel rows of `K` entries, `lanes` apart) the
    /// sums over `pixels` of dy (`V` vectors of output channels from `dyt`) times the input
    /// value each entry reads there; row r's entries read from `starts[r]` on.
    weight_rows_256,
    "avx2,fma"
);
weight_rows_256!(
    /// [`weight_rows_256`] with AVX-512's 32 registers, for more accumulators.
    weight_rows_vl,
    "avx512f,avx512vl,avx2,fma"
);

/// [`weight_rows_256`] with one vector of 16 output channels.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
unsafe fn weight_rows_512<const K: usize, const R: usize>(
    g: &Geometry,
    xp: *const f32,
    starts: &[usize; R],
    dyt: *const f32,
    lanes: usize,
    pixels: Range<usize>,
    sums: *mut f32,
    valid: usize,
) {
    let mut acc = [[_mm512_setzero_ps(); K]; R];
    let ow = g.o.w;
    let (mut oy, mut ox) = (pixels.start / ow, pixels.start % ow);
    for pix in pixels {
        // SAFETY: the caller's buffers cover these reads.
        unsafe {
            let base = xp.add(oy * g.wp + ox);
            let d = _mm512_loadu_ps(dyt.add(pix * lanes));
            for (acc, start) in acc.iter_mut().zip(starts) {
                let row = base.add(*start);
                for (kj, a) in acc.iter_mut().enumerate() {
                    *a = _mm512_fmadd_ps(d, _mm512_set1_ps(*row.add(kj)), *a);
                }
            }
        }
        ox += 1;
        if ox == ow {
            (ox, oy) = (0, oy + 1);
        }
    }
    for (r, acc) in acc.iter().enumerate().take(valid) {
        for (kj, a) in acc.iter().enumerate() {
            // SAFETY: the caller's `sums` has `valid` rows of `K` entries of 16 values.
            unsafe {
                let at = sums.add((r * K + kj) * lanes);
                _mm512_storeu_ps(at, _mm512_add_ps(_mm512_loadu_ps(at), *a));
            }
        }
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

/// Kernel entries per tile of the input gradient's products.
const INPUT_TILE: usize = 4;

/// The layout of the input gradient's columns: a row per kernel entry (rows past `ckk` take
/// a tile's spare entries), each with a zero margin of `front` values before the extended grid
/// and enough after it, so that gathering them for any interior input value reads inside a
/// row.
#[derive(Clone)]
struct Columns {
    rows: usize,
    front: usize,
    len: usize,
    /// The interior of a padded plane, as flat positions: where the gathered values go.
    interior: Range<usize>,
}

impl Columns {
    fn of(g: &Geometry) -> Self {
        let (p, wp) = (g.p, g.wp);
        let interior = p * wp + p..(p + g.s.h - 1) * wp + p + g.s.w;
        let front = (g.k - 1) * (wp + 1);
        let len = front + g.ext().max(interior.end + 16);
        Self { rows: g.ckk().next_multiple_of(INPUT_TILE), front, len, interior }
    }
}

/// Scratch values the input gradient needs per thread.
pub(super) fn input_grad_scratch(conv: &Conv<'_>) -> usize {
    let g = Geometry::of(conv);
    let cols = Columns::of(&g);
    conv.wm.nrows() * g.ext() + cols.rows * cols.len + g.s.c * g.plane + 16
}

/// The input gradient of the examples `part`; `dx` is their block of the input (channels ×
/// examples·pixels, each row contiguous). As with im2col: first the columns Wᵀ·dY, a row per
/// kernel entry (their products on the extended grid, a few entries at a time), then each input
/// value gathers its columns' entries in the order of the kernel entries, as col2im adds them.
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
    let layout = Columns::of(&g);
    let (dye, rest) = scratch.split_at_mut(oc * ext);
    let (cols, dxp) = rest.split_at_mut(layout.rows * layout.len);
    let dxp = &mut dxp[..g.s.c * g.plane + 16];
    // The margins stay zero: the products write only the extended grid of each row.
    cols.fill(0.0);
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
        for q in (0..layout.rows).step_by(INPUT_TILE) {
            // Spare entries past the last repeat its weights; their rows are never read.
            let ws: [usize; INPUT_TILE] = std::array::from_fn(|t| (q + t).min(ckk - 1));
            for t in (0..ext).step_by(CHUNK) {
                let at = cols[q * layout.len + layout.front + t..].as_mut_ptr();
                // SAFETY: `isa` was detected on this processor; `dye` has `oc` rows of `ext`,
                // `w` has `oc` rows of `ckk`, and `cols` has `INPUT_TILE` rows from `q` with
                // room for the grid after the margin.
                unsafe {
                    match isa {
                        Isa::Avx512 => {
                            columns_512(w.as_ptr(), &ws, ckk, oc, dye[t..].as_ptr(), ext, at, layout.len)
                        }
                        Isa::Avx2 => {
                            for half in [0, 24] {
                                let d = dye[t + half..].as_ptr();
                                columns_256(w.as_ptr(), &ws, ckk, oc, d, ext, at.add(half), layout.len);
                            }
                        }
                    }
                }
            }
        }
        let kk = g.k * g.k;
        for c in 0..g.s.c {
            let plane = &mut dxp[c * g.plane..];
            let first = cols[c * kk * layout.len + layout.front..].as_ptr();
            // SAFETY: as above; every gathered read lies in its row (`Columns::of`), and
            // `dxp` has 16 spare values past its last plane.
            unsafe {
                match isa {
                    Isa::Avx512 => gather_512(&g, first, &layout, plane.as_mut_ptr()),
                    Isa::Avx2 => gather_256(&g, first, &layout, plane.as_mut_ptr()),
                }
            }
        }
        for (c, mut row) in dx.rows_mut().into_iter().enumerate() {
            let row = row.as_slice_mut().expect("an input row is contiguous");
            for iy in 0..g.s.h {
                let src = &dxp[c * g.plane + (iy + g.p) * g.wp + g.p..][..g.s.w];
                copy_row(&mut row[j * hw + iy * g.s.w..][..g.s.w], src);
            }
        }
    }
}

/// Writes the columns of `INPUT_TILE` kernel entries (weight columns `ws`) at 48 positions of
/// the extended grid: each the sum over output channels of weight times dy (rows `ext` apart
/// from `dy`), in blocks of [`KC`] channels, to `cols` (rows `len` apart).
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
unsafe fn columns_512(
    w: *const f32,
    ws: &[usize; INPUT_TILE],
    ckk: usize,
    oc: usize,
    dy: *const f32,
    ext: usize,
    cols: *mut f32,
    len: usize,
) {
    let mut total = [[_mm512_setzero_ps(); 3]; INPUT_TILE];
    for block in (0..oc).step_by(KC) {
        let mut acc = [[_mm512_setzero_ps(); 3]; INPUT_TILE];
        for o in block..(block + KC).min(oc) {
            // SAFETY (this block and the next): the caller's buffers cover these reads and
            // writes.
            unsafe {
                let d = dy.add(o * ext);
                let dv = [_mm512_loadu_ps(d), _mm512_loadu_ps(d.add(16)), _mm512_loadu_ps(d.add(32))];
                for (acc, q) in acc.iter_mut().zip(ws) {
                    let wv = _mm512_set1_ps(*w.add(o * ckk + q));
                    for (a, d) in acc.iter_mut().zip(dv) {
                        *a = _mm512_fmadd_ps(wv, d, *a);
                    }
                }
            }
        }
        // The product's first block is its value; later ones are added to it.
        for (total, acc) in total.iter_mut().zip(acc) {
            for (t, a) in total.iter_mut().zip(acc) {
                *t = if block == 0 { a } else { _mm512_add_ps(*t, a) };
            }
        }
    }
    for (r, total) in total.iter().enumerate() {
        for (v, t) in total.iter().enumerate() {
            unsafe { _mm512_storeu_ps(cols.add(r * len + 16 * v), *t) };
        }
    }
}

/// [`columns_512`] for 24 positions with vectors of 8.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2,fma")]
unsafe fn columns_256(
    w: *const f32,
    ws: &[usize; INPUT_TILE],
    ckk: usize,
    oc: usize,
    dy: *const f32,
    ext: usize,
    cols: *mut f32,
    len: usize,
) {
    let mut total = [[_mm256_setzero_ps(); 3]; INPUT_TILE];
    for block in (0..oc).step_by(KC) {
        let mut acc = [[_mm256_setzero_ps(); 3]; INPUT_TILE];
        for o in block..(block + KC).min(oc) {
            // SAFETY (this block and the next): the caller's buffers cover these reads and
            // writes.
            unsafe {
                let d = dy.add(o * ext);
                let dv = [_mm256_loadu_ps(d), _mm256_loadu_ps(d.add(8)), _mm256_loadu_ps(d.add(16))];
                for (acc, q) in acc.iter_mut().zip(ws) {
                    let wv = _mm256_set1_ps(*w.add(o * ckk + q));
                    for (a, d) in acc.iter_mut().zip(dv) {
                        *a = _mm256_fmadd_ps(wv, d, *a);
                    }
                }
            }
        }
        for (total, acc) in total.iter_mut().zip(acc) {
            for (t, a) in total.iter_mut().zip(acc) {
                *t = if block == 0 { a } else { _mm256_add_ps(*t, a) };
            }
        }
    }
    for (r, total) in total.iter().enumerate() {
        for (v, t) in total.iter().enumerate() {
            unsafe { _mm256_storeu_ps(cols.add(r * len + 8 * v), *t) };
        }
    }
}

/// The interior of one channel's padded plane of the input gradient, in `plane`: each value
/// the sum, from zero and in the order of the kernel entries, of the column entries it
/// received; `first` is the channel's first column row, after its margin.
#[target_feature(enable = "avx512f")]
unsafe fn gather_512(g: &Geometry, first: *const f32, layout: &Columns, plane: *mut f32) {
    for x in layout.interior.clone().step_by(16) {
        let mut acc = _mm512_setzero_ps();
        for ki in 0..g.k {
            for kj in 0..g.k {
                // SAFETY (this block and the next): every read lies in its row's margins or
                // grid, and the plane has room for 16 values from any interior position.
                unsafe {
                    let row = first.add((ki * g.k + kj) * layout.len);
                    acc = _mm512_add_ps(acc, _mm512_loadu_ps(row.add(x).sub(ki * g.wp + kj)));
                }
            }
        }
        unsafe { _mm512_storeu_ps(plane.add(x), acc) };
    }
}

/// [`gather_512`] with vectors of 8.
#[target_feature(enable = "avx2,fma")]
unsafe fn gather_256(g: &Geometry, first: *const f32, layout: &Columns, plane: *mut f32) {
    for x in layout.interior.clone().step_by(8) {
        let mut acc = _mm256_setzero_ps();
        for ki in 0..g.k {
            for kj in 0..g.k {
                // SAFETY (this block and the next): as in `gather_512`.
                unsafe {
                    let row = first.add((ki * g.k + kj) * layout.len);
                    acc = _mm256_add_ps(acc, _mm256_loadu_ps(row.add(x).sub(ki * g.wp + kj)));
                }
            }
        }
        unsafe { _mm256_storeu_ps(plane.add(x), acc) };
    }
}
