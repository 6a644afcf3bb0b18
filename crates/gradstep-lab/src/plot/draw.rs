//! Pixel-space drawing shared by the plots: clipping, dash patterns, arrows, legends.
//!
//! Series are mapped to backend pixels first (so log axes and linear axes are handled alike),
//! then clipped to the plotting area and drawn with the course's dash patterns. plotters does
//! not clip lines to the chart, so axis limits would otherwise let lines run over the labels.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontTransform;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{PlotError, Style};

/// A point in backend pixels.
pub(crate) type Px = (f64, f64);

/// How a line is drawn: the source's `-`, `--`, `-.` and `:`.
///
/// # Example
/// ```
/// use gradstep_lab::plot::{Dash, Series};
///
/// let s = Series::new(&[0.0, 1.0], &[1.0, 0.0]).dash(Dash::DashDot);
/// # let _ = s;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dash {
    /// `-`, a solid line.
    #[default]
    Solid,
    /// `--`, dashes.
    Dashed,
    /// `-.`, dashes and dots.
    DashDot,
    /// `:`, dots.
    Dotted,
}

impl Dash {
    /// On/off lengths in pixels, repeated along the line; empty for a solid line.
    fn pattern(self) -> &'static [f64] {
        match self {
            Dash::Solid => &[],
            Dash::Dashed => &[7.0, 4.0],
            Dash::DashDot => &[7.0, 3.0, 1.5, 3.0],
            Dash::Dotted => &[1.5, 3.0],
        }
    }
}

/// The plotting area in pixels.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rect {
    pub x0: f64,
    pub x1: f64,
    pub y0: f64,
    pub y1: f64,
}

impl Rect {
    pub fn width(&self) -> f64 {
        self.x1 - self.x0
    }

    pub fn height(&self) -> f64 {
        self.y1 - self.y0
    }

    pub fn contains(&self, p: Px) -> bool {
        p.0 >= self.x0 && p.0 <= self.x1 && p.1 >= self.y0 && p.1 <= self.y1
    }
}

/// Liang–Barsky: the part of segment a–b inside `r`, if any.
pub(crate) fn clip_segment(a: Px, b: Px, r: Rect) -> Option<(Px, Px)> {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut t0, mut t1) = (0.0_f64, 1.0_f64);
    for (p, q) in [(-dx, a.0 - r.x0), (dx, r.x1 - a.0), (-dy, a.1 - r.y0), (dy, r.y1 - a.1)] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let t = q / p;
            if p < 0.0 {
                t0 = t0.max(t);
            } else {
                t1 = t1.min(t);
            }
        }
    }
    (t0 <= t1).then_some(((a.0 + t0 * dx, a.1 + t0 * dy), (a.0 + t1 * dx, a.1 + t1 * dy)))
}

/// Splits a polyline (with gaps marked by `None`) into the visible pieces inside `r`.
pub(crate) fn clip_polyline(points: &[Option<Px>], r: Rect) -> Vec<Vec<Px>> {
    let mut pieces: Vec<Vec<Px>> = Vec::new();
    let mut current: Vec<Px> = Vec::new();
    for w in points.windows(2) {
        let (Some(a), Some(b)) = (w[0], w[1]) else {
            if !current.is_empty() {
                pieces.push(std::mem::take(&mut current));
            }
            continue;
        };
        match clip_segment(a, b, r) {
            Some((p, q)) => {
                if current.last() != Some(&p) {
                    if !current.is_empty() {
                        pieces.push(std::mem::take(&mut current));
                    }
                    current.push(p);
                }
                current.push(q);
                if q != b {
                    pieces.push(std::mem::take(&mut current));
                }
            }
            None => {
                if !current.is_empty() {
                    pieces.push(std::mem::take(&mut current));
                }
            }
        }
    }
    if !current.is_empty() {
        pieces.push(current);
    }
    pieces
}

