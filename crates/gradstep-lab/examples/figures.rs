//! Draws one figure of every kind to target/figures/ for a look (and, as a test, checks that
//! they all render).
use gradstep::{Sgd, SgdConfig};
use gradstep_lab::objectives::{Bowl, Cube, EmpiricalRisk, Risk, Saddle, Tanh};
use gradstep_lab::plot::{LinePlot, Series, contour_paths, schedule_curves, surface_3d};
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
    let mut plot = LinePlot::new().size(6.0, 4.0).xlabel("time").legend_left();
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
    Ok(())
}

#[test]
fn entry_point() {
    main().unwrap();
}
