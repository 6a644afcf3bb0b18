//! Figures: SVG charts drawn with plotters, in one style throughout the course.
//!
//! Every plotting function takes data (a path, a function, series) and returns a [`Figure`]:
//! an SVG document that can be saved to a file, embedded in a page, or shown inline in a
//! Jupyter notebook running the evcxr kernel (as `image/svg+xml`).

mod contour;
mod figure;
mod style;
mod trace;

pub use contour::{contour_2d, marching_squares};
pub use figure::{Figure, PlotError};
pub use style::Style;
pub use trace::trace_1d;
