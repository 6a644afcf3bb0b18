//! Draws one figure of every kind to target/figures/ for a look (and, as a test, checks that
//! they all render).
use gradstep::{Sgd, SgdConfig};
use gradstep_lab::objectives::{Bowl, Cube, EmpiricalRisk, Risk, Rosenbrock, Saddle, Tanh};
use gradstep_lab::plot::{
    ContourPlot, Corner, Dash, Figure, Levels, LinePlot, Series, contour_2d, contour_in, contour_paths,
    schedule_curves, surface_3d, trace_1d,
};
use gradstep_lab::runner::{START_2D, run_2d};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::Path::new("target/figures");
    std::fs::create_dir_all(dir)?;
    LinePlot::new()
        .size(4.5, 2.5)
        .series(Series::objective(&Risk, 0.5, 1.5).label("risk"))
        .series(Series::objective(&EmpiricalRisk, 0.5, 1.5).label("empirical risk"))
        .annotate("min of empirical risk", (1.0, -1.2), (0.5, -1.1))
        .annotate("min of risk", (1.1, -1.05), (0.95, -0.5))
        .xlabel("x")
        .ylabel("risk")
        .draw()?
        .save(dir.join("risk.svg"))?;
    LinePlot::new()
        .series(Series::objective(&Cube, -2.0, 2.0))
        .annotate("saddle point", (0.0, -0.2), (-0.52, -5.0))
        .xlabel("x")
        .ylabel("f(x)")
        .draw()?
        .save(dir.join("cube.svg"))?;
    LinePlot::new()
        .series(Series::objective(&Tanh, -2.0, 5.0))
        .annotate("vanishing gradient", (4.0, 1.0), (2.0, 0.0))
        .draw()?
        .save(dir.join("tanh.svg"))?;
    surface_3d(&Saddle, (-1.0, 1.0), (-1.0, 1.0), Some([0.0, 0.0]))?.save(dir.join("saddle.svg"))?;
    let mut plot = LinePlot::new().size(6.0, 4.0).xlabel("time");
    for (k, beta) in [0.95, 0.9, 0.6, 0.0].into_iter().enumerate() {
        let ys: Vec<f64> = (0..40).map(|t| f64::powi(beta, t)).collect();
        let xs: Vec<f64> = (0..40).map(f64::from).collect();
        plot = plot.series(
            Series::new(&xs, &ys)
                .label(format!("beta = {beta:.2}"))
                .dash(gradstep_lab::plot::Style::format(k).1),
        );
    }
    plot.draw()?.save(dir.join("betas.svg"))?;
    let times: Vec<f64> = (1..=40).map(|i| 0.01 * 1.2f64.powi(i)).collect();
    let losses: Vec<f64> = times.iter().map(|t| 0.243 + 0.1 / (1.0 + 10.0 * t)).collect();
    LinePlot::new()
        .size(6.0, 3.0)
        .line("sgd", &times, &losses)
        .log_x()
        .xlim(1e-2, 10.0)
        .ylim(0.22, 0.35)
        .xlabel("time (sec)")
        .ylabel("loss")
        .draw()?
        .save(dir.join("loss_vs_time.svg"))?;
    let f = Bowl::new(0.1, 2.0);
    let gd = run_2d(&Sgd::new(0.4)?, &f, START_2D, 20)?;
    let mo = run_2d(
        &Sgd::from_config(SgdConfig { lr: 0.6, momentum: 0.5, ..Default::default() })?,
        &f,
        START_2D,
        20,
    )?;
    contour_paths(&f, &[("gd", &gd), ("momentum", &mo)])?.save(dir.join("compare.svg"))?;
    let factor: Vec<f64> = (1..=50).map(|t| (2.0 * 0.9f64.powi(t)).max(0.01)).collect();
    schedule_curves(&[("factor", &factor)])?.save(dir.join("schedule.svg"))?;

    // Log axes with automatic limits: ticks at powers of ten, labelled compactly.
    let steps: Vec<f64> = (1..=10_000).map(f64::from).collect();
    let best: Vec<f64> = steps.iter().map(|t| 1.0 / t.sqrt()).collect();
    let constant: Vec<f64> = steps.iter().map(|t| (1.0 + 0.01 * t) / (0.2 * t)).collect();
    LinePlot::new()
        .line("constant 0.1", &steps, &constant)
        .line("best constant for T", &steps, &best)
        .log_x()
        .log_y()
        .xlabel("steps T")
        .ylabel("bound")
        .draw()?
        .save(dir.join("log_auto.svg"))?;
    // A few decades: 2 and 5 between the powers of ten; the legend avoids the lines.
    let sizes = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 250.0, 500.0, 750.0];
    let err: Vec<f64> = sizes.iter().map(|b: &f64| 1.6 / b.sqrt()).collect();
    LinePlot::new()
        .series(Series::new(&sizes, &err).label("measured").markers())
        .log_x()
        .log_y()
        .xlabel("batch size")
        .ylabel("gradient error")
        .draw()?
        .save(dir.join("log_few_decades.svg"))?;
    // Linear labels: integers where they do, never "-0".
    let epochs: Vec<f64> = (0..=100).map(f64::from).collect();
    let acc: Vec<f64> = epochs.iter().map(|e| 100.0 - 40.0 * (-e / 20.0).exp()).collect();
    LinePlot::new().line("accuracy", &epochs, &acc).xlabel("epoch").draw()?.save(dir.join("integers.svg"))?;
    // Equal aspect: a circle is round.
    let circle = |r: f64| {
        Series::from_points(
            (0..=100)
                .map(|i| f64::from(i) * std::f64::consts::TAU / 100.0)
                .map(|t| (r * t.cos(), r * t.sin()))
                .collect(),
        )
    };
    LinePlot::new()
        .series(circle(1.0).dash(Dash::Solid))
        .xlim(-1.5, 1.5)
        .ylim(-1.5, 1.5)
        .equal_aspect()
        .draw()?
        .save(dir.join("equal.svg"))?;
    // Contours of steep functions get levels that show the region near the minimum.
    let f = Bowl::new(0.1, 2.0);
    let gd = run_2d(&Sgd::new(0.4)?, &f, START_2D, 20)?;
    contour_2d(&f, &gd)?.save(dir.join("ill_conditioned.svg"))?;
    let path = [[-1.5, 2.0], [-1.0, 1.0], [0.5, 0.3], [1.0, 1.0]];
    contour_in(&Rosenbrock::default(), (-2.0, 2.0), (-1.0, 3.0), &[("by hand", &path)])?
        .save(dir.join("rosenbrock.svg"))?;
    ContourPlot::new(&f)
        .path("gd", &gd)
        .legend(Corner::LowerLeft)
        .levels(Levels::Linear)
        .draw()?
        .save(dir.join("contour_options.svg"))?;
    let square = gradstep_lab::objectives::Square;
    let trace = trace_1d(&square, &[10.0, 6.0, 3.6, 2.16])?;
    Figure::row(&[trace.clone(), trace]).save(dir.join("row.svg"))?;
    Ok(())
}

#[test]
fn entry_point() {
    main().unwrap();
}
