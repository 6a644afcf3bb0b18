//! Layers with hand-derived backward passes, over batches stored as flat `f32` buffers.
//!
//! A batch of n examples of [`Shape`] (c, h, w) is n·c·h·w values. A network's inputs are
//! example-major, then channel, row, column (PyTorch's NCHW); between layers, images are kept
//! channel-major (c, n, h, w), so that a convolution over a whole group of examples is one
//! matrix product with a row per output channel (vectors stay example-major, and one-channel
//! images are the same in both). Every layer's parameters live in one slice of the
//! network's flat parameter vector (weights first, then biases), and its gradient in the
//! matching slice of the gradient vector, so one optimizer step updates the whole network.
//!
//! The backward formulas, with upstream gradient dy:
//!
//! - dense y = xW + b: dW = xᵀdy, db = Σₙ dy, dx = dy Wᵀ;
//! - convolution via im2col, Y = W·cols(x) + b, with the columns of many examples side by side:
//!   dW = dY·colsᵀ, db = Σ dY, dx = col2im(Wᵀ dY);
//! - 2 × 2 max pooling: dy goes to the position of each window's maximum;
//! - ReLU: dx = dy where y > 0, else 0;
//! - softmax cross-entropy, mean over the batch: dz = (softmax(z) − onehot(label)) / n.
//!
//! On x86-64 processors with AVX2 and FMA, convolutions skip the im2col matrices: the kernels
//! of the `direct` module compute the same sums straight from a padded copy of each image,
//! with the very roundings of the im2col path, so a seeded run gives the same numbers either way.
//! The dense layers' products run the `gemm` module's kernels there, which round as
//! `matrixmultiply` (ndarray's products, used elsewhere) does.

use ndarray::linalg::general_mat_mul;
use std::ops::Range;

use ndarray::{ArrayView2, ArrayViewMut2, ShapeBuilder};
use rand::Rng;
use rand_distr::Uniform;

#[cfg(target_arch = "x86_64")]
#[macro_use]
mod simd;
#[cfg(target_arch = "x86_64")]
mod direct;
#[cfg(target_arch = "x86_64")]
mod gemm;

/// The shape of one example: channels, height, width (a vector of length d is (d, 1, 1)).
///
/// # Example
/// ```
/// use gradstep_lab::models::layers::Shape;
///
/// assert_eq!(Shape::image(1, 28, 28).len(), 784);
/// assert_eq!(Shape::vector(10), Shape::image(10, 1, 1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Channels.
    pub c: usize,
    /// Height.
    pub h: usize,
    /// Width.
    pub w: usize,
}

impl Shape {
    /// A c × h × w image.
    pub const fn image(c: usize, h: usize, w: usize) -> Self {
        Self { c, h, w }
    }

    /// A vector of `d` features.
    pub const fn vector(d: usize) -> Self {
        Self { c: d, h: 1, w: 1 }
    }

    /// Values per example.
    pub const fn len(&self) -> usize {
        self.c * self.h * self.w
    }

    /// Whether an example has no values.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One layer of a [`Network`](super::network::Network).
///
/// # Example
/// ```
/// use gradstep_lab::models::layers::{Layer, Shape};
///
/// let conv = Layer::Conv { out_channels: 6, kernel: 5, padding: 2 };
/// assert_eq!(conv.output_shape(Shape::image(1, 28, 28)), Some(Shape::image(6, 28, 28)));
/// assert_eq!(conv.param_len(Shape::image(1, 28, 28)), 6 * 25 + 6);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// Fully connected: the input (flattened) times an in × out matrix, plus a bias.
    Dense {
        /// Output features.
        out: usize,
    },
    /// 2-D convolution, stride 1, zero padding, with a bias per output channel.
    Conv {
        /// Output channels.
        out_channels: usize,
        /// Kernel side.
        kernel: usize,
        /// Zero padding on every side.
        padding: usize,
    },
    /// 2 × 2 max pooling with stride 2 (an odd last row or column is dropped).
    MaxPool,
    /// max(x, 0), elementwise.
    Relu,
}

impl Layer {
    /// The shape of one output example, or `None` if the layer does not fit the input.
    pub fn output_shape(&self, s: Shape) -> Option<Shape> {
        match *self {
            Layer::Dense { out } => (out > 0 && !s.is_empty()).then_some(Shape::vector(out)),
            Layer::Conv { out_channels, kernel, padding } => {
                let (h, w) = (s.h + 2 * padding, s.w + 2 * padding);
                (out_channels > 0 && kernel > 0 && s.c > 0 && h >= kernel && w >= kernel)
                    .then(|| Shape::image(out_channels, h - kernel + 1, w - kernel + 1))
            }
            Layer::MaxPool => (s.h >= 2 && s.w >= 2).then(|| Shape::image(s.c, s.h / 2, s.w / 2)),
            Layer::Relu => Some(s),
        }
    }

    /// The number of parameters for input shape `s`.
    pub fn param_len(&self, s: Shape) -> usize {
        match *self {
            Layer::Dense { out } => s.len() * out + out,
            Layer::Conv { out_channels, kernel, .. } => out_channels * s.c * kernel * kernel + out_channels,
            Layer::MaxPool | Layer::Relu => 0,
        }
    }

    /// PyTorch's default initialisation: weights and biases U(−1/√fan_in, 1/√fan_in).
    pub(crate) fn init(&self, s: Shape, params: &mut [f32], rng: &mut impl Rng) {
        let fan_in = match *self {
            Layer::Dense { .. } => s.len(),
            Layer::Conv { kernel, .. } => s.c * kernel * kernel,
            Layer::MaxPool | Layer::Relu => return,
        };
        let bound = 1.0 / (fan_in as f32).sqrt();
        let u = Uniform::new_inclusive(-bound, bound).expect("a valid range");
        params.iter_mut().for_each(|p| *p = rng.sample(u));
    }
}

/// Where the planes of a batch live in its buffer: plane (channel c, example i), h·w values in
/// row-major order, starts at c·`c` + i·`n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Planes {
    c: usize,
    n: usize,
}

impl Planes {
    /// The layout a [`Network`](super::network::Network) keeps a batch of `n` examples of
    /// shape `s` in between layers: channel-major (c, n, h, w) for images of more than one
    /// pixel, so that a convolution's output over many examples is one matrix whose rows are
    /// channels; example-major (n, c) for vectors. For one channel both are PyTorch's NCHW.
    pub(crate) fn of(s: Shape, n: usize) -> Self {
        let hw = s.h * s.w;
        if hw > 1 { Self { c: n * hw, n: hw } } else { Self { c: 1, n: s.c } }
    }

    /// PyTorch's NCHW, the layout of the network's inputs and of a dense layer's.
    pub(crate) fn nchw(s: Shape) -> Self {
        Self { c: s.h * s.w, n: s.len() }
    }

    /// Whether [`Planes::of`] and [`Planes::nchw`] put every value in the same place.
    pub(crate) fn is_nchw(s: Shape, n: usize) -> bool {
        s.c == 1 || n == 1 || s.h * s.w == 1
    }

