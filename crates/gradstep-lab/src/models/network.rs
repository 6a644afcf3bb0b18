//! A feed-forward network of [`Layer`]s ending in softmax cross-entropy.

use std::ops::Range;

use gradstep::{AnyOptimizer, AnyState, GroupsState, Optimizer, ParamGroups};
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
/// The optimizers that need each tensor apart, with its shape (Muon, Adafactor, LAMB), get it
/// from [`Network::tensors`], [`NetworkGroups`] and [`Network::step_groups`].
///
/// Buffers for activations and gradients are kept between batches, so training allocates
/// nothing after the first batch of a given size. The layers share their work between the
/// machine's cores ([`Network::set_threads`] changes how many) without changing a single bit
/// of the results.
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
    /// One workspace per thread.
    works: Vec<Workspace>,
    /// Each shard's parameter gradient, shard after shard, before they are summed.
    shard_grads: Vec<f32>,
    /// Each shard's summed loss and number of correct answers.
    shard_stats: Vec<(f64, usize)>,
    /// The logits of the last [`Network::forward`], example after example.
    logits: Vec<f32>,
    /// Threads the shards (and, with fewer shards than threads, the layers' work) are shared
    /// between.
    threads: usize,
    /// The parameter tensors, layer after layer.
    tensors: Vec<ParamTensor>,
    /// A transposed tensor and its gradient while [`Network::step_groups`] steps it.
    transposed: Vec<f32>,
}

/// Activations and gradients of the last batch, and the layers' scratch buffers.
#[derive(Debug, Clone)]
struct Workspace {
    acts: Vec<Vec<f32>>,
    caches: Vec<Cache>,
    dy: Vec<f32>,
    dx: Vec<f32>,
}

/// The network's fixed description.
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
        }
    }

    /// Runs the layers on the n examples of `x` (NCHW) and returns the logits.
    fn forward(&mut self, plan: Plan<'_>, x: &[f32], threads: usize) -> &[f32] {
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
            layers::forward(layer, s, o, p, &before[i], n, y, &mut self.caches[i], threads);
        }
        self.acts.last().expect("has activations")
    }

    /// Forward and backward passes on (a shard of) a batch of `batch` examples: writes the
    /// gradient of its part of the batch's mean loss into `grads`, and returns (summed loss,
    /// correct).
    fn backprop(
        &mut self,
        plan: Plan<'_>,
        x: &[f32],
        labels: &[u8],
        batch: usize,
        grads: &mut [f32],
        threads: usize,
    ) -> (f64, usize) {
        let n = labels.len();
        let classes = plan.shapes.last().expect("has shapes").len();
        self.forward(plan, x, threads);
        let (loss, correct) = layers::softmax_cross_entropy(
            self.acts.last().expect("has activations"),
            labels,
            classes,
            Some((at_least(&mut self.dy, n * classes), batch)),
        );
        grads.fill(0.0);
        let mut done = false;
        for i in (0..plan.layers.len()).rev() {
            if std::mem::take(&mut done) {
                continue;
            }
            let (s, o) = (plan.shapes[i], plan.shapes[i + 1]);
            // A ReLU (whose input gradient is needed) just before a max pooling: both backward
            // passes in one, with the same bits.
            if i >= 2 && plan.layers[i] == Layer::MaxPool && plan.layers[i - 1] == Layer::Relu {
                let dx = at_least(&mut self.dx, n * s.len());
                let dy = &self.dy[..n * o.len()];
                layers::relu_pool_backward(s, o, n, &self.acts[i], dy, dx, &self.caches[i], threads);
                std::mem::swap(&mut self.dy, &mut self.dx);
                done = true;
                continue;
            }
            let range = plan.offsets[i]..plan.offsets[i + 1];
            // The first layer's input gradient is not needed.
            let dx = if i > 0 { Some(at_least(&mut self.dx, n * s.len())) } else { None };
            layers::backward(
                &plan.layers[i],
                s,
                o,
                &plan.params[range.clone()],
                &mut grads[range],
                &self.acts[i],
                &self.acts[i + 1],
                &self.dy[..n * o.len()],
                n,
                dx,
                &mut self.caches[i],
                threads,
            );
            std::mem::swap(&mut self.dy, &mut self.dx);
        }
        (loss, correct)
    }
}

