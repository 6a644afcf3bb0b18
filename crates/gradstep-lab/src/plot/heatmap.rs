//! Heatmaps of a grid of results, such as test loss over (learning rate × weight decay).

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::draw::{Px, draw_line, draw_text_at, em, text_width, to_backend};
use super::{Figure, PlotError, Style};

/// Matplotlib's viridis at nine evenly spaced points, from dark purple (low) to yellow (high).
const VIRIDIS: [(u8, u8, u8); 9] = [
    (0x44, 0x01, 0x54),
    (0x47, 0x2c, 0x7a),
    (0x3b, 0x51, 0x8b),
    (0x2c, 0x71, 0x8e),
    (0x21, 0x90, 0x8d),
    (0x27, 0xad, 0x81),
    (0x5c, 0xc8, 0x63),
    (0xaa, 0xdc, 0x32),
    (0xfd, 0xe7, 0x25),
];

/// The viridis colour of `t` in [0, 1] (clamped), interpolated linearly between its anchors.
fn viridis(t: f64) -> RGBColor {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) } * (VIRIDIS.len() - 1) as f64;
    let i = (t.floor() as usize).min(VIRIDIS.len() - 2);
    let f = t - i as f64;
    let mix = |a: u8, b: u8| (f64::from(a) + f * (f64::from(b) - f64::from(a))).round() as u8;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// A grid of values as coloured cells (viridis: dark is low, yellow is high), with category
/// labels on both axes, optional values written in the cells, outlined cells, and a colour
/// bar. Row 0 is drawn at the bottom, so that a grid whose rows follow an increasing
/// hyperparameter reads like a chart with an increasing y axis.
///
/// # Example
/// ```
/// use gradstep_lab::plot::heatmap::Heatmap;
///
/// let loss = vec![vec![0.9, 0.5, 0.7], vec![1.2, 0.6, 0.4]];
/// let fig = Heatmap::new(&loss)
///     .x_labels(["0.001", "0.01", "0.1"])
///     .y_labels(["0", "1e-4"])
///     .xlabel("learning rate")
///     .ylabel("weight decay")
///     .title("test loss")
///     .decimals(2)
///     .mark(1, 2)
///     .draw()?;
/// assert!(fig.svg().contains("0.40") && fig.svg().contains("test loss"));
/// # Ok::<(), gradstep_lab::PlotError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Heatmap {
    values: Vec<Vec<f64>>,
    x_labels: Vec<String>,
    y_labels: Vec<String>,
    xlabel: String,
    ylabel: String,
    title: String,
    decimals: Option<usize>,
    marks: Vec<(usize, usize)>,
    range: Option<(f64, f64)>,
    size: (f64, f64),
}

impl Heatmap {
    /// A heatmap of `values[row][column]`; every row must have the same length.
    pub fn new(values: &[Vec<f64>]) -> Self {
        Self {
            values: values.to_vec(),
            x_labels: Vec::new(),
            y_labels: Vec::new(),
            xlabel: String::new(),
            ylabel: String::new(),
            title: String::new(),
            decimals: None,
            marks: Vec::new(),
            range: None,
            size: (4.2, 3.4),
        }
    }

    /// Labels of the columns, left to right (one per column).
    pub fn x_labels<S: Into<String>>(mut self, labels: impl IntoIterator<Item = S>) -> Self {
        self.x_labels = labels.into_iter().map(Into::into).collect();
        self
    }

    /// Labels of the rows, bottom to top (one per row).
    pub fn y_labels<S: Into<String>>(mut self, labels: impl IntoIterator<Item = S>) -> Self {
        self.y_labels = labels.into_iter().map(Into::into).collect();
        self
    }

    /// Description of the x axis.
    pub fn xlabel(mut self, text: impl Into<String>) -> Self {
        self.xlabel = text.into();
        self
    }

    /// Description of the y axis.
    pub fn ylabel(mut self, text: impl Into<String>) -> Self {
        self.ylabel = text.into();
        self
    }

    /// A title above the cells.
    pub fn title(mut self, text: impl Into<String>) -> Self {
        self.title = text.into();
        self
    }

    /// Writes each value in its cell with this many decimals.
    pub fn decimals(mut self, decimals: usize) -> Self {
        self.decimals = Some(decimals);
        self
    }

    /// Outlines the cell in `row`, `column` (e.g. the best of each row).
    pub fn mark(mut self, row: usize, column: usize) -> Self {
        self.marks.push((row, column));
        self
    }

    /// The values at the two ends of the colour scale (default: the smallest and largest
    /// finite value); values beyond them get the end colours. Two heatmaps with the same
    /// range can be compared colour for colour.
    pub fn range(mut self, lo: f64, hi: f64) -> Self {
        self.range = Some((lo, hi));
        self
    }