    fn at(self, c: usize, i: usize) -> usize {
        c * self.c + i * self.n
    }
}

/// Copies a batch of `n` examples of shape `s` from layout `from` in `x` to layout `to` in `y`.
pub(crate) fn relayout(s: Shape, n: usize, from: Planes, x: &[f32], to: Planes, y: &mut [f32]) {
    let hw = s.h * s.w;
    for c in 0..s.c {
        for i in 0..n {
            y[to.at(c, i)..][..hw].copy_from_slice(&x[from.at(c, i)..][..hw]);
        }
    }
}

/// Scratch buffers a layer keeps between its forward and backward passes; they grow to the
/// largest batch seen and are reused, so a training step allocates nothing.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cache {
    /// im2col columns of a group of examples (convolution), one buffer per thread.
    cols: Vec<Vec<f32>>,
    /// Their gradients (convolution), one buffer per thread.
    dcols: Vec<Vec<f32>>,
    /// Index of each output's maximum within the input (pooling).
    argmax: Vec<u32>,
    /// The input in NCHW order, when it is kept channel-major (dense after a convolution).
    flat: Vec<f32>,
    /// The input gradient in NCHW order (idem).
    dflat: Vec<f32>,
    /// The input, zero-padded, for the direct convolution kernels.
    padded: Vec<f32>,
    /// A dense layer's weights transposed (out × d), for its input gradient.
    wt: Vec<f32>,
}

/// One buffer per thread, each of at least `len` values.
fn buffers(bufs: &mut Vec<Vec<f32>>, threads: usize, len: usize) -> &mut [Vec<f32>] {
    if bufs.len() < threads {
        bufs.resize_with(threads, Vec::new);
    }
    for b in &mut bufs[..threads] {
        if b.len() < len {
            b.resize(len, 0.0);
        }
    }
    &mut bufs[..threads]
}

/// Runs `leaf` on `threads` parts of `whole`, side by side on rayon's pool: `split(part, t1, t)`
/// cuts a part meant for t threads into one for t1 threads and one for the rest. Every part is
/// computed exactly as the whole would be on one thread (each output value comes from the same
/// operations in the same order), so results do not depend on the number of threads.
fn in_parts<P: Send>(
    threads: usize,
    whole: P,
    split: &(impl Fn(P, usize, usize) -> (P, P) + Sync),
    leaf: &(impl Fn(P) + Sync),
) {
    if threads <= 1 {
        return leaf(whole);
    }
    let t1 = threads / 2;
    let (a, b) = split(whole, t1, threads);
    rayon::join(|| in_parts(t1, a, split, leaf), || in_parts(threads - t1, b, split, leaf));
}

/// Where to cut `range` for `t1` of `t` threads: a share of its `step`-sized groups.
fn cut(range: &Range<usize>, step: usize, t1: usize, t: usize) -> usize {
    let groups = range.len().div_ceil(step);
    (range.start + groups * t1 / t * step).min(range.end)
}

/// Splits a batch's examples, in groups of `g`, between `threads` threads: `leaf` gets a
/// part's examples, their block of `view` (the batch's channels × (examples·pixels) matrix of
/// images of shape `s`) and a scratch buffer of its own.
fn examples_in_parts(
    threads: usize,
    g: usize,
    s: Shape,
    view: ArrayViewMut2<'_, f32>,
    bufs: &mut [Vec<f32>],
    leaf: &(impl Fn(Range<usize>, ArrayViewMut2<'_, f32>, &mut [f32]) + Sync),
) {
    let (n, hw) = (view.ncols() / (s.h * s.w).max(1), s.h * s.w);
    in_parts(
        threads,
        (0..n, view, bufs),
        &|(r, v, bufs): (Range<usize>, ArrayViewMut2<'_, f32>, &mut [Vec<f32>]), t1, t| {
            let mid = cut(&r, g, t1, t);
            let (v1, v2) = v.split_at(ndarray::Axis(1), (mid - r.start) * hw);
            let (b1, b2) = bufs.split_at_mut(t1);
            ((r.start..mid, v1, b1), (mid..r.end, v2, b2))
        },
        &|(r, v, bufs)| leaf(r, v, &mut bufs[0]),
    );
}

/// Splits `data`, rows of `width` values, between `threads` threads: `leaf` gets a part's
/// row range and those rows.
fn rows_in_parts(
    threads: usize,
    data: &mut [f32],
    width: usize,
    leaf: &(impl Fn(Range<usize>, &mut [f32]) + Sync),
) {
    let rows = data.len() / width.max(1);
    in_parts(
        threads,
        (0..rows, data),
        &|(r, data): (Range<usize>, &mut [f32]), t1, t| {
            let mid = cut(&r, 1, t1, t);
            let (a, b) = data.split_at_mut((mid - r.start) * width);
            ((r.start..mid, a), (mid..r.end, b))
        },
        &|(r, data)| leaf(r, data),
    );
}

/// im2col columns per group: enough for long matrix products, few enough that a group's
/// columns stay in the core's cache between im2col, the product and col2im (measured with
/// the `train_bench` example).
const COLS_PER_GROUP: usize = 1 << 17;

/// Examples per im2col group for a convolution with `per_example` column entries per example.
fn group_size(per_example: usize, n: usize) -> usize {
    (COLS_PER_GROUP / per_example.max(1)).clamp(1, n.max(1))
}

fn mat(data: &[f32], rows: usize, cols: usize) -> ArrayView2<'_, f32> {
    ArrayView2::from_shape((rows, cols), data).expect("buffer sizes are kept consistent")
}

fn mat_mut(data: &mut [f32], rows: usize, cols: usize) -> ArrayViewMut2<'_, f32> {
    ArrayViewMut2::from_shape((rows, cols), data).expect("buffer sizes are kept consistent")
}

/// Matrix A of a product: element (i, p) at `data[i·rs + p·cs]`.
#[derive(Clone, Copy)]
struct Strided<'a> {
    data: &'a [f32],
    rs: usize,
    cs: usize,
}

/// A product's inputs: A (m × k), B (k × n, rows `ldb` apart), and whether C += A·B
/// (`accumulate`) or C = A·B.
#[derive(Clone, Copy)]
struct Product<'a> {
    m: usize,
    k: usize,
    n: usize,
    a: Strided<'a>,
    b: &'a [f32],
    ldb: usize,
    accumulate: bool,
}

/// C (m × n, rows `ldc` apart) = A·B, or C += A·B, as `pr` says: the dense layers' products.
/// Where the processor has AVX2 and FMA they run the lab's kernels ([`gemm`]), else
/// `matrixmultiply` (through ndarray); both give the same bits.
fn product(pr: Product<'_>, c: &mut [f32], ldc: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(isa) = simd::Isa::detect() {
        return gemm::gemm(isa, pr, c, ldc);
    }
    let Product { m, k, n, a, b, ldb, accumulate } = pr;
    let view = |data, rows, cols, rs, cs| {
        ArrayView2::from_shape((rows, cols).strides((rs, cs)), data)
            .expect("buffer sizes are kept consistent")
    };
    let mut cm =
        ArrayViewMut2::from_shape((m, n).strides((ldc, 1)), c).expect("buffer sizes are kept consistent");
    let beta = if accumulate { 1.0 } else { 0.0 };
    general_mat_mul(1.0, &view(a.data, m, k, a.rs, a.cs), &view(b, k, n, ldb, 1), beta, &mut cm);
}

