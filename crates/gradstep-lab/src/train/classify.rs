//! Minibatch training of an image classifier with a per-epoch learning-rate schedule, the
//! learning-rate chapter's `train`.

use std::time::Instant;

use gradstep::{AnyState, GroupsState, Optimizer};

use super::TrainError;
use crate::data::{ImageSet, Sampling};
use crate::models::network::{BatchStats, Network, NetworkGroups};
use crate::plot::Series;

/// When a per-epoch schedule sets the learning rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScheduleTiming {
    /// The source's order: after epoch e, lr = schedule(e). Epoch 0 runs at the optimizer's
    /// own rate and epoch e + 1 at schedule(e), which is why the source's warmup run trains
    /// its second epoch at lr 0.
    #[default]
    AfterEpoch,
    /// Before epoch e, lr = schedule(e): epoch e runs at schedule(e).
    BeforeEpoch,
}

/// One epoch's numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochRecord {
    /// The epoch, from 0.
    pub epoch: usize,
    /// The learning rate the epoch ran at (with [`ClassifierTraining::run_groups`], the
    /// factor on every group's base rate).
    pub lr: f64,
    /// Mean training loss over the epoch's batches (weighted by batch size).
    pub train_loss: f64,
    /// Training accuracy over the epoch.
    pub train_acc: f64,
    /// Accuracy on the test set after the epoch, at the optimizer's evaluation point
    /// ([`Optimizer::eval_point`]: the parameters themselves for most optimizers, the average
    /// $x$ for schedule-free AdamW).
    pub test_acc: f64,
    /// Training time of the epoch in seconds (test evaluation excluded).
    pub seconds: f64,
}

/// What a classifier run records.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClassifyHistory {
    /// One record per epoch.
    pub epochs: Vec<EpochRecord>,
    /// Running (epoch fraction, mean loss, accuracy) within each epoch, every
    /// `record_every` batches and at its end, like the source's animated plot.
    pub running: Vec<(f64, f64, f64)>,
}

impl ClassifyHistory {
    /// The last epoch's record.
    pub fn last(&self) -> Option<&EpochRecord> {
        self.epochs.last()
    }

    /// Mean training seconds per epoch.
    pub fn sec_per_epoch(&self) -> f64 {
        if self.epochs.is_empty() {
            0.0
        } else {
            self.epochs.iter().map(|e| e.seconds).sum::<f64>() / self.epochs.len() as f64
        }
    }

    /// Running training loss against epochs, for a [`crate::plot::LinePlot`].
    pub fn train_loss(&self) -> Series {
        Series::from_points(self.running.iter().map(|r| (r.0, r.1)).collect()).label("train loss")
    }

    /// Running training accuracy against epochs.
    pub fn train_acc(&self) -> Series {
        Series::from_points(self.running.iter().map(|r| (r.0, r.2)).collect()).label("train acc")
    }

    /// Test accuracy at the end of each epoch (x = epoch + 1).
    pub fn test_acc(&self) -> Series {
        Series::from_points(self.epochs.iter().map(|e| ((e.epoch + 1) as f64, e.test_acc)).collect())
            .label("test acc")
    }
}

/// The settings of a classifier run.
///
/// # Example
/// A small MLP on a few digits, with a learning rate that halves every epoch:
/// ```
/// use gradstep::Sgd;
/// use gradstep_lab::data::{DataDir, mnist};
/// use gradstep_lab::models::mlp::mlp;
/// use gradstep_lab::train::classify::ClassifierTraining;
/// # let dir = DataDir::at(std::env::var("GRADSTEP_DATA_DIR").unwrap_or(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data").into()));
///
/// let (train, test) = mnist::train_test(&dir, 0)?;
/// let (train, test) = (train.subset(&(0..500).collect::<Vec<_>>())?, test.subset(&(0..200).collect::<Vec<_>>())?);
/// let mut net = mlp(784, &[32], 10, 0)?;
/// let mut opt = Sgd::new(0.5)?;
/// fn halving(epoch: usize) -> f64 {
///     0.5 * 0.5f64.powi(epoch as i32 + 1)
/// }
/// let history = ClassifierTraining::new(50, 3).quiet().run_scheduled(&mut net, &mut opt, &train, &test, halving)?;
/// assert_eq!(history.epochs[2].lr, 0.125);
/// assert!(history.last().unwrap().test_acc > 0.5);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassifierTraining {
    batch_size: usize,
    epochs: usize,
    seed: u64,
    record_every: usize,
    timing: ScheduleTiming,
    verbose: bool,
}

