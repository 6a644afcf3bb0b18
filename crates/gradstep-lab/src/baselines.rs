//! Derivative-free baselines: what gradient methods are compared with.
//!
//! Both methods use only values of the objective, never its gradient, and return the same
//! record as the gradient runners of [`crate::runner`]: the start and then the best point
//! found after each iteration, so their paths can be drawn with
//! [`crate::plot::contour_paths`] next to those of gradient descent. Both are seeded and
//! deterministic.

use gradstep::{Error, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use crate::objectives::Objective2d;

fn check_positive(name: &'static str, value: f64) -> Result<()> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(Error::Hyperparameter { name, value, rule: "must be positive and finite" })
    }
}

/// (1+1) random search: propose x + σ·z with z ~ N(0, I) and move there if f is lower.
/// One function evaluation per iteration.
///
/// # Example
/// ```
/// use gradstep_lab::{baselines::RandomSearch, objectives::Bowl, runner::START_2D};
///
/// let path = RandomSearch::new(0.5, 1)?.run(&Bowl::new(1.0, 2.0), START_2D, 200);
/// assert_eq!(path.len(), 201);
/// let [x1, x2] = path[200];
/// assert!(x1 * x1 + 2.0 * x2 * x2 < 0.5); // close to the minimum, without a single gradient
/// # Ok::<(), gradstep::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RandomSearch {
    sigma: f64,
    seed: u64,
}

impl RandomSearch {
    /// Random search with proposal standard deviation `sigma`, seeded by `seed`.
    ///
    /// # Errors
    /// [`Error::Hyperparameter`] if `sigma` is not positive and finite.
    pub fn new(sigma: f64, seed: u64) -> Result<Self> {
        check_positive("sigma", sigma)?;
        Ok(Self { sigma, seed })
    }

    /// Runs `iterations` proposals from `x0`; returns x₀ and the best point after each
    /// proposal, and prints the last like the gradient runners.
    pub fn run(&self, f: &impl Objective2d, x0: [f64; 2], iterations: usize) -> Vec<[f64; 2]> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let normal = Normal::new(0.0, self.sigma).expect("sigma was checked in new");
        let (mut x, mut fx) = (x0, f.value(x0));
        let mut path = Vec::with_capacity(iterations + 1);
        path.push(x);
        for _ in 0..iterations {
            let y = [x[0] + normal.sample(&mut rng), x[1] + normal.sample(&mut rng)];
            let fy = f.value(y);
            if fy < fx {
                (x, fx) = (y, fy);
            }
            path.push(x);
        }
        println!("epoch {iterations}, x1: {:.6}, x2: {:.6}", x[0], x[1]);
        path
    }
}

/// A small real-coded genetic algorithm: a population around the start, tournament selection
/// (3 contestants), blend crossover, Gaussian mutation, and the best individual carried over
/// unchanged (elitism). `population` function evaluations per generation.
///
/// # Example
/// ```
/// use gradstep_lab::{baselines::Genetic, objectives::Rosenbrock};
///
/// let path = Genetic::new(30, 0.3, 7)?.run(&Rosenbrock::default(), [-1.5, 2.0], 60);
/// assert_eq!(path.len(), 61);
/// let f = |[a, b]: [f64; 2]| (1.0 - a) * (1.0 - a) + 100.0 * (b - a * a) * (b - a * a);
/// assert!(f(path[60]) < f(path[0]) / 100.0);
/// # Ok::<(), gradstep::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Genetic {
    population: usize,
    sigma: f64,
    seed: u64,
}

impl Genetic {
    /// A population of `population` individuals (at least 4), mutation standard deviation
    /// `sigma` (also the spread of the first generation around the start), seeded by `seed`.
    ///
    /// # Errors
    /// [`Error::Hyperparameter`] if `population` < 4 or `sigma` is not positive and finite.
    pub fn new(population: usize, sigma: f64, seed: u64) -> Result<Self> {
        if population < 4 {
            return Err(Error::Hyperparameter {
                name: "population",
                value: population as f64,
                rule: "must be at least 4",
            });
        }
        check_positive("sigma", sigma)?;
        Ok(Self { population, sigma, seed })
    }

    /// Runs `generations` generations from a population around `x0`; returns x₀ and the best
    /// individual after each generation, and prints the last.
    pub fn run(&self, f: &impl Objective2d, x0: [f64; 2], generations: usize) -> Vec<[f64; 2]> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let normal = Normal::new(0.0, self.sigma).expect("sigma was checked in new");
        let score = |x: [f64; 2]| {
            let v = f.value(x);
            if v.is_nan() { f64::INFINITY } else { v }
        };
        let mut pop: Vec<([f64; 2], f64)> = (0..self.population)
            .map(|i| {
                let x = if i == 0 {
                    x0
                } else {
                    [x0[0] + normal.sample(&mut rng), x0[1] + normal.sample(&mut rng)]
                };
                (x, score(x))
            })
            .collect();
        let mut next = Vec::with_capacity(self.population);
        let mut path = Vec::with_capacity(generations + 1);
        path.push(x0);
        for _ in 0..generations {
            let best = *pop.iter().min_by(|a, b| a.1.total_cmp(&b.1)).expect("population is not empty");
            next.clear();
            next.push(best);
            while next.len() < self.population {
                let mut pick = || {
                    (0..3)
                        .map(|_| pop[rng.random_range(0..pop.len())])
                        .min_by(|a, b| a.1.total_cmp(&b.1))
                        .expect("three contestants")
                        .0
                };
                let (p, q) = (pick(), pick());
                let u: f64 = rng.random_range(-0.25..1.25);
                let child = [
                    p[0] + u * (q[0] - p[0]) + normal.sample(&mut rng),
                    p[1] + u * (q[1] - p[1]) + normal.sample(&mut rng),
                ];
                next.push((child, score(child)));
            }
            std::mem::swap(&mut pop, &mut next);
            let best = pop.iter().min_by(|a, b| a.1.total_cmp(&b.1)).expect("population is not empty").0;
            path.push(best);
        }
        let last = path[generations];
        println!("epoch {generations}, x1: {:.6}, x2: {:.6}", last[0], last[1]);
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objectives::{Bowl, Rosenbrock};
    use crate::runner::START_2D;

    #[test]
    fn hyperparameters_are_checked() {
        assert!(RandomSearch::new(0.0, 1).is_err());
        assert!(RandomSearch::new(f64::NAN, 1).is_err());
        assert!(Genetic::new(3, 0.1, 1).is_err());
        assert!(Genetic::new(10, -1.0, 1).is_err());
    }

    #[test]
    fn paths_never_get_worse_and_are_reproducible() {
        let f = Bowl::new(0.1, 2.0);
        for path in [
            RandomSearch::new(0.3, 5).unwrap().run(&f, START_2D, 100),
            Genetic::new(12, 0.3, 5).unwrap().run(&f, START_2D, 30),
        ] {
            for w in path.windows(2) {
                assert!(f.value(w[1]) <= f.value(w[0]));
            }
            assert!(f.value(*path.last().unwrap()) < 0.1 * f.value(START_2D));
        }
        let g = Rosenbrock::default();
        assert_eq!(
            Genetic::new(12, 0.3, 5).unwrap().run(&g, START_2D, 10),
            Genetic::new(12, 0.3, 5).unwrap().run(&g, START_2D, 10)
        );
        assert_ne!(
            RandomSearch::new(0.3, 5).unwrap().run(&g, START_2D, 10),
            RandomSearch::new(0.3, 6).unwrap().run(&g, START_2D, 10)
        );
    }
}
