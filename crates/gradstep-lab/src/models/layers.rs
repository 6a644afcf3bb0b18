//! Layers with hand-derived backward passes, over batches stored as flat `f32` buffers.
//!
//! A batch of n examples of [`Shape`] (c, h, w) is n·c·h·w values, example-major, then
//! channel, row, column (PyTorch's NCHW). Every layer's parameters live in one slice of the
//! network's flat parameter vector (weights first, then biases), and its gradient in the
//! matching slice of the gradient vector, so one optimizer step updates the whole network.
//!
//! The backward formulas, with upstream gradient dy:
//!
//! - dense y = xW + b: dW = xᵀdy, db = Σₙ dy, dx = dy Wᵀ;
//! - convolution via im2col, Y = W·cols(x) + b: dW = Σₙ dY·colsᵀ, db = Σ dY, dx = col2im(Wᵀ dY);
//! - 2 × 2 max pooling: dy goes to the position of each window's maximum;
//! - ReLU: dx = dy where y > 0, else 0;
//! - softmax cross-entropy, mean over the batch: dz = (softmax(z) − onehot(label)) / n.

use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView2, ArrayViewMut2};
use rand::Rng;
use rand_distr::Uniform;

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

/// Scratch buffers a layer keeps between its forward and backward passes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cache {
    /// im2col columns of every example (convolution).
    cols: Vec<f32>,
    /// Column gradients of one example (convolution).
    dcols: Vec<f32>,
    /// Index of each output's maximum within the input (pooling).
    argmax: Vec<u32>,
}

fn mat(data: &[f32], rows: usize, cols: usize) -> ArrayView2<'_, f32> {
    ArrayView2::from_shape((rows, cols), data).expect("buffer sizes are kept consistent")
}

fn mat_mut(data: &mut [f32], rows: usize, cols: usize) -> ArrayViewMut2<'_, f32> {
    ArrayViewMut2::from_shape((rows, cols), data).expect("buffer sizes are kept consistent")
}

/// im2col of one c × h × w image for a k × k kernel with padding p: a (c·k·k) × (oh·ow) matrix.
fn im2col(x: &[f32], s: Shape, k: usize, p: usize, o: Shape, cols: &mut [f32]) {
    let ohw = o.h * o.w;
    for ci in 0..s.c {
        let img = &x[ci * s.h * s.w..(ci + 1) * s.h * s.w];
        for ki in 0..k {
            for kj in 0..k {
                let row = &mut cols[((ci * k + ki) * k + kj) * ohw..][..ohw];
                for oy in 0..o.h {
                    let iy = (oy + ki) as isize - p as isize;
                    let out = &mut row[oy * o.w..(oy + 1) * o.w];
                    if iy < 0 || iy >= s.h as isize {
                        out.fill(0.0);
                        continue;
                    }
                    let src = &img[iy as usize * s.w..(iy as usize + 1) * s.w];
                    for (ox, v) in out.iter_mut().enumerate() {
                        let ix = (ox + kj) as isize - p as isize;
                        *v = if ix < 0 || ix >= s.w as isize { 0.0 } else { src[ix as usize] };
                    }
                }
            }
        }
    }
}

/// The adjoint of [`im2col`]: adds each column entry back onto the image position it came from.
fn col2im(cols: &[f32], s: Shape, k: usize, p: usize, o: Shape, dx: &mut [f32]) {
    let ohw = o.h * o.w;
    for ci in 0..s.c {
        let img = &mut dx[ci * s.h * s.w..(ci + 1) * s.h * s.w];
        for ki in 0..k {
            for kj in 0..k {
                let row = &cols[((ci * k + ki) * k + kj) * ohw..][..ohw];
                for oy in 0..o.h {
                    let iy = (oy + ki) as isize - p as isize;
                    if iy < 0 || iy >= s.h as isize {
                        continue;
                    }
                    let dst = &mut img[iy as usize * s.w..(iy as usize + 1) * s.w];
                    for (ox, v) in row[oy * o.w..(oy + 1) * o.w].iter().enumerate() {
                        let ix = (ox + kj) as isize - p as isize;
                        if ix >= 0 && (ix as usize) < s.w {
                            dst[ix as usize] += v;
                        }
                    }
                }
            }
        }
    }
}

