//! Trajectory runners: apply an update rule repeatedly and record where it goes.
//!
//! The runners take any optimizer of the library ([`run_1d`], [`run_2d`]) or a hand-written
//! rule ([`run_1d_with`], [`run_2d_with`]), so a chapter can first write an update by hand and
//! then show that the library's optimizer walks the same path. Like the source text's `gd` and
//! `train_2d`, each prints its last iterate (`epoch 20, x1: -0.057646, x2: -0.000073`).

use gradstep::{Error, Optimizer, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::objectives::{Objective1d, Objective2d, ObjectiveNd};

/// The start of every 2-D experiment of the course, (−5, −2).
pub const START_2D: [f64; 2] = [-5.0, -2.0];

/// Runs `steps` updates of `opt` on `f` from `x0`; returns x₀, x₁, …, x_steps and prints
/// `epoch {steps}, x: {x}`.
///
/// # Errors
/// Whatever [`Optimizer::step`] returns.
///
/// # Example
/// ```
/// use gradstep::Sgd;
/// use gradstep_lab::{objectives::Square, runner::run_1d};
///
/// let path = run_1d(&Sgd::new(0.2)?, &Square, 10.0, 10)?; // prints "epoch 10, x: 0.060466"
/// assert_eq!(path.len(), 11);
/// # Ok::<(), gradstep::Error>(())
/// ```
pub fn run_1d<O: Optimizer<f64>>(opt: &O, f: &impl Objective1d, x0: f64, steps: usize) -> Result<Vec<f64>> {
    let mut x = [x0];
    let mut state = opt.init(1);
    let mut path = Vec::with_capacity(steps + 1);
    path.push(x0);
    for _ in 0..steps {
        let g = [f.derivative(x[0])];
        opt.step(&mut x, &g, &mut state)?;
        path.push(x[0]);
    }
    println!("epoch {steps}, x: {:.6}", x[0]);
    Ok(path)
}

/// Runs a hand-written update `next(x) -> x'` `steps` times from `x0`; returns the path and
/// prints `epoch {steps}, x: {x}` like [`run_1d`].
///
/// # Example
/// ```
/// use gradstep_lab::runner::run_1d_with;
///
/// let path = run_1d_with(10.0, 10, |x| x - 0.2 * 2.0 * x); // gradient descent on x², η = 0.2
/// assert!((path[10] - 0.060466).abs() < 1e-6);
/// ```
pub fn run_1d_with(x0: f64, steps: usize, mut next: impl FnMut(f64) -> f64) -> Vec<f64> {
    let mut path = Vec::with_capacity(steps + 1);
    let mut x = x0;
    path.push(x);
    for _ in 0..steps {
        x = next(x);
        path.push(x);
    }
    println!("epoch {steps}, x: {x:.6}");
    path
}

/// Runs `steps` updates of `opt` on `f` from `x0`; returns the path and prints
/// `epoch {steps}, x1: {x1}, x2: {x2}`.
///
/// # Errors
/// Whatever [`Optimizer::step`] returns.
///
/// # Example
/// ```
/// use gradstep::Sgd;
/// use gradstep_lab::objectives::Bowl;
/// use gradstep_lab::runner::{START_2D, run_2d};
///
/// let path = run_2d(&Sgd::new(0.1)?, &Bowl::new(1.0, 2.0), START_2D, 20)?;
/// let [x1, x2] = path[20];
/// assert!((x1 + 0.057646).abs() < 1e-6 && (x2 + 0.000073).abs() < 1e-6);
/// # Ok::<(), gradstep::Error>(())
/// ```
pub fn run_2d<O: Optimizer<f64>>(
    opt: &O,
    f: &impl Objective2d,
    x0: [f64; 2],
    steps: usize,
) -> Result<Vec<[f64; 2]>> {
    let mut x = x0;
    let mut state = opt.init(2);
    let mut path = Vec::with_capacity(steps + 1);
    path.push(x);
    for _ in 0..steps {
        let g = f.gradient(x);
        opt.step(&mut x, &g, &mut state)?;
        path.push(x);
    }
    print_2d(steps, x);
    Ok(path)
}

/// Runs a hand-written 2-D update `next(x) -> x'`; returns the path and prints the last point
/// like [`run_2d`].
///
/// # Example
/// ```
/// use gradstep_lab::runner::{START_2D, run_2d_with};
///
/// // Gradient descent on x₁² + 2x₂² written out by hand.
/// let path = run_2d_with(START_2D, 20, |[x1, x2]| [x1 - 0.1 * 2.0 * x1, x2 - 0.1 * 4.0 * x2]);
/// assert!((path[20][0] + 0.057646).abs() < 1e-6);
/// ```
pub fn run_2d_with(x0: [f64; 2], steps: usize, mut next: impl FnMut([f64; 2]) -> [f64; 2]) -> Vec<[f64; 2]> {
    let mut path = Vec::with_capacity(steps + 1);
    let mut x = x0;
    path.push(x);
    for _ in 0..steps {
        x = next(x);
        path.push(x);
    }
    print_2d(steps, x);
    path
}

/// Runs `steps` updates of `opt` on an objective of any dimension from `x0`; returns the path
/// and prints `epoch {steps}, x1: …, x2: …, x3: …`.
///
/// # Errors
/// [`Error::LengthMismatch`] if `x0` does not have `f.dim()` entries; whatever
/// [`Optimizer::step`] returns.
///
/// # Example
/// ```
/// use gradstep::Sgd;
/// use gradstep_lab::{objectives::Quadratic, runner::run_nd};
///
/// let h = Quadratic::diagonal(&[1.0, 0.5, 0.25])?;
/// let path = run_nd(&Sgd::new(0.5)?, &h, &[1.0, 1.0, 1.0], 10)?;
/// assert_eq!(path[10][0], 0.5f64.powi(10));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn run_nd<O: Optimizer<f64>>(
    opt: &O,
    f: &impl ObjectiveNd,
    x0: &[f64],
    steps: usize,
) -> Result<Vec<Vec<f64>>> {
    if x0.len() != f.dim() {
        return Err(Error::LengthMismatch { what: "start point", expected: f.dim(), got: x0.len() });
    }
    let mut x = x0.to_vec();
    let mut g = vec![0.0; x.len()];
    let mut state = opt.init(x.len());
    let mut path = Vec::with_capacity(steps + 1);
    path.push(x.clone());
    for _ in 0..steps {
        f.gradient_into(&x, &mut g);
        opt.step(&mut x, &g, &mut state)?;
        path.push(x.clone());
    }
    let coords: Vec<String> = x.iter().enumerate().map(|(i, v)| format!("x{}: {v:.6}", i + 1)).collect();
    println!("epoch {steps}, {}", coords.join(", "));
    Ok(path)
}

