//! One optimizer step on 10⁷ `f32` parameters: SGD with momentum, Adam (with `f32`, bfloat16
//! and block-wise 8-bit moments) and AdamW, serial and
//! split across threads, each next to a `memcpy` of the same bytes measured in the same run.
//!
//! "The same bytes" is the size of every buffer the step streams through (parameters,
//! gradients, state), copied with `copy_from_slice` into as many others: a baseline taken in the
//! same run, so that ratios from a busy and a quiet run compare. A copy moves more bytes than a
//! step (it reads every buffer and writes as many others, where a step writes its outputs in
//! place), and how fast it moves them depends on the machine's `memcpy`: Adam's step took half
//! the copy's time in earlier runs, and a third of it since the updates prefetch. Ratios compare
//! runs and optimizers, not machines.
//!
//! Run: `cargo bench -p gradstep --bench step` (set `GRADSTEP_BENCH_N` for another size,
//! `GRADSTEP_BENCH_THREADS` for the threaded rows, default 2, `GRADSTEP_BENCH_ALL=1` to
//! time every other optimizer too, serially, and `GRADSTEP_BENCH_NEW=1` for only Rprop,
//! ASGD, LAMB, schedule-free AdamW, Adafactor and Muon besides the main rows). `tools/bench_torch.py` times PyTorch the same way. Reports the median of 25 steps
//! after 3 warm-up steps.

use std::hint::black_box;
use std::time::{Duration, Instant};

use gradstep::{
    Adadelta, Adafactor, Adagrad, Adam, Adam8bit, AdamBf16, AdamW, AdamWScheduleFree, Adamax, Asgd, Lamb,
    Lion, Muon, NAdam, Optimizer, RAdam, RmsProp, RmsPropConfig, Rprop, Sgd, SgdConfig, Shape, Yogi,
};

const REPS: usize = 25;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Median time to copy `buffers` buffers of `n` f32 into as many others.
fn memcpy_time(n: usize, buffers: usize) -> Duration {
    memcpy_time_of(&vec![n; buffers])
}

/// Median time to copy buffers of the given numbers of f32 into as many others.
fn memcpy_time_of(lens: &[usize]) -> Duration {
    let src: Vec<Vec<f32>> = lens.iter().enumerate().map(|(b, &n)| vec![b as f32 + 0.5; n]).collect();
    let mut dst: Vec<Vec<f32>> = lens.iter().map(|&n| vec![0.0f32; n]).collect();
    let mut times = Vec::new();
    for rep in 0..REPS + 3 {
        let t = Instant::now();
        for (d, s) in dst.iter_mut().zip(&src) {
            d.copy_from_slice(s);
        }
        black_box(&mut dst);
        if rep >= 3 {
            times.push(t.elapsed());
        }
    }
    median(times)
}

fn step_time<O: Optimizer<f32>>(opt: &O, n: usize, threads: usize) -> Duration {
    step_time_shaped(opt, &Shape::vector(n), threads)
}

/// [`step_time`] for a tensor of the given shape (Adafactor factors a matrix, Muon needs one).
fn step_time_shaped<O: Optimizer<f32>>(opt: &O, shape: &Shape, threads: usize) -> Duration {
    let n = shape.len();
    let mut x: Vec<f32> = (0..n).map(|i| (i % 1000) as f32 * 1e-3).collect();
    let g: Vec<f32> = (0..n).map(|i| ((i % 777) as f32 - 388.0) * 1e-3).collect();
    let mut state = opt.init_shaped(shape).expect("a shape the optimizer takes");
    let mut times = Vec::new();
    for rep in 0..REPS + 3 {
        let t = Instant::now();
        opt.step_parallel(black_box(&mut x), black_box(&g), &mut state, threads).expect("step");
        if rep >= 3 {
            times.push(t.elapsed());
        }
    }
    black_box(&x);
    median(times)
}

/// The required rows (SGD, Adam, AdamW) are also timed with threads.
fn name_is_main(name: &str) -> bool {
    name.starts_with("SGD") || name.starts_with("Adam") || name.starts_with("AdamW")
}

