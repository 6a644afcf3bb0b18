//! Pixel-space drawing shared by the plots: clipping, dash patterns, arrows, legends.
//!
//! Series are mapped to backend pixels first (so log axes and linear axes are handled alike),
//! then clipped to the plotting area and drawn with the course's dash patterns. plotters does
//! not clip lines to the chart, so axis limits would otherwise let lines run over the labels.

use plotters::coord::Shift;
use plotters::prelude::*;
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
    pub fn from_ranges((xr, yr): (std::ops::Range<i32>, std::ops::Range<i32>)) -> Self {
        Self {
            x0: f64::from(xr.start),
            x1: f64::from(xr.end),
            y0: f64::from(yr.start),
            y1: f64::from(yr.end),
        }
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

fn to_backend(p: Px) -> (i32, i32) {
    (p.0.round() as i32, p.1.round() as i32)
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
    let style = color.stroke_width(Style::LINE_WIDTH);
    for piece in clip_polyline(points, r) {
        for d in dash_pieces(&piece, dash.pattern()) {
            root.draw(&PathElement::new(d.into_iter().map(to_backend).collect::<Vec<_>>(), style))?;
        }
    }
    if markers {
        for p in points.iter().flatten() {
            if p.0 >= r.x0 && p.0 <= r.x1 && p.1 >= r.y0 && p.1 <= r.y1 {
                root.draw(&Circle::new(to_backend(*p), Style::MARKER_SIZE, color.filled()))?;
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
    let style = (Style::FONT, size).into_font().color(&BLACK).pos(Pos::new(HPos::Left, v));
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
    root.draw(&PathElement::new(vec![to_backend(from), to_backend(base)], BLACK.stroke_width(1)))?;
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

/// Draws a legend box in the upper right corner of `r` (or upper left if `left`).
pub(crate) fn draw_legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry<'_>],
    r: Rect,
    left: bool,
) -> Result<(), PlotError>
where
    DB::ErrorType: 'static,
{
    if entries.is_empty() {
        return Ok(());
    }
    let size = f64::from(Style::LEGEND_FONT);
    let row = size * 1.4;
    // plotters without fonts cannot measure text; 0.6 em per character is close for sans-serif.
    let text_w = entries.iter().map(|e| e.label.chars().count()).max().unwrap_or(0) as f64 * size * 0.6;
    let (w, h) = (text_w + 44.0, row * entries.len() as f64 + 8.0);
    let x0 = if left { r.x0 + 8.0 } else { r.x1 - 8.0 - w };
    let y0 = r.y0 + 8.0;
    root.draw(&Rectangle::new(
        [to_backend((x0, y0)), to_backend((x0 + w, y0 + h))],
        WHITE.mix(0.85).filled(),
    ))?;
    root.draw(&Rectangle::new(
        [to_backend((x0, y0)), to_backend((x0 + w, y0 + h))],
        Style::GRID.stroke_width(1),
    ))?;
    let full = Rect { x0: f64::MIN, x1: f64::MAX, y0: f64::MIN, y1: f64::MAX };
    for (i, e) in entries.iter().enumerate() {
        let y = y0 + 4.0 + row * (i as f64 + 0.5);
        let sample = [Some((x0 + 6.0, y)), Some((x0 + 30.0, y))];
        draw_polyline(root, &sample, full, e.color, e.dash, false)?;
        if e.markers {
            root.draw(&Circle::new(to_backend((x0 + 18.0, y)), Style::MARKER_SIZE, e.color.filled()))?;
        }
        draw_text(root, e.label, (x0 + 36.0, y), Style::LEGEND_FONT, VPos::Center)?;
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
