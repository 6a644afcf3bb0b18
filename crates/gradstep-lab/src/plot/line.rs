//! Line plots: the source's `plot` helper, with legends, log axes, limits and annotations.

use plotters::prelude::*;
use plotters::style::text_anchor::VPos;

use super::axes::{Axis, Frame, FrameSpec};
use super::draw::{
    LegendEntry, Place, Px, best_place, clip_polyline, draw_arrow, draw_legend, draw_polyline, draw_text, em,
    sample_pieces, text_width,
};
use super::{Corner, Dash, Figure, PlotError, Style};
use crate::objectives::Objective1d;

/// One line of a [`LinePlot`]: points, and optionally a label, colour, dash and dots.
///
/// Unset colour and dash follow the source's formats for the series' position
/// ([`Style::FORMATS`]: `-`, `m--`, `g-.`, `r:`).
///
/// # Example
/// ```
/// use gradstep_lab::plot::{Dash, Series};
///
/// let s = Series::new(&[0.0, 1.0, 2.0], &[1.0, 0.5, 0.25]).label("loss").dash(Dash::Dashed).markers();
/// assert_eq!(s.len(), 3);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    points: Vec<(f64, f64)>,
    label: Option<String>,
    color: Option<RGBColor>,
    dash: Option<Dash>,
    markers: bool,
    mismatch: Option<(usize, usize)>,
}

impl Series {
    /// The points `(xs[i], ys[i])`. Slices of different lengths make [`LinePlot::draw`] fail.
    pub fn new(xs: &[f64], ys: &[f64]) -> Self {
        let mismatch = (xs.len() != ys.len()).then_some((xs.len(), ys.len()));
        Self::from_points(xs.iter().copied().zip(ys.iter().copied()).collect()).with_mismatch(mismatch)
    }

    /// The points `(i, ys[i])` for i = 0, 1, …: a history indexed by step or epoch.
    ///
    /// # Example
    /// ```
    /// use gradstep_lab::plot::Series;
    ///
    /// assert_eq!(Series::indexed(&[3.0, 2.0]).points(), &[(0.0, 3.0), (1.0, 2.0)]);
    /// ```
    pub fn indexed(ys: &[f64]) -> Self {
        Self::from_points(ys.iter().enumerate().map(|(i, &y)| (i as f64, y)).collect())
    }

    /// A series from (x, y) pairs.
    pub fn from_points(points: Vec<(f64, f64)>) -> Self {
        Self { points, label: None, color: None, dash: None, markers: false, mismatch: None }
    }

    /// `f` sampled at 200 evenly spaced points of [lo, hi].
    ///
    /// # Example
    /// ```
    /// use gradstep_lab::{objectives::Risk, plot::Series};
    ///
    /// let s = Series::objective(&Risk, 0.5, 1.5);
    /// assert_eq!(s.len(), 200);
    /// ```
    pub fn objective(f: &impl Objective1d, lo: f64, hi: f64) -> Self {
        Self::function(|x| f.value(x), lo, hi)
    }

    /// A function sampled at 200 evenly spaced points of [lo, hi].
    ///
    /// # Example
    /// ```
    /// use gradstep_lab::plot::Series;
    ///
    /// let s = Series::function(f64::exp, 0.0, 1.0);
    /// assert_eq!(s.points()[199], (1.0, std::f64::consts::E));
    /// ```
    pub fn function(f: impl Fn(f64) -> f64, lo: f64, hi: f64) -> Self {
        let n = 200;
        Self::from_points(
            (0..n).map(|i| lo + (hi - lo) * i as f64 / (n - 1) as f64).map(|x| (x, f(x))).collect(),
        )
    }

    fn with_mismatch(mut self, m: Option<(usize, usize)>) -> Self {
        self.mismatch = m;
        self
    }

    /// Names the series in the legend.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Draws the series in the `i`-th colour of [`Style::CYCLE`].
    pub fn color(mut self, i: usize) -> Self {
        self.color = Some(Style::color(i));
        self
    }

