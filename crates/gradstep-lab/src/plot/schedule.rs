//! Learning-rate schedule curves.

use super::{Figure, LinePlot, PlotError, Series};

/// Learning rate against epoch for one or more schedules, each given as its values at epochs
/// 0, 1, 2, …: the lr-scheduler chapter's figures (and the momentum and RMSProp chapters'
/// weight curves, which are the same kind of picture).
///
/// # Errors
/// [`PlotError::Data`] if there is nothing finite to draw.
///
/// # Example
/// ```
/// use gradstep_lab::plot::schedule_curves;
///
/// let factor: Vec<f64> = (1..=50).map(|t| (2.0 * 0.9f64.powi(t)).max(0.01)).collect();
/// let cosine: Vec<f64> = (0..30)
///     .map(|t| if t > 20 { 0.01 } else { 0.01 + 0.29 * (1.0 + (std::f64::consts::PI * t as f64 / 20.0).cos()) / 2.0 })
///     .collect();
/// let fig = schedule_curves(&[("factor", &factor), ("cosine", &cosine)])?;
/// assert!(fig.svg().contains("cosine"));
/// # Ok::<(), gradstep_lab::PlotError>(())
/// ```
pub fn schedule_curves(schedules: &[(&str, &[f64])]) -> Result<Figure, PlotError> {
    let mut plot = LinePlot::new().xlabel("epoch").ylabel("learning rate");
    for (label, values) in schedules {
        let s = Series::indexed(values);
        plot = plot.series(if label.is_empty() { s } else { s.label(*label) });
    }
    plot.draw()
}
