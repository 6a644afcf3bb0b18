//! Seconds per training epoch of LeNet and an MLP on the MNIST subset (4,000 training images,
//! batches of 256, plain SGD), the numbers to set against PyTorch's
//! (`crates/gradstep-lab/tools/torch_bench.py`, or `tools/compare.sh` for both in one run).
//!
//! `GRADSTEP_DATA_DIR=../shared/data cargo run --release -p gradstep-lab --example train_bench -- [options]`
//!
//! - `--threads N`: threads per training step (default 1);
//! - `--epochs E`: epochs timed per model (default 5; the median is reported);
//! - `--model lenet|mlp|all` (default all);
//! - `--export FILE`: also write the training set (u32 count, then 784 f32 pixels and a u8 label
//!   per image, little-endian) for the PyTorch script, so that both time the same images.
//!
//! Each line reads `bench <model> threads=<N> <median> s/epoch (min <min>, cpu <cpu>, ...)`:
//! the median and least wall-clock time of an epoch's training steps (gathering the batch,
//! forward, backward, SGD step, as `ClassifierTraining` runs them and as PyTorch's loop is
//! timed), and the median process CPU time, which a busy machine disturbs less.
use std::io::Write;

use std::time::Instant;

use gradstep::{Optimizer, Sgd};
use gradstep_lab::data::{DataDir, ImageSet, Sampling, mnist};
use gradstep_lab::models::lenet::lenet;
use gradstep_lab::models::mlp::mlp;
use gradstep_lab::models::network::{BatchStats, Network};
use gradstep_lab::train::classify::evaluate;

struct Options {
    threads: usize,
    epochs: usize,
    model: String,
    export: Option<String>,
}

fn options() -> Result<Options, Box<dyn std::error::Error>> {
    let mut o = Options { threads: 1, epochs: 5, model: "all".into(), export: None };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--threads" => o.threads = value()?.parse()?,
            "--epochs" => o.epochs = value()?.parse()?,
            "--model" => o.model = value()?,
            "--export" => o.export = Some(value()?),
            _ => return Err(format!("unknown option {a}; see the file's header").into()),
        }
    }
    if o.threads == 0 || o.epochs == 0 {
        return Err("--threads and --epochs must be at least 1".into());
    }
    Ok(o)
}

fn export(train: &ImageSet, path: &str) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    out.write_all(&(train.len() as u32).to_le_bytes())?;
    for (row, label) in train.pixels().rows().into_iter().zip(train.labels()) {
        for p in row {
            out.write_all(&p.to_le_bytes())?;
        }
        out.write_all(&[*label])?;
    }
    out.flush()
}

/// Process CPU time in seconds (all threads), the clock Python's `time.process_time` reads.
fn cpu_seconds() -> f64 {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `t` is a valid timespec for the call to write into.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
    if rc == 0 { t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9 } else { f64::NAN }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The loop of `ClassifierTraining`, timed by the wall clock and by CPU time.
fn bench(
    name: &str,
    mut net: Network,
    lr: f64,
    o: &Options,
    train: &ImageSet,
    test: &ImageSet,
) -> Result<(), Box<dyn std::error::Error>> {
    net.set_threads(o.threads);
    let opt = Sgd::new(lr)?;
    let mut state = opt.init(net.num_params());
    let mut batches = train.minibatches(256, Sampling::WithoutReplacement, 0)?;
    let (mut x, mut y) = (Vec::new(), Vec::new());
    let (mut walls, mut cpus) = (Vec::new(), Vec::new());
    let mut stats = BatchStats::default();
    for _ in 0..o.epochs {
        let (start, cpu) = (Instant::now(), cpu_seconds());
        stats = BatchStats::default();
        for idx in batches.epoch() {
            train.gather(idx, &mut x, &mut y)?;
            stats.merge(net.backprop(&x, &y)?);
            net.step(&opt, &mut state)?;
        }
        walls.push(start.elapsed().as_secs_f64());
        cpus.push(cpu_seconds() - cpu);
    }
    let test_acc = evaluate(&mut net, test, 256)?.accuracy();
    println!(
        "bench {name} threads={} {:.4} s/epoch (min {:.4}, cpu {:.4}, epochs {}; train loss {:.3}, test acc {:.3})",
        o.threads,
        median(walls.clone()),
        walls.iter().copied().fold(f64::INFINITY, f64::min),
        median(cpus),
        o.epochs,
        stats.loss,
        test_acc
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let o = options()?;
    let (train, test) = mnist::train_test(&DataDir::from_env(), 0)?;
    if let Some(path) = &o.export {
        export(&train, path)?;
    }
    if matches!(o.model.as_str(), "lenet" | "all") {
        bench("lenet", lenet(0), 0.3, &o, &train, &test)?;
    }
    if matches!(o.model.as_str(), "mlp" | "all") {
        bench("mlp", mlp(784, &[256], 10, 0)?, 0.1, &o, &train, &test)?;
    }
    Ok(())
}
