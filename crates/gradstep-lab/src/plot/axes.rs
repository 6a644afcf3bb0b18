//! Axes drawn by hand: tick positions and labels chosen like matplotlib's (round steps, the
//! fewest decimals that tell ticks apart, powers of ten on log axes), a layout that leaves room
//! for the labels, and the mapping from data to display pixels with sub-pixel precision.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::draw::{Px, Rect, draw_line, draw_text_at, em, text_width};
use super::{PlotError, Style};

/// One axis: its data range and whether it is logarithmic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Axis {
    pub lo: f64,
    pub hi: f64,
    pub log: bool,
}

impl Axis {
    pub fn linear(lo: f64, hi: f64) -> Self {
        Self { lo, hi, log: false }
    }

    /// Where `v` lies along the axis, 0 at `lo` and 1 at `hi`.
    fn frac(&self, v: f64) -> f64 {
        if self.log {
            (v / self.lo).ln() / (self.hi / self.lo).ln()
        } else {
            (v - self.lo) / (self.hi - self.lo)
        }
    }

    /// The axis' extent in the units it is evenly spaced in (decades' logarithms on a log axis).
    fn span(&self) -> f64 {
        if self.log { (self.hi / self.lo).ln() } else { self.hi - self.lo }
    }
}

/// Tick marks of an axis: labelled major ticks and unlabelled minor ones.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Ticks {
    pub major: Vec<(f64, String)>,
    pub minor: Vec<f64>,
}

/// Whether `v` lies in [lo, hi], allowing for rounding.
fn inside(v: f64, lo: f64, hi: f64) -> bool {
    let tol = 1e-9 * (hi - lo).abs().max(f64::MIN_POSITIVE);
    v >= lo - tol && v <= hi + tol
}

/// Round multiples of a step 1, 2, 2.5 or 5 × 10ᵏ in [lo, hi]: the smallest such step that
/// gives at most `max_ticks` ticks (matplotlib's `MaxNLocator`). Returns the ticks and the step.
pub(crate) fn linear_ticks(lo: f64, hi: f64, max_ticks: usize) -> (Vec<f64>, f64) {
    let max_ticks = max_ticks.max(2);
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0) {
        return (vec![lo], 1.0);
    }
    let magnitude = 10f64.powf((span / max_ticks as f64).log10().floor());
    let mut fallback = (vec![lo, hi], span);
    for step in [0.1, 1.0, 10.0, 100.0].iter().flat_map(|e| [1.0, 2.0, 2.5, 5.0].map(|m| m * e * magnitude)) {
        let first = (lo / step - 1e-9).ceil() as i64;
        let last = (hi / step + 1e-9).floor() as i64;
        if last < first {
            continue;
        }
        if (last - first + 1) as usize <= max_ticks {
            // Integer multiples keep 0 an exact 0 (never -0) and avoid accumulated error.
            let ticks = (first..=last).map(|k| if k == 0 { 0.0 } else { k as f64 * step }).collect();
            return (ticks, step);
        }
        fallback = (vec![lo, hi], step);
    }
    fallback
}

/// Labels for evenly spaced ticks `step` apart, like matplotlib's: the fewest decimals that
/// show every tick exactly, the same for all, and never "-0". Very large or small numbers are
/// written with a common power of ten, as "2.5e-5".
pub(crate) fn format_linear(values: &[f64], step: f64) -> Vec<String> {
    let big = values.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    let (scale, suffix) = if big >= 1e5 || (big > 0.0 && big < 1e-3) {
        let e = big.log10().floor() as i32;
        (10f64.powi(e), format!("e{e}"))
    } else {
        (1.0, String::new())
    };
    let step = (step / scale).abs().max(f64::MIN_POSITIVE);
    let exact = |d: usize| {
        let p = 10f64.powi(d as i32);
        values.iter().all(|v| ((v / scale * p).round() / p - v / scale).abs() <= 1e-6 * step)
    };
    let d = (0..=12).find(|&d| exact(d)).unwrap_or(12);
    values
        .iter()
        .map(|v| {
            let s = format!("{:.d$}", v / scale);
            let s = if s.trim_start_matches('-').chars().all(|c| c == '0' || c == '.') {
                s.trim_start_matches('-').to_string()
            } else {
                s
            };
            if suffix.is_empty() {
                s
            } else if s.chars().all(|c| c == '0' || c == '.') {
                "0".to_string()
            } else {
                format!("{s}{suffix}")
            }
        })
        .collect()
}