/// The first `len` values of `buf`, grown if it is shorter. The gradient buffers keep their
/// largest size: shrinking and growing them again at every layer zero-filled megabytes per
/// batch, for values every layer's backward pass overwrites.
fn at_least(buf: &mut Vec<f32>, len: usize) -> &mut [f32] {
    if buf.len() < len {
        buf.resize(len, 0.0);
    }
    &mut buf[..len]
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
        let tensors = describe_tensors(layers, &shapes, &offsets);
        Ok(Self {
            layers: layers.to_vec(),
            shapes,
            offsets,
            params,
            grads: vec![0.0; total],
            works: vec![Workspace::new(layers.len())],
            shard_grads: Vec::new(),
            shard_stats: Vec::new(),
            logits: Vec::new(),
            threads: rayon::current_num_threads(),
            tensors,
            transposed: Vec::new(),
        })
    }

    /// Shares the work of a batch between `threads` threads of rayon's pool (by default, the
    /// pool's size: as many as the machine has cores, or `RAYON_NUM_THREADS`; 1 runs
    /// everything on the caller's thread; 0 counts as 1).
    ///
    /// A batch is cut into shards of [`SHARD`] examples, whatever the number of threads. Each
    /// thread runs the forward and backward passes of a run of whole shards, each shard's
    /// gradient in a buffer of its own, and the shards' gradients (and losses) are then summed
    /// in shard order. One hand-over per batch instead of several per layer is what lets two
    /// threads train LeNet about 1.6 times as fast as one on a 2-core machine (a thread per
    /// layer's share gave 1.2). When there are more threads than shards, the threads left share each layer's
    /// work within a shard: on the way forward a convolution or dense layer splits the
    /// shard's examples; on the way back each thread first sums its share of the parameter
    /// gradient's entries over the shard's examples, in their order, then computes the input
    /// gradient of a share of them. Every value is therefore computed by the same operations
    /// in the same order as on one thread: results are bit for bit the same for any count.
    ///
    /// # Example
    /// ```
    /// use gradstep_lab::models::lenet::lenet;
    ///
    /// let x: Vec<f32> = (0..3 * 784).map(|i| (i as f32 * 0.01).sin()).collect();
    /// let labels = [1u8, 7, 3];
    /// let mut one = lenet(0);
    /// one.set_threads(1);
    /// let mut two = one.clone();
    /// two.set_threads(2);
    /// assert_eq!(two.threads(), 2);
    /// assert_eq!(one.backprop(&x, &labels)?.loss, two.backprop(&x, &labels)?.loss);
    /// assert_eq!(one.grads(), two.grads());
    /// # Ok::<(), gradstep_lab::models::network::ModelError>(())
    /// ```
    pub fn set_threads(&mut self, threads: usize) {
        self.threads = threads.max(1);
    }

    /// The number of threads a batch's work is shared between.
    pub fn threads(&self) -> usize {
        self.threads
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

    /// Makes sure there is a workspace for each thread that will work on a batch of `n`
    /// examples, and returns how many threads that is.
    fn workspaces(&mut self, n: usize) -> usize {
        let threads = self.threads.min(n.max(1));
        let used = threads.min(n.div_ceil(SHARD));
        if self.works.len() < used {
            let layers = self.layers.len();
            self.works.resize_with(used, || Workspace::new(layers));
        }
        threads
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
        let (d, classes) = (self.input_shape().len(), self.classes());
        self.logits.resize(n * classes, 0.0);
        let threads = self.workspaces(n);
        let Self { layers, shapes, offsets, params, works, logits, .. } = self;
        let plan = Plan { layers, shapes, offsets, params };
        let whole = Shards {
            range: 0..n.div_ceil(SHARD),
            works,
            values: logits,
            per_shard: SHARD * classes,
            stats: &mut [],
        };
        on_pool(threads, || {
            in_shards(threads, whole, &|part, threads| {
                let Shards { range, works, values, per_shard, .. } = part;
                for (k, out) in range.zip(values.chunks_mut(per_shard)) {
                    let ex = k * SHARD..n.min((k + 1) * SHARD);
                    out.copy_from_slice(works[0].forward(plan, &x[ex.start * d..ex.end * d], threads));
                }
            });
        });
        Ok(&self.logits)
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
        let (loss, correct) = layers::softmax_cross_entropy(logits, labels, classes, None);
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
        let (d, total, shards) = (self.input_shape().len(), self.num_params(), n.div_ceil(SHARD));
        self.shard_grads.resize(shards * total, 0.0);
        self.shard_stats.resize(shards, (0.0, 0));
        let threads = self.workspaces(n);
        let Self { layers, shapes, offsets, params, works, grads, shard_grads, shard_stats, .. } = self;
        let plan = Plan { layers, shapes, offsets, params };
        let whole =
            Shards { range: 0..shards, works, values: shard_grads, per_shard: total, stats: shard_stats };
        on_pool(threads, || {
            in_shards(threads, whole, &|part, threads| {
                let Shards { range, works, values, per_shard, stats } = part;
                for ((k, g), st) in range.zip(values.chunks_exact_mut(per_shard)).zip(stats) {
                    let ex = k * SHARD..n.min((k + 1) * SHARD);
                    *st = works[0].backprop(plan, &x[ex.start * d..ex.end * d], &labels[ex], n, g, threads);
                }
            });
        });
        on_pool(threads, || sum_shards(grads, shard_grads, total, 0, threads));
        let (loss, correct) = shard_stats.iter().fold((0.0, 0), |(l, c), &(sl, sc)| (l + sl, c + sc));
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

    /// The parameter tensors, layer after layer (each layer's weight, then its bias): where
    /// each lives in [`Network::params`] and its shape as PyTorch gives it, which is what
    /// the optimizers that read shapes expect ([`gradstep::Muon`], [`gradstep::Adafactor`]).
    ///
    /// A dense layer's weight is an out × in matrix (rows are outputs), a convolution's an
    /// out × (in·k·k) matrix, PyTorch's 4-D kernel with its last three dimensions flattened,
    /// as Muon flattens it. The convolution stores its kernel in that order; the dense layer
    /// stores the transpose, in × out (its forward pass is $xW$), which
    /// [`ParamTensor::transposed`] says and [`Network::step_groups`] takes care of.
    ///
    /// # Example
    /// ```
    /// use gradstep::Shape;
    /// use gradstep_lab::models::lenet::lenet;
    /// use gradstep_lab::models::network::TensorKind;
    ///
    /// let net = lenet(0);
    /// let t = net.tensors();
    /// assert_eq!(t.len(), 10); // 5 layers with parameters, each a weight and a bias
    /// assert_eq!((t[0].name.as_str(), &t[0].shape), ("0.weight", &Shape::matrix(6, 25)));
    /// assert_eq!((t[4].name.as_str(), &t[4].shape, t[4].transposed), ("6.weight", &Shape::matrix(120, 400), true));
    /// assert_eq!((t[5].kind, t[5].range()), (TensorKind::Bias, 50_572..50_692));
    /// // Muon's matrices: every weight but the output layer's.
    /// assert_eq!(t.iter().filter(|t| t.is_hidden_matrix()).count(), 4);
    /// assert_eq!(t.iter().map(|t| t.len()).sum::<usize>(), net.num_params());
    /// ```
    pub fn tensors(&self) -> &[ParamTensor] {
        &self.tensors
    }

    /// One step of every tensor with its group's optimizer, with the gradient of the last
    /// [`Network::backprop`]: [`Network::step`] for a network whose tensors are split
    /// between optimizers, e.g. Muon for the hidden matrices and AdamW for the rest.
    ///
    /// Each tensor is handed to its optimizer in the shape [`Network::tensors`] gives: a dense
    /// weight, stored transposed, is copied into a buffer of the network in PyTorch's order
    /// (with its gradient), stepped there and copied back, so Muon and Adafactor see the
    /// out × in matrix PyTorch would give them. For element-wise optimizers the order changes
    /// nothing: the result is bit for bit [`Network::step`]'s with one state per tensor.
    ///
    /// Every state is checked before anything is written, so a step that fails leaves the
    /// parameters and the states as they were.
    ///
    /// # Example
    /// ```
    /// use gradstep::{AdamW, AnyOptimizer, Muon};
    /// use gradstep_lab::models::mlp::mlp;
    /// use gradstep_lab::models::network::NetworkGroups;
    ///
    /// let mut net = mlp(4, &[8], 3, 0)?;
    /// // Muon for the hidden 8 × 4 matrix, AdamW for the biases and the output layer.
    /// let optimizers: Vec<AnyOptimizer> = vec![Muon::new(0.05)?.into(), AdamW::new(0.01)?.into()];
    /// let groups = NetworkGroups::new(&net, optimizers, |t| if t.is_hidden_matrix() { 0 } else { 1 })?;
    /// assert_eq!(groups.members(0), &[0]);
    /// let mut state = groups.init();
    /// let (x, y) = ([0.5, -1.0, 0.25, 2.0, 1.0, 0.0, -0.5, 0.3], [2u8, 0]);
    /// let first = net.backprop(&x, &y)?.loss;
    /// for _ in 0..30 {
    ///     net.backprop(&x, &y)?;
    ///     net.step_groups(&groups, &mut state)?;
    /// }
    /// assert!(net.loss(&x, &y)?.loss < first / 4.0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`gradstep::Error::LengthMismatch`] if the groups were made for another network (or
    /// the states for other groups); whatever the optimizers' checks return.
    pub fn step_groups(
        &mut self,
        groups: &NetworkGroups,
        state: &mut GroupsState<AnyState<f32>>,
    ) -> gradstep::Result<()> {
        groups.check(self, state)?;
        let Self { params, grads, tensors, transposed, .. } = self;
        for ((g, members), states) in
            groups.groups.groups().iter().zip(&groups.members).zip(&mut state.states)
        {
            for (&k, st) in members.iter().zip(states.iter_mut()) {
                let t = &tensors[k];
                let r = t.range();
                // An elementwise update does not care in which order the elements lie: only an
                // optimizer that uses the matrix (Muon, Adafactor, LAMB) needs it out × in.
                if t.transposed && !Optimizer::<f32>::elementwise(&g.optimizer) {
                    let (rows, cols) = t.shape.as_matrix().expect("a transposed tensor is a matrix");
                    transposed.resize(2 * t.len(), 0.0);
                    let (p, gr) = transposed.split_at_mut(t.len());
                    transpose(&params[r.clone()], cols, rows, p);
                    transpose(&grads[r.clone()], cols, rows, gr);
                    g.optimizer.step(p, gr, st)?;
                    transpose(p, rows, cols, &mut params[r]);
                } else {
                    g.optimizer.step(&mut params[r.clone()], &grads[r], st)?;
                }
            }
        }
        Ok(())
    }
}

/// `dst` (cols × rows) = the transpose of the row-major rows × cols matrix `src`.
fn transpose(src: &[f32], rows: usize, cols: usize, dst: &mut [f32]) {
    for (i, row) in src.chunks_exact(cols).enumerate().take(rows) {
        for (j, &v) in row.iter().enumerate() {
            dst[j * rows + i] = v;
        }
    }
}

/// The tensors of a network's layers, in the order of its parameter vector.
fn describe_tensors(layers: &[Layer], shapes: &[Shape], offsets: &[usize]) -> Vec<ParamTensor> {
    let last = layers.iter().rposition(|l| l.param_len(Shape::vector(1)) > 0);
    let mut tensors = Vec::new();
    for (i, layer) in layers.iter().enumerate() {
        let (s, offset) = (shapes[i], offsets[i]);
        let (out, weight, transposed) = match *layer {
            Layer::Dense { out } => (out, gradstep::Shape::matrix(out, s.len()), true),
            Layer::Conv { out_channels, kernel, .. } => {
                (out_channels, gradstep::Shape::matrix(out_channels, s.c * kernel * kernel), false)
            }
            Layer::MaxPool | Layer::Relu => continue,
        };
        let output = Some(i) == last;
        let bias_offset = offset + weight.len();
        tensors.push(ParamTensor {
            name: format!("{i}.weight"),
            layer: i,
            kind: TensorKind::Weight,
            offset,
            shape: weight,
            transposed,
            output,
        });
        tensors.push(ParamTensor {
            name: format!("{i}.bias"),
            layer: i,
            kind: TensorKind::Bias,
            offset: bias_offset,
            shape: gradstep::Shape::vector(out),
            transposed: false,
            output,
        });
    }
    tensors
}

/// Whether a [`ParamTensor`] is a layer's weight or its bias.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TensorKind {
    /// A dense layer's weight matrix or a convolution's kernel.
    Weight,
    /// A bias vector.
    Bias,
}

