//! The minibatch chapters' training loops for linear regression on the airfoil data.
//!
//! Both loops follow the source's `train_ch11`: every time the number of examples seen is a
//! multiple of 200, the timer pauses and the mean loss ½(ŷ − y)² over all 1,500 examples is
//! recorded at x = examples / batch size / batches per epoch (in epochs). At the end they
//! print `loss: 0.243, 0.021 sec/epoch` (the last recorded loss and the timed seconds divided
//! by the number of epochs).

use gradstep::Optimizer;

use super::TrainError;
use crate::data::Sampling;
use crate::data::airfoil::Airfoil;
use crate::models::linreg::LinearRegression;
use crate::plot::Series;
use crate::timer::Timer;

/// What a linear-regression run records: the loss over all examples, when it was taken (in
/// epochs and in cumulative training seconds), and the timing.
#[derive(Debug, Clone, PartialEq)]
pub struct LossHistory {
    /// x of each point: examples seen / batch size / batches per epoch.
    pub epochs: Vec<f64>,
    /// The mean loss ½(ŷ − y)² over all examples at each point.
    pub losses: Vec<f64>,
    /// Cumulative training time (evaluation excluded) at each point, in seconds.
    pub times: Vec<f64>,
    /// Timed seconds divided by the number of epochs, as the source prints.
    pub sec_per_epoch: f64,
}

impl LossHistory {
    /// The last recorded loss, if any.
    pub fn final_loss(&self) -> Option<f64> {
        self.losses.last().copied()
    }

    /// Loss against epochs, for a [`crate::plot::LinePlot`] (the source's limits: y in
    /// [0.22, 0.35]).
    pub fn by_epoch(&self) -> Series {
        Series::new(&self.epochs, &self.losses)
    }

    /// Loss against cumulative time, for the minibatch chapter's log-time comparison.
    pub fn by_time(&self) -> Series {
        Series::new(&self.times, &self.losses)
    }
}

/// The settings of a run: batch size, epochs, seed (for initialisation and shuffling) and
/// sampling. The source's defaults are 2 epochs from scratch and 4 for the concise loop.
///
/// # Example
/// Minibatch SGD written by the chapter (the source's `sgd` with lr 0.05, batch 10):
/// ```
/// use gradstep_lab::data::{DataDir, airfoil::Airfoil};
/// use gradstep_lab::train::linreg::LinRegTraining;
/// # let dir = DataDir::at(std::env::var("GRADSTEP_DATA_DIR").unwrap_or(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data").into()));
///
/// let data = Airfoil::load_from(&dir)?;
/// fn sgd(p: &mut [f32], g: &[f32], _state: &mut ()) {
///     for (p, g) in p.iter_mut().zip(g) {
///         *p -= 0.05 * g;
///     }
/// }
/// let history = LinRegTraining::new(10, 2).scratch(&data, |_| (), sgd)?; // loss: 0.24…
/// assert!(history.final_loss().unwrap() < 0.26);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinRegTraining {
    batch_size: usize,
    epochs: usize,
    seed: u64,
    sampling: Sampling,
    verbose: bool,
}

impl LinRegTraining {
    /// `epochs` epochs of minibatches of `batch_size`, seed 0, without replacement.
    pub fn new(batch_size: usize, epochs: usize) -> Self {
        Self { batch_size, epochs, seed: 0, sampling: Sampling::WithoutReplacement, verbose: true }
    }

    /// Seeds initialisation and shuffling.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Draws the examples of each epoch with or without replacement.
    pub fn sampling(mut self, sampling: Sampling) -> Self {
        self.sampling = sampling;
        self
    }

    /// Does not print the final line.
    pub fn quiet(mut self) -> Self {
        self.verbose = false;
        self
    }