/// y = layer(x) for a batch of n examples of shape `s` (output shape `o`).
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
) {
    match *layer {
        Layer::Dense { out } => {
            let d = s.len();
            let (w, b) = params.split_at(d * out);
            let mut ym = mat_mut(y, n, out);
            for mut row in ym.rows_mut() {
                row.iter_mut().zip(b).for_each(|(v, b)| *v = *b);
            }
            general_mat_mul(1.0, &mat(x, n, d), &mat(w, d, out), 1.0, &mut ym);
        }
        Layer::Conv { out_channels: oc, kernel: k, padding: p } => {
            let ckk = s.c * k * k;
            let ohw = o.h * o.w;
            let (w, b) = params.split_at(oc * ckk);
            cache.cols.resize(n * ckk * ohw, 0.0);
            for i in 0..n {
                let cols = &mut cache.cols[i * ckk * ohw..(i + 1) * ckk * ohw];
                im2col(&x[i * s.len()..(i + 1) * s.len()], s, k, p, o, cols);
                let yi = &mut y[i * o.len()..(i + 1) * o.len()];
                for (c, bias) in b.iter().enumerate() {
                    yi[c * ohw..(c + 1) * ohw].fill(*bias);
                }
                general_mat_mul(1.0, &mat(w, oc, ckk), &mat(cols, ckk, ohw), 1.0, &mut mat_mut(yi, oc, ohw));
            }
        }
        Layer::MaxPool => {
            cache.argmax.resize(n * o.len(), 0);
            for i in 0..n {
                for c in 0..s.c {
                    let base = (i * s.c + c) * s.h * s.w;
                    for oy in 0..o.h {
                        for ox in 0..o.w {
                            let mut best = base + 2 * oy * s.w + 2 * ox;
                            for (dy, dx) in [(0, 1), (1, 0), (1, 1)] {
                                let j = base + (2 * oy + dy) * s.w + 2 * ox + dx;
                                if x[j] > x[best] {
                                    best = j;
                                }
                            }
                            let out = ((i * s.c + c) * o.h + oy) * o.w + ox;
                            y[out] = x[best];
                            cache.argmax[out] = best as u32;
                        }
                    }
                }
            }
        }
        Layer::Relu => y.iter_mut().zip(x).for_each(|(y, x)| *y = x.max(0.0)),
    }
}

/// Given dy for the batch, adds the parameter gradient into `grads` and, if `dx` is given,
/// writes the input gradient there.
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
) {
    match *layer {
        Layer::Dense { out } => {
            let d = s.len();
            let (w, _) = params.split_at(d * out);
            let (gw, gb) = grads.split_at_mut(d * out);
            let dym = mat(dy, n, out);
            general_mat_mul(1.0, &mat(x, n, d).t(), &dym, 1.0, &mut mat_mut(gw, d, out));
            for row in dym.rows() {
                gb.iter_mut().zip(row).for_each(|(g, v)| *g += v);
            }
            if let Some(dx) = dx {
                general_mat_mul(1.0, &dym, &mat(w, d, out).t(), 0.0, &mut mat_mut(dx, n, d));
            }
        }
        Layer::Conv { out_channels: oc, kernel: k, padding: p } => {
            let ckk = s.c * k * k;
            let ohw = o.h * o.w;
            let (w, _) = params.split_at(oc * ckk);
            let (gw, gb) = grads.split_at_mut(oc * ckk);
            let mut dx = dx;
            if let Some(dx) = dx.as_deref_mut() {
                dx.fill(0.0);
            }
            cache.dcols.resize(ckk * ohw, 0.0);
            for i in 0..n {
                let cols = &cache.cols[i * ckk * ohw..(i + 1) * ckk * ohw];
                let dyi = &dy[i * o.len()..(i + 1) * o.len()];
                let dym = mat(dyi, oc, ohw);
                general_mat_mul(1.0, &dym, &mat(cols, ckk, ohw).t(), 1.0, &mut mat_mut(gw, oc, ckk));
                for (c, g) in gb.iter_mut().enumerate() {
                    *g += dyi[c * ohw..(c + 1) * ohw].iter().sum::<f32>();
                }
                if let Some(dx) = dx.as_deref_mut() {
                    general_mat_mul(
                        1.0,
                        &mat(w, oc, ckk).t(),
                        &dym,
                        0.0,
                        &mut mat_mut(&mut cache.dcols, ckk, ohw),
                    );
                    col2im(&cache.dcols, s, k, p, o, &mut dx[i * s.len()..(i + 1) * s.len()]);
                }
            }
        }
        Layer::MaxPool => {
            if let Some(dx) = dx {
                dx.fill(0.0);
                for (j, g) in cache.argmax.iter().zip(dy) {
                    dx[*j as usize] += g;
                }
            }
        }
        Layer::Relu => {
            if let Some(dx) = dx {
                dx.iter_mut().zip(dy).zip(y).for_each(|((d, g), y)| *d = if *y > 0.0 { *g } else { 0.0 });
            }
        }
    }
}