/// One parameter tensor of a [`Network`] (see [`Network::tensors`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamTensor {
    /// PyTorch's name for it in an `nn.Sequential` of the same layers: "0.weight", "0.bias",
    /// "3.weight", … (the number is the layer's position, ReLU and pooling included).
    pub name: String,
    /// The position of its layer in [`Network::layers`].
    pub layer: usize,
    /// Weight or bias.
    pub kind: TensorKind,
    /// Where it starts in [`Network::params`] (and [`Network::grads`]).
    pub offset: usize,
    /// Its shape as PyTorch gives it: out × in for a dense weight, out × (in·k·k) for a
    /// convolution's kernel, a vector for a bias.
    pub shape: gradstep::Shape,
    /// Whether the parameter vector stores the transpose of `shape` (a dense weight, kept
    /// in × out).
    pub transposed: bool,
    /// Whether it belongs to the last layer with parameters (the output layer).
    pub output: bool,
}

impl ParamTensor {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.len()
    }

    /// Whether it has no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Its range in [`Network::params`].
    pub fn range(&self) -> Range<usize> {
        self.offset..self.offset + self.len()
    }

    /// A weight matrix of a hidden layer (not the output layer): what Muon is meant for.
    pub fn is_hidden_matrix(&self) -> bool {
        self.kind == TensorKind::Weight && !self.output
    }
}

