use super::axes::{Axis, Frame, FrameSpec};
use std::collections::HashMap;

use plotters::prelude::*;

use super::draw::{
    LegendEntry, Place, Px, best_place, draw_legend, draw_polyline, sample_pieces, scaled, to_backend,
};
use super::{Corner, Dash, Figure, PlotError, Style};
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
/// let segs = marching_squares(&[0.0, 1.0], &[0.0, 1.0], &[vec![0.0, 1.0], vec![0.0, 1.0]], 0.5)?;
/// assert_eq!(segs, vec![[(0.5, 0.0), (0.5, 1.0)]]);
/// // A grid of values that does not match the coordinates is an error.
/// assert!(marching_squares(&[0.0, 1.0], &[0.0, 1.0], &[vec![0.0, 1.0]], 0.5).is_err());
/// # Ok::<(), gradstep_lab::PlotError>(())
/// ```
///
/// # Errors
/// [`PlotError::Data`] unless `z` has `ys.len()` rows of `xs.len()` values.
pub fn marching_squares(
    xs: &[f64],
    ys: &[f64],
    z: &[Vec<f64>],
    level: f64,
) -> Result<Vec<Segment>, PlotError> {
    if z.len() != ys.len() || z.iter().any(|row| row.len() != xs.len()) {
        return Err(PlotError::Data("marching squares: z must have ys.len() rows of xs.len() values"));
    }
    Ok(level_segments(xs, ys, z, level))
}

/// [`marching_squares`] on a grid known to match its coordinates.
fn level_segments(xs: &[f64], ys: &[f64], z: &[Vec<f64>], level: f64) -> Vec<Segment> {
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

/// Chains the segments of one level set into polylines wherever they meet (at the same canvas
/// pixel), so that the lines are drawn with proper joins and the SVG stays small.
fn join_segments(segments: impl Iterator<Item = [Px; 2]>) -> Vec<Vec<Px>> {
    let segments: Vec<[Px; 2]> = segments.collect();
    let mut ends: HashMap<(i32, i32), Vec<usize>> = HashMap::new();
    for (i, s) in segments.iter().enumerate() {
        for p in s {
            ends.entry(to_backend(*p)).or_default().push(i);
        }
    }
    let mut used = vec![false; segments.len()];
    let mut lines = Vec::new();
    for i in 0..segments.len() {
        if used[i] {
            continue;
        }
        used[i] = true;
        let mut line = segments[i].to_vec();
        for _ in 0..2 {
            // Grow at the end, then turn the line around and grow at the other end.
            while let Some(&j) = ends[&to_backend(line[line.len() - 1])].iter().find(|&&j| !used[j]) {
                used[j] = true;
                let [a, b] = segments[j];
                line.push(if to_backend(a) == to_backend(line[line.len() - 1]) { b } else { a });
            }
            line.reverse();
        }
        lines.push(line);
    }
    lines
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

/// Levels evenly spaced in √(f − min f): for a quadratic bowl, evenly spaced ellipses.
fn sqrt_levels(lo: f64, hi: f64) -> Vec<f64> {
    nice_levels(0.0, (hi - lo).max(0.0).sqrt()).into_iter().map(|s| lo + s * s).collect()
}

/// Levels 1 and 3 × 10ᵏ above min f over the top three decades of f − min f: for valleys
/// whose walls rise steeply, like Rosenbrock's.
fn log_levels(lo: f64, hi: f64) -> Vec<f64> {
    let g = hi - lo;
    if !(g.is_finite() && g > 0.0) {
        return Vec::new();
    }
    let k0 = (g * 1e-3).log10().floor() as i32;
    let k1 = g.log10().ceil() as i32;
    (k0..=k1)
        .flat_map(|k| [1.0, 3.0].map(|m| if k < 0 { m / 10f64.powi(-k) } else { m * 10f64.powi(k) }))
        .filter(|v| *v > g * 1e-3 && *v < g)
        .map(|v| lo + v)
        .collect()
}

/// The smallest and largest finite value of `z`.
fn finite_range(z: &[Vec<f64>]) -> (f64, f64) {
    z.iter()
        .flatten()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)))
}

