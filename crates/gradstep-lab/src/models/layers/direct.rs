//! Direct convolution kernels for x86-64 processors with AVX2 and FMA.
//!
//! They compute what im2col followed by a matrix product computes, with the same roundings:
//! every output value is the same chain of fused multiply-adds, in the same order, as in
//! `matrixmultiply`'s AVX2 kernel, which the im2col path uses on such processors. That kernel
//! sums a product's inner dimension in blocks of [`KC`] entries: each block's sum starts from
//! zero, adds one product after another with one rounding each (an FMA), and is then added to
//! the output. The kernels here keep those blocks and that order, so a seeded training run gives
//! the numbers the chapters pin, bit for bit (a test compares both paths on many shapes), while
//! skipping the im2col copies and the matrix packing, which took more time than the arithmetic
//! in LeNet's small convolutions.
//!
//! The layouts: each example's input planes are copied into a zero-padded buffer with rows of
//! `wp = w + 2p` values. Output pixel (oy, ox) then reads, for kernel entry (c, ki, kj), the
//! padded value at `c·plane + (oy + ki)·wp + ox + kj`, so the outputs of one row of the padded
//! width, `t = oy·wp + ox`, read a contiguous run of the buffer for each kernel entry. The
//! forward pass and the input gradient compute on that extended grid of oh × wp positions and
//! drop (or zero) its last k − 1 columns.

use std::arch::x86_64::{
    __m256, _mm256_add_ps, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_set1_ps, _mm256_setzero_ps,
    _mm256_storeu_ps,
};
use std::ops::Range;

use ndarray::ArrayViewMut2;

use super::{Conv, Planes, Shape, copy_row};

/// `matrixmultiply`'s block of the inner dimension for `f32` (its `S_KC`).
const KC: usize = 256;

/// Whether this processor runs the kernels (and `matrixmultiply` its FMA kernel).
pub(super) fn available() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
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

    /// Positions of the extended output grid, rounded up to a multiple of `chunk`.
    fn ext(&self, chunk: usize) -> usize {
        (self.o.h * self.wp).next_multiple_of(chunk)
    }

    /// A padded buffer long enough for every kernel entry's run over an extended grid of
    /// `ext` positions.
    fn padded_len(&self, ext: usize) -> usize {
        let reach = (self.s.c - 1) * self.plane + (self.k - 1) * (self.wp + 1) + ext;
        reach.max(self.s.c * self.plane)
    }

    /// Offset in the padded buffer of kernel entry `q`.
    fn offset(&self, q: usize) -> usize {
        let k = self.k;
        q / (k * k) * self.plane + q / k % k * self.wp + q % k
    }

    /// Copies example `i` of `x` (layout `planes`) into `xp`, zero-padded.
    fn pad(&self, x: &[f32], planes: Planes, i: usize, xp: &mut [f32]) {
        let (s, p) = (self.s, self.p);
        xp.fill(0.0);
        for c in 0..s.c {
            let img = &x[planes.at(c, i)..][..s.h * s.w];
            for (iy, row) in img.chunks_exact(s.w).enumerate() {
                copy_row(&mut xp[c * self.plane + (iy + p) * self.wp + p..][..s.w], row);
            }
        }
    }
}

/// Scratch values the forward pass needs per thread.
pub(super) fn forward_scratch(conv: &Conv<'_>) -> usize {
    let g = Geometry::of(conv);
    let ext = g.ext(FWD_CHUNK);
    g.padded_len(ext) + conv.wm.nrows() * ext
}

/// Extended-grid positions per forward tile: three vectors of eight.
const FWD_CHUNK: usize = 24;