/// Mean softmax cross-entropy of `logits` (n × classes) against `labels`; writes
/// d loss / d logits into `dlogits` if given, and returns (loss, number of correct argmaxes).
pub(crate) fn softmax_cross_entropy(
    logits: &[f32],
    labels: &[u8],
    classes: usize,
    mut dlogits: Option<&mut [f32]>,
) -> (f64, usize) {
    let n = labels.len();
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
        if let Some(d) = dlogits.as_deref_mut() {
            let d = &mut d[i * classes..(i + 1) * classes];
            for (j, (d, &v)) in d.iter_mut().zip(z).enumerate() {
                let p = (f64::from(v - max).exp() / sum) as f32;
                *d = (p - if j == usize::from(label) { 1.0 } else { 0.0 }) / n as f32;
            }
        }
    }
    (if n == 0 { 0.0 } else { loss / n as f64 }, correct)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        // <im2col(x), c> = <x, col2im(c)> for all x, c.
        let (s, k, p) = (Shape::image(2, 5, 4), 3, 1);
        let o = Layer::Conv { out_channels: 1, kernel: k, padding: p }.output_shape(s).unwrap();
        let x: Vec<f32> = (0..s.len()).map(|i| (i as f32 * 0.37).sin()).collect();
        let c: Vec<f32> = (0..s.c * k * k * o.h * o.w).map(|i| (i as f32 * 0.11).cos()).collect();
        let mut cols = vec![0.0; c.len()];
        im2col(&x, s, k, p, o, &mut cols);
        let mut back = vec![0.0; s.len()];
        col2im(&c, s, k, p, o, &mut back);
        let lhs: f32 = cols.iter().zip(&c).map(|(a, b)| a * b).sum();
        let rhs: f32 = x.iter().zip(&back).map(|(a, b)| a * b).sum();
        assert!((lhs - rhs).abs() < 1e-3 * lhs.abs().max(1.0), "{lhs} vs {rhs}");
    }

    #[test]
    fn convolution_matches_a_direct_sum() {
        let (s, k, p) = (Shape::image(2, 4, 5), 3, 1);
        let layer = Layer::Conv { out_channels: 3, kernel: k, padding: p };
        let o = layer.output_shape(s).unwrap();
        let params: Vec<f32> = (0..layer.param_len(s)).map(|i| (i as f32 * 0.3).sin()).collect();
        let x: Vec<f32> = (0..2 * s.len()).map(|i| (i as f32 * 0.7).cos()).collect();
        let mut y = vec![0.0; 2 * o.len()];
        forward(&layer, s, o, &params, &x, 2, &mut y, &mut Cache::default());
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
                        let got = y[n * o.len() + (oc * o.h + oy) * o.w + ox];
                        assert!((got - v).abs() < 1e-5, "{got} vs {v}");
                    }
                }
            }
        }
    }

    #[test]
    fn softmax_cross_entropy_of_uniform_logits_is_log_classes() {
        let (loss, correct) = softmax_cross_entropy(&[0.0; 20], &[3, 7], 10, None);
        assert!((loss - 10f64.ln()).abs() < 1e-6);
        assert_eq!(correct, 0);
        let mut d = [0.0; 3];
        let (_, correct) = softmax_cross_entropy(&[5.0, 0.0, 0.0], &[0], 3, Some(&mut d));
        assert_eq!(correct, 1);
        assert!(d[0] < 0.0 && d[1] > 0.0 && (d.iter().sum::<f32>()).abs() < 1e-6);
    }
}
