//! 3-D wireframe surfaces, such as the introduction's saddle.

use plotters::prelude::*;

use super::draw::scaled;
use super::{Figure, PlotError, Style};
use crate::objectives::Objective2d;

/// Grid points along each axis.
const N: usize = 101;
/// Every `STRIDE`th grid line is drawn.
const STRIDE: usize = 10;

/// A 3-D wireframe of z = f(x₁, x₂) over x₁ ∈ `x`, x₂ ∈ `y`, sampled on a 101 × 101 grid and
/// drawn every 10th grid line (the source's `rstride = cstride = 10`), with a red cross at
/// `mark` on the surface if given (the source marks the saddle point).
///
/// Axes: x₁ to the right, f upwards, x₂ into the picture.
///
/// # Errors
/// [`PlotError::Data`] if a range is empty or not finite, or f is not finite on the grid.
///
/// # Example
/// ```
/// use gradstep_lab::{objectives::Saddle, plot::surface_3d};
///
/// let fig = surface_3d(&Saddle, (-1.0, 1.0), (-1.0, 1.0), Some([0.0, 0.0]))?;
/// assert!(fig.svg().contains("<polyline"));
/// # Ok::<(), gradstep_lab::PlotError>(())
/// ```
pub fn surface_3d(
    f: &impl Objective2d,
    x: (f64, f64),
    y: (f64, f64),
    mark: Option<[f64; 2]>,
) -> Result<Figure, PlotError> {
    if !(x.0 < x.1 && y.0 < y.1 && [x.0, x.1, y.0, y.1].iter().all(|v| v.is_finite())) {
        return Err(PlotError::Data("the surface ranges must be finite and non-empty"));
    }
    let at = |lo: f64, hi: f64, i: usize| lo + (hi - lo) * i as f64 / (N - 1) as f64;
    let grid: Vec<Vec<(f64, f64, f64)>> = (0..N)
        .map(|j| {
            let b = at(y.0, y.1, j);
            (0..N).map(|i| (at(x.0, x.1, i), f.value([at(x.0, x.1, i), b]), b)).collect()
        })
        .collect();
    let mark = mark.map(|[a, b]| (a, f.value([a, b]), b));
    surface_figure(x, y, &grid, mark)
}

/// Draws [`surface_3d`]'s figure from its samples: `grid` holds the rows of (x₁, f, x₂), `mark`
/// the marked point on the surface. Only the sampling depends on the objective's type, so the
/// drawing is compiled once, here, rather than again in every crate (every notebook cell) that
/// calls `surface_3d` on a new objective type.
fn surface_figure(
    x: (f64, f64),
    y: (f64, f64),
    grid: &[Vec<(f64, f64, f64)>],
    mark: Option<(f64, f64, f64)>,
) -> Result<Figure, PlotError> {
    if grid.iter().flatten().any(|p| !p.1.is_finite()) {
        return Err(PlotError::Data("the function is not finite everywhere on the grid"));
    }
    let (zlo, zhi) = grid
        .iter()
        .flatten()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| (lo.min(p.1), hi.max(p.1)));
    let pad = if zhi > zlo { 0.0 } else { 0.5 };

    // Tick values as the shortest decimal, without "-0".
    let label = |v: &f64| {
        let r = (v * 1e6).round() / 1e6;
        format!("{}", if r == 0.0 { 0.0 } else { r })
    };
    Figure::render((4.5, 3.5), |root| {
        let mut chart = ChartBuilder::on(root).margin(scaled(10)).build_cartesian_3d(
            x.0..x.1,
            zlo - pad..zhi + pad,
            y.0..y.1,
        )?;
        chart.with_projection(|mut p| {
            p.yaw = 0.6;
            p.pitch = 0.35;
            p.scale = 0.8;
            p.into_matrix()
        });
        chart
            .configure_axes()
            .light_grid_style(Style::GRID.mix(0.5).stroke_width(scaled(1)))
            .bold_grid_style(Style::GRID.stroke_width(scaled(1)))
            .axis_panel_style(Style::GRID.mix(0.1).filled())
            .label_style((Style::FONT, scaled(Style::TICK_FONT)))
            .x_formatter(&label)
            .y_formatter(&label)
            .z_formatter(&label)
            .max_light_lines(1)
            .draw()?;
        let style = Style::color(0).stroke_width(scaled(1));
        // Lines of constant x₂ (rows), then of constant x₁ (columns).
        for row in grid.iter().step_by(STRIDE) {
            chart.draw_series(LineSeries::new(row.iter().copied(), style))?;
        }
        for i in (0..N).step_by(STRIDE) {
            chart.draw_series(LineSeries::new(grid.iter().map(|row| row[i]), style))?;
        }
        if let Some((a, z, b)) = mark
            && z.is_finite()
        {
            chart.draw_series(std::iter::once(Cross::new(
                (a, z, b),
                scaled(6),
                Style::color(3).stroke_width(scaled(3)),
            )))?;
        }
        Ok(())
    })
}
