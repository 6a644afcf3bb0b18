//! A feed-forward network of [`Layer`]s ending in softmax cross-entropy.

use gradstep::Optimizer;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::layers::{self, Cache, Layer, Planes, Shape};

/// Why a network could not be built or run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A layer does not fit the shape it receives.
    #[error("layer {index} ({layer:?}) does not fit its input of shape {input:?}")]
    Layer {
        /// Position of the layer.
        index: usize,
        /// The layer.
        layer: Layer,
        /// The shape it was given.
        input: Shape,
    },
    /// The network has no layers or does not end in a vector of class scores.
    #[error("the network must have layers and end in a vector of at least 2 class scores, not {0:?}")]
    Output(Shape),
    /// A batch's size does not fit the network.
    #[error("a batch of {got} values is not a whole, non-zero number of inputs of {per_example} values")]
    Input {
        /// Values per example.
        per_example: usize,
        /// Values given.
        got: usize,
    },
    /// Labels and examples disagree in number, or a label is not a class.
    #[error("labels: {0}")]
    Labels(String),
}

/// The loss and accuracy of a batch (or of a whole data set).
///
/// # Example
/// ```
/// use gradstep_lab::models::network::BatchStats;
///
/// let s = BatchStats { loss: 0.5, correct: 3, count: 4 };
/// assert_eq!(s.accuracy(), 0.75);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BatchStats {
    /// Mean cross-entropy.
    pub loss: f64,
    /// Examples whose highest score is the label.
    pub correct: usize,
    /// Examples.
    pub count: usize,
}

impl BatchStats {
    /// correct / count (0 for no examples).
    pub fn accuracy(&self) -> f64 {
        if self.count == 0 { 0.0 } else { self.correct as f64 / self.count as f64 }
    }

    /// Adds another batch, weighting the mean losses by their sizes.
    pub fn merge(&mut self, other: BatchStats) {
        let total = self.count + other.count;
        if total > 0 {
            self.loss = (self.loss * self.count as f64 + other.loss * other.count as f64) / total as f64;
        }
        self.correct += other.correct;
        self.count = total;
    }
}

/// A classifier: layers applied in order, then softmax cross-entropy over the last layer's
/// outputs. All parameters live in one flat vector ([`Network::params`]) with a gradient of
/// the same layout ([`Network::grads`]), so any optimizer of the library trains the whole
/// network with one state (elementwise optimizers behave exactly as with one state per tensor).
///
/// Buffers for activations and gradients are kept between batches, so training allocates
/// nothing after the first batch of a given size. With [`Network::set_threads`] a batch is
/// split between threads; results depend on the thread count only through float rounding,
/// and are the same from run to run for a given count.
///
/// # Example
/// ```
/// use gradstep::{Optimizer, Sgd};
/// use gradstep_lab::models::layers::{Layer, Shape};
/// use gradstep_lab::models::network::Network;
///
/// let mut net = Network::new(Shape::vector(2), &[Layer::Dense { out: 8 }, Layer::Relu, Layer::Dense { out: 2 }], 0)?;
/// let (x, y) = ([0.0, 1.0, 1.0, 0.0], [1u8, 0]);
/// let opt = Sgd::new(0.5)?;
/// let mut state = opt.init(net.num_params());
/// let first = net.backprop(&x, &y)?.loss;
/// for _ in 0..50 {
///     net.backprop(&x, &y)?;
///     net.step(&opt, &mut state)?;
/// }
/// assert!(net.loss(&x, &y)?.loss < first / 10.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Network {
    layers: Vec<Layer>,
    shapes: Vec<Shape>,
    offsets: Vec<usize>,
    params: Vec<f32>,
    grads: Vec<f32>,
    /// One per thread; the first runs on the caller's thread.
    workers: Vec<Workspace>,
    /// The logits of a batch split between threads.
    logits: Vec<f32>,
}

/// What one thread needs to run its part of a batch.
#[derive(Debug, Clone)]
struct Workspace {
    acts: Vec<Vec<f32>>,
    caches: Vec<Cache>,
    dy: Vec<f32>,
    dx: Vec<f32>,
    /// The gradient of this part (unused by the first workspace, which writes the network's).
    grads: Vec<f32>,
}