/// A network's tensors split into [`ParamGroups`], each group with its own optimizer; the
/// groups [`Network::step_groups`] steps and
/// [`ClassifierTraining::run_groups`](crate::train::classify::ClassifierTraining::run_groups)
/// trains with.
///
/// Each tensor belongs to exactly one group and has its own state (so LAMB's trust ratio is
/// per tensor, Muon and Adafactor see each matrix's shape). The optimizers are
/// [`AnyOptimizer`]s, so one set of groups can mix types (Muon and AdamW). That also keeps
/// the stepping code out of generics: it is compiled once, optimised, in this crate, and a
/// caller built without optimisation (a doctest, a debug build) still trains at full speed.
///
/// # Example
/// ```
/// use gradstep::{Lamb, Shape};
/// use gradstep_lab::models::mlp::mlp;
/// use gradstep_lab::models::network::NetworkGroups;
///
/// let net = mlp(784, &[16], 10, 0)?;
/// // One optimizer, one state per tensor.
/// let groups = NetworkGroups::new(&net, vec![Lamb::new(0.01)?.into()], |_| 0)?;
/// assert_eq!(groups.members(0), &[0, 1, 2, 3]);
/// assert_eq!(groups.param_groups().groups()[0].shapes[0], Shape::matrix(16, 784));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkGroups {
    groups: ParamGroups<f32, AnyOptimizer>,
    /// The tensors (indices into [`Network::tensors`]) of each group, in order.
    members: Vec<Vec<usize>>,
    /// What the groups were made for: the network's tensor count and parameter count.
    layout: (usize, usize),
    factor: f64,
}

