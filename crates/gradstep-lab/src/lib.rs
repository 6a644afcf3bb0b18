//! # gradstep-lab
//!
//! The course's laboratory: everything a chapter needs besides the optimizers themselves, so
//! that chapter code stays short and about the algorithm.
//!
//! - [`objectives`]: the test functions of the course, with derivatives (and Hessians),
//!   checked against finite differences.
//! - [`runner`]: run any [`gradstep::Optimizer`] (or a hand-written rule) on a 1-D, 2-D or
//!   n-D objective, optionally with seeded gradient noise and a learning-rate schedule;
//!   record the path; print the last iterate like the source text does.
//! - [`baselines`]: derivative-free methods to compare with (random search, a genetic
//!   algorithm), recording the same kind of path.
//! - [`plot`]: figures that render to SVG, save to files and show themselves inline in
//!   Jupyter: contours with paths, functions with iterates, line plots with legends, log axes
//!   and annotations, 3-D surfaces, schedule curves.
//! - [`data`]: the airfoil and MNIST data sets (downloaded with checksums, cached, or read
//!   from `GRADSTEP_DATA_DIR`), IDX files, seeded minibatches.
//! - [`models`]: linear regression, an MLP and a LeNet-style CNN with hand-derived gradients.
//! - [`train`]: the source's training loops (airfoil regression from scratch and with a
//!   library optimizer; image classification with a per-epoch schedule).
//! - [`timer`]: the source's `Timer`.
//!
//! ```
//! use gradstep::Sgd;
//! use gradstep_lab::{objectives::Bowl, plot::contour_2d, runner::{START_2D, run_2d}};
//!
//! let f = Bowl::new(1.0, 2.0); // x₁² + 2x₂²
//! let path = run_2d(&Sgd::new(0.1)?, &f, START_2D, 20)?; // epoch 20, x1: -0.057646, x2: -0.000073
//! let fig = contour_2d(&f, &path)?;
//! # let _ = fig;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

pub mod baselines;
pub mod data;
pub mod models;
pub mod objectives;
pub mod plot;
pub mod runner;
pub mod timer;
pub mod train;

pub use plot::{Figure, PlotError};