/// Gaussian noise added to gradients, from a seeded generator: the SGD chapter's stand-in for
/// the randomness of minibatches. The same seed gives the same noise on every platform
/// (ChaCha8).
///
/// # Example
/// ```
/// use gradstep_lab::runner::GradNoise;
///
/// let (mut a, mut b) = (GradNoise::new(1.0, 7), GradNoise::new(1.0, 7));
/// let (mut g, mut h) = ([0.0; 2], [0.0; 2]);
/// a.perturb(&mut g);
/// b.perturb(&mut h);
/// assert_eq!(g, h);
/// assert_ne!(g, [0.0; 2]);
/// ```
#[derive(Debug, Clone)]
pub struct GradNoise {
    std: f64,
    rng: ChaCha8Rng,
}

impl GradNoise {
    /// Noise with standard deviation `std` on every coordinate, seeded by `seed`.
    pub fn new(std: f64, seed: u64) -> Self {
        Self { std, rng: ChaCha8Rng::seed_from_u64(seed) }
    }

    /// Adds an independent N(0, std²) draw to every entry of `grad`.
    pub fn perturb(&mut self, grad: &mut [f64]) {
        for g in grad {
            let z: f64 = StandardNormal.sample(&mut self.rng);
            *g += self.std * z;
        }
    }
}