/// Cuts a polyline into the "on" pieces of a dash pattern.
pub(crate) fn dash_pieces(line: &[Px], pattern: &[f64]) -> Vec<Vec<Px>> {
    if pattern.is_empty() || line.len() < 2 {
        return vec![line.to_vec()];
    }
    let mut out = Vec::new();
    let (mut k, mut left, mut on) = (0usize, pattern[0], true);
    let mut current = vec![line[0]];
    for w in line.windows(2) {
        let (mut a, b) = (w[0], w[1]);
        let mut len = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
        while len > 0.0 {
            let step = left.min(len);
            let t = step / len;
            let p = (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1));
            if on {
                current.push(p);
            }
            left -= step;
            len -= step;
            a = p;
            if left <= 1e-9 {
                if on {
                    out.push(std::mem::take(&mut current));
                } else {
                    current = vec![p];
                }
                on = !on;
                k = (k + 1) % pattern.len();
                left = pattern[k];
            }
        }
    }
    if on && current.len() > 1 {
        out.push(current);
    }
    out
}

/// The oversampling factor of the canvas ([`Style::OVERSAMPLE`]) as a float.
const K: f64 = Style::OVERSAMPLE as f64;

/// A point in display pixels as canvas coordinates (oversampled, rounded).
pub(crate) fn to_backend(p: Px) -> (i32, i32) {
    ((p.0 * K).round() as i32, (p.1 * K).round() as i32)
}

/// A length in display pixels (a stroke width, radius or font size) on the canvas.
pub(crate) fn scaled(v: u32) -> u32 {
    v * Style::OVERSAMPLE
}

/// The height of one em of text drawn at `size` display pixels: plotters' SVG backend writes
/// `font-size` as the size divided by 1.24.
pub(crate) fn em(size: u32) -> f64 {
    f64::from(size) / 1.24
}

/// An estimate of the width of `text` drawn at `size` display pixels, from typical widths of
/// the characters in a sans-serif font (DejaVu Sans, which is wider than Helvetica or Arial):
/// plotters without its font feature cannot measure text.
pub(crate) fn text_width(text: &str, size: u32) -> f64 {
    let ems: f64 = text
        .chars()
        .map(|c| match c {
            '0'..='9' => 0.64,
            '.' | ',' | ':' | ';' | ' ' | 'i' | 'j' | 'l' | '|' | '\'' => 0.32,
            '-' | '(' | ')' | '[' | ']' | 'f' | 't' | 'r' => 0.4,
            'm' | 'w' | 'W' | 'M' => 0.95,
            'A'..='Z' => 0.72,
            c if c.is_ascii() => 0.6,
            _ => 0.7,
        })
        .sum();
    ems * em(size)
}

/// A straight line between two points in display pixels, `width` display pixels wide.
pub(crate) fn draw_line<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    a: Px,
    b: Px,
    color: RGBColor,
    width: u32,
) -> Result<(), PlotError>
where
    DB::ErrorType: 'static,
{
    root.draw(&PathElement::new(vec![to_backend(a), to_backend(b)], color.stroke_width(scaled(width))))?;
    Ok(())
}

/// Draws a mapped series: clipped to `r`, with the dash pattern, and optionally a dot at each
/// visible point.
pub(crate) fn draw_polyline<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    points: &[Option<Px>],
    r: Rect,
    color: RGBColor,
    dash: Dash,
    markers: bool,
) -> Result<(), PlotError>
where
    DB::ErrorType: 'static,
{
    let style = color.stroke_width(scaled(Style::LINE_WIDTH));
    for piece in clip_polyline(points, r) {
        for d in dash_pieces(&piece, dash.pattern()) {
            root.draw(&PathElement::new(d.into_iter().map(to_backend).collect::<Vec<_>>(), style))?;
        }
    }
    if markers {
        for p in points.iter().flatten() {
            if r.contains(*p) {
                root.draw(&Circle::new(to_backend(*p), scaled(Style::MARKER_SIZE), color.filled()))?;
            }
        }
    }
    Ok(())
}

/// Text anchored at its left end, `v` saying whether `at` is its bottom, centre or top.
pub(crate) fn draw_text<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    text: &str,
    at: Px,
    size: u32,
    v: VPos,
) -> Result<(), PlotError>
where
    DB::ErrorType: 'static,
{
    draw_text_at(root, text, at, size, (HPos::Left, v), false)
}