/// The network's fixed description, shared by the threads.
#[derive(Clone, Copy)]
struct Plan<'a> {
    layers: &'a [Layer],
    shapes: &'a [Shape],
    offsets: &'a [usize],
    params: &'a [f32],
}

impl Workspace {
    fn new(layers: usize) -> Self {
        Self {
            acts: vec![Vec::new(); layers + 1],
            caches: vec![Cache::default(); layers],
            dy: Vec::new(),
            dx: Vec::new(),
            grads: Vec::new(),
        }
    }

    /// Runs the layers on the n examples of `x` (NCHW) and returns the logits.
    fn forward(&mut self, plan: Plan<'_>, x: &[f32]) -> &[f32] {
        let s0 = plan.shapes[0];
        let n = x.len() / s0.len();
        let input = &mut self.acts[0];
        input.resize(x.len(), 0.0);
        if Planes::is_nchw(s0, n) {
            input.copy_from_slice(x);
        } else {
            layers::relayout(s0, n, Planes::nchw(s0), x, Planes::of(s0, n), input);
        }
        for (i, layer) in plan.layers.iter().enumerate() {
            let (s, o) = (plan.shapes[i], plan.shapes[i + 1]);
            let (before, after) = self.acts.split_at_mut(i + 1);
            let y = &mut after[0];
            y.resize(n * o.len(), 0.0);
            let p = &plan.params[plan.offsets[i]..plan.offsets[i + 1]];
            layers::forward(layer, s, o, p, &before[i], n, y, &mut self.caches[i]);
        }
        self.acts.last().expect("has activations")
    }

    /// Forward and backward passes on a part of a batch of `total` examples: writes the
    /// gradient of the batch's mean loss restricted to this part into `grads`, and returns
    /// (summed loss, correct) of the part.
    fn backprop(
        &mut self,
        plan: Plan<'_>,
        x: &[f32],
        labels: &[u8],
        total: usize,
        grads: &mut [f32],
    ) -> (f64, usize) {
        let n = labels.len();
        let classes = plan.shapes.last().expect("has shapes").len();
        self.forward(plan, x);
        self.dy.resize(n * classes, 0.0);
        let (loss, correct) = layers::softmax_cross_entropy(
            self.acts.last().expect("has activations"),
            labels,
            classes,
            total,
            Some(&mut self.dy),
        );
        grads.fill(0.0);
        for i in (0..plan.layers.len()).rev() {
            let (s, o) = (plan.shapes[i], plan.shapes[i + 1]);
            let range = plan.offsets[i]..plan.offsets[i + 1];
            // The first layer's input gradient is not needed.
            let dx = if i > 0 {
                self.dx.resize(n * s.len(), 0.0);
                Some(&mut self.dx[..])
            } else {
                None
            };
            layers::backward(
                &plan.layers[i],
                s,
                o,
                &plan.params[range.clone()],
                &mut grads[range],
                &self.acts[i],
                &self.acts[i + 1],
                &self.dy,
                n,
                dx,
                &mut self.caches[i],
            );
            std::mem::swap(&mut self.dy, &mut self.dx);
        }
        (loss, correct)
    }
}

/// The examples of each thread's part: consecutive ranges, as equal as can be.
fn parts(n: usize, threads: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    let t = threads.min(n).max(1);
    (0..t).map(move |k| k * n / t..(k + 1) * n / t)
}