/// The channels × (examples·pixels) matrix of a convolution's output (or its gradient) for the
/// examples `first..first + m` of a batch of `n` in layout [`Planes::of`]: channel-major
/// outputs are contiguous along a row; 1 × 1 outputs are example-major, a column per example.
fn strided(o: Shape, n: usize, first: usize) -> (usize, (usize, usize)) {
    let (planes, ohw) = (Planes::of(o, n), o.h * o.w);
    let col = if ohw > 1 { 1 } else { planes.n };
    (planes.at(0, first), (planes.c, col))
}

fn out_view(y: &[f32], o: Shape, n: usize, first: usize, m: usize) -> ArrayView2<'_, f32> {
    let (start, (rs, cs)) = strided(o, n, first);
    ArrayView2::from_shape((o.c, m * o.h * o.w).strides((rs, cs)), &y[start..])
        .expect("buffer sizes are kept consistent")
}

fn out_view_mut(y: &mut [f32], o: Shape, n: usize, first: usize, m: usize) -> ArrayViewMut2<'_, f32> {
    let (start, (rs, cs)) = strided(o, n, first);
    ArrayViewMut2::from_shape((o.c, m * o.h * o.w).strides((rs, cs)), &mut y[start..])
        .expect("buffer sizes are kept consistent")
}

/// The output columns `lo..hi` that a kernel column `kj` reads inside an input row of width
/// `w` with padding `p` (the others read padding).
fn inside(kj: usize, p: usize, w: usize, ow: usize) -> (usize, usize) {
    let hi = ow.min((w + p).saturating_sub(kj));
    (p.saturating_sub(kj).min(hi), hi)
}

/// `dst = src` for the short rows of im2col (10 to 28 values in LeNet): moves of 8 values,
/// the last one overlapping, where a call to `memcpy` would cost more than the copy.
#[inline(always)]
fn copy_row(dst: &mut [f32], src: &[f32]) {
    const V: usize = 8;
    let n = dst.len();
    if n < V {
        dst.copy_from_slice(src);
        return;
    }
    let src = &src[..n];
    let mut i = 0;
    while i + V <= n {
        dst[i..i + V].copy_from_slice(&src[i..i + V]);
        i += V;
    }
    if i < n {
        dst[n - V..].copy_from_slice(&src[n - V..]);
    }
}

/// Rows `rows` of the im2col matrix of the examples `images` of a batch of `n` (layout
/// [`Planes::of`]) for a k × k kernel with padding p: the whole matrix is (c·k·k) × (m·oh·ow),
/// a row per kernel entry (channel, row, column) and a column per output pixel.
#[allow(clippy::too_many_arguments)]
fn im2col(
    x: &[f32],
    s: Shape,
    k: usize,
    p: usize,
    o: Shape,
    n: usize,
    images: Range<usize>,
    rows: Range<usize>,
    cols: &mut [f32],
) {
    let (planes, ohw) = (Planes::of(s, n), o.h * o.w);
    let width = images.len() * ohw;
    for (r, q) in rows.enumerate() {
        let (ci, ki, kj) = (q / (k * k), q / k % k, q % k);
        let row = &mut cols[r * width..][..width];
        let (lo, hi) = inside(kj, p, s.w, o.w);
        for (j, i) in images.clone().enumerate() {
            let img = &x[planes.at(ci, i)..][..s.h * s.w];
            for oy in 0..o.h {
                let out = &mut row[j * ohw + oy * o.w..][..o.w];
                let iy = (oy + ki).wrapping_sub(p);
                if oy + ki < p || iy >= s.h {
                    out.fill(0.0);
                    continue;
                }
                out[..lo].iter_mut().for_each(|v| *v = 0.0);
                out[hi..].iter_mut().for_each(|v| *v = 0.0);
                copy_row(&mut out[lo..hi], &img[iy * s.w + lo + kj - p..][..hi - lo]);
            }
        }
    }
}

/// The adjoint of [`im2col`] for `m` examples: adds each column entry back onto the input
/// position it came from, in `dx`, the examples' channels × (examples·pixels) block of the
/// input gradient (as [`out_view_mut`] gives it).
fn col2im(cols: &[f32], s: Shape, k: usize, p: usize, o: Shape, m: usize, mut dx: ArrayViewMut2<'_, f32>) {
    let (hw, ohw) = (s.h * s.w, o.h * o.w);
    let width = m * ohw;
    for ci in 0..s.c {
        for ki in 0..k {
            for kj in 0..k {
                let row = &cols[((ci * k + ki) * k + kj) * width..][..width];
                let (lo, hi) = inside(kj, p, s.w, o.w);
                for j in 0..m {
                    let mut plane = dx.slice_mut(ndarray::s![ci, j * hw..(j + 1) * hw]);
                    let img = plane.as_slice_mut().expect("an image plane is contiguous");
                    for oy in 0..o.h {
                        let iy = (oy + ki).wrapping_sub(p);
                        if oy + ki < p || iy >= s.h {
                            continue;
                        }
                        let src = &row[j * ohw + oy * o.w + lo..][..hi - lo];
                        let dst = &mut img[iy * s.w + lo + kj - p..][..hi - lo];
                        dst.iter_mut().zip(src).for_each(|(d, v)| *d += *v);
                    }
                }
            }
        }
    }
}

/// The batch as an n × (c·h·w) NCHW matrix: `x` itself, or a copy in `flat` if `x` is
/// channel-major with several channels.
fn example_major<'a>(s: Shape, n: usize, x: &'a [f32], flat: &'a mut Vec<f32>) -> &'a [f32] {
    if Planes::is_nchw(s, n) {
        return x;
    }
    flat.resize(n * s.len(), 0.0);
    relayout(s, n, Planes::of(s, n), x, Planes::nchw(s), flat);
    flat
}

/// A convolution's settings and input, shared by the threads of one pass.
#[derive(Clone, Copy)]
struct Conv<'a> {
    s: Shape,
    o: Shape,
    k: usize,
    p: usize,
    n: usize,
    x: &'a [f32],
    /// The weights, out channels × (c·k·k).
    wm: ArrayView2<'a, f32>,
    /// Examples per im2col group.
    g: usize,
    /// The direct kernels' instruction set, if they run this convolution instead of im2col
    /// and matrix products (the same numbers, faster).
    #[cfg(target_arch = "x86_64")]
    direct: Option<simd::Isa>,
}

/// The three passes of a convolution, for sizing their scratch buffers.
#[derive(Clone, Copy)]
enum Pass {
    Forward,
    WeightGrad,
    InputGrad,
}