impl NetworkGroups {
    /// One group per optimizer; each tensor of `net` goes to the group `assign(tensor)`
    /// returns (an index into `optimizers`). A group may stay empty.
    ///
    /// # Errors
    /// [`gradstep::Error::LengthMismatch`] (`what` = "group index") if `assign` returns an
    /// index without an optimizer; [`gradstep::Error::Shape`] if an optimizer cannot update
    /// a tensor it is given (Muon a bias).
    pub fn new(
        net: &Network,
        optimizers: Vec<AnyOptimizer>,
        mut assign: impl FnMut(&ParamTensor) -> usize,
    ) -> gradstep::Result<Self> {
        let mut members = vec![Vec::new(); optimizers.len()];
        for (k, t) in net.tensors().iter().enumerate() {
            let g = assign(t);
            let n = members.len();
            members
                .get_mut(g)
                .ok_or(gradstep::Error::LengthMismatch { what: "group index", expected: n, got: g })?
                .push(k);
        }
        let mut groups = ParamGroups::new();
        for (opt, ks) in optimizers.into_iter().zip(&members) {
            let shapes: Vec<gradstep::Shape> = ks.iter().map(|&k| net.tensors()[k].shape.clone()).collect();
            groups.push_shaped(opt, &shapes)?;
        }
        Ok(Self { groups, members, layout: (net.tensors().len(), net.num_params()), factor: 1.0 })
    }

    /// The groups: each one's optimizer and its tensors' shapes.
    pub fn param_groups(&self) -> &ParamGroups<f32, AnyOptimizer> {
        &self.groups
    }

    /// The tensors of group `g`, as indices into [`Network::tensors`] (empty if there is no
    /// group `g`).
    pub fn members(&self, g: usize) -> &[usize] {
        self.members.get(g).map_or(&[], Vec::as_slice)
    }

    /// Fresh state for every tensor, in [`ParamGroups`]' layout: `states[g][k]` belongs to
    /// the tensor `members(g)[k]`.
    pub fn init(&self) -> GroupsState<AnyState<f32>> {
        self.groups.init()
    }

    /// The factor on every group's base learning rate (1 at first).
    pub fn lr_factor(&self) -> f64 {
        self.factor
    }