/// A configurable 2-D run: start, number of steps, optional gradient noise and an optional
/// learning-rate schedule. [`Run2d::run`] takes any optimizer of the library;
/// [`Run2d::run_with`] a hand-written update.
///
/// The schedule is a plain `fn(t) -> factor` (a `fn` item or a closure that captures
/// nothing, so it survives between notebook cells). Step t = 1, 2, …, steps runs at learning
/// rate η·factor(t), where η is the optimizer's own rate.
///
/// # Example
/// The SGD chapter's noisy run with an exponentially decaying learning rate:
/// ```
/// use gradstep::Sgd;
/// use gradstep_lab::{objectives::Bowl, runner::{Run2d, START_2D}};
///
/// fn exponential(t: usize) -> f64 {
///     (-0.1 * t as f64).exp()
/// }
/// let path = Run2d::new(START_2D, 1000).noise(1.0, 42).schedule(exponential)
///     .run(&Sgd::new(0.1)?, &Bowl::new(1.0, 2.0))?;
/// assert_eq!(path.len(), 1001);
/// // The rate decays so fast that the run stalls far from the minimum at the origin.
/// assert!(path[1000][0] < -0.2);
/// # Ok::<(), gradstep::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Run2d {
    x0: [f64; 2],
    steps: usize,
    noise: Option<(f64, u64)>,
    schedule: Option<fn(usize) -> f64>,
    verbose: bool,
}

impl Run2d {
    /// A noiseless run at constant learning rate from `x0`, `steps` steps, printing its last
    /// point.
    pub fn new(x0: [f64; 2], steps: usize) -> Self {
        Self { x0, steps, noise: None, schedule: None, verbose: true }
    }

    /// Adds N(0, std²) noise, drawn from a generator seeded with `seed`, to every gradient.
    pub fn noise(mut self, std: f64, seed: u64) -> Self {
        self.noise = Some((std, seed));
        self
    }

    /// Multiplies the learning rate of step t (t = 1, 2, …) by `schedule(t)`.
    pub fn schedule(mut self, schedule: fn(usize) -> f64) -> Self {
        self.schedule = Some(schedule);
        self
    }

    /// Does not print the last point.
    pub fn quiet(mut self) -> Self {
        self.verbose = false;
        self
    }

    /// Runs `opt` (a copy of it, whose learning rate the schedule changes) on `f`; returns the
    /// path x₀, …, x_steps.
    ///
    /// # Errors
    /// Whatever [`Optimizer::step`] or [`Optimizer::set_learning_rate`] returns (e.g. a
    /// schedule factor that makes the rate negative).
    pub fn run<O: Optimizer<f64> + Clone>(&self, opt: &O, f: &impl Objective2d) -> Result<Vec<[f64; 2]>> {
        let mut opt = opt.clone();
        let eta = opt.learning_rate();
        let mut state = opt.init(2);
        let mut noise = self.noise.map(|(std, seed)| GradNoise::new(std, seed));
        let mut x = self.x0;
        let mut path = Vec::with_capacity(self.steps + 1);
        path.push(x);
        for t in 1..=self.steps {
            let mut g = f.gradient(x);
            if let Some(n) = noise.as_mut() {
                n.perturb(&mut g);
            }
            if let Some(s) = self.schedule {
                opt.set_learning_rate(eta * s(t))?;
            }
            opt.step(&mut x, &g, &mut state)?;
            path.push(x);
        }
        if self.verbose {
            print_2d(self.steps, x);
        }
        Ok(path)
    }

    /// Runs a hand-written update `next(x, g, factor) -> x'`, where g is the (noisy) gradient
    /// of `f` at x and factor the schedule's value for this step (1 without a schedule).
    ///
    /// # Example
    /// ```
    /// use gradstep_lab::{objectives::Bowl, runner::{Run2d, START_2D}};
    ///
    /// let eta = 0.1;
    /// let path = Run2d::new(START_2D, 50).noise(1.0, 1).quiet()
    ///     .run_with(&Bowl::new(1.0, 2.0), |[x1, x2], [g1, g2], s| [x1 - eta * s * g1, x2 - eta * s * g2]);
    /// assert_eq!(path.len(), 51);
    /// ```
    pub fn run_with(
        &self,
        f: &impl Objective2d,
        mut next: impl FnMut([f64; 2], [f64; 2], f64) -> [f64; 2],
    ) -> Vec<[f64; 2]> {
        let mut noise = self.noise.map(|(std, seed)| GradNoise::new(std, seed));
        let mut x = self.x0;
        let mut path = Vec::with_capacity(self.steps + 1);
        path.push(x);
        for t in 1..=self.steps {
            let mut g = f.gradient(x);
            if let Some(n) = noise.as_mut() {
                n.perturb(&mut g);
            }
            x = next(x, g, self.schedule.map_or(1.0, |s| s(t)));
            path.push(x);
        }
        if self.verbose {
            print_2d(self.steps, x);
        }
        path
    }
}