impl ClassifierTraining {
    /// `epochs` epochs of shuffled minibatches of `batch_size`, seed 0, schedule after each
    /// epoch (the source's order), a progress line per epoch.
    pub fn new(batch_size: usize, epochs: usize) -> Self {
        Self {
            batch_size,
            epochs,
            seed: 0,
            record_every: 50,
            timing: ScheduleTiming::AfterEpoch,
            verbose: true,
        }
    }

    /// Seeds the shuffling.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// When the schedule sets the learning rate.
    pub fn timing(mut self, timing: ScheduleTiming) -> Self {
        self.timing = timing;
        self
    }

    /// Records the running loss and accuracy every `batches` batches (default 50).
    pub fn record_every(mut self, batches: usize) -> Self {
        self.record_every = batches.max(1);
        self
    }

    /// Prints nothing.
    pub fn quiet(mut self) -> Self {
        self.verbose = false;
        self
    }

    /// Trains at the optimizer's constant learning rate.
    ///
    /// # Errors
    /// As [`ClassifierTraining::run_scheduled`].
    pub fn run<O: Optimizer<f32>>(
        &self,
        net: &mut Network,
        opt: &mut O,
        train: &ImageSet,
        test: &ImageSet,
    ) -> Result<ClassifyHistory, TrainError> {
        self.train(net, &mut Single::new(opt, net), train, test, None)
    }

    /// Trains, setting the learning rate from `schedule(epoch)` at each epoch boundary (see
    /// [`ScheduleTiming`]). A library schedule plugs in as `|e| sched.lr(e as u64)`.
    ///
    /// # Errors
    /// [`TrainError::Setting`] if the images do not fit the network or a setting is 0,
    /// [`TrainError::Optimizer`] if the schedule gives an invalid rate or a step fails.
    pub fn run_scheduled<O: Optimizer<f32>>(
        &self,
        net: &mut Network,
        opt: &mut O,
        train: &ImageSet,
        test: &ImageSet,
        mut schedule: impl FnMut(usize) -> f64,
    ) -> Result<ClassifyHistory, TrainError> {
        self.train(net, &mut Single::new(opt, net), train, test, Some(&mut schedule))
    }

    /// Trains with the tensors of `net` split between optimizers, e.g. Muon for the hidden
    /// matrices and AdamW for the rest ([`Network::step_groups`]), at the groups' constant
    /// rates.
    ///
    /// # Example
    /// ```
    /// use gradstep::{AdamW, AnyOptimizer, Muon};
    /// use gradstep_lab::data::{DataDir, mnist};
    /// use gradstep_lab::models::mlp::mlp;
    /// use gradstep_lab::models::network::NetworkGroups;
    /// use gradstep_lab::train::classify::ClassifierTraining;
    /// # let dir = DataDir::at(std::env::var("GRADSTEP_DATA_DIR").unwrap_or(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data").into()));
    ///
    /// let (train, test) = mnist::train_test(&dir, 0)?;
    /// let (train, test) = (train.subset(&(0..500).collect::<Vec<_>>())?, test.subset(&(0..200).collect::<Vec<_>>())?);
    /// let mut net = mlp(784, &[32], 10, 0)?;
    /// let optimizers: Vec<AnyOptimizer> = vec![Muon::new(0.02)?.into(), AdamW::new(3e-3)?.into()];
    /// let mut groups = NetworkGroups::new(&net, optimizers, |t| usize::from(!t.is_hidden_matrix()))?;
    /// let history = ClassifierTraining::new(50, 3).quiet().run_groups(&mut net, &mut groups, &train, &test)?;
    /// assert!(history.last().unwrap().test_acc > 0.5);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`ClassifierTraining::run_scheduled`], and [`TrainError::Optimizer`] if the groups
    /// were made for another network.
    pub fn run_groups(
        &self,
        net: &mut Network,
        groups: &mut NetworkGroups,
        train: &ImageSet,
        test: &ImageSet,
    ) -> Result<ClassifyHistory, TrainError> {
        self.train(net, &mut Grouped::new(groups), train, test, None)
    }