    /// The source's `train_ch11`: w ~ N(0, 0.01²), b = 0; each step computes the gradient of
    /// the batch's mean ½(ŷ − y)² and calls `update(param, grad, state)` for w and then for
    /// b, with a state made by `init_state(len)` for each (the source's `init_*_states`).
    ///
    /// # Errors
    /// [`TrainError::Data`] for a batch size of 0.
    pub fn scratch<S>(
        &self,
        data: &Airfoil,
        mut init_state: impl FnMut(usize) -> S,
        mut update: impl FnMut(&mut [f32], &[f32], &mut S),
    ) -> Result<LossHistory, TrainError> {
        let mut model = LinearRegression::normal_init(data.features().ncols(), self.seed);
        let mut sw = init_state(model.w.len());
        let mut sb = init_state(1);
        self.run(
            data,
            &mut model,
            |m, gw, gb| {
                update(&mut m.w, gw, &mut sw);
                update(&mut m.b, gb, &mut sb);
                Ok(())
            },
            1.0,
        )
    }

    /// The source's `train_concise_ch11`: a `Linear(5, 1)` with PyTorch's initialisation
    /// (weights N(0, 0.01²), bias U(±1/√5)) trained with `opt` on the mean squared error —
    /// whose gradient is twice that of ½(ŷ − y)² — while the recorded loss stays ½(ŷ − y)².
    ///
    /// # Errors
    /// [`TrainError::Data`] for a batch size of 0, [`TrainError::Optimizer`] if a step fails.
    ///
    /// # Example
    /// ```
    /// use gradstep::Sgd;
    /// use gradstep_lab::data::{DataDir, airfoil::Airfoil};
    /// use gradstep_lab::train::linreg::LinRegTraining;
    /// # let dir = DataDir::at(std::env::var("GRADSTEP_DATA_DIR").unwrap_or(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data").into()));
    ///
    /// let data = Airfoil::load_from(&dir)?;
    /// let history = LinRegTraining::new(10, 4).concise(&data, &Sgd::new(0.01)?)?;
    /// assert!(history.final_loss().unwrap() < 0.26);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn concise<O: Optimizer<f32>>(&self, data: &Airfoil, opt: &O) -> Result<LossHistory, TrainError> {
        let mut model = LinearRegression::torch_init(data.features().ncols(), self.seed);
        let mut sw = opt.init(model.w.len());
        let mut sb = opt.init(1);
        self.run(
            data,
            &mut model,
            |m, gw, gb| {
                opt.step(&mut m.w, gw, &mut sw)?;
                opt.step(&mut m.b, gb, &mut sb)?;
                Ok(())
            },
            2.0,
        )
    }

    fn run(
        &self,
        data: &Airfoil,
        model: &mut LinearRegression,
        mut step: impl FnMut(&mut LinearRegression, &[f32], &[f32]) -> Result<(), TrainError>,
        grad_scale: f32,
    ) -> Result<LossHistory, TrainError> {
        if self.epochs == 0 {
            return Err(TrainError::Setting { name: "epochs", rule: "must be at least 1".into() });
        }
        let mut batches = data.minibatches(self.batch_size, self.sampling, self.seed)?;
        let per_epoch = batches.batches_per_epoch() as f64;
        let all_x = data.features().as_slice().expect("a standard-layout array");
        let all_y = data.targets().as_slice().expect("a standard-layout array");
        let (mut x, mut y) = (Vec::new(), Vec::new());
        let (mut gw, mut gb) = (vec![0.0; model.w.len()], vec![0.0]);
        let mut history = LossHistory { epochs: vec![], losses: vec![], times: vec![], sec_per_epoch: 0.0 };
        let mut n = 0usize;
        let mut timer = Timer::new();
        for _ in 0..self.epochs {
            for idx in batches.epoch() {
                data.gather(idx, &mut x, &mut y)?;
                model.gradient(&x, &y, &mut gw, &mut gb);
                if grad_scale != 1.0 {
                    gw.iter_mut().chain(gb.iter_mut()).for_each(|g| *g *= grad_scale);
                }
                step(model, &gw, &gb)?;
                n += idx.len();
                if n.is_multiple_of(200) {
                    timer.stop();
                    history.epochs.push(n as f64 / idx.len() as f64 / per_epoch);
                    history.losses.push(model.loss(all_x, all_y));
                    timer.start();
                }
            }
        }
        history.times = timer.cumsum();
        history.sec_per_epoch = timer.sum() / self.epochs as f64;
        if self.verbose {
            println!(
                "loss: {:.3}, {} sec/epoch",
                history.final_loss().unwrap_or(f64::NAN),
                format_seconds(history.sec_per_epoch)
            );
        }
        Ok(history)
    }
}