    /// Draws the series with this dash pattern.
    pub fn dash(mut self, dash: Dash) -> Self {
        self.dash = Some(dash);
        self
    }

    /// Puts a dot on every point (the source's `-o`).
    pub fn markers(mut self) -> Self {
        self.markers = true;
        self
    }

    /// The points.
    pub fn points(&self) -> &[(f64, f64)] {
        &self.points
    }

    /// The number of points.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// Whether the series has no points.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }
}

/// A text label with an arrow pointing at a data point (the source's `annotate`).
#[derive(Debug, Clone, PartialEq)]
struct Annotation {
    text: String,
    xy: (f64, f64),
    xytext: (f64, f64),
}

/// A line chart with several series, a grid, an optional legend, log axes, axis limits and
/// annotations: the source's `plot` (and `annotate`) in one builder.
///
/// # Example
/// The introduction's figure of risk and empirical risk:
/// ```
/// use gradstep_lab::objectives::{EmpiricalRisk, Risk};
/// use gradstep_lab::plot::{LinePlot, Series};
///
/// let fig = LinePlot::new()
///     .size(4.5, 2.5)
///     .series(Series::objective(&Risk, 0.5, 1.5).label("risk"))
///     .series(Series::objective(&EmpiricalRisk, 0.5, 1.5).label("empirical risk"))
///     .annotate("min of empirical risk", (1.0, -1.2), (0.5, -1.1))
///     .annotate("min of risk", (1.1, -1.05), (0.95, -0.5))
///     .xlabel("x")
///     .ylabel("risk")
///     .draw()?;
/// assert!(fig.svg().contains("min of risk"));
/// # Ok::<(), gradstep_lab::PlotError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LinePlot {
    series: Vec<Series>,
    annotations: Vec<Annotation>,
    size: (f64, f64),
    xlabel: String,
    ylabel: String,
    xlim: Option<(f64, f64)>,
    ylim: Option<(f64, f64)>,
    log_x: bool,
    log_y: bool,
    legend: Option<Corner>,
    equal: bool,
}

impl Default for LinePlot {
    fn default() -> Self {
        Self::new()
    }
}

impl LinePlot {
    /// An empty 3.5 × 2.5 inch chart (the source's default size).
    pub fn new() -> Self {
        Self {
            series: Vec::new(),
            annotations: Vec::new(),
            size: (3.5, 2.5),
            xlabel: String::new(),
            ylabel: String::new(),
            xlim: None,
            ylim: None,
            log_x: false,
            log_y: false,
            legend: None,
            equal: false,
        }
    }

    /// Figure size in inches, like `set_figsize`; [`LinePlot::draw`] refuses a size outside
    /// 0.5–100 inches.
    pub fn size(mut self, width: f64, height: f64) -> Self {
        self.size = (width, height);
        self
    }

    /// Adds a series.
    pub fn series(mut self, s: Series) -> Self {
        self.series.push(s);
        self
    }

    /// Adds the series (xs, ys) with a legend label.
    ///
    /// # Example
    /// ```
    /// use gradstep_lab::plot::LinePlot;
    ///
    /// let fig = LinePlot::new().line("a", &[0.0, 1.0], &[0.0, 1.0]).draw()?;
    /// assert!(fig.svg().starts_with("<svg"));
    /// # Ok::<(), gradstep_lab::PlotError>(())
    /// ```
    pub fn line(self, label: &str, xs: &[f64], ys: &[f64]) -> Self {
        self.series(Series::new(xs, ys).label(label))
    }

    /// Label of the x axis.
    pub fn xlabel(mut self, text: impl Into<String>) -> Self {
        self.xlabel = text.into();
        self
    }

    /// Label of the y axis.
    pub fn ylabel(mut self, text: impl Into<String>) -> Self {
        self.ylabel = text.into();
        self
    }

