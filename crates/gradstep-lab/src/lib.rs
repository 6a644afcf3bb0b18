//! # gradstep-lab
//!
//! The course's laboratory: everything a chapter needs besides the optimizers themselves, so
//! that chapter code stays short and about the algorithm.
//!
//! - [`objectives`]: the test functions of the course, with derivatives (and Hessians).
//! - [`runner`]: run any [`gradstep::Optimizer`] (or a hand-written rule) on a 1-D or 2-D
//!   objective, record the path, print the last iterate like the source text does.
//! - [`plot`]: figures that render to SVG, save to files and show themselves inline in Jupyter.
#![warn(missing_docs)]

pub mod objectives;
pub mod plot;
pub mod runner;

pub use plot::{Figure, PlotError};
