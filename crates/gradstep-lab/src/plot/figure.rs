use std::fmt;
use std::io::Write;
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::Style;

/// Why a figure could not be drawn or saved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlotError {
    /// plotters failed while drawing (an empty range, a backend error).
    #[error("drawing failed: {0}")]
    Draw(String),
    /// The data cannot be plotted, e.g. it is empty or not finite.
    #[error("cannot plot: {0}")]
    Data(&'static str),
    /// Writing the SVG file failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file that could not be written.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl<E: std::error::Error + Send + Sync> From<plotters::drawing::DrawingAreaErrorKind<E>> for PlotError {
    fn from(e: plotters::drawing::DrawingAreaErrorKind<E>) -> Self {
        PlotError::Draw(e.to_string())
    }
}

/// A finished chart, held as an SVG document.
///
/// In a notebook, [`Figure::show`] (or a cell that ends with the figure) displays it inline;
/// elsewhere, [`Figure::save`] writes it to a file and [`Figure::svg`] hands out the markup.
///
/// # Example
/// ```
/// use gradstep_lab::plot::schedule_curves;
///
/// let fig = schedule_curves(&[("lr", &[0.1, 0.05, 0.025])])?;
/// let file = std::env::temp_dir().join("gradstep-lab-doc-figure.svg");
/// fig.save(&file)?;
/// assert_eq!(std::fs::read_to_string(&file)?, fig.svg());
/// fig.show(); // inline in Jupyter (evcxr); nothing elsewhere
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq)]
pub struct Figure {
    svg: String,
}

/// The sizes a figure may have, in inches: below, the frame's margins leave no room for a
/// plot; above, the canvas would be absurdly large (and its pixel counts could overflow).
pub(crate) const SIZE_RANGE: std::ops::RangeInclusive<f64> = 0.5..=100.0;

/// Checks a figure size in inches against [`SIZE_RANGE`].
pub(crate) fn check_size(width: f64, height: f64) -> Result<(), PlotError> {
    if SIZE_RANGE.contains(&width) && SIZE_RANGE.contains(&height) {
        Ok(())
    } else {
        Err(PlotError::Data("a figure's width and height must be between 0.5 and 100 inches"))
    }
}

impl Figure {
    /// Wraps SVG markup produced by a plotting function.
    pub(crate) fn from_svg(svg: String) -> Self {
        Self { svg }
    }