/// Text at `at` with the anchor `pos` (horizontal, vertical), turned to read upwards if
/// `vertical`.
pub(crate) fn draw_text_at<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    text: &str,
    at: Px,
    size: u32,
    (h, v): (HPos, VPos),
    vertical: bool,
) -> Result<(), PlotError>
where
    DB::ErrorType: 'static,
{
    let mut font = (Style::FONT, scaled(size)).into_font();
    if vertical {
        font = font.transform(FontTransform::Rotate270);
    }
    let style = font.color(&BLACK).pos(Pos::new(h, v));
    root.draw(&Text::new(text.to_string(), to_backend(at), style))?;
    Ok(())
}

/// An arrow from `from` to `to` with a filled head at `to`, like matplotlib's `arrowstyle="->"`.
pub(crate) fn draw_arrow<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    from: Px,
    to: Px,
) -> Result<(), PlotError>
where
    DB::ErrorType: 'static,
{
    let (dx, dy) = (to.0 - from.0, to.1 - from.1);
    let len = (dx * dx + dy * dy).sqrt();
    if len < 1.0 {
        return Ok(());
    }
    let (ux, uy) = (dx / len, dy / len);
    let head = 8.0_f64.min(len / 2.0);
    let base = (to.0 - head * ux, to.1 - head * uy);
    let (nx, ny) = (-uy * head * 0.4, ux * head * 0.4);
    draw_line(root, from, base, BLACK, 1)?;
    root.draw(&Polygon::new(
        vec![to_backend(to), to_backend((base.0 + nx, base.1 + ny)), to_backend((base.0 - nx, base.1 - ny))],
        BLACK.filled(),
    ))?;
    Ok(())
}

/// One legend row.
pub(crate) struct LegendEntry<'a> {
    pub label: &'a str,
    pub color: RGBColor,
    pub dash: Dash,
    pub markers: bool,
}

/// A corner of the plotting area, for the legend.
///
/// Plots put the legend in the corner that covers the fewest data points unless told
/// otherwise, e.g. with [`LinePlot::legend`](super::LinePlot::legend).
///
/// # Example
/// ```
/// use gradstep_lab::plot::{Corner, LinePlot};
///
/// let fig = LinePlot::new().line("a", &[0.0, 1.0], &[0.0, 1.0]).legend(Corner::LowerRight).draw()?;
/// assert_eq!(fig.size(), (385.0, 275.0));
/// # Ok::<(), gradstep_lab::PlotError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Corner {
    /// Upper right, matplotlib's default.
    UpperRight,
    /// Upper left.
    UpperLeft,
    /// Lower left.
    LowerLeft,
    /// Lower right.
    LowerRight,
}

impl Corner {
    /// All corners in the order [`best_place`] prefers them when they tie (matplotlib's).
    pub(crate) const ALL: [Corner; 4] =
        [Corner::UpperRight, Corner::UpperLeft, Corner::LowerLeft, Corner::LowerRight];
}

/// Where a legend goes in the plotting area, as fractions of the free room: 0 is left (top),
/// 1 is right (bottom). Corners, and for the automatic choice also the middles of the edges.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Place(f64, f64);

impl From<Corner> for Place {
    fn from(c: Corner) -> Self {
        match c {
            Corner::UpperRight => Place(1.0, 0.0),
            Corner::UpperLeft => Place(0.0, 0.0),
            Corner::LowerLeft => Place(0.0, 1.0),
            Corner::LowerRight => Place(1.0, 1.0),
        }
    }
}

const LEGEND_INSET: f64 = 8.0;