/// How the values of the contour lines are spaced.
///
/// # Example
/// ```
/// use gradstep_lab::{objectives::Rosenbrock, plot::{ContourPlot, Levels}};
///
/// let path = [[-1.5, 2.0], [-1.0, 1.0], [0.5, 0.3], [1.0, 1.0]];
/// let fig = ContourPlot::new(&Rosenbrock::default())
///     .window((-2.0, 2.0), (-1.0, 3.0))
///     .path("by hand", &path)
///     .levels(Levels::Log)
///     .draw()?;
/// assert!(fig.svg().contains("by hand"));
/// # Ok::<(), gradstep_lab::PlotError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Levels {
    /// [`Levels::Linear`] unless that leaves a large region around the minimum without any
    /// line: then [`Levels::Sqrt`], or [`Levels::Log`] if the region is larger still.
    #[default]
    Auto,
    /// About ten round values evenly spaced between the smallest and largest value in the
    /// window, like matplotlib's `contour`.
    Linear,
    /// Round values evenly spaced in √(f − min f): evenly spaced ellipses on a quadratic bowl,
    /// also near the minimum of an ill-conditioned one.
    Sqrt,
    /// min f + 1 and 3 × 10ᵏ over the top three decades of f − min f: for steep valleys such as
    /// Rosenbrock's.
    Log,
}

impl Levels {
    /// The spacing [`Levels::Auto`] picks for the values `z[j][i]` at (`xs[i]`, `ys[j]`): by how
    /// far the region below the lowest linear level (around the minimum, without any line)
    /// stretches across the window. Sqrt if it spans more than 3/4 of the width or height,
    /// log if it spans nearly all of both (a valley through the window).
    fn resolve(self, xs: &[f64], ys: &[f64], z: &[Vec<f64>], lo: f64, hi: f64) -> Levels {
        if self != Levels::Auto {
            return self;
        }
        let Some(&first) = nice_levels(lo, hi).first() else { return Levels::Linear };
        let (mut x0, mut x1, mut y0, mut y1) =
            (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
        for (row, &y) in z.iter().zip(ys) {
            for (&v, &x) in row.iter().zip(xs) {
                if v < first {
                    (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
                }
            }
        }
        let (Some(xa), Some(xb), Some(ya), Some(yb)) = (xs.first(), xs.last(), ys.first(), ys.last()) else {
            return Levels::Linear;
        };
        let (wide, high) = ((x1 - x0) / (xb - xa), (y1 - y0) / (yb - ya));
        if wide.min(high) > 0.9 {
            Levels::Log
        } else if wide.max(high) > 0.75 {
            Levels::Sqrt
        } else {
            Levels::Linear
        }
    }

    fn values(self, lo: f64, hi: f64) -> Vec<f64> {
        match self {
            Levels::Auto | Levels::Linear => nice_levels(lo, hi),
            Levels::Sqrt => sqrt_levels(lo, hi),
            Levels::Log => log_levels(lo, hi),
        }
    }
}

/// A contour plot of a 2-D objective with optimization paths on top, as a builder: the
/// window, the paths, the legend's corner and the spacing of the levels can be chosen.
/// [`contour_2d`], [`contour_paths`] and [`contour_in`] are shorthands for it.
///
/// # Example
/// ```
/// use gradstep_lab::objectives::Bowl;
/// use gradstep_lab::plot::{ContourPlot, Corner, Levels};
///
/// let path = [[-5.0, -2.0], [-3.0, 1.0], [-1.0, -0.5], [0.0, 0.0]];
/// let fig = ContourPlot::new(&Bowl::new(0.1, 2.0))
///     .path("zigzag", &path)
///     .legend(Corner::LowerRight)
///     .levels(Levels::Sqrt)
///     .draw()?;
/// assert!(fig.svg().contains("zigzag"));
/// # Ok::<(), gradstep_lab::PlotError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ContourPlot<'a, F: ?Sized> {
    f: &'a F,
    x: (f64, f64),
    y: (f64, f64),
    paths: Vec<(String, Vec<[f64; 2]>)>,
    legend: Option<Corner>,
    levels: Levels,
}

impl<'a, F: Objective2d + ?Sized> ContourPlot<'a, F> {
    /// Contours of `f` on the source's window x₁ ∈ [−5.5, 1], x₂ ∈ [−3, 1], no paths yet.
    pub fn new(f: &'a F) -> Self {
        Self { f, x: (-5.5, 1.0), y: (-3.0, 1.0), paths: Vec::new(), legend: None, levels: Levels::Auto }
    }