    /// Sets each group's learning rate to its base rate times `factor`, the way a schedule
    /// built with rate 1 drives all groups at once.
    ///
    /// # Errors
    /// [`gradstep::Error::Hyperparameter`] if `factor` is negative or not finite.
    pub fn set_lr_factor(&mut self, factor: f64) -> gradstep::Result<()> {
        self.groups.set_lr_factor(factor)?;
        self.factor = factor;
        Ok(())
    }

    /// Writes the point at which to evaluate the network to `out`, a buffer of
    /// [`Network::num_params`]: each tensor's [`Optimizer::eval_point`] (schedule-free AdamW's
    /// average $x$, ASGD's average, the parameters themselves for the others). It allocates
    /// a buffer for each transposed tensor: it is meant for an evaluation, not for every step.
    ///
    /// # Errors
    /// As [`Network::step_groups`], and [`gradstep::Error::LengthMismatch`] if `out` does not
    /// have one value per parameter.
    pub fn eval_point(
        &self,
        net: &Network,
        state: &GroupsState<AnyState<f32>>,
        out: &mut [f32],
    ) -> gradstep::Result<()> {
        self.check(net, state)?;
        if out.len() != net.num_params() {
            return Err(gradstep::Error::LengthMismatch {
                what: "evaluation point",
                expected: net.num_params(),
                got: out.len(),
            });
        }
        for ((g, members), states) in self.groups.groups().iter().zip(&self.members).zip(&state.states) {
            for (&k, st) in members.iter().zip(states) {
                let t = &net.tensors[k];
                let r = t.range();
                if t.transposed && !Optimizer::<f32>::elementwise(&g.optimizer) {
                    // The state holds the tensor in PyTorch's order: evaluate there, then store back.
                    let (rows, cols) = t.shape.as_matrix().expect("a transposed tensor is a matrix");
                    let mut y = vec![0.0; t.len()];
                    let mut x = vec![0.0; t.len()];
                    transpose(&net.params[r.clone()], cols, rows, &mut y);
                    g.optimizer.eval_point(&y, st, &mut x)?;
                    transpose(&x, rows, cols, &mut out[r]);
                } else {
                    g.optimizer.eval_point(&net.params[r.clone()], st, &mut out[r])?;
                }
            }
        }
        Ok(())
    }

    /// Checks that the groups and the states fit `net`, before anything is written.
    fn check(&self, net: &Network, state: &GroupsState<AnyState<f32>>) -> gradstep::Result<()> {
        let mismatch = |what, expected, got| Err(gradstep::Error::LengthMismatch { what, expected, got });
        if self.layout.0 != net.tensors.len() {
            return mismatch("network tensors", self.layout.0, net.tensors.len());
        }
        if self.layout.1 != net.num_params() {
            return mismatch("network parameters", self.layout.1, net.num_params());
        }
        if state.states.len() != self.members.len() {
            return mismatch("state groups", self.members.len(), state.states.len());
        }
        for ((g, members), states) in self.groups.groups().iter().zip(&self.members).zip(&state.states) {
            if states.len() != members.len() {
                return mismatch("group states", members.len(), states.len());
            }
            for (&k, st) in members.iter().zip(states) {
                g.optimizer.check_state(net.tensors[k].len(), st)?;
            }
        }
        Ok(())
    }
}

/// Examples per shard: a batch's gradient is the sum of its shards' gradients, whatever the
/// number of threads (see [`Network::set_threads`]). Shards of 32 to 128 examples trained
/// LeNet and the MLP at the same speed on one thread as a whole batch of 256 (the MLP
/// perhaps 5 % slower, within the machine's noise); 64 leaves four shards to share in a batch
/// of 256. The price is memory: a gradient per shard, 4 × 61,706 values for LeNet's batch of
/// 256.
pub const SHARD: usize = 64;

/// A run of a batch's shards and what they write: a workspace per thread, `per_shard` values
/// and one (loss, correct) pair for each shard (`stats` is empty when there is nothing to
/// count).
struct Shards<'a> {
    range: Range<usize>,
    works: &'a mut [Workspace],
    values: &'a mut [f32],
    per_shard: usize,
    stats: &'a mut [(f64, usize)],
}