    /// [`ClassifierTraining::run_groups`] with a schedule: `schedule(epoch)` is the factor on
    /// every group's base rate ([`NetworkGroups::set_lr_factor`]), set as
    /// [`ClassifierTraining::run_scheduled`] sets a rate.
    ///
    /// # Errors
    /// As [`ClassifierTraining::run_groups`].
    pub fn run_groups_scheduled(
        &self,
        net: &mut Network,
        groups: &mut NetworkGroups,
        train: &ImageSet,
        test: &ImageSet,
        mut schedule: impl FnMut(usize) -> f64,
    ) -> Result<ClassifyHistory, TrainError> {
        self.train(net, &mut Grouped::new(groups), train, test, Some(&mut schedule))
    }

    /// The loop behind every `run` method. It takes the optimizer and the schedule as trait
    /// objects so that it is compiled once, in this crate: a notebook cell that trains then
    /// compiles a few small wrappers instead of the whole loop for its optimizer and closure
    /// types.
    fn train(
        &self,
        net: &mut Network,
        opt: &mut dyn Stepper,
        train: &ImageSet,
        test: &ImageSet,
        mut schedule: Option<&mut dyn FnMut(usize) -> f64>,
    ) -> Result<ClassifyHistory, TrainError> {
        if self.epochs == 0 {
            return Err(TrainError::Setting { name: "epochs", rule: "must be at least 1".into() });
        }
        let d = net.input_shape().len();
        for (name, set) in [("train", train), ("test", test)] {
            let (h, w) = set.image_shape();
            if h * w != d || set.classes() > net.classes() || set.is_empty() {
                return Err(TrainError::Setting {
                    name,
                    rule: format!(
                        "{} images of {h}×{w} in {} classes do not fit a network for {d} inputs and {} classes",
                        set.len(),
                        set.classes(),
                        net.classes()
                    ),
                });
            }
        }
        let mut batches = train.minibatches(self.batch_size, Sampling::WithoutReplacement, self.seed)?;
        let per_epoch = batches.batches_per_epoch();
        let (mut x, mut y) = (Vec::new(), Vec::new());
        let mut eval_point = vec![0.0; net.num_params()];
        let mut history = ClassifyHistory::default();
        for epoch in 0..self.epochs {
            if let (Some(s), ScheduleTiming::BeforeEpoch) = (schedule.as_mut(), self.timing) {
                opt.set_learning_rate(s(epoch))?;
            }
            let lr = opt.learning_rate();
            let start = Instant::now();
            let mut stats = BatchStats::default();
            let mut timed = 0.0;
            for (i, idx) in batches.epoch().enumerate() {
                train.gather(idx, &mut x, &mut y)?;
                stats.merge(net.backprop(&x, &y).map_err(model_error)?);
                opt.step(net)?;
                if (i + 1) % self.record_every == 0 || i + 1 == per_epoch {
                    history.running.push((
                        epoch as f64 + (i + 1) as f64 / per_epoch as f64,
                        stats.loss,
                        stats.accuracy(),
                    ));
                }
                timed = start.elapsed().as_secs_f64();
            }
            // At the optimizer's evaluation point (schedule-free AdamW's x, ASGD's average;
            // the parameters for the others), then back to the parameters training goes on from.
            opt.eval_point(net, &mut eval_point)?;
            net.params_mut().swap_with_slice(&mut eval_point);
            let test_acc = evaluate(net, test, self.batch_size);
            net.params_mut().swap_with_slice(&mut eval_point);
            let test_acc = test_acc?.accuracy();
            let record = EpochRecord {
                epoch,
                lr,
                train_loss: stats.loss,
                train_acc: stats.accuracy(),
                test_acc,
                seconds: timed,
            };
            if self.verbose {
                println!(
                    "epoch {}/{}: lr {lr:.4}, train loss {:.3}, train acc {:.3}, test acc {:.3} ({:.2} s)",
                    epoch + 1,
                    self.epochs,
                    record.train_loss,
                    record.train_acc,
                    record.test_acc,
                    record.seconds
                );
            }
            history.epochs.push(record);
            if let (Some(s), ScheduleTiming::AfterEpoch) = (schedule.as_mut(), self.timing) {
                opt.set_learning_rate(s(epoch))?;
            }
        }
        if self.verbose {
            let last = history.last().expect("at least one epoch");
            println!(
                "train loss {:.3}, train acc {:.3}, test acc {:.3}",
                last.train_loss, last.train_acc, last.test_acc
            );
            println!("{:.1} examples/sec", train.len() as f64 / history.sec_per_epoch().max(1e-12));
        }
        Ok(history)
    }
}