    /// Fixes the x range; lines are clipped to it.
    pub fn xlim(mut self, lo: f64, hi: f64) -> Self {
        self.xlim = Some((lo, hi));
        self
    }

    /// Fixes the y range; lines are clipped to it.
    pub fn ylim(mut self, lo: f64, hi: f64) -> Self {
        self.ylim = Some((lo, hi));
        self
    }

    /// A logarithmic x axis (points with x ≤ 0 are left out).
    pub fn log_x(mut self) -> Self {
        self.log_x = true;
        self
    }

    /// A logarithmic y axis (points with y ≤ 0 are left out).
    pub fn log_y(mut self) -> Self {
        self.log_y = true;
        self
    }

    /// Puts the legend in the upper left corner; the same as `legend(Corner::UpperLeft)`.
    pub fn legend_left(self) -> Self {
        self.legend(Corner::UpperLeft)
    }

    /// Puts the legend in `corner`. Without this, the legend goes to the corner where it
    /// covers the fewest data points (and annotations), preferring upper right, upper left,
    /// lower left, lower right in this order.
    ///
    /// # Example
    /// ```
    /// use gradstep_lab::plot::{Corner, LinePlot};
    ///
    /// let fig = LinePlot::new().line("loss", &[0.0, 1.0], &[1.0, 0.1]).legend(Corner::LowerLeft).draw()?;
    /// assert!(fig.svg().contains("loss"));
    /// # Ok::<(), gradstep_lab::PlotError>(())
    /// ```
    pub fn legend(mut self, corner: Corner) -> Self {
        self.legend = Some(corner);
        self
    }

    /// Draws one unit of x as long as one unit of y (one decade on log axes), like
    /// matplotlib's `set_aspect("equal")`: the plotting area shrinks to fit, centred in the
    /// figure, so circles look round.
    ///
    /// # Example
    /// ```
    /// use gradstep_lab::plot::{LinePlot, Series};
    ///
    /// let circle = Series::function(f64::cos, 0.0, std::f64::consts::TAU);
    /// let fig = LinePlot::new().series(circle).xlim(-1.5, 1.5).ylim(-1.5, 1.5).equal_aspect().draw()?;
    /// assert_eq!(fig.size(), (385.0, 275.0));
    /// # Ok::<(), gradstep_lab::PlotError>(())
    /// ```
    pub fn equal_aspect(mut self) -> Self {
        self.equal = true;
        self
    }

    /// Writes `text` at `xytext` with an arrow to the data point `xy`.
    pub fn annotate(mut self, text: impl Into<String>, xy: (f64, f64), xytext: (f64, f64)) -> Self {
        self.annotations.push(Annotation { text: text.into(), xy, xytext });
        self
    }

    fn usable(&self, (x, y): (f64, f64)) -> bool {
        x.is_finite() && y.is_finite() && (!self.log_x || x > 0.0) && (!self.log_y || y > 0.0)
    }