fn print_2d(steps: usize, [x1, x2]: [f64; 2]) {
    println!("epoch {steps}, x1: {x1:.6}, x2: {x2:.6}");
}

#[cfg(test)]
mod tests {
    use gradstep::Sgd;

    use super::*;
    use crate::objectives::{Bowl, Square};

    #[test]
    fn library_optimizer_and_hand_written_rule_walk_the_same_path() {
        let eta = 0.1;
        let f = Bowl::new(1.0, 2.0);
        let a = run_2d(&Sgd::new(eta).unwrap(), &f, START_2D, 20).unwrap();
        let b = run_2d_with(START_2D, 20, |x| {
            let g = f.gradient(x);
            [x[0] - eta * g[0], x[1] - eta * g[1]]
        });
        assert_eq!(a, b);
    }

    #[test]
    fn one_dimensional_paths_include_the_start() {
        let p = run_1d(&Sgd::new(0.05).unwrap(), &Square, 10.0, 10).unwrap();
        assert_eq!(p[0], 10.0);
        assert!((p[10] - 3.486784).abs() < 1e-6);
        let q = run_1d_with(10.0, 10, |x| x - 0.05 * 2.0 * x);
        assert_eq!(p, q);
    }

    #[test]
    fn noiseless_decaying_schedule_stalls_where_the_source_says() {
        // The source increments its global t before use, so its first step has t = 2.
        fn source_exponential(t: usize) -> f64 {
            (-0.1 * (t + 1) as f64).exp()
        }
        let p = Run2d::new(START_2D, 1000).schedule(source_exponential).quiet();
        let a = p.run(&Sgd::new(0.1).unwrap(), &Bowl::new(1.0, 2.0)).unwrap();
        assert!((a[1000][0] + 0.8257).abs() < 1e-4 && (a[1000][1] + 0.0450).abs() < 1e-4, "{:?}", a[1000]);
        let b =
            p.run_with(&Bowl::new(1.0, 2.0), |[x1, x2], [g1, g2], s| [x1 - 0.1 * s * g1, x2 - 0.1 * s * g2]);
        for (u, v) in a.iter().zip(&b) {
            assert!((u[0] - v[0]).abs() < 1e-12 && (u[1] - v[1]).abs() < 1e-12);
        }
    }

    #[test]
    fn noisy_runs_are_reproducible_and_differ_between_seeds() {
        let f = Bowl::new(1.0, 2.0);
        let opt = Sgd::new(0.1).unwrap();
        let a = Run2d::new(START_2D, 50).noise(1.0, 3).quiet().run(&opt, &f).unwrap();
        let b = Run2d::new(START_2D, 50).noise(1.0, 3).quiet().run(&opt, &f).unwrap();
        let c = Run2d::new(START_2D, 50).noise(1.0, 4).quiet().run(&opt, &f).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        // With constant η the noise keeps the iterate jittering around the minimum.
        let [x1, x2] = a[50];
        assert!(x1.abs() < 1.5 && x2.abs() < 1.5 && (x1, x2) != (0.0, 0.0));
    }

    #[test]
    fn library_momentum_reproduces_the_source_runs() {
        use gradstep::SgdConfig;
        let f = Bowl::new(0.1, 2.0);
        for (lr, beta, want) in [(0.6, 0.5, [0.007188, 0.002553]), (0.6, 0.25, [-0.126340, -0.186632])] {
            let opt = Sgd::from_config(SgdConfig { lr, momentum: beta, ..Default::default() }).unwrap();
            let p = run_2d(&opt, &f, START_2D, 20).unwrap();
            assert!((p[20][0] - want[0]).abs() < 1e-6 && (p[20][1] - want[1]).abs() < 1e-6, "{:?}", p[20]);
        }
        let diverging = run_2d(&Sgd::new(0.6).unwrap(), &f, START_2D, 20).unwrap();
        assert!((diverging[20][1] + 1673.365109).abs() < 1e-5);
    }

    #[test]
    fn nd_runner_checks_the_dimension() {
        let h = crate::objectives::Quadratic::diagonal(&[1.0, 2.0, 3.0]).unwrap();
        assert!(run_nd(&Sgd::new(0.1).unwrap(), &h, &[1.0], 3).is_err());
        let p = run_nd(&Sgd::new(0.1).unwrap(), &Bowl::new(1.0, 2.0), &START_2D, 20).unwrap();
        assert!((p[20][0] + 0.057646).abs() < 1e-6);
    }
}