    /// Draws a figure of `size` inches on an oversampled canvas ([`Style::OVERSAMPLE`] times
    /// the display size) and declares the display size on the root `<svg>`, keeping the
    /// canvas-sized `viewBox`: the figure shows at its size with sub-pixel precision.
    pub(crate) fn render(
        size: (f64, f64),
        draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), PlotError>,
    ) -> Result<Self, PlotError> {
        check_size(size.0, size.1)?;
        let (w, h) = Style::size(size.0, size.1);
        let k = Style::OVERSAMPLE;
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (w * k, h * k)).into_drawing_area();
            root.fill(&WHITE)?;
            draw(&root)?;
            root.present()?;
        }
        let canvas = format!("<svg width=\"{}\" height=\"{}\"", w * k, h * k);
        if !svg.starts_with(&canvas) {
            return Err(PlotError::Draw("unexpected SVG header from plotters".into()));
        }
        Ok(Self { svg: svg.replacen(&canvas, &format!("<svg width=\"{w}\" height=\"{h}\""), 1) })
    }

    /// A figure of `width` × `height` inches drawn by `draw` with plotters, on a white
    /// background, for pictures the ready-made plots do not cover. Use [`super::Style`] for
    /// colours and fonts to keep the course's look.
    ///
    /// The drawing area is in display pixels, as plotters draws it: unlike the ready-made
    /// plots, custom figures are not oversampled, so sizes, fonts and line widths mean what
    /// they say.
    ///
    /// # Errors
    /// Whatever `draw` returns; [`PlotError::Draw`] if plotters fails; [`PlotError::Data`] if
    /// `width` or `height` is not between 0.5 and 100 inches.
    ///
    /// # Example
    /// ```
    /// use gradstep_lab::plot::plotters::prelude::*;
    /// use gradstep_lab::plot::{Figure, Style};
    ///
    /// let fig = Figure::custom(3.5, 2.5, |root| {
    ///     let mut chart = ChartBuilder::on(root).margin(10).build_cartesian_2d(0.0..1.0, 0.0..1.0)?;
    ///     chart.draw_series(LineSeries::new([(0.0, 0.0), (1.0, 1.0)], Style::color(0).stroke_width(2)))?;
    ///     Ok(())
    /// })?;
    /// assert!(fig.svg().contains("<polyline"));
    /// # Ok::<(), gradstep_lab::PlotError>(())
    /// ```
    pub fn custom(
        width: f64,
        height: f64,
        draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), PlotError>,
    ) -> Result<Self, PlotError> {
        check_size(width, height)?;
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, Style::size(width, height)).into_drawing_area();
            root.fill(&WHITE)?;
            draw(&root)?;
            root.present()?;
        }
        Ok(Self { svg })
    }

    /// Several figures side by side as one, like a row of subplots; the row is as tall as the
    /// tallest figure.
    ///
    /// # Example
    /// ```
    /// use gradstep_lab::Figure;
    /// use gradstep_lab::plot::schedule_curves;
    ///
    /// let a = schedule_curves(&[("a", &[1.0, 0.5])])?;
    /// let b = schedule_curves(&[("b", &[0.2, 0.1])])?;
    /// let row = Figure::row(&[a.clone(), b]);
    /// assert_eq!(row.size(), (2.0 * a.size().0, a.size().1));
    /// # Ok::<(), gradstep_lab::PlotError>(())
    /// ```
    pub fn row(figures: &[Figure]) -> Figure {
        let (mut width, mut height, mut body) = (0.0_f64, 0.0_f64, String::new());
        for fig in figures {
            let (w, h) = fig.size();
            // A nested <svg> is a viewport of its own: placing it is all a row needs.
            body.push_str(&fig.svg.replacen("<svg", &format!("<svg x=\"{width}\""), 1));
            width += w;
            height = height.max(h);
        }
        Self::from_svg(format!(
            "<svg width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" \
             xmlns=\"http://www.w3.org/2000/svg\">\n{body}\n</svg>"
        ))
    }

    /// Width and height in pixels, as the SVG document declares them.
    pub fn size(&self) -> (f64, f64) {
        let root = self.svg.split('>').next().unwrap_or_default();
        let attribute = |key: &str| {
            root.split(&format!(" {key}=\""))
                .nth(1)
                .and_then(|v| v.split('"').next()?.parse().ok())
                .unwrap_or(0.0)
        };
        (attribute("width"), attribute("height"))
    }

    /// The SVG document.
    pub fn svg(&self) -> &str {
        &self.svg
    }

    /// Writes the SVG document to `path`.
    ///
    /// # Errors
    /// [`PlotError::Io`] if the file cannot be written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), PlotError> {
        let path = path.as_ref();
        std::fs::write(path, &self.svg)
            .map_err(|source| PlotError::Io { path: path.display().to_string(), source })
    }

    /// Shows the figure inline when running in the evcxr Jupyter kernel; does nothing
    /// elsewhere (use [`Figure::save`] there).
    pub fn show(&self) {
        if std::env::var_os("EVCXR_IS_RUNTIME").is_some() {
            self.evcxr_display();
        }
    }

    /// The evcxr display hook: one `image/svg+xml` block on standard output, written at once
    /// so that output of other threads cannot interleave with it.
    pub fn evcxr_display(&self) {
        let block = format!("EVCXR_BEGIN_CONTENT image/svg+xml\n{}\nEVCXR_END_CONTENT\n", self.svg);
        let mut out = std::io::stdout().lock();
        // A closed stdout leaves nothing to show the figure on, so the error is dropped.
        let _ = out.write_all(block.as_bytes()).and_then(|()| out.flush());
    }
}

impl fmt::Debug for Figure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Figure({} bytes of SVG)", self.svg.len())
    }
}