impl Network {
    /// A network for inputs of `input` shape, initialised like PyTorch (U(±1/√fan_in)) from
    /// `seed`.
    ///
    /// # Errors
    /// [`ModelError::Layer`] if a layer does not fit, [`ModelError::Output`] if the network
    /// does not end in at least 2 class scores.
    pub fn new(input: Shape, layers: &[Layer], seed: u64) -> Result<Self, ModelError> {
        let mut shapes = vec![input];
        let mut offsets = vec![0];
        for (index, layer) in layers.iter().enumerate() {
            let s = *shapes.last().expect("starts with the input");
            let o = layer.output_shape(s).ok_or(ModelError::Layer { index, layer: *layer, input: s })?;
            offsets.push(offsets[index] + layer.param_len(s));
            shapes.push(o);
        }
        let out = *shapes.last().expect("starts with the input");
        if layers.is_empty() || out.h != 1 || out.w != 1 || out.c < 2 {
            return Err(ModelError::Output(out));
        }
        let total = *offsets.last().expect("starts with 0");
        let mut params = vec![0.0; total];
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for (i, layer) in layers.iter().enumerate() {
            layer.init(shapes[i], &mut params[offsets[i]..offsets[i + 1]], &mut rng);
        }
        Ok(Self {
            layers: layers.to_vec(),
            shapes,
            offsets,
            params,
            grads: vec![0.0; total],
            workers: vec![Workspace::new(layers.len())],
            logits: Vec::new(),
        })
    }

    /// Splits each batch between `threads` threads (1, the default, runs on the caller's
    /// thread; 0 counts as 1). Each thread runs the layers on its consecutive share of the
    /// examples and the parts' gradients are added in order, so results are the same from run
    /// to run for a given count and differ between counts only by float rounding.
    ///
    /// # Example
    /// ```
    /// use gradstep_lab::models::mlp::mlp;
    ///
    /// let (x, y) = ([0.1, 0.9, 0.4, 0.3, 0.8, 0.2], [1u8, 0, 1]);
    /// let mut one = mlp(2, &[8], 2, 0)?;
    /// let mut two = one.clone();
    /// two.set_threads(2);
    /// assert_eq!(two.threads(), 2);
    /// let (a, b) = (one.backprop(&x, &y)?.loss, two.backprop(&x, &y)?.loss);
    /// assert!((a - b).abs() < 1e-6);
    /// # Ok::<(), gradstep_lab::models::network::ModelError>(())
    /// ```
    pub fn set_threads(&mut self, threads: usize) {
        self.workers.resize(threads.max(1), Workspace::new(self.layers.len()));
    }

    /// The number of threads a batch is split between.
    pub fn threads(&self) -> usize {
        self.workers.len()
    }

    /// The layers.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// The shape of one input example.
    pub fn input_shape(&self) -> Shape {
        self.shapes[0]
    }

    /// The number of classes.
    pub fn classes(&self) -> usize {
        self.shapes.last().expect("has shapes").len()
    }

    /// The number of parameters.
    pub fn num_params(&self) -> usize {
        self.params.len()
    }

    /// All parameters, layer after layer (each: weights, then biases).
    pub fn params(&self) -> &[f32] {
        &self.params
    }

    /// All parameters, mutably.
    pub fn params_mut(&mut self) -> &mut [f32] {
        &mut self.params
    }

    /// The gradient of the last [`Network::backprop`], in the layout of [`Network::params`].
    pub fn grads(&self) -> &[f32] {
        &self.grads
    }

    fn batch(&self, x: &[f32]) -> Result<usize, ModelError> {
        let d = self.input_shape().len();
        if x.is_empty() || !x.len().is_multiple_of(d) {
            return Err(ModelError::Input { per_example: d, got: x.len() });
        }
        Ok(x.len() / d)
    }

    fn check_labels(&self, n: usize, labels: &[u8]) -> Result<(), ModelError> {
        if labels.len() != n {
            return Err(ModelError::Labels(format!("{} labels for {n} examples", labels.len())));
        }
        if let Some(l) = labels.iter().find(|&&l| usize::from(l) >= self.classes()) {
            return Err(ModelError::Labels(format!("label {l} is not below {}", self.classes())));
        }
        Ok(())
    }

    /// The class scores (logits) of a batch, n × classes.
    ///
    /// # Errors
    /// [`ModelError::Input`] if `x` is not a whole number of examples.
    pub fn forward(&mut self, x: &[f32]) -> Result<&[f32], ModelError> {
        let n = self.batch(x)?;
        let d = self.input_shape().len();
        let Self { layers, shapes, offsets, params, workers, logits, .. } = self;
        let plan = Plan { layers, shapes, offsets, params };
        if workers.len() == 1 || n == 1 {
            return Ok(workers[0].forward(plan, x));
        }
        let used = in_parallel(workers, n, |w, r| {
            w.forward(plan, &x[r.start * d..r.end * d]);
        })
        .len();
        logits.clear();
        for w in &workers[..used] {
            logits.extend_from_slice(w.acts.last().expect("has activations"));
        }
        Ok(logits)
    }

