//! The minibatch, momentum, Adagrad, RMSProp and Adam chapters' airfoil runs, from scratch and
//! with the library's optimizers, with the source's printout. Run in release mode with the data
//! directory set, e.g.
//! `GRADSTEP_DATA_DIR=../shared/data cargo run --release -p gradstep-lab --example airfoil`.
use gradstep::{Sgd, SgdConfig};
use gradstep_lab::data::airfoil::Airfoil;
use gradstep_lab::plot::LinePlot;
use gradstep_lab::train::linreg::LinRegTraining;

fn sgd(lr: f32) -> impl FnMut(&mut [f32], &[f32], &mut ()) {
    move |p, g, _| p.iter_mut().zip(g).for_each(|(p, g)| *p -= lr * g)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = Airfoil::load()?;
    println!("# minibatch-sgd");
    let gd = LinRegTraining::new(1500, 10).scratch(&data, |_| (), sgd(1.0))?;
    let sgd1 = LinRegTraining::new(1, 2).scratch(&data, |_| (), sgd(0.005))?;
    let mb100 = LinRegTraining::new(100, 2).scratch(&data, |_| (), sgd(0.4))?;
    let mb10 = LinRegTraining::new(10, 2).scratch(&data, |_| (), sgd(0.05))?;
    LinRegTraining::new(10, 4).concise(&data, &Sgd::new(0.01)?)?;

    println!("# momentum");
    for (lr, beta) in [(0.02f32, 0.5f32), (0.01, 0.9), (0.005, 0.9)] {
        LinRegTraining::new(10, 2).scratch(
            &data,
            |n| vec![0.0f32; n],
            move |p, g, v| {
                for ((p, g), v) in p.iter_mut().zip(g).zip(v.iter_mut()) {
                    *v = beta * *v + g;
                    *p -= lr * *v;
                }
            },
        )?;
    }
    LinRegTraining::new(10, 4)
        .concise(&data, &Sgd::from_config(SgdConfig { lr: 0.005, momentum: 0.9, ..Default::default() })?)?;

    println!("# adagrad (lr 0.1)");
    LinRegTraining::new(10, 2).scratch(
        &data,
        |n| vec![0.0f32; n],
        |p, g, s| {
            for ((p, g), s) in p.iter_mut().zip(g).zip(s.iter_mut()) {
                *s += g * g;
                *p -= 0.1 * g / (*s + 1e-6).sqrt();
            }
        },
    )?;
    println!("# rmsprop (lr 0.01, gamma 0.9)");
    LinRegTraining::new(10, 2).scratch(
        &data,
        |n| vec![0.0f32; n],
        |p, g, s| {
            for ((p, g), s) in p.iter_mut().zip(g).zip(s.iter_mut()) {
                *s = 0.9 * *s + 0.1 * g * g;
                *p -= 0.01 * g / (*s + 1e-6).sqrt();
            }
        },
    )?;
    println!("# adam (lr 0.01)");
    LinRegTraining::new(10, 2).scratch(
        &data,
        |n| (vec![0.0f32; n], vec![0.0f32; n], 1i32),
        |p, g, (v, s, t)| {
            for i in 0..p.len() {
                v[i] = 0.9 * v[i] + 0.1 * g[i];
                s[i] = 0.999 * s[i] + 0.001 * g[i] * g[i];
                let vh = v[i] / (1.0 - 0.9f32.powi(*t));
                let sh = s[i] / (1.0 - 0.999f32.powi(*t));
                p[i] -= 0.01 * vh / (sh.sqrt() + 1e-6);
            }
            *t += 1;
        },
    )?;

    std::fs::create_dir_all("target/figures")?;
    LinePlot::new()
        .size(6.0, 3.0)
        .series(gd.by_time().label("gd"))
        .series(sgd1.by_time().label("sgd"))
        .series(mb100.by_time().label("batch size=100"))
        .series(mb10.by_time().label("batch size=10"))
        .log_x()
        .xlim(1e-3, 10.0)
        .ylim(0.22, 0.35)
        .xlabel("time (sec)")
        .ylabel("loss")
        .draw()?
        .save("target/figures/airfoil_loss_vs_time.svg")?;
    Ok(())
}
