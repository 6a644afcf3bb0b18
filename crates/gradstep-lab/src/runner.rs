//! Trajectory runners: apply an update rule repeatedly and record where it goes.
//!
//! The runners take any optimizer of the library ([`run_1d`], [`run_2d`]) or a hand-written
//! rule ([`run_1d_with`], [`run_2d_with`]), so a chapter can first write an update by hand and
//! then show that the library's optimizer walks the same path. Like the source text's `gd` and
//! `train_2d`, each prints its last iterate (`epoch 20, x1: -0.057646, x2: -0.000073`).

use gradstep::{Optimizer, Result};

use crate::objectives::{Objective1d, Objective2d};

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
}