impl<'a> Conv<'a> {
    #[allow(clippy::too_many_arguments)]
    fn new(s: Shape, o: Shape, k: usize, p: usize, n: usize, x: &'a [f32], w: &'a [f32], oc: usize) -> Self {
        let ckk = s.c * k * k;
        #[allow(unused_mut)]
        let mut conv = Self {
            s,
            o,
            k,
            p,
            n,
            x,
            wm: mat(w, oc, ckk),
            g: group_size(ckk * o.h * o.w, n),
            #[cfg(target_arch = "x86_64")]
            direct: None,
        };
        #[cfg(target_arch = "x86_64")]
        {
            conv.direct = simd::Isa::detect().filter(|_| direct::fits(&conv));
        }
        conv
    }

    fn ckk(&self) -> usize {
        self.s.c * self.k * self.k
    }

    /// Scratch values one thread needs for `pass`.
    fn scratch(&self, pass: Pass) -> usize {
        #[cfg(target_arch = "x86_64")]
        if let Some(isa) = self.direct {
            return match pass {
                Pass::Forward => direct::forward_scratch(self),
                Pass::WeightGrad => direct::weight_grad_scratch(self, isa),
                Pass::InputGrad => direct::input_grad_scratch(self),
            };
        }
        let _ = pass;
        self.ckk() * self.g * self.o.h * self.o.w
    }

    /// The outputs of the examples `part` (`y` is their block of the output matrix) with bias `b`.
    fn forward(&self, part: Range<usize>, b: &[f32], mut y: ArrayViewMut2<'_, f32>, cols: &mut [f32]) {
        let (ckk, ohw) = (self.ckk(), self.o.h * self.o.w);
        for (mut row, bias) in y.rows_mut().into_iter().zip(b) {
            row.fill(*bias);
        }
        for first in part.clone().step_by(self.g) {
            let m = self.g.min(part.end - first);
            let cols = &mut cols[..ckk * m * ohw];
            im2col(self.x, self.s, self.k, self.p, self.o, self.n, first..first + m, 0..ckk, cols);
            let at = (first - part.start) * ohw;
            let mut ym = y.slice_mut(ndarray::s![.., at..at + m * ohw]);
            general_mat_mul(1.0, &self.wm, &mat(cols, ckk, m * ohw), 1.0, &mut ym);
        }
    }

    /// Adds the gradient of the weight columns `rows` (kernel entries) to `gw`, their block of
    /// the out channels × (c·k·k) weight gradient: sums over the whole batch, example after
    /// example.
    fn weight_grad(&self, dy: &[f32], rows: Range<usize>, mut gw: ArrayViewMut2<'_, f32>, cols: &mut [f32]) {
        let ohw = self.o.h * self.o.w;
        let q = rows.len();
        for first in (0..self.n).step_by(self.g) {
            let m = self.g.min(self.n - first);
            // The columns are rebuilt rather than kept from the forward pass: a group's
            // columns fit in cache, the whole batch's would not.
            let cols = &mut cols[..q * m * ohw];
            im2col(self.x, self.s, self.k, self.p, self.o, self.n, first..first + m, rows.clone(), cols);
            let dym = out_view(dy, self.o, self.n, first, m);
            // One product per example, not per group: the sum over a long K would round
            // differently, and the chapters pin seeded training runs to the numbers of the
            // per-example sums.
            for j in 0..m {
                let cols_j = mat(cols, q, m * ohw).slice_move(ndarray::s![.., j * ohw..(j + 1) * ohw]);
                let dy_j = dym.slice(ndarray::s![.., j * ohw..(j + 1) * ohw]);
                general_mat_mul(1.0, &dy_j, &cols_j.t(), 1.0, &mut gw);
            }
        }
    }

    /// Adds the bias gradient of the output channels `channels` to `gb`, their share of it.
    fn bias_grad(&self, dy: &[f32], channels: Range<usize>, gb: &mut [f32]) {
        let (ohw, out_planes) = (self.o.h * self.o.w, Planes::of(self.o, self.n));
        for (first, gb) in channels.step_by(8).zip(gb.chunks_mut(8)) {
            for i in 0..self.n {
                let plane = |c: usize| &dy[out_planes.at(first + c, i)..][..ohw];
                macro_rules! by_count {
                    ($($g:literal)*) => {
                        match gb.len() {
                            $($g => add_plane_sums::<$g>(std::array::from_fn(plane), gb),)*
                            _ => unreachable!("chunks of at most 8"),
                        }
                    };
                }
                by_count!(1 2 3 4 5 6 7 8);
            }
        }
    }

    /// The input gradient of the examples `part` (`dx` is their block of the input, channels ×
    /// (examples·pixels)).
    fn input_grad(&self, dy: &[f32], part: Range<usize>, mut dx: ArrayViewMut2<'_, f32>, dcols: &mut [f32]) {
        let (ckk, ohw) = (self.ckk(), self.o.h * self.o.w);
        dx.fill(0.0);
        for first in part.clone().step_by(self.g) {
            let m = self.g.min(part.end - first);
            let dcols = &mut dcols[..ckk * m * ohw];
            let dym = out_view(dy, self.o, self.n, first, m);
            general_mat_mul(1.0, &self.wm.t(), &dym, 0.0, &mut mat_mut(dcols, ckk, m * ohw));
            let hw = self.s.h * self.s.w;
            let at = (first - part.start) * hw;
            col2im(dcols, self.s, self.k, self.p, self.o, m, dx.slice_mut(ndarray::s![.., at..at + m * hw]));
        }
    }
}

/// `gb[c] += Σ planes[c]`, each plane summed as `Iterator::sum` does (from −0.0, pixel after
/// pixel), with the `G` chains of additions advancing side by side instead of one after the
/// other.
fn add_plane_sums<const G: usize>(planes: [&[f32]; G], gb: &mut [f32]) {
    let mut sums = [-0.0f32; G];
    let len = planes[0].len();
    let planes = planes.map(|p| &p[..len]);
    for pix in 0..len {
        for (s, p) in sums.iter_mut().zip(&planes) {
            *s += p[pix];
        }
    }
    gb.iter_mut().zip(sums).for_each(|(g, s)| *g += s);
}

/// y = layer(x) for a batch of n examples of shape `s` (output shape `o`), both in the
/// layout of [`Planes::of`], split between `threads` threads (the result is the same for any
/// number).
#[allow(clippy::too_many_arguments)]
pub(crate) fn forward(
    layer: &Layer,
    s: Shape,
    o: Shape,
    params: &[f32],
    x: &[f32],
    n: usize,
    y: &mut [f32],
    cache: &mut Cache,
    threads: usize,
) {
    let threads = threads.clamp(1, n.max(1));
    match *layer {
        Layer::Dense { out } => {
            let d = s.len();
            let (w, b) = params.split_at(d * out);
            let x = example_major(s, n, x, &mut cache.flat);
            rows_in_parts(threads, y, out, &|r, y| {
                y.chunks_exact_mut(out).for_each(|row| row.copy_from_slice(b));
                let a = Strided { data: &x[r.start * d..r.end * d], rs: d, cs: 1 };
                product(Product { m: r.len(), k: d, n: out, a, b: w, ldb: out, accumulate: true }, y, out);
            });
        }
        Layer::Conv { out_channels: oc, kernel: k, padding: p } => {
            let (w, b) = params.split_at(oc * s.c * k * k);
            let conv = Conv::new(s, o, k, p, n, x, w, oc);
            let (g, cols) = (conv.g, buffers(&mut cache.cols, threads, conv.scratch(Pass::Forward)));
            #[cfg(target_arch = "x86_64")]
            if let Some(isa) = conv.direct {
                direct::pad_batch(&conv, threads, &mut cache.padded);
                let padded = &cache.padded[..];
                examples_in_parts(threads, g, o, out_view_mut(y, o, n, 0, n), cols, &|r, y, cols| {
                    direct::forward(&conv, isa, padded, r, b, y, cols);
                });
                return;
            }
            examples_in_parts(threads, g, o, out_view_mut(y, o, n, 0, n), cols, &|r, y, cols| {
                conv.forward(r, b, y, cols);
            });
        }
        Layer::MaxPool => max_pool(s, o, x, n, y, &mut cache.argmax, threads),
        Layer::Relu => rows_in_parts(threads, y, 1, &|r, y| {
            y.iter_mut().zip(&x[r]).for_each(|(y, x)| *y = x.max(0.0));
        }),
    }
}

