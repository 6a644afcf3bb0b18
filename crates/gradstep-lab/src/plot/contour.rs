use plotters::prelude::*;

use super::draw::{LegendEntry, Rect, draw_legend};
use super::{Dash, Figure, PlotError, Style};
use crate::objectives::Objective2d;

/// A line segment of a level set, from one cell edge crossing to another.
pub type Segment = [(f64, f64); 2];

/// The segments where a sampled function crosses `level`, by marching squares.
///
/// `z[j][i]` is the value at `(xs[i], ys[j])`. Crossings are placed by linear interpolation
/// along cell edges; the two ambiguous cell patterns are resolved with the cell's mean value.
///
/// # Example
/// ```
/// use gradstep_lab::plot::marching_squares;
///
/// // f(x, y) = x on a 2 × 2 grid crosses 0.5 along one vertical segment.
/// let segs = marching_squares(&[0.0, 1.0], &[0.0, 1.0], &[vec![0.0, 1.0], vec![0.0, 1.0]], 0.5);
/// assert_eq!(segs, vec![[(0.5, 0.0), (0.5, 1.0)]]);
/// ```
pub fn marching_squares(xs: &[f64], ys: &[f64], z: &[Vec<f64>], level: f64) -> Vec<Segment> {
    let mut segments = Vec::new();
    let lerp = |a: (f64, f64, f64), b: (f64, f64, f64)| {
        let t = (level - a.2) / (b.2 - a.2);
        (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1))
    };
    for j in 0..ys.len().saturating_sub(1) {
        for i in 0..xs.len().saturating_sub(1) {
            // Corners counter-clockwise from bottom-left, each as (x, y, value).
            let c = [
                (xs[i], ys[j], z[j][i]),
                (xs[i + 1], ys[j], z[j][i + 1]),
                (xs[i + 1], ys[j + 1], z[j + 1][i + 1]),
                (xs[i], ys[j + 1], z[j + 1][i]),
            ];
            let above = c.map(|p| p.2 > level);
            // The crossing on each edge k (from corner k to corner k+1), if any.
            let edge = |k: usize| (above[k] != above[(k + 1) % 4]).then(|| lerp(c[k], c[(k + 1) % 4]));
            let crossings: Vec<(usize, (f64, f64))> =
                (0..4).filter_map(|k| edge(k).map(|p| (k, p))).collect();
            match crossings.len() {
                2 => segments.push([crossings[0].1, crossings[1].1]),
                4 => {
                    // A saddle cell: pair edges so that the mean's side stays connected.
                    let centre_above = c.iter().map(|p| p.2).sum::<f64>() / 4.0 > level;
                    let p = |k: usize| crossings[k].1;
                    if centre_above == above[0] {
                        segments.push([p(0), p(1)]);
                        segments.push([p(2), p(3)]);
                    } else {
                        segments.push([p(3), p(0)]);
                        segments.push([p(1), p(2)]);
                    }
                }
                _ => {}
            }
        }
    }
    segments
}

/// About eight to ten round-numbered levels strictly between `lo` and `hi`, like matplotlib picks.
fn nice_levels(lo: f64, hi: f64) -> Vec<f64> {
    let raw = (hi - lo) / 10.0;
    if !(raw.is_finite() && raw > 0.0) {
        return Vec::new();
    }
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    let first = (lo / step).floor() + 1.0;
    (0..).map(|k| (first + f64::from(k)) * step).take_while(|l| *l < hi).collect()
}

/// The source's `show_trace_2d`: blue contour lines of `f` on x₁ ∈ [−5.5, 1], x₂ ∈ [−3, 1] and
/// the path of a 2-D run on top, as orange dots joined by a line. The axes grow to include a
/// path that leaves that window.
///
/// # Errors
/// [`PlotError::Data`] for an empty or non-finite path.
///
/// # Example
/// ```
/// use gradstep::Sgd;
/// use gradstep_lab::{objectives::Bowl, plot::contour_2d, runner::{START_2D, run_2d}};
///
/// let f = Bowl::new(1.0, 2.0);
/// let path = run_2d(&Sgd::new(0.1)?, &f, START_2D, 20)?;
/// let fig = contour_2d(&f, &path)?;
/// assert!(fig.svg().contains("<polyline"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn contour_2d(f: &impl Objective2d, path: &[[f64; 2]]) -> Result<Figure, PlotError> {
    contour_in(f, (-5.5, 1.0), (-3.0, 1.0), &[("", path)])
}

/// Several paths over the contours of `f` in the source's window (grown to fit the paths),
/// each in its own colour (orange, green, red, …) and named in a legend: for comparing
/// optimizers on one objective. Paths with an empty label are left out of the legend.
///
/// # Errors
/// [`PlotError::Data`] if there is no path, or a path is empty or not finite.
///
/// # Example
/// ```
/// use gradstep::{Sgd, SgdConfig};
/// use gradstep_lab::{objectives::Bowl, plot::contour_paths, runner::{START_2D, run_2d}};
///
/// let f = Bowl::new(0.1, 2.0);
/// let gd = run_2d(&Sgd::new(0.4)?, &f, START_2D, 20)?;
/// let momentum = Sgd::from_config(SgdConfig { lr: 0.6, momentum: 0.5, ..Default::default() })?;
/// let mo = run_2d(&momentum, &f, START_2D, 20)?;
/// let fig = contour_paths(&f, &[("gd", &gd), ("momentum", &mo)])?;
/// assert!(fig.svg().contains("momentum"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn contour_paths(f: &impl Objective2d, paths: &[(&str, &[[f64; 2]])]) -> Result<Figure, PlotError> {
    contour_in(f, (-5.5, 1.0), (-3.0, 1.0), paths)
}