/// The label of the log tick `m` × 10ᵏ: plain for 0.001 ≤ value < 1000 ("0.002", "50"),
/// else "1e-4", "2e3".
pub(crate) fn log_label(m: u32, k: i32) -> String {
    if (-3..=2).contains(&k) {
        let v = f64::from(m) * 10f64.powi(k);
        format!("{:.*}", (-k).max(0) as usize, v)
    } else if m == 1 {
        format!("1e{k}")
    } else {
        format!("{m}e{k}")
    }
}

/// Candidate major ticks of a log axis on [lo, hi], in order of preference, as (m, k) for
/// m × 10ᵏ: 1, 2 and 5 in every decade (when at most about three decades show), every power
/// of ten, then every 2nd, 3rd, 5th, 10th, … power.
fn log_candidates(lo: f64, hi: f64) -> Vec<Vec<(u32, i32)>> {
    let (k0, k1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let keep = |m: u32, k: i32| inside(f64::from(m) * 10f64.powi(k), lo, hi);
    let mut out = Vec::new();
    if (hi / lo).log10() <= 3.2 {
        out.push((k0..=k1).flat_map(|k| [1, 2, 5].map(|m| (m, k))).filter(|&(m, k)| keep(m, k)).collect());
    }
    for stride in [1, 2, 3, 5, 10, 20, 50, 100] {
        out.push(
            (k0..=k1)
                .filter(|k| k.rem_euclid(stride) == 0)
                .map(|k| (1, k))
                .filter(|&(m, k)| keep(m, k))
                .collect(),
        );
    }
    out
}

/// Whether labels at positions `px` (pixels along the axis) leave room between them: on a
/// horizontal axis their estimated widths plus a gap, on a vertical one about two lines.
fn labels_fit(px: &[f64], labels: &[String], horizontal: bool) -> bool {
    let size = em(Style::TICK_FONT);
    px.windows(2).zip(labels.windows(2)).all(|(p, l)| {
        let gap = (p[1] - p[0]).abs();
        if horizontal {
            gap >= (text_width(&l[0], Style::TICK_FONT) + text_width(&l[1], Style::TICK_FONT)) / 2.0
                + 0.6 * size
        } else {
            gap >= 1.6 * size
        }
    })
}

/// Ticks for `axis` drawn `len` pixels long, as many as fit (matplotlib's density: about one
/// per three ems across, one per 2.6 ems up).
pub(crate) fn choose_ticks(axis: Axis, len: f64, horizontal: bool) -> Ticks {
    let size = em(Style::TICK_FONT);
    let per = if horizontal { 3.0 } else { 2.6 };
    let max_ticks = ((len / (per * size)).floor() as usize + 1).clamp(3, 10);
    let px = |vs: &[f64]| vs.iter().map(|&v| axis.frac(v) * len).collect::<Vec<_>>();
    if axis.log {
        for cand in log_candidates(axis.lo, axis.hi) {
            if cand.len() < 2 {
                continue;
            }
            let values: Vec<f64> = cand.iter().map(|&(m, k)| f64::from(m) * 10f64.powi(k)).collect();
            let labels: Vec<String> = cand.iter().map(|&(m, k)| log_label(m, k)).collect();
            if values.len() > max_ticks || !labels_fit(&px(&values), &labels, horizontal) {
                continue;
            }
            let every_decade =
                cand.iter().any(|&(m, _)| m != 1) || cand.windows(2).all(|w| w[1].1 - w[0].1 == 1);
            let mut minor = Vec::new();
            if every_decade && (axis.hi / axis.lo).log10() <= 8.0 {
                let (k0, k1) = (axis.lo.log10().floor() as i32, axis.hi.log10().ceil() as i32);
                for k in k0..=k1 {
                    for m in 2..=9u32 {
                        let v = f64::from(m) * 10f64.powi(k);
                        if !cand.contains(&(m, k)) && inside(v, axis.lo, axis.hi) {
                            minor.push(v);
                        }
                    }
                }
            }
            return Ticks { major: values.into_iter().zip(labels).collect(), minor };
        }
        // Less than a factor of a few: round linear steps read best.
    }
    let mut n = max_ticks;
    loop {
        let (values, step) = linear_ticks(axis.lo, axis.hi, n);
        let labels = format_linear(&values, step);
        if n <= 2 || labels_fit(&px(&values), &labels, horizontal) {
            return Ticks { major: values.into_iter().zip(labels).collect(), minor: Vec::new() };
        }
        n -= 1;
    }
}

/// What a frame shows: figure size (display pixels), axes, their descriptions, a grid.
pub(crate) struct FrameSpec<'a> {
    pub size: (u32, u32),
    pub x: Axis,
    pub y: Axis,
    pub xlabel: &'a str,
    pub ylabel: &'a str,
    pub grid: bool,
    /// One unit (one decade on a log axis) as long on both axes.
    pub equal: bool,
}