/// 2 × 2 max pooling with stride 2, split between `threads` threads by channel when the
/// output is channel-major; records each output's maximum (its index in `x`) in `argmax`.
fn max_pool(s: Shape, o: Shape, x: &[f32], n: usize, y: &mut [f32], argmax: &mut Vec<u32>, threads: usize) {
    argmax.resize(n * o.len(), 0);
    let (pout, ohw) = (Planes::of(o, n), o.h * o.w);
    // 1 × 1 outputs are example-major, and their channels interleave.
    let threads = if ohw > 1 { threads.min(s.c) } else { 1 };
    in_parts(
        threads,
        (0..s.c, y, &mut argmax[..]),
        &|(r, y, a): (Range<usize>, &mut [f32], &mut [u32]), t1, t| {
            let mid = cut(&r, 1, t1, t);
            let at = (mid - r.start) * n * ohw;
            let ((y1, y2), (a1, a2)) = (y.split_at_mut(at), a.split_at_mut(at));
            ((r.start..mid, y1, a1), (mid..r.end, y2, a2))
        },
        &|(r, y, a)| {
            let base = pout.at(r.start, 0);
            let pin = Planes::of(s, n);
            for c in r {
                for i in 0..n {
                    let (ib, ob) = (pin.at(c, i), pout.at(c, i) - base);
                    let (yp, ap) = (&mut y[ob..ob + ohw], &mut a[ob..ob + ohw]);
                    for (oy, (yr, ar)) in yp.chunks_exact_mut(o.w).zip(ap.chunks_exact_mut(o.w)).enumerate() {
                        let top = ib + 2 * oy * s.w;
                        let (r0, r1) = (&x[top..top + 2 * o.w], &x[top + s.w..top + s.w + 2 * o.w]);
                        let pairs = r0.chunks_exact(2).zip(r1.chunks_exact(2));
                        for (ox, ((v, a), (p0, p1))) in
                            yr.iter_mut().zip(ar.iter_mut()).zip(pairs).enumerate()
                        {
                            // The first maximum in reading order, as a scan with `>` finds it.
                            let (mut best, mut at) = (p0[0], 0);
                            if p0[1] > best {
                                (best, at) = (p0[1], 1);
                            }
                            if p1[0] > best {
                                (best, at) = (p1[0], s.w);
                            }
                            if p1[1] > best {
                                (best, at) = (p1[1], s.w + 1);
                            }
                            *v = best;
                            *a = (top + 2 * ox + at) as u32;
                        }
                    }
                }
            }
        },
    );
}

/// The adjoint of [`max_pool`]: each output's gradient goes to its window's maximum. Given
/// `relu_out`, the output of a ReLU just before the pooling, it is that ReLU's adjoint too: a
/// maximum the ReLU clipped to 0 passes nothing on. That gives the same bits as the two passes
/// one after the other, without a pass over the ReLU's output and two gradients.
#[allow(clippy::too_many_arguments)]
fn max_pool_backward(
    s: Shape,
    o: Shape,
    n: usize,
    argmax: &[u32],
    dy: &[f32],
    relu_out: Option<&[f32]>,
    dx: &mut [f32],
    threads: usize,
) {
    let (ohw, hw) = (o.h * o.w, s.h * s.w);
    let threads = if ohw > 1 { threads.min(s.c) } else { 1 };
    // A part's channels: its block of dx (input channels are channel-major, as pooling needs at
    // least 2 × 2 pixels) and its block of the outputs (channel-major too when split).
    rows_in_parts(threads, dx, n * hw, &|r, dx| {
        let outputs = r.start * n * ohw..r.end * n * ohw;
        dx.fill(0.0);
        let base = r.start * n * hw;
        let pairs = argmax[outputs.clone()].iter().map(|&j| j as usize).zip(&dy[outputs]);
        match relu_out {
            None => pairs.for_each(|(j, g)| dx[j - base] += g),
            // A select, not a branch: whether the ReLU clipped a maximum is a coin toss.
            Some(y) => pairs.for_each(|(j, &g)| dx[j - base] += if y[j] > 0.0 { g } else { 0.0 }),
        }
    });
}

/// The backward passes of a ReLU and the 2 × 2 max pooling right after it, in one: `s` and `o`
/// are the pooling's input and output shapes, `relu_out` the ReLU's output, `dy` the gradient
/// of the pooling's output, `cache` the pooling's; writes the gradient of the ReLU's input.
#[allow(clippy::too_many_arguments)]
pub(crate) fn relu_pool_backward(
    s: Shape,
    o: Shape,
    n: usize,
    relu_out: &[f32],
    dy: &[f32],
    dx: &mut [f32],
    cache: &Cache,
    threads: usize,
) {
    max_pool_backward(s, o, n, &cache.argmax, dy, Some(relu_out), dx, threads.clamp(1, n.max(1)));
}