/// Runs `leaf` on `threads` runs of consecutive shards, side by side on rayon's pool. A run
/// gets the first of its workspaces and the number of threads it was given: more than one
/// only when there are fewer shards than threads, and then the layers share the work.
fn in_shards(threads: usize, part: Shards<'_>, leaf: &(impl Fn(Shards<'_>, usize) + Sync)) {
    let len = part.range.len();
    if threads <= 1 || len <= 1 {
        return leaf(part, threads);
    }
    let t1 = threads / 2;
    let cut = (len * t1 / threads).max(1);
    let Shards { range, works, values, per_shard, stats } = part;
    let mid = range.start + cut;
    let (w1, w2) = works.split_at_mut(t1.min(cut));
    let (v1, v2) = values.split_at_mut((cut * per_shard).min(values.len()));
    let (s1, s2) = stats.split_at_mut(cut.min(stats.len()));
    let (a, b) = (
        Shards { range: range.start..mid, works: w1, values: v1, per_shard, stats: s1 },
        Shards { range: mid..range.end, works: w2, values: v2, per_shard, stats: s2 },
    );
    rayon::join(|| in_shards(t1, a, leaf), || in_shards(threads - t1, b, leaf));
}

/// Writes into `out` entries `start..` of the sum of the shards' gradients `shards` (whole
/// gradients of `total` entries, one after another); `threads` threads share the entries. Each
/// entry is summed in shard order, so the sum is the same for any number of threads. (Summed
/// by one thread, they made the MLP's epoch on two threads about 7 % longer.)
fn sum_shards(out: &mut [f32], shards: &[f32], total: usize, start: usize, threads: usize) {
    if threads > 1 && out.len() >= 2 * MIN_SUM {
        let t1 = threads / 2;
        let mid = out.len() * t1 / threads;
        let (a, b) = out.split_at_mut(mid);
        rayon::join(
            || sum_shards(a, shards, total, start, t1),
            || sum_shards(b, shards, total, start + mid, threads - t1),
        );
        return;
    }
    let part = start..start + out.len();
    let mut each = shards.chunks_exact(total).map(|g| &g[part.clone()]);
    if let Some(first) = each.next() {
        out.copy_from_slice(first);
    }
    for g in each {
        out.iter_mut().zip(g).for_each(|(a, b)| *a += b);
    }
}

/// Fewer entries per thread than this are summed by one thread.
const MIN_SUM: usize = 1 << 14;