    fn range(&self, axis: usize, limit: Option<(f64, f64)>, log: bool) -> Result<(f64, f64), PlotError> {
        if let Some((lo, hi)) = limit {
            if !(lo.is_finite() && hi.is_finite() && lo < hi) || (log && lo <= 0.0) {
                return Err(PlotError::Data(
                    "axis limits must be finite, increasing, and positive on a log axis",
                ));
            }
            return Ok((lo, hi));
        }
        let values = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().copied())
            .chain(self.annotations.iter().flat_map(|a| [a.xy, a.xytext]))
            .filter(|p| self.usable(*p))
            .map(|p| if axis == 0 { p.0 } else { p.1 });
        let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
        if !lo.is_finite() {
            return Err(PlotError::Data("no finite points to plot"));
        }
        Ok(if log {
            let (l, h) = (lo.ln(), hi.ln());
            let pad = if h > l { 0.05 * (h - l) } else { 0.5 };
            ((l - pad).exp(), (h + pad).exp())
        } else {
            let pad = if hi > lo { 0.05 * (hi - lo) } else { 0.5 * lo.abs().max(1.0) };
            (lo - pad, hi + pad)
        })
    }

    /// Renders the chart.
    ///
    /// # Errors
    /// [`PlotError::Data`] if a series has xs and ys of different lengths, nothing is finite,
    /// the limits are invalid, or the size is not between 0.5 and 100 inches;
    /// [`PlotError::Draw`] if plotters fails.
    pub fn draw(&self) -> Result<Figure, PlotError> {
        super::figure::check_size(self.size.0, self.size.1)?;
        if self.series.iter().any(|s| s.mismatch.is_some()) {
            return Err(PlotError::Data("a series has different numbers of x and y values"));
        }
        let (x0, x1) = self.range(0, self.xlim, self.log_x)?;
        let (y0, y1) = self.range(1, self.ylim, self.log_y)?;
        let frame = Frame::layout(FrameSpec {
            size: Style::size(self.size.0, self.size.1),
            x: Axis { lo: x0, hi: x1, log: self.log_x },
            y: Axis { lo: y0, hi: y1, log: self.log_y },
            xlabel: &self.xlabel,
            ylabel: &self.ylabel,
            grid: true,
            equal: self.equal,
        });
        let rect = frame.rect;
        let map = |p: (f64, f64)| -> Option<Px> { self.usable(p).then(|| frame.map(p)) };
        let series_px: Vec<Vec<Option<Px>>> =
            self.series.iter().map(|s| s.points.iter().map(|&p| map(p)).collect()).collect();
        let notes_px: Vec<(Option<Px>, Option<Px>)> =
            self.annotations.iter().map(|a| (map(a.xy), map(a.xytext))).collect();
        let mut legend = Vec::new();
        for (i, s) in self.series.iter().enumerate() {
            let (color, dash) = Style::format(i);
            let (color, dash) = (s.color.unwrap_or(color), s.dash.unwrap_or(dash));
            if let Some(label) = &s.label {
                legend.push(LegendEntry { label, color, dash, markers: s.markers });
            }
        }
        let place = self.legend.map(Place::from).unwrap_or_else(|| {
            let mut points = Vec::new();
            for px in &series_px {
                sample_pieces(&clip_polyline(px, rect), 1.0, &mut points);
            }
            for (a, (_, text)) in self.annotations.iter().zip(&notes_px) {
                if let Some((x, y)) = *text {
                    // The text's box, sampled every couple of pixels, counts like a line.
                    let (w, h) = (text_width(&a.text, Style::LEGEND_FONT), em(Style::LEGEND_FONT));
                    let outline = vec![(x, y), (x + w, y), (x + w, y - h), (x, y - h), (x, y)];
                    sample_pieces(&[outline], 1.0, &mut points);
                }
            }
            best_place(&legend, rect, &points)
        });
        Figure::render(self.size, |root| {
            frame.draw(root)?;
            for (i, (s, px)) in self.series.iter().zip(&series_px).enumerate() {
                let (color, dash) = Style::format(i);
                let (color, dash) = (s.color.unwrap_or(color), s.dash.unwrap_or(dash));
                draw_polyline(root, px, rect, color, dash, s.markers)?;
            }
            for (a, (xy, text)) in self.annotations.iter().zip(&notes_px) {
                let Some(text) = *text else { continue };
                draw_text(root, &a.text, text, Style::LEGEND_FONT, VPos::Bottom)?;
                if let Some(to) = *xy {
                    // Start at the text's lower edge if the point is below it, else its top.
                    let below = to.1 > text.1;
                    let from_y = if below { text.1 + 2.0 } else { text.1 - em(Style::LEGEND_FONT) - 2.0 };
                    draw_arrow(root, (text.0 + 10.0, from_y), to)?;
                }
            }
            draw_legend(root, &legend, rect, place)
        })
    }
}