/// Given dy for the batch, adds the parameter gradient into `grads` and, if `dx` is given,
/// writes the input gradient there (all in the layout of [`Planes::of`]). The threads share
/// first the parameter gradient, each summing its own entries over all examples in order,
/// then the input gradient, each taking a share of the examples: the result is the same for
/// any number of threads.
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward(
    layer: &Layer,
    s: Shape,
    o: Shape,
    params: &[f32],
    grads: &mut [f32],
    x: &[f32],
    y: &[f32],
    dy: &[f32],
    n: usize,
    dx: Option<&mut [f32]>,
    cache: &mut Cache,
    threads: usize,
) {
    let threads = threads.clamp(1, n.max(1));
    match *layer {
        Layer::Dense { out } => {
            let d = s.len();
            let (w, _) = params.split_at(d * out);
            let (gw, gb) = grads.split_at_mut(d * out);
            // The forward pass left the NCHW copy of a channel-major input in `flat`.
            let nchw = Planes::is_nchw(s, n);
            let Cache { flat, dflat, wt, .. } = cache;
            let xf = if nchw { x } else { &flat[..n * d] };
            // dW = xᵀ dy, its rows (input features) split between the threads.
            rows_in_parts(threads, gw, out, &|r, gw| {
                let a = Strided { data: &xf[r.start..], rs: 1, cs: d };
                product(Product { m: r.len(), k: n, n: out, a, b: dy, ldb: out, accumulate: true }, gw, out);
            });
            // db = Σ dy over the examples, in their order, its entries split between the threads.
            rows_in_parts(threads, gb, 1, &|r, gb| {
                for row in dy.chunks_exact(out) {
                    gb.iter_mut().zip(&row[r.clone()]).for_each(|(g, v)| *g += v);
                }
            });
            if let Some(dx) = dx {
                // Wᵀ, so that the product reads B's rows in place.
                wt.resize(d * out, 0.0);
                for (j, row) in w.chunks_exact(out).enumerate() {
                    row.iter().enumerate().for_each(|(p, &v)| wt[p * d + j] = v);
                }
                if nchw {
                    dense_input_grad(threads, dy, out, wt, dx);
                } else {
                    dflat.resize(n * d, 0.0);
                    dense_input_grad(threads, dy, out, wt, dflat);
                    relayout(s, n, Planes::nchw(s), dflat, Planes::of(s, n), dx);
                }
            }
        }
        Layer::Conv { out_channels: oc, kernel: k, padding: p } => {
            let ckk = s.c * k * k;
            let (w, _) = params.split_at(oc * ckk);
            let (gw, gb) = grads.split_at_mut(oc * ckk);
            let conv = Conv::new(s, o, k, p, n, x, w, oc);
            let Cache { cols, dcols, padded, .. } = cache;
            #[cfg(target_arch = "x86_64")]
            let direct = conv.direct;
            #[cfg(not(target_arch = "x86_64"))]
            let direct: Option<()> = None;
            // dW = Σ dY colsᵀ, its columns (kernel entries) split between the threads, each of
            // which builds only its rows of the im2col matrix (or, with the direct kernels,
            // reads the padded input the forward pass left).
            let whole =
                (0..ckk, mat_mut(gw, oc, ckk), buffers(cols, threads, conv.scratch(Pass::WeightGrad)), k);
            let split = &split_columns;
            match direct {
                #[cfg(target_arch = "x86_64")]
                Some(isa) => {
                    let padded = &padded[..];
                    in_parts(threads, whole, split, &|(r, gw, bufs, _)| {
                        direct::weight_grad(&conv, isa, padded, dy, r, gw, &mut bufs[0]);
                    });
                }
                _ => {
                    let _ = &padded;
                    in_parts(threads, whole, split, &|(r, gw, bufs, _)| {
                        conv.weight_grad(dy, r, gw, &mut bufs[0])
                    });
                }
            }
            // db = Σ dY over examples and pixels, its channels split between the threads.
            rows_in_parts(threads, gb, 1, &|r, gb| conv.bias_grad(dy, r, gb));
            if let Some(dx) = dx {
                let dcols = buffers(dcols, threads, conv.scratch(Pass::InputGrad));
                let dx = out_view_mut(dx, s, n, 0, n);
                match direct {
                    #[cfg(target_arch = "x86_64")]
                    Some(isa) => examples_in_parts(threads, conv.g, s, dx, dcols, &|r, dx, dcols| {
                        direct::input_grad(&conv, isa, dy, r, dx, dcols);
                    }),
                    _ => examples_in_parts(threads, conv.g, s, dx, dcols, &|r, dx, dcols| {
                        conv.input_grad(dy, r, dx, dcols);
                    }),
                }
            }
        }
        Layer::MaxPool => {
            if let Some(dx) = dx {
                max_pool_backward(s, o, n, &cache.argmax, dy, None, dx, threads);
            }
        }
        Layer::Relu => {
            if let Some(dx) = dx {
                relu_backward(threads, dx, dy, y);
            }
        }
    }
}

/// A thread's share of a weight gradient: its kernel entries, their columns, its buffers.
/// The last entry is the kernel side: shares are whole kernel rows, which the direct kernels
/// take a few at a time.
type Columns<'a> = (Range<usize>, ArrayViewMut2<'a, f32>, &'a mut [Vec<f32>], usize);

/// Cuts a share of kernel entries for `t1` of `t` threads (see [`in_parts`]).
fn split_columns<'a>((r, gw, bufs, k): Columns<'a>, t1: usize, t: usize) -> (Columns<'a>, Columns<'a>) {
    let mid = cut(&r, k, t1, t);
    let (a, b) = gw.split_at(ndarray::Axis(1), mid - r.start);
    let (b1, b2) = bufs.split_at_mut(t1);
    ((r.start..mid, a, b1, k), (mid..r.end, b, b2, k))
}

/// dx = dy Wᵀ for a dense layer (dy: n × out, Wᵀ given as `wt`, out × d; dx: n × d), its rows
/// split over `threads` threads.
fn dense_input_grad(threads: usize, dy: &[f32], out: usize, wt: &[f32], dx: &mut [f32]) {
    let d = wt.len() / out;
    rows_in_parts(threads, dx, d, &|r, dx| {
        let a = Strided { data: &dy[r.start * out..r.end * out], rs: out, cs: 1 };
        product(Product { m: r.len(), k: out, n: d, a, b: wt, ldb: d, accumulate: false }, dx, d);
    });
}

/// dx = dy where y > 0, else 0, split over `threads` threads.
fn relu_backward(threads: usize, dx: &mut [f32], dy: &[f32], y: &[f32]) {
    // A bit mask rather than a select, because the mask vectorises.
    rows_in_parts(threads, dx, 1, &|r, dx| {
        dx.iter_mut().zip(&dy[r.clone()]).zip(&y[r]).for_each(|((d, g), y)| {
            *d = f32::from_bits(g.to_bits() & u32::from(*y > 0.0).wrapping_neg());
        });
    });
}