    /// The window x₁ ∈ `x`, x₂ ∈ `y` (grown to fit the paths).
    pub fn window(mut self, x: (f64, f64), y: (f64, f64)) -> Self {
        (self.x, self.y) = (x, y);
        self
    }

    /// Adds a path, drawn as dots joined by a line in the next colour (orange, green, red, …)
    /// and named in the legend unless `label` is empty.
    pub fn path(mut self, label: impl Into<String>, path: &[[f64; 2]]) -> Self {
        self.paths.push((label.into(), path.to_vec()));
        self
    }

    /// Puts the legend in `corner`; by default it goes where it covers the fewest path points.
    pub fn legend(mut self, corner: Corner) -> Self {
        self.legend = Some(corner);
        self
    }

    /// How the contour values are spaced (default [`Levels::Auto`]).
    pub fn levels(mut self, levels: Levels) -> Self {
        self.levels = levels;
        self
    }

    /// The window grown to fit the paths, sampled: (xs, ys, z[j][i] = f(xs[i], ys[j])).
    fn grid(&self) -> (Vec<f64>, Vec<f64>, Vec<Vec<f64>>) {
        let (x, y) = (self.x, self.y);
        let (mut x0, mut x1, mut y0, mut y1) = (x.0, x.1, y.0, y.1);
        for &[a, b] in self.paths.iter().flat_map(|(_, p)| p.iter()) {
            (x0, x1, y0, y1) = (x0.min(a), x1.max(a), y0.min(b), y1.max(b));
        }
        // The source's grid has steps of 0.1 over its window, 65 × 40 cells; this one is twice
        // as fine (for the narrow valleys that log levels show), and a window grown to fit the
        // paths is sampled as finely.
        let nx = (130.0 * (x1 - x0) / (x.1 - x.0)).ceil().min(600.0) as u32;
        let ny = (80.0 * (y1 - y0) / (y.1 - y.0)).ceil().min(600.0) as u32;
        let xs: Vec<f64> = (0..=nx).map(|i| x0 + (x1 - x0) * f64::from(i) / f64::from(nx)).collect();
        let ys: Vec<f64> = (0..=ny).map(|j| y0 + (y1 - y0) * f64::from(j) / f64::from(ny)).collect();
        let z: Vec<Vec<f64>> =
            ys.iter().map(|&y| xs.iter().map(|&x| self.f.value([x, y])).collect()).collect();
        (xs, ys, z)
    }

