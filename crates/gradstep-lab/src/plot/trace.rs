use super::axes::{Axis, Frame, FrameSpec};
use super::draw::{Px, draw_polyline};
use super::{Dash, Figure, PlotError, Style};
use crate::objectives::Objective1d;

/// The source's `show_trace`: f drawn on [−n, n] with n = max |xₜ|, and the iterates of a
/// 1-D run on top as orange dots joined by a line.
///
/// # Errors
/// [`PlotError::Data`] for an empty or non-finite path.
///
/// # Example
/// ```
/// use gradstep_lab::{objectives::Square, plot::trace_1d, runner::run_1d_with};
///
/// let path = run_1d_with(10.0, 10, |x| x - 0.2 * 2.0 * x);
/// let fig = trace_1d(&Square, &path)?;
/// assert!(fig.svg().starts_with("<svg"));
/// # Ok::<(), gradstep_lab::PlotError>(())
/// ```
pub fn trace_1d(f: &impl Objective1d, path: &[f64]) -> Result<Figure, PlotError> {
    if path.is_empty() || path.iter().any(|x| !x.is_finite()) {
        return Err(PlotError::Data("a 1-D path must be non-empty and finite"));
    }
    let n = path.iter().fold(0.0_f64, |m, x| m.max(x.abs())).max(1e-3);
    let curve: Vec<(f64, f64)> =
        (0..=400).map(|i| -n + 2.0 * n * f64::from(i) / 400.0).map(|x| (x, f.value(x))).collect();
    let dots: Vec<(f64, f64)> = path.iter().map(|&x| (x, f.value(x))).collect();
    trace_figure(n, &curve, &dots)
}

/// Draws [`trace_1d`]'s figure from its samples. Only the sampling depends on the objective's
/// type, so the drawing is compiled once, here, rather than again in every crate (every notebook
/// cell) that calls `trace_1d` on a new objective type.
fn trace_figure(n: f64, curve: &[(f64, f64)], dots: &[(f64, f64)]) -> Result<Figure, PlotError> {
    let (lo, hi) = curve
        .iter()
        .chain(dots)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &(_, y)| (lo.min(y), hi.max(y)));
    let pad = 0.05 * (hi - lo).max(1e-9);

    let frame = Frame::layout(FrameSpec {
        size: Style::size(3.5, 2.5),
        x: Axis::linear(-n * 1.05, n * 1.05),
        y: Axis::linear(lo - pad, hi + pad),
        xlabel: "x",
        ylabel: "f(x)",
        grid: true,
        equal: false,
    });
    let map = |pts: &[(f64, f64)]| -> Vec<Option<Px>> {
        pts.iter().map(|&p| p.1.is_finite().then(|| frame.map(p))).collect()
    };
    Figure::render((3.5, 2.5), |root| {
        frame.draw(root)?;
        draw_polyline(root, &map(curve), frame.rect, Style::color(0), Dash::Solid, false)?;
        draw_polyline(root, &map(dots), frame.rect, Style::color(1), Dash::Solid, true)
    })
}