/// The box a legend with `entries` occupies at `place` in the plotting area `r`.
pub(crate) fn legend_box(entries: &[LegendEntry<'_>], r: Rect, place: impl Into<Place>) -> Rect {
    let Place(fx, fy) = place.into();
    let row = em(Style::LEGEND_FONT) * 1.7;
    let text_w = entries.iter().map(|e| text_width(e.label, Style::LEGEND_FONT)).fold(0.0, f64::max);
    let (w, h) = (text_w + 44.0, row * entries.len() as f64 + 8.0);
    let x0 = r.x0 + LEGEND_INSET + fx * (r.width() - 2.0 * LEGEND_INSET - w);
    let y0 = r.y0 + LEGEND_INSET + fy * (r.height() - 2.0 * LEGEND_INSET - h);
    Rect { x0, x1: x0 + w, y0, y1: y0 + h }
}

/// The place whose legend box covers the least weight of `points` (display pixels with a
/// weight each): a corner, preferred in the order of [`Corner::ALL`] on ties, or, if every
/// corner covers some data, the middle of an edge (right, left, top, bottom) that covers less.
pub(crate) fn best_place(entries: &[LegendEntry<'_>], r: Rect, points: &[(Px, f64)]) -> Place {
    let covered = |p: Place| {
        let b = legend_box(entries, r, p);
        // A margin of a few pixels keeps lines from grazing the box.
        let m = 6.0;
        points
            .iter()
            .filter(|((x, y), _)| *x >= b.x0 - m && *x <= b.x1 + m && *y >= b.y0 - m && *y <= b.y1 + m)
            .map(|(_, w)| w)
            .sum::<f64>()
    };
    let mut best = (Place::from(Corner::UpperRight), f64::INFINITY);
    for c in Corner::ALL {
        let v = covered(c.into());
        if v < best.1 - 1e-9 {
            best = (c.into(), v);
        }
    }
    // Lines drawn under the legend count by their length: only clearly better middles win.
    if best.1 > 1.0 {
        for p in [Place(1.0, 0.5), Place(0.0, 0.5), Place(0.5, 0.0), Place(0.5, 1.0)] {
            let v = covered(p);
            if v < 0.5 * best.1 {
                best = (p, v);
            }
        }
    }
    best.0
}

/// Points every two pixels along the visible pieces of a line (by length, however densely
/// the line is sampled), with weight `w` each, for [`best_place`].
pub(crate) fn sample_pieces(pieces: &[Vec<Px>], w: f64, out: &mut Vec<(Px, f64)>) {
    const STEP: f64 = 2.0;
    for piece in pieces {
        let Some(&first) = piece.first() else { continue };
        out.push((first, w));
        // Distance along the line since the last sample.
        let mut since = 0.0;
        for s in piece.windows(2) {
            let (a, b) = (s[0], s[1]);
            let len = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
            let mut at = STEP - since;
            while at <= len {
                let t = at / len;
                out.push(((a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1)), w));
                at += STEP;
            }
            since = len - (at - STEP);
        }
    }
}

/// Draws a legend box at `place` in the plotting area `r`.
pub(crate) fn draw_legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry<'_>],
    r: Rect,
    place: Place,
) -> Result<(), PlotError>
where
    DB::ErrorType: 'static,
{
    if entries.is_empty() {
        return Ok(());
    }
    let b = legend_box(entries, r, place);
    let corners = [to_backend((b.x0, b.y0)), to_backend((b.x1, b.y1))];
    root.draw(&Rectangle::new(corners, WHITE.mix(0.85).filled()))?;
    root.draw(&Rectangle::new(corners, Style::GRID.stroke_width(scaled(1))))?;
    let row = (b.y1 - b.y0 - 8.0) / entries.len() as f64;
    let full = Rect { x0: f64::MIN, x1: f64::MAX, y0: f64::MIN, y1: f64::MAX };
    for (i, e) in entries.iter().enumerate() {
        let y = b.y0 + 4.0 + row * (i as f64 + 0.5);
        let sample = [Some((b.x0 + 6.0, y)), Some((b.x0 + 30.0, y))];
        draw_polyline(root, &sample, full, e.color, e.dash, false)?;
        if e.markers {
            root.draw(&Circle::new(
                to_backend((b.x0 + 18.0, y)),
                scaled(Style::MARKER_SIZE),
                e.color.filled(),
            ))?;
        }
        draw_text(root, e.label, (b.x0 + 36.0, y), Style::LEGEND_FONT, VPos::Center)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: Rect = Rect { x0: 0.0, x1: 10.0, y0: 0.0, y1: 10.0 };

    #[test]
    fn segments_are_clipped_to_the_rectangle() {
        assert_eq!(clip_segment((-5.0, 5.0), (15.0, 5.0), R), Some(((0.0, 5.0), (10.0, 5.0))));
        assert_eq!(clip_segment((-5.0, -5.0), (-1.0, 20.0), R), None);
        assert_eq!(clip_segment((1.0, 1.0), (2.0, 2.0), R), Some(((1.0, 1.0), (2.0, 2.0))));
    }

    #[test]
    fn a_line_leaving_and_reentering_is_split() {
        let pts =
            [Some((1.0, 5.0)), Some((20.0, 5.0)), Some((5.0, 5.0)), None, Some((6.0, 6.0)), Some((7.0, 7.0))];
        let pieces = clip_polyline(&pts, R);
        assert_eq!(
            pieces,
            vec![vec![(1.0, 5.0), (10.0, 5.0)], vec![(10.0, 5.0), (5.0, 5.0)], vec![(6.0, 6.0), (7.0, 7.0)]]
        );
    }

    #[test]
    fn the_legend_goes_to_the_emptiest_corner() {
        let r = Rect { x0: 0.0, x1: 300.0, y0: 0.0, y1: 200.0 };
        let entries =
            [LegendEntry { label: "loss", color: Style::color(0), dash: Dash::Solid, markers: false }];
        let best = |line: Vec<Px>| {
            let mut points = Vec::new();
            sample_pieces(&[line], 1.0, &mut points);
            best_place(&entries, r, &points)
        };
        assert_eq!(best(vec![(0.0, 200.0), (300.0, 0.0)]), Corner::UpperLeft.into());
        assert_eq!(best(vec![(0.0, 0.0), (300.0, 200.0)]), Corner::UpperRight.into());
        // A line along the top leaves the lower corners, lower left first.
        assert_eq!(best(vec![(0.0, 10.0), (300.0, 10.0)]), Corner::LowerLeft.into());
        // Lines through all four corners leave the middle of an edge, the right one first.
        let mut cross = Vec::new();
        sample_pieces(&[vec![(0.0, 0.0), (300.0, 200.0)], vec![(0.0, 200.0), (300.0, 0.0)]], 1.0, &mut cross);
        assert_eq!(best_place(&entries, r, &cross), Place(1.0, 0.5));
        // Weights count: one heavy point outweighs many light ones.
        let heavy =
            [((280.0, 180.0), 100.0), ((20.0, 20.0), 1.0), ((280.0, 20.0), 1.0), ((20.0, 180.0), 1.0)];
        assert_eq!(best_place(&entries, r, &heavy), Corner::UpperRight.into());
        assert_eq!(best_place(&entries, r, &[]), Corner::UpperRight.into());
        let b = legend_box(&entries, r, Corner::LowerRight);
        assert!(b.x1 <= r.x1 && b.y1 <= r.y1 && b.x0 > r.width() / 2.0 && b.y0 > r.height() / 2.0);
    }

    #[test]
    fn lines_are_sampled_by_length_not_by_vertex() {
        let mut coarse = Vec::new();
        sample_pieces(&[vec![(0.0, 0.0), (100.0, 0.0)]], 1.0, &mut coarse);
        let mut fine = Vec::new();
        let dense: Vec<Px> = (0..=1000).map(|i| (f64::from(i) / 10.0, 0.0)).collect();
        sample_pieces(&[dense], 1.0, &mut fine);
        assert_eq!(coarse.len(), 51);
        assert_eq!(fine.len(), 51);
        assert!(fine.iter().zip(&coarse).all(|(a, b)| (a.0.0 - b.0.0).abs() < 1e-9));
    }

    #[test]
    fn text_widths_grow_with_length_and_size() {
        assert!(text_width("0.001", 13) > text_width("0.1", 13));
        assert!(text_width("10", 15) > text_width("10", 13));
        assert_eq!(text_width("", 13), 0.0);
    }

    #[test]
    fn dashes_cover_the_on_fraction_of_the_line() {
        let line = [(0.0, 0.0), (55.0, 0.0), (55.0, 55.0)];
        let pieces = dash_pieces(&line, Dash::Dashed.pattern());
        let on: f64 = pieces
            .iter()
            .flat_map(|p| {
                p.windows(2).map(|w| ((w[1].0 - w[0].0).powi(2) + (w[1].1 - w[0].1).powi(2)).sqrt())
            })
            .sum();
        assert!((on - 110.0 * 7.0 / 11.0).abs() < 1e-9, "{on}");
        assert_eq!(pieces.len(), 10);
        assert_eq!(dash_pieces(&line, Dash::Solid.pattern()), vec![line.to_vec()]);
    }
}