fn main() {
    let n: usize = std::env::var("GRADSTEP_BENCH_N").ok().and_then(|s| s.parse().ok()).unwrap_or(10_000_000);
    let threads: usize =
        std::env::var("GRADSTEP_BENCH_THREADS").ok().and_then(|s| s.parse().ok()).unwrap_or(2);
    let sgd = Sgd::from_config(SgdConfig { lr: 0.01, momentum: 0.9, ..Default::default() }).expect("sgd");
    let adam = Adam::new(1e-3).expect("adam");
    let adamw = AdamW::new(1e-3).expect("adamw");
    let adam_bf16 = AdamBf16::from_config(*adam.config()).expect("adam bf16");
    let adam_8bit = Adam8bit::from_config(*adam.config()).expect("adam 8-bit");
    println!("one step on {n} f32 parameters (median of {REPS})");
    println!("{:<26} {:>8} {:>12} {:>14} {:>7}", "optimizer", "threads", "ms/step", "memcpy ms", "ratio");
    // Buffers streamed, in f32-sized units: x, g + state (SGD: buffer; Adam/AdamW: m, v; Adam
    // with bfloat16 state: m and v at half the bytes, one f32 buffer's worth together; with
    // 8-bit state, a quarter each, as two quarter-length buffers).
    type Run<'a> = &'a dyn Fn(usize) -> Duration;
    let cases: [(&str, usize, Run); 5] = [
        ("SGD (momentum 0.9)", 3, &|t| step_time(&sgd, n, t)),
        ("Adam", 4, &|t| step_time(&adam, n, t)),
        ("Adam, bf16 state", 3, &|t| step_time(&adam_bf16, n, t)),
        ("Adam, 8-bit state", 2, &|t| step_time(&adam_8bit, n, t)),
        ("AdamW (wd 0.01)", 4, &|t| step_time(&adamw, n, t)),
    ];
    let all = std::env::var("GRADSTEP_BENCH_ALL").is_ok_and(|v| v == "1");
    let rms = RmsProp::from_config(RmsPropConfig { centered: true, momentum: 0.9, ..Default::default() })
        .expect("rms");
    let (adagrad, adadelta, nadam) =
        (Adagrad::new(0.01).expect("ok"), Adadelta::new(1.0).expect("ok"), NAdam::new(1e-3).expect("ok"));
    let (radam, adamax) = (RAdam::new(1e-3).expect("ok"), Adamax::new(1e-3).expect("ok"));
    let (yogi, lion) = (Yogi::new(1e-3).expect("ok"), Lion::new(1e-4).expect("ok"));
    let (rprop, asgd, lamb) =
        (Rprop::new(0.01).expect("ok"), Asgd::new(0.01).expect("ok"), Lamb::new(1e-3).expect("ok"));
    let (adafactor, schedule_free) =
        (Adafactor::new(0.01).expect("ok"), AdamWScheduleFree::new(2.5e-3).expect("ok"));
    // Adafactor on the most nearly square matrix with n elements (n = rows·cols exactly).
    let rows = (1..=n.isqrt()).rev().find(|&r| n.is_multiple_of(r)).unwrap_or(1);
    let matrix = Shape::matrix(rows, n / rows);
    let more: [(&str, usize, Run); 13] = [
        ("RMSprop (centered, mom.)", 5, &|t| step_time(&rms, n, t)),
        ("Adagrad", 3, &|t| step_time(&adagrad, n, t)),
        ("Adadelta", 4, &|t| step_time(&adadelta, n, t)),
        ("NAdam", 4, &|t| step_time(&nadam, n, t)),
        ("RAdam", 4, &|t| step_time(&radam, n, t)),
        ("Adamax", 4, &|t| step_time(&adamax, n, t)),
        ("Yogi", 4, &|t| step_time(&yogi, n, t)),
        ("Lion", 3, &|t| step_time(&lion, n, t)),
        // Rprop: x, g, prev, step sizes. ASGD: x, g, average.
        ("Rprop", 4, &|t| step_time(&rprop, n, t)),
        ("ASGD", 3, &|t| step_time(&asgd, n, t)),
        // LAMB reads x, g, m, v, writes m, v, then reads x, m, v again and writes x: two passes.
        ("LAMB", 4, &|t| step_time(&lamb, n, t)),
        ("Schedule-free AdamW", 4, &|t| step_time(&schedule_free, n, t)),
        // Adafactor (matrix): x and g, read three times; its state is rows + cols numbers.
        ("Adafactor (matrix)", 2, &|t| step_time_shaped(&adafactor, &matrix, t)),
    ];
    let new_ones = std::env::var("GRADSTEP_BENCH_NEW").is_ok_and(|v| v == "1");
    let cases = cases
        .into_iter()
        .chain(more.into_iter().enumerate().filter_map(|(i, c)| (all || (new_ones && i >= 8)).then_some(c)));
    for (name, buffers, run) in cases {
        for t in if threads > 1 { vec![1, threads] } else { vec![1] } {
            if t == 1 || (threads > 1 && name_is_main(name)) {
                let copy = if name.contains("8-bit") {
                    memcpy_time_of(&[n, n, n.div_ceil(4), n.div_ceil(4)])
                } else {
                    memcpy_time(n, buffers)
                };
                let step = run(t);
                let ms = |d: Duration| d.as_secs_f64() * 1e3;
                println!(
                    "{name:<26} {t:>8} {:>12.3} {:>14.3} {:>7.2}",
                    ms(step),
                    ms(copy),
                    step.as_secs_f64() / copy.as_secs_f64()
                );
            }
        }
    }
    if all || new_ones {
        // Muon's Newton–Schulz iteration costs about 5·(2r²k + r³) multiply-adds for an r×k
        // matrix: a matrix-product workload, not a streaming one, so it is timed on a 512×512
        // matrix and the memcpy column is that matrix's x, g and momentum.
        let muon = Muon::new(0.02).expect("ok");
        let shape = Shape::matrix(512, 512);
        let (copy, step) = (memcpy_time(shape.len(), 3), step_time_shaped(&muon, &shape, 1));
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "{:<26} {:>8} {:>12.3} {:>14.3} {:>7.2}",
            "Muon (512x512)",
            1,
            ms(step),
            ms(copy),
            step.as_secs_f64() / copy.as_secs_f64()
        );
    }
}