    /// Loss and accuracy of a batch, without gradients.
    ///
    /// # Errors
    /// [`ModelError::Input`] or [`ModelError::Labels`] for a malformed batch.
    pub fn loss(&mut self, x: &[f32], labels: &[u8]) -> Result<BatchStats, ModelError> {
        let n = self.batch(x)?;
        self.check_labels(n, labels)?;
        let classes = self.classes();
        let logits = self.forward(x)?;
        let (loss, correct) = layers::softmax_cross_entropy(logits, labels, classes, n, None);
        Ok(BatchStats { loss: loss / n as f64, correct, count: n })
    }

    /// Loss and accuracy of a batch, and the gradient of the mean loss in
    /// [`Network::grads`].
    ///
    /// # Errors
    /// [`ModelError::Input`] or [`ModelError::Labels`] for a malformed batch.
    pub fn backprop(&mut self, x: &[f32], labels: &[u8]) -> Result<BatchStats, ModelError> {
        let n = self.batch(x)?;
        self.check_labels(n, labels)?;
        let d = self.input_shape().len();
        let Self { layers, shapes, offsets, params, workers, grads, .. } = self;
        let plan = Plan { layers, shapes, offsets, params };
        let (loss, correct) = if workers.len() == 1 || n == 1 {
            workers[0].backprop(plan, x, labels, n, grads)
        } else {
            let parts = in_parallel(workers, n, |w, r| {
                let mut g = std::mem::take(&mut w.grads);
                g.resize(plan.params.len(), 0.0);
                let out = w.backprop(plan, &x[r.start * d..r.end * d], &labels[r], n, &mut g);
                w.grads = g;
                out
            });
            grads.copy_from_slice(&workers[0].grads);
            for w in &workers[1..parts.len()] {
                grads.iter_mut().zip(&w.grads).for_each(|(g, v)| *g += v);
            }
            parts.iter().fold((0.0, 0), |(l, c), &(pl, pc)| (l + pl, c + pc))
        };
        Ok(BatchStats { loss: loss / n as f64, correct, count: n })
    }

    /// One optimizer step on all parameters with the gradient of the last
    /// [`Network::backprop`].
    ///
    /// # Errors
    /// Whatever [`Optimizer::step`] returns.
    pub fn step<O: Optimizer<f32>>(&mut self, opt: &O, state: &mut O::State) -> gradstep::Result<()> {
        opt.step(&mut self.params, &self.grads, state)
    }
}