    /// Figure size in inches (default 4.2 × 3.4).
    pub fn size(mut self, width: f64, height: f64) -> Self {
        self.size = (width, height);
        self
    }

    fn check(&self) -> Result<(f64, f64), PlotError> {
        let cols = self.values.first().map_or(0, Vec::len);
        if cols == 0 || self.values.iter().any(|r| r.len() != cols) {
            return Err(PlotError::Data("a heatmap needs rows of the same, non-zero length"));
        }
        let labels_fit = |labels: &[String], n: usize| labels.is_empty() || labels.len() == n;
        if !labels_fit(&self.x_labels, cols) || !labels_fit(&self.y_labels, self.values.len()) {
            return Err(PlotError::Data("a heatmap needs one label per row and per column"));
        }
        if self.marks.iter().any(|&(r, c)| r >= self.values.len() || c >= cols) {
            return Err(PlotError::Data("a marked cell is outside the grid"));
        }
        let (lo, hi) = match self.range {
            Some(r) => r,
            None => self
                .values
                .iter()
                .flatten()
                .filter(|v| v.is_finite())
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v))),
        };
        if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
            return Err(PlotError::Data("a heatmap needs finite values and a finite colour range"));
        }
        Ok((lo, hi))
    }

    /// Renders the heatmap. Cells whose value is not finite are left white.
    ///
    /// # Errors
    /// [`PlotError::Data`] if the rows are empty or of different lengths, the labels do not
    /// match the grid, a mark is outside it, or nothing is finite; [`PlotError::Draw`] if
    /// plotters fails.
    pub fn draw(&self) -> Result<Figure, PlotError> {
        let (lo, hi) = self.check()?;
        let (rows, cols) = (self.values.len(), self.values[0].len());
        let scale = |v: f64| if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
        let (w, h) = Style::size(self.size.0, self.size.1);
        let (w, h) = (f64::from(w), f64::from(h));
        let (tick, label) = (em(Style::TICK_FONT), em(Style::LABEL_FONT));
        let widest =
            |labels: &[String]| labels.iter().map(|l| text_width(l, Style::TICK_FONT)).fold(0.0, f64::max);
        let fmt = |v: f64| format!("{v:.*}", self.decimals.unwrap_or(2));
        let bar_labels = [fmt(lo), fmt(hi)];
        let left =
            8.0 + if self.ylabel.is_empty() { 0.0 } else { label * 1.2 + 6.0 } + widest(&self.y_labels) + 6.0;
        let right = 8.0 + 12.0 + 4.0 + widest(&bar_labels) + 4.0;
        let top = 8.0 + if self.title.is_empty() { 0.0 } else { label * 1.2 + 4.0 };
        let bottom = 8.0 + tick * 1.2 + 6.0 + if self.xlabel.is_empty() { 0.0 } else { label * 1.2 + 4.0 };
        let (x0, x1, y0, y1) = (left, (w - right).max(left + 10.0), top, (h - bottom).max(top + 10.0));
        let (cw, ch) = ((x1 - x0) / cols as f64, (y1 - y0) / rows as f64);
        // Row 0 at the bottom.
        let cell = |r: usize, c: usize| -> (Px, Px) {
            let (cx0, cy1) = (x0 + c as f64 * cw, y1 - r as f64 * ch);
            ((cx0, cy1 - ch), (cx0 + cw, cy1))
        };
        Figure::render(self.size, |root| {
            for (r, row) in self.values.iter().enumerate() {
                for (c, &v) in row.iter().enumerate() {
                    if !v.is_finite() {
                        continue;
                    }
                    let (a, b) = cell(r, c);
                    let color = viridis(scale(v));
                    root.draw(&Rectangle::new([to_backend(a), to_backend(b)], color.filled()))?;
                    if let Some(d) = self.decimals {
                        // Dark text on the light (yellow-green) end of the scale, white elsewhere.
                        let light = scale(v) > 0.6;
                        let centre = ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0);
                        let text = format!("{v:.d$}");
                        let style = if light { BLACK } else { WHITE };
                        draw_cell_text(root, &text, centre, style)?;
                    }
                }
            }
            for &(r, c) in &self.marks {
                let (a, b) = cell(r, c);
                let outline = [a, (b.0, a.1), b, (a.0, b.1), a];
                for pair in outline.windows(2) {
                    draw_line(root, pair[0], pair[1], RGBColor(0xd6, 0x27, 0x28), 2)?;
                }
            }
            for (c, l) in self.x_labels.iter().enumerate() {
                let at = (x0 + (c as f64 + 0.5) * cw, y1 + 5.0);
                draw_text_at(root, l, at, Style::TICK_FONT, (HPos::Center, VPos::Top), false)?;
            }
            for (r, l) in self.y_labels.iter().enumerate() {
                let at = (x0 - 6.0, y1 - (r as f64 + 0.5) * ch);
                draw_text_at(root, l, at, Style::TICK_FONT, (HPos::Right, VPos::Center), false)?;
            }
            if !self.xlabel.is_empty() {
                let at = ((x0 + x1) / 2.0, y1 + 5.0 + tick * 1.2 + 6.0);
                draw_text_at(root, &self.xlabel, at, Style::LABEL_FONT, (HPos::Center, VPos::Top), false)?;
            }
            if !self.ylabel.is_empty() {
                let at = (8.0, (y0 + y1) / 2.0);
                draw_text_at(root, &self.ylabel, at, Style::LABEL_FONT, (HPos::Center, VPos::Top), true)?;
            }
            if !self.title.is_empty() {
                let at = ((x0 + x1) / 2.0, 8.0);
                draw_text_at(root, &self.title, at, Style::LABEL_FONT, (HPos::Center, VPos::Top), false)?;
            }
            // The colour bar: 40 bands from low (bottom) to high (top), labelled at its ends.
            let (bx0, bx1) = (x1 + 8.0, x1 + 20.0);
            let bands = 40;
            for i in 0..bands {
                let (t0, t1) = (i as f64 / bands as f64, (i + 1) as f64 / bands as f64);
                let (ya, yb) = (y1 - t1 * (y1 - y0), y1 - t0 * (y1 - y0));
                let color = viridis((t0 + t1) / 2.0);
                root.draw(&Rectangle::new([to_backend((bx0, ya)), to_backend((bx1, yb))], color.filled()))?;
            }
            for (label, y) in [(&bar_labels[0], y1), (&bar_labels[1], y0)] {
                draw_text_at(
                    root,
                    label,
                    (bx1 + 4.0, y),
                    Style::TICK_FONT,
                    (HPos::Left, VPos::Center),
                    false,
                )?;
            }
            Ok(())
        })
    }
}