/// What the training loop needs of an optimizer, with its state: one for the whole parameter
/// vector, or groups of tensors.
trait Stepper {
    fn step(&mut self, net: &mut Network) -> gradstep::Result<()>;
    fn eval_point(&self, net: &Network, out: &mut [f32]) -> gradstep::Result<()>;
    fn learning_rate(&self) -> f64;
    fn set_learning_rate(&mut self, lr: f64) -> gradstep::Result<()>;
}

struct Single<'a, O: Optimizer<f32>> {
    opt: &'a mut O,
    state: O::State,
}

impl<'a, O: Optimizer<f32>> Single<'a, O> {
    fn new(opt: &'a mut O, net: &Network) -> Self {
        let state = opt.init(net.num_params());
        Self { opt, state }
    }
}

impl<O: Optimizer<f32>> Stepper for Single<'_, O> {
    fn step(&mut self, net: &mut Network) -> gradstep::Result<()> {
        net.step(&*self.opt, &mut self.state)
    }

    fn eval_point(&self, net: &Network, out: &mut [f32]) -> gradstep::Result<()> {
        self.opt.eval_point(net.params(), &self.state, out)
    }

    fn learning_rate(&self) -> f64 {
        self.opt.learning_rate()
    }

    fn set_learning_rate(&mut self, lr: f64) -> gradstep::Result<()> {
        self.opt.set_learning_rate(lr)
    }
}

struct Grouped<'a> {
    groups: &'a mut NetworkGroups,
    state: GroupsState<AnyState<f32>>,
}

impl<'a> Grouped<'a> {
    fn new(groups: &'a mut NetworkGroups) -> Self {
        let state = groups.init();
        Self { groups, state }
    }
}

impl Stepper for Grouped<'_> {
    fn step(&mut self, net: &mut Network) -> gradstep::Result<()> {
        net.step_groups(self.groups, &mut self.state)
    }

    fn eval_point(&self, net: &Network, out: &mut [f32]) -> gradstep::Result<()> {
        self.groups.eval_point(net, &self.state, out)
    }

    fn learning_rate(&self) -> f64 {
        self.groups.lr_factor()
    }

    fn set_learning_rate(&mut self, lr: f64) -> gradstep::Result<()> {
        self.groups.set_lr_factor(lr)
    }
}

fn model_error(e: crate::models::network::ModelError) -> TrainError {
    TrainError::Setting { name: "batch", rule: e.to_string() }
}