    /// Renders the plot.
    ///
    /// # Errors
    /// [`PlotError::Data`] if the window is empty or not finite, or a path is empty or not
    /// finite.
    pub fn draw(&self) -> Result<Figure, PlotError> {
        check_window(self.x, self.y, &self.paths)?;
        let (xs, ys, z) = self.grid();
        contour_figure(&xs, &ys, &z, &self.paths, self.legend, self.levels)
    }
}

/// [`ContourPlot::draw`]'s checks of the window and the paths.
fn check_window(x: (f64, f64), y: (f64, f64), paths: &[(String, Vec<[f64; 2]>)]) -> Result<(), PlotError> {
    if !(x.0 < x.1 && y.0 < y.1 && [x.0, x.1, y.0, y.1].iter().all(|v| v.is_finite())) {
        return Err(PlotError::Data("the contour window must be finite and non-empty"));
    }
    if paths.iter().any(|(_, p)| p.is_empty() || p.iter().flatten().any(|v| !v.is_finite())) {
        return Err(PlotError::Data("a 2-D path must be non-empty and finite"));
    }
    Ok(())
}

/// Draws [`ContourPlot`]'s figure from the function's samples `z[j][i]` at (`xs[i]`, `ys[j]`).
/// Only the sampling depends on the function's type, so the drawing is compiled once, here,
/// rather than again in every crate (every notebook cell) that draws a new objective type.
fn contour_figure(
    xs: &[f64],
    ys: &[f64],
    z: &[Vec<f64>],
    path_list: &[(String, Vec<[f64; 2]>)],
    legend_corner: Option<Corner>,
    levels: Levels,
) -> Result<Figure, PlotError> {
    let (lo, hi) = finite_range(z);
    let levels = levels.resolve(xs, ys, z, lo, hi).values(lo, hi);

    let frame = Frame::layout(FrameSpec {
        size: Style::size(3.5, 2.5),
        x: Axis::linear(xs[0], xs[xs.len() - 1]),
        y: Axis::linear(ys[0], ys[ys.len() - 1]),
        xlabel: "x1",
        ylabel: "x2",
        grid: false,
        equal: false,
    });
    let rect = frame.rect;
    let lines: Vec<Vec<Px>> = levels
        .iter()
        .flat_map(|&level| {
            join_segments(
                level_segments(xs, ys, z, level).into_iter().map(|[a, b]| [frame.map(a), frame.map(b)]),
            )
        })
        .collect();
    let paths: Vec<Vec<Option<Px>>> =
        path_list.iter().map(|(_, p)| p.iter().map(|&[a, b]| Some(frame.map((a, b)))).collect()).collect();
    let mut legend = Vec::new();
    for (i, (label, _)) in path_list.iter().enumerate() {
        if !label.is_empty() {
            legend.push(LegendEntry { label, color: Style::color(i + 1), dash: Dash::Solid, markers: true });
        }
    }
    let place = legend_corner.map(Place::from).unwrap_or_else(|| {
        let mut points = Vec::new();
        for p in &paths {
            let line: Vec<Px> = p.iter().flatten().copied().collect();
            sample_pieces(&[line], 1.0, &mut points);
            // The dots weigh more than the line between them.
            points.extend(p.iter().flatten().map(|&q| (q, 4.0)));
        }
        // Contour lines count a little, to prefer the quieter corner.
        sample_pieces(&lines, 0.02, &mut points);
        best_place(&legend, rect, &points)
    });
    Figure::render((3.5, 2.5), |root| {
        frame.draw(root)?;
        let blue = Style::color(0);
        for line in &lines {
            root.draw(&PathElement::new(
                line.iter().map(|&p| to_backend(p)).collect::<Vec<_>>(),
                blue.stroke_width(scaled(1)),
            ))?;
        }
        for (i, p) in paths.iter().enumerate() {
            draw_polyline(root, p, rect, Style::color(i + 1), Dash::Solid, true)?;
        }
        draw_legend(root, &legend, rect, place)
    })
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
    if paths.is_empty() {
        return Err(PlotError::Data("no path to draw"));
    }
    let plot = ContourPlot::new(f).window(x, y);
    paths.iter().fold(plot, |plot, (label, path)| plot.path(*label, path)).draw()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_circle_level_set_lies_on_the_circle() {
        let xs: Vec<f64> = (0..=40).map(|i| -2.0 + 0.1 * f64::from(i)).collect();
        let z: Vec<Vec<f64>> = xs.iter().map(|&y| xs.iter().map(|&x| x * x + y * y).collect()).collect();
        let segs = marching_squares(&xs, &xs, &z, 1.0).unwrap();
        assert!(segs.len() > 30);
        for s in segs {
            for (x, y) in s {
                // Linear interpolation of a quadratic is off by at most about h²/4.
                assert!(((x * x + y * y).sqrt() - 1.0).abs() < 0.01);
            }
        }
    }

    /// The levels `ContourPlot` picks automatically for `f` on a window grown to fit `path`.
    fn auto(f: &impl Objective2d, x: (f64, f64), y: (f64, f64), path: &[[f64; 2]]) -> Levels {
        let plot = ContourPlot::new(f).window(x, y).path("", path);
        let (xs, ys, z) = plot.grid();
        let (lo, hi) = finite_range(&z);
        Levels::Auto.resolve(&xs, &ys, &z, lo, hi)
    }

    #[test]
    fn automatic_levels_suit_the_function() {
        use crate::objectives::{Bowl, Rosenbrock};
        let start = [[-5.0, -2.0]];
        // The gradient-descent chapter's round bowl keeps matplotlib's even levels, the
        // ill-conditioned one gets levels that show its valley, Rosenbrock's banana log levels.
        assert_eq!(auto(&Bowl::new(1.0, 2.0), (-5.5, 1.0), (-3.0, 1.0), &start), Levels::Linear);
        assert_eq!(auto(&Bowl::new(1.0, 2.0), (-5.5, 2.0), (-3.0, 3.0), &start), Levels::Linear);
        assert_eq!(auto(&Bowl::new(0.1, 2.0), (-5.5, 1.0), (-3.0, 1.0), &start), Levels::Sqrt);
        let tall = [[-5.0, -2.0], [-4.4, 2.8]];
        assert_eq!(auto(&Bowl::new(0.1, 2.0), (-5.5, 1.0), (-3.0, 1.0), &tall), Levels::Sqrt);
        assert_eq!(auto(&Rosenbrock::default(), (-2.0, 2.0), (-1.0, 3.0), &[[-1.5, 2.0]]), Levels::Log);
        assert_eq!(Levels::Sqrt.resolve(&[], &[], &[], 0.0, 1.0), Levels::Sqrt);
    }

    #[test]
    fn sqrt_and_log_levels_crowd_towards_the_minimum() {
        let sqrt = sqrt_levels(0.0, 21.0);
        assert_eq!(sqrt, [0.25, 1.0, 2.25, 4.0, 6.25, 9.0, 12.25, 16.0, 20.25]);
        let log = log_levels(0.0, 2509.0);
        assert_eq!(log, [3.0, 10.0, 30.0, 100.0, 300.0, 1000.0]);
        assert_eq!(log_levels(2.0, 12.0)[0], 2.0 + 0.03);
        assert!(log_levels(1.0, 1.0).is_empty());
    }

    #[test]
    fn segments_join_into_polylines() {
        let segs = [
            [(0.0, 0.0), (1.0, 0.0)],
            [(2.0, 1.0), (1.0, 0.0)],
            [(5.0, 5.0), (6.0, 6.0)],
            [(-1.0, 0.0), (0.0, 0.0)],
        ];
        let mut lines = join_segments(segs.into_iter());
        lines.sort_by_key(Vec::len);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0], [(5.0, 5.0), (6.0, 6.0)]);
        let l = &lines[1];
        assert_eq!(l.len(), 4);
        let mut ends = [l[0], l[3]];
        ends.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert_eq!(ends, [(-1.0, 0.0), (2.0, 1.0)]);
    }

    #[test]
    fn levels_are_round_and_inside_the_range() {
        assert_eq!(nice_levels(0.0, 48.25), vec![5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 35.0, 40.0, 45.0]);
        assert!(nice_levels(1.0, 1.0).is_empty());
    }
}