/// A value centred in its cell, in `color`.
fn draw_cell_text<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    text: &str,
    at: Px,
    color: RGBColor,
) -> Result<(), PlotError>
where
    DB::ErrorType: 'static,
{
    use plotters::style::text_anchor::Pos;
    let font = (Style::FONT, super::draw::scaled(Style::LEGEND_FONT - 2)).into_font();
    let style = font.color(&color).pos(Pos::new(HPos::Center, VPos::Center));
    root.draw(&Text::new(text.to_string(), to_backend(at), style))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> Vec<Vec<f64>> {
        vec![vec![0.5, 1.0, 1.5], vec![2.0, 2.5, f64::NAN]]
    }

    #[test]
    fn cells_labels_and_values_are_drawn() {
        let fig = Heatmap::new(&grid())
            .x_labels(["a", "b", "c"])
            .y_labels(["low", "high"])
            .xlabel("lr")
            .ylabel("wd")
            .title("loss")
            .decimals(1)
            .mark(0, 0)
            .draw()
            .unwrap();
        let doc = roxmltree::Document::parse(fig.svg()).expect("well-formed SVG");
        let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).map(str::trim).collect();
        for t in ["a", "c", "low", "high", "lr", "wd", "loss", "0.5", "2.5"] {
            assert!(texts.contains(&t), "{t} missing from {texts:?}");
        }
        // Five finite cells and 40 colour-bar bands; the NaN cell is left out.
        let rects = doc.descendants().filter(|n| n.tag_name().name() == "rect").count();
        assert_eq!(rects, 1 + 5 + 40, "background, cells, bar");
        assert_eq!(fig.size(), (462.0, 374.0));
    }

    #[test]
    fn colours_run_from_dark_to_yellow_and_clamp() {
        assert_eq!(viridis(0.0), RGBColor(0x44, 0x01, 0x54));
        assert_eq!(viridis(1.0), RGBColor(0xfd, 0xe7, 0x25));
        assert_eq!(viridis(2.0), viridis(1.0));
        assert_eq!(viridis(-1.0), viridis(0.0));
        let mid = viridis(0.5);
        assert_eq!(mid, RGBColor(0x21, 0x90, 0x8d));
    }

    #[test]
    fn malformed_grids_are_typed_errors() {
        assert!(matches!(Heatmap::new(&[]).draw(), Err(PlotError::Data(_))));
        assert!(matches!(Heatmap::new(&[vec![1.0], vec![1.0, 2.0]]).draw(), Err(PlotError::Data(_))));
        assert!(matches!(Heatmap::new(&grid()).x_labels(["a"]).draw(), Err(PlotError::Data(_))));
        assert!(matches!(Heatmap::new(&grid()).mark(2, 0).draw(), Err(PlotError::Data(_))));
        assert!(matches!(Heatmap::new(&[vec![f64::NAN]]).draw(), Err(PlotError::Data(_))));
        assert!(Heatmap::new(&[vec![1.0]]).draw().is_ok());
    }
}