/// A laid-out chart frame: the plotting area in display pixels and the ticks of both axes.
pub(crate) struct Frame<'a> {
    pub rect: Rect,
    pub x: Axis,
    pub y: Axis,
    xticks: Ticks,
    yticks: Ticks,
    spec: FrameSpec<'a>,
}

const MARGIN: f64 = 10.0;
const TICK: f64 = 5.0;
const PAD: f64 = 3.0;

impl<'a> Frame<'a> {
    /// Places the plotting area so that tick labels and axis descriptions fit inside the
    /// figure (including a last x label that would stick out on the right).
    pub fn layout(spec: FrameSpec<'a>) -> Self {
        let (w, h) = (f64::from(spec.size.0), f64::from(spec.size.1));
        let tick_em = em(Style::TICK_FONT);
        let desc = em(Style::LABEL_FONT) * 1.2 + 6.0;
        let bottom = MARGIN + TICK + PAD + tick_em * 1.1 + if spec.xlabel.is_empty() { 0.0 } else { desc };
        let (mut labels_w, mut right) = (0.0_f64, MARGIN);
        let mut rect;
        let (mut xticks, mut yticks);
        let mut pass = 0;
        loop {
            let left = MARGIN + if spec.ylabel.is_empty() { 0.0 } else { desc } + labels_w + PAD + TICK;
            rect = Rect {
                x0: left,
                x1: (w - right).max(left + 10.0),
                y0: MARGIN,
                y1: (h - bottom).max(MARGIN + 10.0),
            };
            if spec.equal {
                let s = (rect.width() / spec.x.span()).min(rect.height() / spec.y.span());
                let (rw, rh) = (s * spec.x.span(), s * spec.y.span());
                let (cx, cy) = ((rect.x0 + rect.x1) / 2.0, (rect.y0 + rect.y1) / 2.0);
                rect = Rect { x0: cx - rw / 2.0, x1: cx + rw / 2.0, y0: cy - rh / 2.0, y1: cy + rh / 2.0 };
            }
            xticks = choose_ticks(spec.x, rect.width(), true);
            yticks = choose_ticks(spec.y, rect.height(), false);
            let need_w =
                yticks.major.iter().map(|(_, l)| text_width(l, Style::TICK_FONT)).fold(0.0, f64::max);
            let overflow = xticks
                .major
                .iter()
                .map(|(v, l)| {
                    rect.x0 + spec.x.frac(*v) * rect.width() + text_width(l, Style::TICK_FONT) / 2.0
                })
                .fold(f64::NEG_INFINITY, f64::max)
                - (w - 2.0);
            pass += 1;
            if (need_w <= labels_w && overflow <= 0.0) || pass >= 4 {
                break;
            }
            labels_w = labels_w.max(need_w);
            right += overflow.max(0.0);
        }
        Self { rect, x: spec.x, y: spec.y, xticks, yticks, spec }
    }

    /// The display pixel of the data point `p` (outside the area if `p` is).
    pub fn map(&self, (x, y): (f64, f64)) -> Px {
        let r = self.rect;
        (r.x0 + self.x.frac(x) * r.width(), r.y1 - self.y.frac(y) * r.height())
    }