/// Runs `job` on the first workspaces, each with its part of n examples (the first on this
/// thread, the others on scoped threads), and returns the results in the parts' order.
fn in_parallel<R: Send>(
    workers: &mut [Workspace],
    n: usize,
    job: impl Fn(&mut Workspace, std::ops::Range<usize>) -> R + Sync,
) -> Vec<R> {
    let t = workers.len().min(n).max(1);
    let job = &job;
    std::thread::scope(|scope| {
        let mut work = workers[..t].iter_mut().zip(parts(n, t));
        let (first, range) = work.next().expect("at least one part");
        let others: Vec<_> = work.map(|(w, r)| scope.spawn(move || job(w, r))).collect();
        let mut results = vec![job(first, range)];
        for h in others {
            results.push(h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
        }
        results
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Checks every parameter gradient (or every `stride`-th) against central differences,
    /// within 5% or, for gradients below 0.01, 5e-4 (the f32 forward pass limits the accuracy).
    ///
    /// ReLU and max-pooling make the loss piecewise smooth; where a step of ±h crosses a kink
    /// the two one-sided differences disagree, and the point is skipped (at most a tenth of
    /// them may be).
    pub(crate) fn check_gradients(net: &mut Network, x: &[f32], labels: &[u8], stride: usize) {
        let f0 = net.backprop(x, labels).unwrap().loss;
        let grads = net.grads().to_vec();
        let h = 1e-2f32;
        let (mut checked, mut skipped) = (0, 0);
        for j in (0..net.num_params()).step_by(stride) {
            let orig = net.params()[j];
            net.params_mut()[j] = orig + h;
            let up = net.loss(x, labels).unwrap().loss;
            net.params_mut()[j] = orig - h;
            let down = net.loss(x, labels).unwrap().loss;
            net.params_mut()[j] = orig;
            let (fwd, bwd) = ((up - f0) / f64::from(h), (f0 - down) / f64::from(h));
            if (fwd - bwd).abs() > 0.05 * (fwd.abs() + bwd.abs()) + 2e-3 {
                skipped += 1;
                continue;
            }
            checked += 1;
            let fd = (up - down) / (2.0 * f64::from(h));
            let g = f64::from(grads[j]);
            let err = (fd - g).abs() / (1e-2 + fd.abs().max(g.abs()));
            assert!(err < 0.05, "parameter {j}: finite difference {fd}, backprop {g}");
        }
        assert!(skipped * 10 <= checked, "{skipped} kinks among {checked} checked parameters");
    }

    /// Checks the gradient along random directions v (entries ±1): the central difference of
    /// the loss along v, with step `eps`, against g·v, within `tol` (relative).
    pub(crate) fn check_directional(
        net: &mut Network,
        x: &[f32],
        labels: &[u8],
        directions: u64,
        eps: f32,
        tol: f64,
    ) {
        use rand::{Rng, SeedableRng};
        net.backprop(x, labels).unwrap();
        let g = net.grads().to_vec();
        let theta = net.params().to_vec();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        for _ in 0..directions {
            let v: Vec<f32> =
                (0..theta.len()).map(|_| if rng.random::<bool>() { 1.0 } else { -1.0 }).collect();
            let gv: f64 = g.iter().zip(&v).map(|(g, v)| f64::from(g * v)).sum();
            let mut at = |s: f32| {
                net.params_mut().iter_mut().zip(&theta).zip(&v).for_each(|((p, t), v)| *p = t + s * v);
                net.loss(x, labels).unwrap().loss
            };
            let fd = (at(eps) - at(-eps)) / (2.0 * f64::from(eps));
            assert!(
                (fd - gv).abs() < tol * gv.abs().max(0.05),
                "along a random direction: finite difference {fd}, g·v {gv}"
            );
        }
        net.params_mut().copy_from_slice(&theta);
    }

    #[test]
    fn malformed_networks_and_batches_are_errors() {
        assert!(matches!(Network::new(Shape::vector(3), &[], 0), Err(ModelError::Output(_))));
        assert!(matches!(
            Network::new(Shape::vector(3), &[Layer::Dense { out: 1 }], 0),
            Err(ModelError::Output(_))
        ));
        assert!(matches!(
            Network::new(Shape::image(1, 3, 3), &[Layer::Conv { out_channels: 2, kernel: 5, padding: 0 }], 0),
            Err(ModelError::Layer { index: 0, .. })
        ));
        let mut net = Network::new(Shape::vector(3), &[Layer::Dense { out: 4 }], 0).unwrap();
        assert!(matches!(net.forward(&[1.0; 4]), Err(ModelError::Input { .. })));
        assert!(matches!(net.forward(&[]), Err(ModelError::Input { .. })));
        assert!(matches!(net.loss(&[1.0; 3], &[4]), Err(ModelError::Labels(_))));
        assert!(matches!(net.backprop(&[1.0; 6], &[0]), Err(ModelError::Labels(_))));
    }

    #[test]
    fn same_seed_same_network() {
        let layers = [Layer::Dense { out: 5 }, Layer::Relu, Layer::Dense { out: 3 }];
        let a = Network::new(Shape::vector(4), &layers, 9).unwrap();
        let b = Network::new(Shape::vector(4), &layers, 9).unwrap();
        let c = Network::new(Shape::vector(4), &layers, 10).unwrap();
        assert_eq!(a.params(), b.params());
        assert_ne!(a.params(), c.params());
        assert!(a.params()[..20].iter().all(|p| p.abs() <= 0.5));
    }
}