/// Seconds with three decimals like the source, or three significant digits below 0.01 s (Rust
/// epochs on this data are often that fast, and `0.000` would say nothing).
pub(crate) fn format_seconds(t: f64) -> String {
    if t >= 0.01 || t == 0.0 {
        format!("{t:.3}")
    } else {
        let digits = (2 - t.log10().floor() as i32).max(3) as usize;
        format!("{t:.digits$}")
    }
}

#[cfg(test)]
mod tests {
    use gradstep::Sgd;

    use super::*;
    use crate::data::{DataDir, shared_data_dir};

    fn data() -> Airfoil {
        Airfoil::load_from(&DataDir::at(shared_data_dir())).unwrap()
    }

    fn sgd(lr: f32) -> impl FnMut(&mut [f32], &[f32], &mut ()) {
        move |p, g, _| p.iter_mut().zip(g).for_each(|(p, g)| *p -= lr * g)
    }

    #[test]
    fn the_source_cadence_is_kept() {
        let d = data();
        // Batch 1500: a point every 2nd epoch.
        let h = LinRegTraining::new(1500, 10).quiet().scratch(&d, |_| (), sgd(1.0)).unwrap();
        assert_eq!(h.epochs, vec![2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(h.times.len(), 5);
        // Batch 100: every 2 batches, 7.5 points an epoch.
        let h = LinRegTraining::new(100, 2).quiet().scratch(&d, |_| (), sgd(0.4)).unwrap();
        assert_eq!(h.epochs.len(), 15);
        assert!((h.epochs[0] - 2.0 / 15.0).abs() < 1e-12);
    }

    #[test]
    fn runs_reach_the_source_losses_and_are_reproducible() {
        let d = data();
        let gd = LinRegTraining::new(1500, 10).quiet().scratch(&d, |_| (), sgd(1.0)).unwrap();
        let mb = LinRegTraining::new(10, 2).quiet().scratch(&d, |_| (), sgd(0.05)).unwrap();
        let again = LinRegTraining::new(10, 2).quiet().scratch(&d, |_| (), sgd(0.05)).unwrap();
        assert_eq!(mb.losses, again.losses);
        // The source prints 0.247 and 0.246; the data is the same, the initialisation and
        // shuffling are not, so allow a little.
        assert!((gd.final_loss().unwrap() - 0.247).abs() < 0.005, "{:?}", gd.losses);
        assert!((mb.final_loss().unwrap() - 0.246).abs() < 0.006, "{:?}", mb.losses);
        // Library SGD in the concise loop (MSE gradient) at lr 0.01 matches scratch at 0.02.
        let concise = LinRegTraining::new(10, 4).quiet().concise(&d, &Sgd::new(0.01).unwrap()).unwrap();
        assert!((concise.final_loss().unwrap() - 0.243).abs() < 0.008, "{:?}", concise.losses);
        assert!(concise.losses[0] > concise.final_loss().unwrap());
    }

    #[test]
    fn seconds_keep_three_significant_digits() {
        assert_eq!(format_seconds(0.0213), "0.021");
        assert_eq!(format_seconds(1.5), "1.500");
        assert_eq!(format_seconds(0.000_214_3), "0.000214");
        assert_eq!(format_seconds(0.003_14), "0.00314");
    }

    #[test]
    fn bad_settings_are_errors() {
        let d = data();
        assert!(matches!(
            LinRegTraining::new(0, 1).quiet().scratch(&d, |_| (), sgd(0.1)),
            Err(TrainError::Data(_))
        ));
        assert!(matches!(
            LinRegTraining::new(10, 0).quiet().scratch(&d, |_| (), sgd(0.1)),
            Err(TrainError::Setting { .. })
        ));
    }
}