/// Softmax cross-entropy of `logits` (n × classes) against `labels`, summed over the n
/// examples. If `dlogits` is given as (buffer, b), writes there the gradient of the summed
/// loss divided by b: the n examples' part of the gradient of a batch of b examples' mean
/// loss. Returns (summed loss, number of correct argmaxes).
pub(crate) fn softmax_cross_entropy(
    logits: &[f32],
    labels: &[u8],
    classes: usize,
    mut dlogits: Option<(&mut [f32], usize)>,
) -> (f64, usize) {
    let (mut loss, mut correct) = (0.0f64, 0usize);
    for (i, &label) in labels.iter().enumerate() {
        let z = &logits[i * classes..(i + 1) * classes];
        let (arg, max) = z
            .iter()
            .enumerate()
            .fold((0, f32::NEG_INFINITY), |(a, m), (j, &v)| if v > m { (j, v) } else { (a, m) });
        let sum: f64 = z.iter().map(|&v| f64::from(v - max).exp()).sum();
        loss += sum.ln() - f64::from(z[usize::from(label)] - max);
        correct += usize::from(arg == usize::from(label));
        if let Some((d, batch)) = dlogits.as_mut() {
            let (d, batch) = (&mut d[i * classes..(i + 1) * classes], *batch as f32);
            for (j, (d, &v)) in d.iter_mut().zip(z).enumerate() {
                let p = (f64::from(v - max).exp() / sum) as f32;
                *d = (p - if j == usize::from(label) { 1.0 } else { 0.0 }) / batch;
            }
        }
    }
    (loss, correct)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        // <im2col(x), c> = <x, col2im(c)> for all x, c, here on examples 1 and 2 of a batch of 3.
        let (s, k, p, n) = (Shape::image(2, 5, 4), 3, 1, 3);
        let o = Layer::Conv { out_channels: 1, kernel: k, padding: p }.output_shape(s).unwrap();
        let x: Vec<f32> = (0..n * s.len()).map(|i| (i as f32 * 0.37).sin()).collect();
        let c: Vec<f32> = (0..s.c * k * k * 2 * o.h * o.w).map(|i| (i as f32 * 0.11).cos()).collect();
        let mut cols = vec![0.0; c.len()];
        im2col(&x, s, k, p, o, n, 1..3, 0..s.c * k * k, &mut cols);
        let mut back = vec![0.0; x.len()];
        col2im(&c, s, k, p, o, 2, out_view_mut(&mut back, s, n, 1, 2));
        let lhs: f32 = cols.iter().zip(&c).map(|(a, b)| a * b).sum();
        let rhs: f32 = x.iter().zip(&back).map(|(a, b)| a * b).sum();
        assert!((lhs - rhs).abs() < 1e-3 * lhs.abs().max(1.0), "{lhs} vs {rhs}");
        // Example 0 is outside the range: col2im leaves it alone.
        let planes = Planes::of(s, n);
        assert!((0..s.c).all(|ci| back[planes.at(ci, 0)..][..s.h * s.w].iter().all(|&v| v == 0.0)));
    }

    #[test]
    fn convolution_matches_a_direct_sum() {
        let (s, k, p) = (Shape::image(2, 4, 5), 3, 1);
        let layer = Layer::Conv { out_channels: 3, kernel: k, padding: p };
        let o = layer.output_shape(s).unwrap();
        let params: Vec<f32> = (0..layer.param_len(s)).map(|i| (i as f32 * 0.3).sin()).collect();
        let x: Vec<f32> = (0..2 * s.len()).map(|i| (i as f32 * 0.7).cos()).collect();
        let mut xc = vec![0.0; x.len()];
        relayout(s, 2, Planes::nchw(s), &x, Planes::of(s, 2), &mut xc);
        let mut y = vec![0.0; 2 * o.len()];
        forward(&layer, s, o, &params, &xc, 2, &mut y, &mut Cache::default(), 1);
        for n in 0..2 {
            for oc in 0..3 {
                for oy in 0..o.h {
                    for ox in 0..o.w {
                        let mut v = params[3 * s.c * k * k + oc];
                        for c in 0..s.c {
                            for ki in 0..k {
                                for kj in 0..k {
                                    let (iy, ix) =
                                        (oy as isize + ki as isize - 1, ox as isize + kj as isize - 1);
                                    if iy >= 0 && ix >= 0 && (iy as usize) < s.h && (ix as usize) < s.w {
                                        v += params[((oc * s.c + c) * k + ki) * k + kj]
                                            * x[n * s.len() + (c * s.h + iy as usize) * s.w + ix as usize];
                                    }
                                }
                            }
                        }
                        let got = y[Planes::of(o, 2).at(oc, n) + oy * o.w + ox];
                        assert!((got - v).abs() < 1e-5, "{got} vs {v}");
                    }
                }
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn direct_kernels_round_exactly_like_im2col_and_matrix_products() {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let u = Uniform::new(-1.0f32, 1.0).unwrap();
        let mut random = |len: usize| -> Vec<f32> { (0..len).map(|_| rng.sample(u)).collect() };
        // (input, out channels, kernel, padding, examples): LeNet's two convolutions, odd sizes,
        // more than 256 kernel entries (two blocks of the weight product's inner dimension),
        // more than 256 output channels (two blocks of the input gradient's), and channel
        // counts that fill vectors of 8 and 16 in every way.
        let cases = [
            (Shape::image(1, 28, 28), 6, 5, 2, 5),
            (Shape::image(6, 14, 14), 16, 5, 0, 4),
            (Shape::image(3, 7, 9), 5, 3, 1, 3),
            (Shape::image(2, 6, 6), 20, 3, 2, 2),
            (Shape::image(2, 6, 5), 9, 2, 0, 2),
            (Shape::image(2, 5, 6), 40, 3, 1, 2),
            (Shape::image(12, 5, 5), 9, 5, 2, 2),
            (Shape::image(1, 9, 7), 300, 3, 1, 2),
        ];
        let isas = simd::Isa::all();
        // Past 64 MiB of shared buffers, a convolution takes the im2col path (the input is
        // not read to decide).
        let (big, out, w) = (Shape::image(3, 224, 224), Shape::image(64, 224, 224), vec![0.0; 64 * 27]);
        let conv = |n: usize| Conv::new(big, out, 3, 1, n, &[], &w, 64);
        assert!(direct::fits(&conv(4)) && !direct::fits(&conv(256)));
        for (s, oc, k, p, n) in cases {
            let o = Layer::Conv { out_channels: oc, kernel: k, padding: p }.output_shape(s).unwrap();
            let ckk = s.c * k * k;
            let (x, w, b, dy) = (random(n * s.len()), random(oc * ckk), random(oc), random(n * o.len()));
            let gemm = Conv { direct: None, ..Conv::new(s, o, k, p, n, &x, &w, oc) };
            // The weight gradient adds onto what is there: over shares of the kernel entries as
            // threads could take them (not whole kernel rows, whole rows), then over all.
            let (start, part) =
                ((0..oc * ckk).map(|i| (i as f32 * 0.1).sin()).collect::<Vec<_>>(), 1..ckk - 1);
            fn columns(gw: &mut [f32], oc: usize, r: Range<usize>) -> ArrayViewMut2<'_, f32> {
                let ckk = gw.len() / oc;
                mat_mut(gw, oc, ckk).slice_move(ndarray::s![.., r])
            }
            let mut y0 = vec![0.0; n * o.len()];
            let mut scratch = vec![0.0; gemm.scratch(Pass::Forward)];
            gemm.forward(0..n, &b, out_view_mut(&mut y0, o, n, 0, n), &mut scratch);
            let mut gw0 = start.clone();
            let mut scratch = vec![0.0; gemm.scratch(Pass::WeightGrad)];
            for r in [part.clone(), k..ckk, 0..ckk] {
                gemm.weight_grad(&dy, r.clone(), columns(&mut gw0, oc, r), &mut scratch);
            }
            let mut dx0 = vec![0.0; n * s.len()];
            let mut scratch = vec![0.0; gemm.scratch(Pass::InputGrad)];
            gemm.input_grad(&dy, 1..n, out_view_mut(&mut dx0, s, n, 1, n - 1), &mut scratch);
            for &isa in &isas {
                let conv = Conv { direct: Some(isa), ..gemm };
                let same = |a: &[f32], b: &[f32], what: &str| {
                    let differ = a.iter().zip(b).filter(|(a, b)| a != b).count();
                    assert_eq!(
                        differ,
                        0,
                        "{isa:?}, {what} of {s:?} → {o:?}: {differ} of {} values differ",
                        a.len()
                    );
                };
                let mut padded = Vec::new();
                direct::pad_batch(&conv, 1, &mut padded);
                let mut y = vec![0.0; n * o.len()];
                let mut scratch = vec![0.0; conv.scratch(Pass::Forward)];
                direct::forward(
                    &conv,
                    isa,
                    &padded,
                    0..n,
                    &b,
                    out_view_mut(&mut y, o, n, 0, n),
                    &mut scratch,
                );
                same(&y, &y0, "outputs");
                let mut gw = start.clone();
                let mut scratch = vec![0.0; conv.scratch(Pass::WeightGrad)];
                for r in [part.clone(), k..ckk, 0..ckk] {
                    let gw = columns(&mut gw, oc, r.clone());
                    direct::weight_grad(&conv, isa, &padded, &dy, r, gw, &mut scratch);
                }
                same(&gw, &gw0, "weight gradients");
                let mut dx = vec![0.0; n * s.len()];
                let mut scratch = vec![0.0; conv.scratch(Pass::InputGrad)];
                direct::input_grad(
                    &conv,
                    isa,
                    &dy,
                    1..n,
                    out_view_mut(&mut dx, s, n, 1, n - 1),
                    &mut scratch,
                );
                same(&dx, &dx0, "input gradients");
            }
        }
    }

    #[test]
    fn a_large_batch_on_two_threads_gives_the_plain_sums() {
        // 1,025 images of 32 × 32 and a 1 × 1 kernel: the layer is a scaling, and its
        // gradients are sums over a million values.
        let (s, n) = (Shape::image(1, 32, 32), 1025);
        let layer = Layer::Conv { out_channels: 1, kernel: 1, padding: 0 };
        let o = layer.output_shape(s).unwrap();
        let params = [0.5, 0.25];
        let x: Vec<f32> = (0..n * s.len()).map(|i| ((i % 97) as f32 - 48.0) / 64.0).collect();
        let dy: Vec<f32> = (0..n * o.len()).map(|i| ((i % 89) as f32 - 44.0) / 128.0).collect();
        let (mut y, mut dx, mut grads) = (vec![0.0; n * o.len()], vec![0.0; n * s.len()], [0.0f32; 2]);
        let mut cache = Cache::default();
        forward(&layer, s, o, &params, &x, n, &mut y, &mut cache, 2);
        backward(&layer, s, o, &params, &mut grads, &x, &y, &dy, n, Some(&mut dx), &mut cache, 2);
        assert!(y.iter().zip(&x).all(|(y, x)| *y == 0.5 * x + 0.25));
        assert!(dx.iter().zip(&dy).all(|(dx, dy)| *dx == 0.5 * dy));
        let dw: f64 = x.iter().zip(&dy).map(|(x, d)| f64::from(*x) * f64::from(*d)).sum();
        let db: f64 = dy.iter().map(|d| f64::from(*d)).sum();
        assert!((f64::from(grads[0]) - dw).abs() < 1e-3 * dw.abs().max(1.0), "{} vs {dw}", grads[0]);
        assert!((f64::from(grads[1]) - db).abs() < 1e-3 * db.abs().max(1.0), "{} vs {db}", grads[1]);
    }

    #[test]
    fn bias_gradient_sums_each_plane_in_pixel_order() {
        // Side by side or not, each plane's sum is `Iterator::sum`'s, bit for bit, for any
        // number of channels (8 at a time, and the rest).
        for oc in [1, 6, 8, 11, 16] {
            let (s, n) = (Shape::image(2, 7, 6), 3);
            let o = Layer::Conv { out_channels: oc, kernel: 3, padding: 1 }.output_shape(s).unwrap();
            let dy: Vec<f32> =
                (0..n * o.len()).map(|i| (i as f32 * 0.37).sin() * 10f32.powi(i as i32 % 7 - 3)).collect();
            let (x, w) = (vec![0.0; n * s.len()], vec![0.0; oc * s.c * 9]);
            let conv = Conv::new(s, o, 3, 1, n, &x, &w, oc);
            let mut gb: Vec<f32> = (0..oc).map(|c| c as f32 * 0.25).collect();
            let mut expected = gb.clone();
            conv.bias_grad(&dy, 0..oc, &mut gb);
            let planes = Planes::of(o, n);
            for (c, e) in expected.iter_mut().enumerate() {
                for i in 0..n {
                    *e += dy[planes.at(c, i)..][..o.h * o.w].iter().sum::<f32>();
                }
            }
            assert_eq!(
                gb.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                expected.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn relu_and_pooling_backward_in_one_pass_give_the_two_passes_bits() {
        for (s, n) in [(Shape::image(3, 6, 4), 5), (Shape::image(2, 5, 7), 3), (Shape::image(2, 2, 2), 4)] {
            let o = Layer::MaxPool.output_shape(s).unwrap();
            let x: Vec<f32> = (0..n * s.len()).map(|i| (i as f32 * 0.71).sin() - 0.6).collect();
            let y: Vec<f32> = x.iter().map(|v| v.max(0.0)).collect();
            let (mut pooled, mut argmax) = (vec![0.0; n * o.len()], Vec::new());
            max_pool(s, o, &y, n, &mut pooled, &mut argmax, 1);
            let dy: Vec<f32> = (0..n * o.len()).map(|i| (i as f32 * 1.3).cos() - 0.2).collect();
            // Stale values in the buffer must not survive.
            let mut dpool = vec![7.0; n * s.len()];
            max_pool_backward(s, o, n, &argmax, &dy, None, &mut dpool, 1);
            let mut scattered = vec![0.0f32; n * s.len()];
            for (&j, g) in argmax.iter().zip(&dy) {
                scattered[j as usize] += g;
            }
            assert_eq!(dpool, scattered);
            let mut two = vec![0.0; n * s.len()];
            relu_backward(1, &mut two, &dpool, &y);
            for threads in [1, 2, 3] {
                let mut one = vec![7.0; n * s.len()];
                max_pool_backward(s, o, n, &argmax, &dy, Some(&y), &mut one, threads);
                assert_eq!(
                    one.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    two.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
                );
            }
            assert!(two.iter().any(|&v| v != 0.0) && dpool.iter().zip(&two).any(|(p, t)| p != t));
        }
    }

    #[test]
    fn softmax_cross_entropy_of_uniform_logits_is_log_classes() {
        let (loss, correct) = softmax_cross_entropy(&[0.0; 20], &[3, 7], 10, None);
        assert!((loss - 2.0 * 10f64.ln()).abs() < 1e-6);
        assert_eq!(correct, 0);
        let mut d = [0.0; 3];
        let (_, correct) = softmax_cross_entropy(&[5.0, 0.0, 0.0], &[0], 3, Some((&mut d, 1)));
        assert_eq!(correct, 1);
        assert!(d[0] < 0.0 && d[1] > 0.0 && (d.iter().sum::<f32>()).abs() < 1e-6);
    }
}
