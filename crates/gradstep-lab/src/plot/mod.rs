//! Figures: SVG charts drawn with plotters, in one style throughout the course.
//!
//! Every plotting function takes data (a path, a function, series) and returns a [`Figure`]:
//! an SVG document that can be saved to a file, embedded in a page, or shown inline in a
//! Jupyter notebook running the evcxr kernel (as `image/svg+xml`).
//!
//! The ready-made plots draw their own axes, like matplotlib's: round tick steps labelled with
//! the fewest decimals that tell the ticks apart, powers of ten on log axes (with 2 and 5 in
//! between when few decades show), room for the last tick label, and a legend in the corner
//! that covers the least data ([`Corner`] to choose one). Contour plots space their levels to
//! suit the function ([`Levels`]). Every plot is drawn on a canvas four times finer than its
//! display size, which the root `<svg>` declares, so lines are placed with sub-pixel precision.

mod axes;
mod contour;
mod draw;
mod figure;
pub mod heatmap;
mod line;
mod schedule;
mod style;
mod surface;
mod trace;

/// The plotting library, for [`Figure::custom`] drawings without a separate dependency.
pub use plotters;

pub use contour::{ContourPlot, Levels, contour_2d, contour_in, contour_paths, marching_squares};
pub use draw::{Corner, Dash};
pub use figure::{Figure, PlotError};
pub use line::{LinePlot, Series};
pub use schedule::schedule_curves;
pub use style::Style;
pub use surface::surface_3d;
pub use trace::trace_1d;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objectives::{Bowl, Risk, Saddle, Square};

    /// The canvas size of the root `<svg>` (its viewBox), which is what the coordinates inside
    /// it refer to.
    fn view_box(fig: &Figure) -> (f64, f64) {
        let doc = roxmltree::Document::parse(fig.svg()).expect("well-formed SVG");
        let v: Vec<f64> =
            doc.root_element().attribute("viewBox").unwrap().split(' ').map(|v| v.parse().unwrap()).collect();
        (v[2], v[3])
    }

    /// Parses the SVG and returns (width, height, number of drawn paths/lines, all texts).
    fn parse(fig: &Figure) -> (f64, f64, usize, Vec<String>) {
        let doc = roxmltree::Document::parse(fig.svg()).expect("well-formed SVG");
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        let num = |a: &str| root.attribute(a).and_then(|v| v.parse::<f64>().ok()).expect("size attribute");
        let lines =
            doc.descendants().filter(|n| matches!(n.tag_name().name(), "polyline" | "path" | "line")).count();
        let texts = doc
            .descendants()
            .filter(|n| n.tag_name().name() == "text")
            .filter_map(|n| n.text())
            .map(|t| t.trim().to_string())
            .collect();
        (num("width"), num("height"), lines, texts)
    }

    fn polyline_points(fig: &Figure) -> Vec<(f64, f64)> {
        let doc = roxmltree::Document::parse(fig.svg()).unwrap();
        doc.descendants()
            .filter(|n| n.tag_name().name() == "polyline")
            .filter_map(|n| n.attribute("points"))
            .flat_map(|p| {
                p.split_whitespace()
                    .filter_map(|xy| xy.split_once(','))
                    .map(|(x, y)| (x.parse().unwrap(), y.parse().unwrap()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn every_figure_kind_is_valid_svg_of_the_requested_size() {
        let path = [[-5.0, -2.0], [-4.0, -1.2], [-3.0, -0.5]];
        let figs = [
            trace_1d(&Square, &[10.0, 6.0, 3.6]).unwrap(),
            contour_2d(&Bowl::new(1.0, 2.0), &path).unwrap(),
            contour_paths(&Bowl::new(1.0, 2.0), &[("a", &path), ("b", &path[..2])]).unwrap(),
            LinePlot::new()
                .series(Series::objective(&Risk, 0.5, 1.5))
                .annotate("m", (1.1, -1.05), (0.9, -0.5))
                .draw()
                .unwrap(),
            surface_3d(&Saddle, (-1.0, 1.0), (-1.0, 1.0), Some([0.0, 0.0])).unwrap(),
            schedule_curves(&[("lr", &[1.0, 0.5, 0.25])]).unwrap(),
        ];
        for fig in &figs {
            let (w, h, lines, _) = parse(fig);
            assert!(w > 300.0 && h > 200.0 && lines > 0);
        }
        assert_eq!(parse(&figs[0]).0, 385.0);
        let texts = parse(&figs[2]).3;
        assert!(texts.iter().any(|t| t == "a") && texts.iter().any(|t| t == "b"), "legend: {texts:?}");
        assert!(parse(&figs[3]).3.iter().any(|t| t == "m"));
    }

    #[test]
    fn axis_limits_clip_lines_to_the_plotting_area() {
        let fig = LinePlot::new()
            .line("far", &[0.0, 1.0, 2.0], &[0.0, 100.0, 0.0])
            .ylim(0.0, 1.0)
            .xlim(0.0, 2.0)
            .draw()
            .unwrap();
        let (w, h) = view_box(&fig);
        for (x, y) in polyline_points(&fig) {
            assert!((0.0..=w).contains(&x) && (0.0..=h).contains(&y), "({x}, {y}) outside the figure");
        }
    }

    #[test]
    fn figures_declare_the_display_size_and_draw_on_a_finer_canvas() {
        let fig = LinePlot::new().line("l", &[0.0, 1.0], &[0.0, 1.0]).size(3.5, 2.5).draw().unwrap();
        let (w, h, ..) = parse(&fig);
        assert_eq!((w, h), (385.0, 275.0));
        assert_eq!(fig.size(), (385.0, 275.0));
        let k = f64::from(Style::OVERSAMPLE);
        assert!(k >= 2.0);
        assert_eq!(view_box(&fig), (385.0 * k, 275.0 * k));
        let contour = contour_2d(&Bowl::new(1.0, 2.0), &[[-5.0, -2.0]]).unwrap();
        assert_eq!((contour.size(), view_box(&contour)), ((385.0, 275.0), (385.0 * k, 275.0 * k)));
        // Text sizes grow with the canvas so that they show at the style's sizes.
        let doc = roxmltree::Document::parse(fig.svg()).unwrap();
        let size: f64 = doc
            .descendants()
            .find(|n| n.tag_name().name() == "text")
            .and_then(|n| n.attribute("font-size")?.parse().ok())
            .unwrap();
        assert!((size / k - f64::from(Style::TICK_FONT) / 1.24).abs() < 0.01, "{size}");
        // A row of oversampled figures keeps their display sizes.
        let row = Figure::row(&[fig.clone(), contour]);
        assert_eq!(row.size(), (770.0, 275.0));
        // Custom drawings are not oversampled: their canvas is the display size.
        let custom = Figure::custom(1.0, 1.0, |_| Ok(())).unwrap();
        assert_eq!((custom.size(), view_box(&custom)), ((110.0, 110.0), (110.0, 110.0)));
    }

    /// The coordinate `xy` ("x" or "y", in canvas units) of the text element `label`.
    fn text_at(fig: &Figure, label: &str, xy: &str) -> f64 {
        let doc = roxmltree::Document::parse(fig.svg()).unwrap();
        let node = doc
            .descendants()
            .find(|n| n.tag_name().name() == "text" && n.text().map(str::trim) == Some(label));
        node.and_then(|n| n.attribute(xy)?.parse().ok()).expect("label drawn")
    }

    fn text_x(fig: &Figure, label: &str) -> f64 {
        text_at(fig, label, "x")
    }

    #[test]
    fn legends_avoid_the_data_unless_placed() {
        let xs = [0.0, 1.0, 2.0, 3.0];
        let rising = LinePlot::new().line("up", &xs, &[0.0, 1.0, 2.0, 3.0]);
        let k = f64::from(Style::OVERSAMPLE);
        assert!(text_x(&rising.clone().draw().unwrap(), "up") < 0.5 * 385.0 * k);
        assert!(text_x(&rising.clone().legend(Corner::LowerRight).draw().unwrap(), "up") > 0.5 * 385.0 * k);
        assert!(text_x(&rising.legend_left().draw().unwrap(), "up") < 0.5 * 385.0 * k);
        let falling = LinePlot::new().line("down", &xs, &[3.0, 2.0, 1.0, 0.0]);
        assert!(text_x(&falling.draw().unwrap(), "down") > 0.5 * 385.0 * k);
        // A path through the upper right pushes a contour plot's legend elsewhere.
        let path = [[-5.0, -2.0], [0.0, 0.0], [1.0, 1.0]];
        let fig = ContourPlot::new(&Bowl::new(1.0, 2.0)).path("p", &path).draw().unwrap();
        let placed = ContourPlot::new(&Bowl::new(1.0, 2.0))
            .path("p", &path)
            .legend(Corner::UpperRight)
            .draw()
            .unwrap();
        let upper_right =
            |f: &Figure| text_x(f, "p") > 0.5 * 385.0 * k && text_at(f, "p", "y") < 0.5 * 275.0 * k;
        assert!(!upper_right(&fig) && upper_right(&placed));
    }

    #[test]
    fn log_axis_labels_are_powers_of_ten() {
        let xs: Vec<f64> = (1..=1000).map(f64::from).collect();
        let ys: Vec<f64> = xs.iter().map(|x| 1.0 / x).collect();
        let fig = LinePlot::new().line("l", &xs, &ys).log_x().log_y().draw().unwrap();
        let texts = parse(&fig).3;
        for label in ["1", "10", "100", "1e3", "0.001", "0.01", "0.1"] {
            assert!(texts.iter().any(|t| t == label), "{label} missing from {texts:?}");
        }
        assert!(texts.iter().all(|t| t.len() <= 14 && !t.contains("000000")), "{texts:?}");
    }

    #[test]
    fn log_axes_skip_non_positive_points_and_reject_bad_limits() {
        let fig = LinePlot::new()
            .line("l", &[0.0, 0.01, 0.1, 1.0], &[1.0, 0.5, 0.3, 0.2])
            .log_x()
            .log_y()
            .draw()
            .unwrap();
        assert!(parse(&fig).2 > 0);
        let bad = LinePlot::new().line("l", &[1.0, 2.0], &[1.0, 2.0]).log_x().xlim(0.0, 10.0).draw();
        assert!(matches!(bad, Err(PlotError::Data(_))));
    }

    #[test]
    fn absurd_figure_sizes_are_typed_errors_and_the_extremes_draw() {
        let plot = || LinePlot::new().line("x", &[1.0, 2.0], &[1.0, 3.0]);
        for (w, h) in [(1e9, 2.0), (f64::NAN, 2.0), (0.0, 2.0), (-3.0, 2.0), (3.5, f64::INFINITY), (0.1, 0.1)]
        {
            assert!(matches!(plot().size(w, h).draw(), Err(PlotError::Data(_))), "{w} × {h}");
        }
        assert!(matches!(Figure::custom(1e9, 1.0, |_| Ok(())), Err(PlotError::Data(_))));
        for (w, h) in [(0.5, 0.5), (100.0, 0.5), (0.5, 100.0)] {
            plot().size(w, h).draw().unwrap();
        }
    }

    #[test]
    fn bad_data_is_a_typed_error() {
        assert!(matches!(LinePlot::new().line("x", &[1.0], &[1.0, 2.0]).draw(), Err(PlotError::Data(_))));
        assert!(matches!(LinePlot::new().draw(), Err(PlotError::Data(_))));
        assert!(matches!(LinePlot::new().line("x", &[f64::NAN], &[1.0]).draw(), Err(PlotError::Data(_))));
        assert!(matches!(contour_paths(&Saddle, &[]), Err(PlotError::Data(_))));
        assert!(matches!(contour_2d(&Saddle, &[[f64::INFINITY, 0.0]]), Err(PlotError::Data(_))));
        assert!(matches!(surface_3d(&Saddle, (1.0, -1.0), (0.0, 1.0), None), Err(PlotError::Data(_))));
        assert!(matches!(trace_1d(&Square, &[]), Err(PlotError::Data(_))));
    }

    #[test]
    fn figures_save_to_files_and_report_unwritable_paths() {
        let fig = schedule_curves(&[("lr", &[1.0, 0.5])]).unwrap();
        let dir = std::env::temp_dir().join(format!("gradstep-lab-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("s.svg");
        fig.save(&file).unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), fig.svg());
        let err = fig.save(dir.join("missing/dir/s.svg")).unwrap_err();
        assert!(matches!(err, PlotError::Io { .. }) && err.to_string().contains("missing"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
