//! Draws the GD chapter's two kinds of figure to target/figures/ for a look.
use gradstep::Sgd;
use gradstep_lab::objectives::{Bowl, Square};
use gradstep_lab::plot::{contour_2d, trace_1d};
use gradstep_lab::runner::{START_2D, run_1d, run_2d};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all("target/figures")?;
    let p = run_1d(&Sgd::new(0.2)?, &Square, 10.0, 10)?;
    trace_1d(&Square, &p)?.save("target/figures/trace.svg")?;
    let f = Bowl::new(1.0, 2.0);
    let q = run_2d(&Sgd::new(0.1)?, &f, START_2D, 20)?;
    contour_2d(&f, &q)?.save("target/figures/contour.svg")?;
    Ok(())
}