/// The outputs of the examples `part` with bias `b`; `y` is their block of the output matrix
/// (channels × examples·pixels, each row contiguous).
pub(super) fn forward(
    conv: &Conv<'_>,
    part: Range<usize>,
    b: &[f32],
    mut y: ArrayViewMut2<'_, f32>,
    scratch: &mut [f32],
) {
    let g = Geometry::of(conv);
    let (oc, ckk, ohw) = (conv.wm.nrows(), g.ckk(), g.o.h * g.o.w);
    let w = conv.wm.as_slice().expect("the weights are one contiguous block");
    let ext = g.ext(FWD_CHUNK);
    let (xp, acc) = scratch.split_at_mut(g.padded_len(ext));
    let acc = &mut acc[..oc * ext];
    let planes = Planes::of(g.s, conv.n);
    for (j, i) in part.enumerate() {
        g.pad(conv.x, planes, i, xp);
        for (row, &bias) in acc.chunks_exact_mut(ext).zip(b) {
            row.fill(bias);
        }
        for q in (0..ckk).step_by(KC) {
            let q = q..(q + KC).min(ckk);
            for t in (0..ext).step_by(FWD_CHUNK) {
                let mut o = 0;
                while o < oc {
                    let tile = (oc - o).min(4);
                    // SAFETY: `available()` was checked by the caller; `xp` holds every kernel
                    // entry's run from `t` on (`padded_len`), `w` has `oc` rows of `ckk`, and
                    // `acc` has `oc` rows of `ext`, a multiple of the chunk.
                    unsafe {
                        let (xs, ws, out) =
                            (xp.as_ptr().add(t), w.as_ptr().add(o * ckk), acc.as_mut_ptr().add(o * ext + t));
                        match tile {
                            4 => forward_tile::<4>(&g, xs, ws, q.clone(), out, ext),
                            3 => forward_tile::<3>(&g, xs, ws, q.clone(), out, ext),
                            2 => forward_tile::<2>(&g, xs, ws, q.clone(), out, ext),
                            _ => forward_tile::<1>(&g, xs, ws, q.clone(), out, ext),
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

/// Adds, for `O` output channels (weights `w`, rows of `ckk`) and the 24 extended positions
/// from `xs`, the sum over kernel entries `q` to `out` (rows `ext` apart).
#[target_feature(enable = "avx2,fma")]
unsafe fn forward_tile<const O: usize>(
    g: &Geometry,
    xs: *const f32,
    w: *const f32,
    q: Range<usize>,
    out: *mut f32,
    ext: usize,
) {
    let (ckk, k) = (g.ckk(), g.k);
    let mut acc = [[_mm256_setzero_ps(); 3]; O];
    // The kernel entry (row ki, column kj of its channel) and its offset, stepped along
    // rather than divided out for every entry.
    let (mut kj, mut ki, mut off) = (q.start % k, q.start / k % k, g.offset(q.start));
    for q in q {
        // SAFETY (this block and the next): the caller's buffers cover these reads and writes.
        unsafe {
            let x = xs.add(off);
            let xv = [_mm256_loadu_ps(x), _mm256_loadu_ps(x.add(8)), _mm256_loadu_ps(x.add(16))];
            for (o, acc) in acc.iter_mut().enumerate() {
                let wv = _mm256_set1_ps(*w.add(o * ckk + q));
                for (a, x) in acc.iter_mut().zip(xv) {
                    *a = _mm256_fmadd_ps(wv, x, *a);
                }
            }
        }
        kj += 1;
        off += 1;
        if kj == k {
            (kj, ki, off) = (0, ki + 1, off + g.wp - k);
            if ki == k {
                (ki, off) = (0, off + g.plane - k * g.wp);
            }
        }
    }
    for (o, acc) in acc.iter().enumerate() {
        for (v, a) in acc.iter().enumerate() {
            unsafe {
                let at = out.add(o * ext + 8 * v);
                _mm256_storeu_ps(at, _mm256_add_ps(_mm256_loadu_ps(at), *a));
            }
        }
    }
}

/// Scratch values the weight gradient needs per thread.
pub(super) fn weight_grad_scratch(conv: &Conv<'_>) -> usize {
    let g = Geometry::of(conv);
    g.s.c * g.plane + (g.o.h * g.o.w + g.ckk()) * lanes(conv.wm.nrows())
}

/// Output channels rounded up to whole vectors.
fn lanes(oc: usize) -> usize {
    oc.next_multiple_of(8)
}

/// Adds the gradient of the weight columns `rows` (kernel entries) to `gw` (out channels ×
/// `rows`), summing over the batch example after example.
pub(super) fn weight_grad(
    conv: &Conv<'_>,
    dy: &[f32],
    rows: Range<usize>,
    mut gw: ArrayViewMut2<'_, f32>,
    scratch: &mut [f32],
) {
    let g = Geometry::of(conv);
    let (oc, ohw) = (conv.wm.nrows(), g.o.h * g.o.w);
    let lanes = lanes(oc);
    let (xp, rest) = scratch.split_at_mut(g.s.c * g.plane);
    let (dyt, gwt) = rest.split_at_mut(ohw * lanes);
    // The gradient's columns, transposed: a vector of output channels per kernel entry, so
    // that a tile adds its sums with vector adds (the same roundings as one add per entry).
    let gwt = &mut gwt[..rows.len() * lanes];
    gwt.fill(0.0);
    for ((o, q), v) in gw.indexed_iter() {
        gwt[q * lanes + o] = *v;
    }
    let (inp, out) = (Planes::of(g.s, conv.n), Planes::of(g.o, conv.n));
    let offsets = |q: usize| if q < rows.end { g.offset(q) } else { 0 };
    dyt.fill(0.0);
    for i in 0..conv.n {
        g.pad(conv.x, inp, i, xp);
        // dy of this example, pixel-major: a vector of output channels per pixel (the lanes
        // past `oc` stay zero).
        for o in 0..oc {
            for (pix, v) in dy[out.at(o, i)..][..ohw].iter().enumerate() {
                dyt[pix * lanes + o] = *v;
            }
        }
        for block in (0..ohw).step_by(KC) {
            let pixels = block..(block + KC).min(ohw);
            let mut v = 0;
            while v < lanes / 8 {
                if lanes / 8 - v >= 2 {
                    for q in rows.clone().step_by(6) {
                        let offs: [usize; 6] = std::array::from_fn(|t| offsets(q + t));
                        let valid = (rows.end - q).min(6);
                        let sums = gwt[(q - rows.start) * lanes + 8 * v..].as_mut_ptr();
                        // SAFETY: `available()` was checked by the caller; every offset plus
                        // a pixel's base position lies inside the padded planes, `dyt` has a
                        // row of `lanes` per pixel and `gwt` one per kernel entry in `rows`.
                        unsafe {
                            weight_tile::<6, 2>(
                                &g,
                                xp.as_ptr(),
                                &offs,
                                dyt.as_ptr().add(8 * v),
                                lanes,
                                pixels.clone(),
                                sums,
                                valid,
                            )
                        };
                    }
                    v += 2;
                } else {
                    for q in rows.clone().step_by(13) {
                        let offs: [usize; 13] = std::array::from_fn(|t| offsets(q + t));
                        let valid = (rows.end - q).min(13);
                        let sums = gwt[(q - rows.start) * lanes + 8 * v..].as_mut_ptr();
                        // SAFETY: as above.
                        unsafe {
                            weight_tile::<13, 1>(
                                &g,
                                xp.as_ptr(),
                                &offs,
                                dyt.as_ptr().add(8 * v),
                                lanes,
                                pixels.clone(),
                                sums,
                                valid,
                            )
                        };
                    }
                    v += 1;
                }
            }
        }
    }
    for ((o, q), v) in gw.indexed_iter_mut() {
        *v = gwt[q * lanes + o];
    }
}

/// Adds to `sums` (the first `valid` of `Q` kernel entries) the sums over `pixels` of dy
/// (vectors `V` of output channels from `dyt`) times the input value each entry reads there.
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
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
    // The block's sums go onto the gradient (rows `lanes` apart), one add per entry.
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

/// Extended-grid positions per input-gradient tile: six vectors of eight.
const BWD_CHUNK: usize = 48;

/// Scratch values the input gradient needs per thread.
pub(super) fn input_grad_scratch(conv: &Conv<'_>) -> usize {
    let g = Geometry::of(conv);
    let ext = g.ext(BWD_CHUNK);
    g.padded_len(ext) + conv.wm.nrows() * ext
}

/// The input gradient of the examples `part`; `dx` is their block of the input (channels ×
/// examples·pixels, each row contiguous). Per input value, the contributions of the kernel
/// entries are added in their order, as col2im adds them.
pub(super) fn input_grad(
    conv: &Conv<'_>,
    dy: &[f32],
    part: Range<usize>,
    mut dx: ArrayViewMut2<'_, f32>,
    scratch: &mut [f32],
) {
    let g = Geometry::of(conv);
    let (oc, ckk, hw) = (conv.wm.nrows(), g.ckk(), g.s.h * g.s.w);
    let w = conv.wm.as_slice().expect("the weights are one contiguous block");
    let ext = g.ext(BWD_CHUNK);
    let (dxp, dye) = scratch.split_at_mut(g.padded_len(ext));
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
        for q in 0..ckk {
            let off = g.offset(q);
            for t in (0..ext).step_by(BWD_CHUNK) {
                // SAFETY: `available()` was checked by the caller; `dye` has `oc` rows of
                // `ext`, and `dxp` covers every kernel entry's run (`padded_len`).
                unsafe {
                    input_tile(
                        w.as_ptr().add(q),
                        ckk,
                        oc,
                        dye.as_ptr().add(t),
                        ext,
                        dxp.as_mut_ptr().add(off + t),
                    )
                };
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
