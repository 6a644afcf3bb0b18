//! Figures: SVG charts drawn with plotters, in one style throughout the course.
//!
//! Every plotting function takes data (a path, a function, series) and returns a [`Figure`]:
//! an SVG document that can be saved to a file, embedded in a page, or shown inline in a
//! Jupyter notebook running the evcxr kernel (as `image/svg+xml`).

mod contour;
mod draw;
mod figure;
mod line;
mod schedule;
mod style;
mod surface;
mod trace;

/// The plotting library, for [`Figure::custom`] drawings without a separate dependency.
pub use plotters;

pub use contour::{contour_2d, contour_in, contour_paths, marching_squares};
pub use draw::Dash;
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
        let (w, h, ..) = parse(&fig);
        for (x, y) in polyline_points(&fig) {
            assert!((0.0..=w).contains(&x) && (0.0..=h).contains(&y), "({x}, {y}) outside the figure");
        }
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