    /// The labels of the major ticks, x then y (for tests).
    #[cfg(test)]
    pub fn labels(&self) -> (Vec<&str>, Vec<&str>) {
        fn l(t: &Ticks) -> Vec<&str> {
            t.major.iter().map(|(_, s)| s.as_str()).collect()
        }
        (l(&self.xticks), l(&self.yticks))
    }

    /// Draws grid, axis lines, ticks, tick labels and axis descriptions.
    pub fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static,
    {
        let r = self.rect;
        let xpx = |v: f64| r.x0 + self.x.frac(v) * r.width();
        let ypx = |v: f64| r.y1 - self.y.frac(v) * r.height();
        if self.spec.grid {
            for (v, _) in &self.xticks.major {
                draw_line(root, (xpx(*v), r.y0), (xpx(*v), r.y1), Style::GRID, 1)?;
            }
            for (v, _) in &self.yticks.major {
                draw_line(root, (r.x0, ypx(*v)), (r.x1, ypx(*v)), Style::GRID, 1)?;
            }
        }
        draw_line(root, (r.x0, r.y0), (r.x0, r.y1), BLACK, 1)?;
        draw_line(root, (r.x0, r.y1), (r.x1, r.y1), BLACK, 1)?;
        for v in &self.xticks.minor {
            draw_line(root, (xpx(*v), r.y1), (xpx(*v), r.y1 + TICK / 2.0), BLACK, 1)?;
        }
        for v in &self.yticks.minor {
            draw_line(root, (r.x0 - TICK / 2.0, ypx(*v)), (r.x0, ypx(*v)), BLACK, 1)?;
        }
        for (v, label) in &self.xticks.major {
            let x = xpx(*v);
            draw_line(root, (x, r.y1), (x, r.y1 + TICK), BLACK, 1)?;
            let at = (x, r.y1 + TICK + PAD);
            draw_text_at(root, label, at, Style::TICK_FONT, (HPos::Center, VPos::Top), false)?;
        }
        for (v, label) in &self.yticks.major {
            let y = ypx(*v);
            draw_line(root, (r.x0 - TICK, y), (r.x0, y), BLACK, 1)?;
            let at = (r.x0 - TICK - PAD, y);
            draw_text_at(root, label, at, Style::TICK_FONT, (HPos::Right, VPos::Center), false)?;
        }
        if !self.spec.xlabel.is_empty() {
            let at = ((r.x0 + r.x1) / 2.0, r.y1 + TICK + PAD + em(Style::TICK_FONT) * 1.1 + 6.0);
            draw_text_at(root, self.spec.xlabel, at, Style::LABEL_FONT, (HPos::Center, VPos::Top), false)?;
        }
        if !self.spec.ylabel.is_empty() {
            let at = (MARGIN, (r.y0 + r.y1) / 2.0);
            draw_text_at(root, self.spec.ylabel, at, Style::LABEL_FONT, (HPos::Center, VPos::Top), true)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(values: &[f64], step: f64) -> Vec<String> {
        format_linear(values, step)
    }

    #[test]
    fn linear_labels_use_the_fewest_decimals_and_never_minus_zero() {
        assert_eq!(labels(&[-1.0, -0.5, 0.0, 0.5, 1.0], 0.5), ["-1.0", "-0.5", "0.0", "0.5", "1.0"]);
        assert_eq!(labels(&[90.0, 100.0, 110.0], 10.0), ["90", "100", "110"]);
        assert_eq!(labels(&[0.0, 0.25, 0.5], 0.25), ["0.00", "0.25", "0.50"]);
        assert_eq!(labels(&[-1e-17, 0.2, 0.4], 0.2), ["0.0", "0.2", "0.4"]);
        assert_eq!(labels(&[0.22, 0.24000000000000002, 0.26], 0.02), ["0.22", "0.24", "0.26"]);
        assert_eq!(labels(&[0.0, 2e5, 4e5], 2e5), ["0", "2e5", "4e5"]);
        assert_eq!(labels(&[0.0, 2.5e-5, 5e-5], 2.5e-5), ["0", "2.5e-5", "5.0e-5"]);
    }

    #[test]
    fn linear_ticks_are_round_multiples_inside_the_range() {
        let (t, step) = linear_ticks(-0.35, 4.35, 8);
        assert_eq!(step, 1.0);
        assert_eq!(t, [0.0, 1.0, 2.0, 3.0, 4.0]);
        let (t, _) = linear_ticks(0.22, 0.35, 8);
        assert_eq!(format_linear(&t, 0.02), ["0.22", "0.24", "0.26", "0.28", "0.30", "0.32", "0.34"]);
        let (t, _) = linear_ticks(-1.1, 1.1, 5);
        assert_eq!(t.len(), 5);
        assert!(t.iter().all(|v| v.is_sign_positive() || *v < 0.0) && t.contains(&0.0));
    }

    #[test]
    fn log_labels_are_compact() {
        let got: Vec<String> = (-4..=3).map(|k| log_label(1, k)).collect();
        assert_eq!(got, ["1e-4", "0.001", "0.01", "0.1", "1", "10", "100", "1e3"]);
        assert_eq!(log_label(2, -3), "0.002");
        assert_eq!(log_label(5, 1), "50");
        assert_eq!(log_label(5, 4), "5e4");
    }

    #[test]
    fn log_ticks_are_powers_of_ten_with_twos_and_fives_over_few_decades() {
        let major = |lo: f64, hi: f64, len: f64| -> Vec<String> {
            choose_ticks(Axis { lo, hi, log: true }, len, true).major.into_iter().map(|(_, l)| l).collect()
        };
        assert_eq!(major(0.7, 1.4e4, 300.0), ["1", "10", "100", "1e3", "1e4"]);
        assert_eq!(major(0.9, 11.0, 300.0), ["1", "2", "5", "10"]);
        assert_eq!(
            major(8e-4, 0.6, 500.0),
            ["0.001", "0.002", "0.005", "0.01", "0.02", "0.05", "0.1", "0.2", "0.5"]
        );
        let many = major(1e-9, 1e9, 250.0);
        assert!(many.len() <= 8 && many.contains(&"1".to_string()), "{many:?}");
        // A narrow log range gets round linear ticks.
        assert_eq!(major(0.22, 0.35, 300.0)[0], "0.22");
        let minor = choose_ticks(Axis { lo: 1.0, hi: 100.0, log: true }, 100.0, false).minor;
        assert!(minor.contains(&2.0) && minor.contains(&90.0) && minor.len() == 16, "{minor:?}");
    }

    #[test]
    fn the_last_x_label_stays_inside_the_figure() {
        let spec = FrameSpec {
            size: (385, 275),
            x: Axis::linear(0.0, 10000.0),
            y: Axis::linear(0.0, 1.0),
            xlabel: "",
            ylabel: "",
            grid: true,
            equal: false,
        };
        let frame = Frame::layout(spec);
        let (xl, _) = frame.labels();
        let last = frame.xticks.major.last().unwrap();
        let right = frame.map((last.0, 0.0)).0 + text_width(&last.1, Style::TICK_FONT) / 2.0;
        assert!(right <= 385.0 - 2.0 + 1e-9, "{right} {xl:?}");
        assert_eq!(frame.map((10000.0, 0.0)).0, frame.rect.x1);
    }

    #[test]
    fn equal_aspect_makes_units_equally_long() {
        let spec = |equal| FrameSpec {
            size: (385, 275),
            x: Axis::linear(-2.0, 2.0),
            y: Axis::linear(-1.0, 1.0),
            xlabel: "x",
            ylabel: "y",
            grid: false,
            equal,
        };
        let f = Frame::layout(spec(true));
        let (a, b) = (f.map((0.0, 0.0)), f.map((1.0, 1.0)));
        assert!(((b.0 - a.0) - (a.1 - b.1)).abs() < 1e-9);
        let g = Frame::layout(spec(false));
        let (a, b) = (g.map((0.0, 0.0)), g.map((1.0, 1.0)));
        assert!(((b.0 - a.0) - (a.1 - b.1)).abs() > 5.0);
    }
}