/// Like [`contour_paths`] on the window x₁ ∈ `x`, x₂ ∈ `y` (grown to fit the paths): for
/// objectives whose interesting region is elsewhere, such as [`Rosenbrock`](crate::objectives::Rosenbrock).
///
/// # Errors
/// [`PlotError::Data`] if the window is empty or not finite, there is no path, or a path is
/// empty or not finite.
///
/// # Example
/// ```
/// use gradstep_lab::{objectives::Rosenbrock, plot::contour_in};
///
/// let path = [[-1.5, 2.0], [-1.0, 1.0], [0.5, 0.3], [1.0, 1.0]];
/// let fig = contour_in(&Rosenbrock::default(), (-2.0, 2.0), (-1.0, 3.0), &[("by hand", &path)])?;
/// assert!(fig.svg().contains("by hand"));
/// # Ok::<(), gradstep_lab::PlotError>(())
/// ```
pub fn contour_in(
    f: &impl Objective2d,
    x: (f64, f64),
    y: (f64, f64),
    paths: &[(&str, &[[f64; 2]])],
) -> Result<Figure, PlotError> {
    if !(x.0 < x.1 && y.0 < y.1 && [x.0, x.1, y.0, y.1].iter().all(|v| v.is_finite())) {
        return Err(PlotError::Data("the contour window must be finite and non-empty"));
    }
    if paths.is_empty() {
        return Err(PlotError::Data("no path to draw"));
    }
    if paths.iter().any(|(_, p)| p.is_empty() || p.iter().flatten().any(|v| !v.is_finite())) {
        return Err(PlotError::Data("a 2-D path must be non-empty and finite"));
    }
    let (mut x0, mut x1, mut y0, mut y1) = (x.0, x.1, y.0, y.1);
    for &[a, b] in paths.iter().flat_map(|(_, p)| p.iter()) {
        (x0, x1, y0, y1) = (x0.min(a), x1.max(a), y0.min(b), y1.max(b));
    }
    // The source's grid has steps of 0.1 over its window, 65 × 40 cells; a window grown to fit
    // the paths is sampled as finely.
    let nx = (65.0 * (x1 - x0) / (x.1 - x.0)).ceil().min(400.0) as u32;
    let ny = (40.0 * (y1 - y0) / (y.1 - y.0)).ceil().min(400.0) as u32;
    let xs: Vec<f64> = (0..=nx).map(|i| x0 + (x1 - x0) * f64::from(i) / f64::from(nx)).collect();
    let ys: Vec<f64> = (0..=ny).map(|j| y0 + (y1 - y0) * f64::from(j) / f64::from(ny)).collect();
    let z: Vec<Vec<f64>> = ys.iter().map(|&y| xs.iter().map(|&x| f.value([x, y])).collect()).collect();
    let (lo, hi) = z
        .iter()
        .flatten()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, Style::size(3.5, 2.5)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("x1")
            .y_desc("x2")
            .label_style((Style::FONT, Style::TICK_FONT))
            .axis_desc_style((Style::FONT, Style::LABEL_FONT))
            .draw()?;
        let blue = Style::color(0);
        for level in nice_levels(lo, hi) {
            chart.draw_series(
                marching_squares(&xs, &ys, &z, level)
                    .into_iter()
                    .map(|s| PathElement::new(s.to_vec(), blue.stroke_width(1))),
            )?;
        }
        let mut legend = Vec::new();
        for (i, (label, path)) in paths.iter().enumerate() {
            let color = Style::color(i + 1);
            let points: Vec<(f64, f64)> = path.iter().map(|&[a, b]| (a, b)).collect();
            chart.draw_series(LineSeries::new(points.clone(), color.stroke_width(Style::LINE_WIDTH)))?;
            chart.draw_series(
                points.into_iter().map(|p| Circle::new(p, Style::MARKER_SIZE, color.filled())),
            )?;
            if !label.is_empty() {
                legend.push(LegendEntry { label, color, dash: Dash::Solid, markers: true });
            }
        }
        let rect = Rect::from_ranges(chart.plotting_area().get_pixel_range());
        draw_legend(&root, &legend, rect, false)?;
        root.present()?;
    }
    Ok(Figure::from_svg(svg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_circle_level_set_lies_on_the_circle() {
        let xs: Vec<f64> = (0..=40).map(|i| -2.0 + 0.1 * f64::from(i)).collect();
        let z: Vec<Vec<f64>> = xs.iter().map(|&y| xs.iter().map(|&x| x * x + y * y).collect()).collect();
        let segs = marching_squares(&xs, &xs, &z, 1.0);
        assert!(segs.len() > 30);
        for s in segs {
            for (x, y) in s {
                // Linear interpolation of a quadratic is off by at most about h²/4.
                assert!(((x * x + y * y).sqrt() - 1.0).abs() < 0.01);
            }
        }
    }

    #[test]
    fn levels_are_round_and_inside_the_range() {
        assert_eq!(nice_levels(0.0, 48.25), vec![5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 35.0, 40.0, 45.0]);
        assert!(nice_levels(1.0, 1.0).is_empty());
    }
}