/// Loss and accuracy of `net` on all of `data`, in batches of `batch_size` (no gradients).
///
/// # Errors
/// [`TrainError::Setting`] if the images do not fit the network or `batch_size` is 0.
///
/// # Example
/// ```
/// use gradstep_lab::data::ImageSet;
/// use gradstep_lab::models::mlp::mlp;
/// use gradstep_lab::train::classify::evaluate;
///
/// let data = ImageSet::new(vec![0.5; 4 * 4], vec![0, 1, 1, 0], (2, 2), 2)?;
/// let stats = evaluate(&mut mlp(4, &[3], 2, 0)?, &data, 3)?;
/// assert_eq!(stats.count, 4);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn evaluate(net: &mut Network, data: &ImageSet, batch_size: usize) -> Result<BatchStats, TrainError> {
    if batch_size == 0 {
        return Err(TrainError::Setting { name: "batch_size", rule: "must be at least 1".into() });
    }
    let mut stats = BatchStats::default();
    let (mut x, mut y) = (Vec::new(), Vec::new());
    let idx: Vec<usize> = (0..data.len()).collect();
    for chunk in idx.chunks(batch_size) {
        data.gather(chunk, &mut x, &mut y)?;
        stats.merge(net.loss(&x, &y).map_err(model_error)?);
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use gradstep::Sgd;

    use super::*;
    use crate::data::{DataDir, mnist, shared_data_dir};
    use crate::models::lenet::lenet;
    use crate::models::mlp::mlp;

    fn small() -> (ImageSet, ImageSet) {
        let (train, test) = mnist::train_test(&DataDir::at(shared_data_dir()), 0).unwrap();
        (
            train.subset(&(0..400).collect::<Vec<_>>()).unwrap(),
            test.subset(&(0..100).collect::<Vec<_>>()).unwrap(),
        )
    }

    #[test]
    fn schedules_apply_after_or_before_each_epoch_and_runs_are_reproducible() {
        let (train, test) = small();
        let run = |timing| {
            let mut net = mlp(784, &[16], 10, 1).unwrap();
            let mut opt = Sgd::new(0.3).unwrap();
            ClassifierTraining::new(100, 3)
                .quiet()
                .timing(timing)
                .run_scheduled(&mut net, &mut opt, &train, &test, |e| 0.1 / (e + 1) as f64)
                .unwrap()
        };
        let after = run(ScheduleTiming::AfterEpoch);
        let lrs: Vec<f64> = after.epochs.iter().map(|e| e.lr).collect();
        assert!(
            (lrs[0] - 0.3).abs() < 1e-7 && (lrs[1] - 0.1).abs() < 1e-7 && (lrs[2] - 0.05).abs() < 1e-7,
            "{lrs:?}"
        );
        let before = run(ScheduleTiming::BeforeEpoch);
        assert!((before.epochs[0].lr - 0.1).abs() < 1e-7);
        let again = run(ScheduleTiming::AfterEpoch);
        assert_eq!(
            after.epochs.iter().map(|e| e.train_loss).collect::<Vec<_>>(),
            again.epochs.iter().map(|e| e.train_loss).collect::<Vec<_>>()
        );
        assert!(after.last().unwrap().test_acc > 0.25, "{:?}", after.last()); // chance is 0.1
        assert_eq!(after.running.len(), 3);
    }

    #[test]
    fn mismatched_data_and_bad_rates_are_errors() {
        let (train, test) = small();
        let mut net = mlp(100, &[8], 10, 0).unwrap();
        let mut opt = Sgd::new(0.1).unwrap();
        assert!(matches!(
            ClassifierTraining::new(10, 1).quiet().run(&mut net, &mut opt, &train, &test),
            Err(TrainError::Setting { .. })
        ));
        let mut net = mlp(784, &[8], 10, 0).unwrap();
        let r =
            ClassifierTraining::new(100, 2)
                .quiet()
                .run_scheduled(&mut net, &mut opt, &train, &test, |_| -1.0);
        assert!(matches!(r, Err(TrainError::Optimizer(_))));
        assert!(matches!(
            ClassifierTraining::new(0, 1).quiet().run(&mut net, &mut opt, &train, &test),
            Err(TrainError::Data(_))
        ));
    }

    #[test]
    fn groups_train_like_one_optimizer_and_evaluation_is_at_the_evaluation_point() {
        use gradstep::AdamWScheduleFree;
        let (train, test) = small();
        let sf = AdamWScheduleFree::new(0.005).unwrap();
        let mut flat_net = mlp(784, &[16], 10, 1).unwrap();
        let mut flat_opt = sf;
        let flat =
            ClassifierTraining::new(100, 2).quiet().run(&mut flat_net, &mut flat_opt, &train, &test).unwrap();
        let mut net = mlp(784, &[16], 10, 1).unwrap();
        let mut groups =
            NetworkGroups::new(&net, vec![sf.into(), sf.into()], |t| usize::from(t.output)).unwrap();
        let grouped = ClassifierTraining::new(100, 2)
            .quiet()
            .run_groups_scheduled(&mut net, &mut groups, &train, &test, |_| 1.0)
            .unwrap();
        let numbers =
            |h: &ClassifyHistory| h.epochs.iter().map(|e| (e.train_loss, e.test_acc)).collect::<Vec<_>>();
        assert_eq!(numbers(&flat), numbers(&grouped));
        assert_eq!(grouped.epochs[1].lr, 1.0); // the factor on the groups' rates
        assert_eq!(flat_net.params(), net.params());
        // The parameters are y; the recorded accuracy is x's.
        let at_y = evaluate(&mut net, &test, 100).unwrap().accuracy();
        assert_ne!(at_y, grouped.last().unwrap().test_acc);
    }

    /// LeNet on the 5,000-digit MNIST subset; slow in debug builds, so run it with
    /// `cargo test --release -p gradstep-lab -- --ignored lenet_learns`.
    #[test]
    #[ignore = "trains LeNet for 10 epochs; run in release mode"]
    fn lenet_learns_mnist_digits() {
        let (train, test) = mnist::train_test(&DataDir::at(shared_data_dir()), 0).unwrap();
        let mut net = lenet(0);
        let mut opt = Sgd::new(0.1).unwrap();
        let h = ClassifierTraining::new(64, 10).run(&mut net, &mut opt, &train, &test).unwrap();
        assert!(h.last().unwrap().test_acc > 0.93, "{:?}", h.last());
    }
}
