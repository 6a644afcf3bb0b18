//! LeNet on the 5,000-digit MNIST subset (4,000 train, 1,000 test) with the learning-rate
//! chapter's schedules. Run in release mode with the data directory set:
//! `GRADSTEP_DATA_DIR=../shared/data cargo run --release -p gradstep-lab --example lenet_mnist -- [constant|cosine|warmup] [epochs]`
use gradstep::Sgd;
use gradstep_lab::data::DataDir;
use gradstep_lab::data::mnist;
use gradstep_lab::models::lenet::lenet;
use gradstep_lab::plot::LinePlot;
use gradstep_lab::train::classify::{ClassifierTraining, ScheduleTiming};

/// Cosine from 0.3 to 0.01 over 20 epochs, then 0.01 (the source's `CosineScheduler`).
fn cosine(epoch: usize) -> f64 {
    let (base, last, t_max) = (0.3, 0.01, 20.0);
    if epoch as f64 > t_max {
        last
    } else {
        last + (base - last) * (1.0 + (std::f64::consts::PI * epoch as f64 / t_max).cos()) / 2.0
    }
}

/// The same with 5 epochs of linear warmup from 0.
fn warmup_cosine(epoch: usize) -> f64 {
    let (base, last, warm, t_max) = (0.3, 0.01, 5.0, 20.0);
    let e = epoch as f64;
    if e < warm {
        base * e / warm
    } else if e > t_max {
        last
    } else {
        last + (base - last) * (1.0 + (std::f64::consts::PI * (e - warm) / (t_max - warm)).cos()) / 2.0
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let which = args.get(1).map_or("constant", String::as_str);
    let epochs: usize = args.get(2).map_or(Ok(30), |s| s.parse())?;
    let (train, test) = mnist::train_test(&DataDir::from_env(), 0)?;
    let mut net = lenet(0);
    let training = ClassifierTraining::new(256, epochs).timing(ScheduleTiming::BeforeEpoch);
    let history = match which {
        "cosine" => training.run_scheduled(&mut net, &mut Sgd::new(0.3)?, &train, &test, cosine)?,
        "warmup" => training.run_scheduled(&mut net, &mut Sgd::new(0.3)?, &train, &test, warmup_cosine)?,
        _ => training.run(&mut net, &mut Sgd::new(0.3)?, &train, &test)?,
    };
    println!("{:.2} s/epoch", history.sec_per_epoch());
    std::fs::create_dir_all("target/figures")?;
    LinePlot::new()
        .series(history.train_loss())
        .series(history.train_acc())
        .series(history.test_acc())
        .xlabel("epoch")
        .ylim(0.0, 2.4)
        .draw()?
        .save(format!("target/figures/lenet_{which}.svg"))?;
    Ok(())
}