/// Runs `job` on a thread of rayon's pool when threads share the work (`threads` > 1): the
/// splits (of shards, and of layers within a shard) are then cheap work-stealing joins rather
/// than one hand-over from outside the pool each.
fn on_pool<R: Send>(threads: usize, job: impl FnOnce() -> R + Send) -> R {
    if threads > 1 && rayon::current_thread_index().is_none() {
        let mut out = None;
        rayon::scope(|_| out = Some(job()));
        out.expect("the scope ran the job")
    } else {
        job()
    }
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
    fn tensors_tile_the_parameters_and_dense_weights_are_out_by_in_once_transposed() {
        let net = crate::models::lenet::lenet(3);
        let t = net.tensors();
        let mut next = 0;
        for p in t {
            assert_eq!(p.offset, next, "{}", p.name);
            next = p.range().end;
        }
        assert_eq!(next, net.num_params());
        assert_eq!(t[2].shape, gradstep::Shape::matrix(16, 150));
        assert!(t.iter().filter(|p| p.output).all(|p| p.layer == 10));
        // Dense: raising weight (o, i) of the out × in matrix must change output o only,
        // by x_i times the raise.
        let mut net = Network::new(Shape::vector(3), &[Layer::Dense { out: 2 }], 0).unwrap();
        let w = net.tensors()[0].clone();
        assert_eq!((w.shape.clone(), w.transposed), (gradstep::Shape::matrix(2, 3), true));
        let x = [0.5, -1.0, 2.0];
        let before = net.forward(&x).unwrap().to_vec();
        let (o, i) = (1, 2);
        // Stored transposed: (o, i) lives at i·out + o.
        net.params_mut()[w.offset + i * 2 + o] += 0.25;
        let after = net.forward(&x).unwrap().to_vec();
        assert!((after[o] - before[o] - 0.25 * x[i]).abs() < 1e-6 && after[1 - o] == before[1 - o]);
    }

    #[test]
    fn grouped_steps_equal_flat_steps_for_elementwise_rules_and_transpose_for_muon() {
        use gradstep::{Adam, AdamW, AdamWScheduleFree, Muon};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        use rand::Rng;
        let x: Vec<f32> = (0..4 * 6).map(|_| rng.random_range(-1.0..1.0)).collect();
        let y = [0u8, 2, 1, 2];
        let layers = [Layer::Dense { out: 5 }, Layer::Relu, Layer::Dense { out: 3 }];
        let mut flat = Network::new(Shape::vector(6), &layers, 1).unwrap();
        let mut grouped = flat.clone();
        let adam = Adam::new(0.01).unwrap();
        let mut flat_state = Optimizer::<f32>::init(&adam, flat.num_params());
        let groups = NetworkGroups::new(&grouped, vec![adam.into()], |_| 0).unwrap();
        let mut state = groups.init();
        for _ in 0..5 {
            flat.backprop(&x, &y).unwrap();
            flat.step(&adam, &mut flat_state).unwrap();
            grouped.backprop(&x, &y).unwrap();
            grouped.step_groups(&groups, &mut state).unwrap();
        }
        assert_eq!(flat.params(), grouped.params());

        // Muon on the hidden matrix sees it out × in: the same as stepping the transpose by hand.
        let muon = Muon::new(0.05).unwrap();
        let opts: Vec<AnyOptimizer> = vec![muon.into(), AdamW::new(0.01).unwrap().into()];
        let groups = NetworkGroups::new(&grouped, opts, |t| usize::from(!t.is_hidden_matrix())).unwrap();
        let mut state = groups.init();
        grouped.backprop(&x, &y).unwrap();
        let (before, g) = (grouped.params().to_vec(), grouped.grads().to_vec());
        grouped.step_groups(&groups, &mut state).unwrap();
        let mut w_t = vec![0.0; 30];
        let mut g_t = vec![0.0; 30];
        transpose(&before[..30], 6, 5, &mut w_t);
        transpose(&g[..30], 6, 5, &mut g_t);
        let mut s = muon.init_shaped(&gradstep::Shape::matrix(5, 6)).unwrap();
        muon.step(&mut w_t, &g_t, &mut s).unwrap();
        let mut w = vec![0.0; 30];
        transpose(&w_t, 5, 6, &mut w);
        assert_eq!(&grouped.params()[..30], &w[..]);

        // The evaluation point of schedule-free AdamW, grouped, is the flat one.
        let sf = AdamWScheduleFree::new(0.01).unwrap();
        let mut a = Network::new(Shape::vector(6), &layers, 1).unwrap();
        let mut b = a.clone();
        let mut sa = Optimizer::<f32>::init(&sf, a.num_params());
        let groups = NetworkGroups::new(&b, vec![sf.into(), sf.into()], |t| t.layer / 2).unwrap();
        let mut sb = groups.init();
        for _ in 0..3 {
            a.backprop(&x, &y).unwrap();
            a.step(&sf, &mut sa).unwrap();
            b.backprop(&x, &y).unwrap();
            b.step_groups(&groups, &mut sb).unwrap();
        }
        let (mut xa, mut xb) = (vec![0.0; a.num_params()], vec![0.0; b.num_params()]);
        sf.eval_point(a.params(), &sa, &mut xa).unwrap();
        groups.eval_point(&b, &sb, &mut xb).unwrap();
        assert_eq!(xa, xb);
        assert_ne!(xa, a.params());
    }

    #[test]
    fn bad_groups_and_states_are_errors_that_change_nothing() {
        use gradstep::{Muon, Sgd};
        let mut net = crate::models::mlp::mlp(4, &[3], 2, 0).unwrap();
        let sgd = Sgd::new(0.1).unwrap();
        assert!(matches!(
            NetworkGroups::new(&net, vec![sgd.into()], |_| 1),
            Err(gradstep::Error::LengthMismatch { what: "group index", .. })
        ));
        let muon: AnyOptimizer = Muon::new(0.1).unwrap().into();
        assert!(matches!(NetworkGroups::new(&net, vec![muon], |_| 0), Err(gradstep::Error::Shape { .. })));
        let other = crate::models::mlp::mlp(4, &[5], 2, 0).unwrap();
        let groups = NetworkGroups::new(&other, vec![sgd.into()], |_| 0).unwrap();
        let mut state = groups.init();
        net.backprop(&[1.0; 4], &[1]).unwrap();
        let before = net.params().to_vec();
        assert!(net.step_groups(&groups, &mut state).is_err());
        let groups = NetworkGroups::new(&net, vec![sgd.into(), sgd.into()], |t| t.layer / 2).unwrap();
        let mut state = groups.init();
        state.states[1].pop();
        assert!(net.step_groups(&groups, &mut state).is_err());
        assert_eq!(net.params(), &before[..]);
        assert!(groups.eval_point(&net, &groups.init(), &mut [0.0; 3]).is_err());
        assert_eq!(groups.members(7), &[] as &[usize]);
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
