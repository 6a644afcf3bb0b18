//! Robustness: whatever a user or a hand-edited checkpoint feeds them, the optimizers and
//! schedules answer `Ok` or a typed `Err`, never a panic, and an error changes nothing.
//!
//! Each optimizer and schedule is one line of [`optimizers!`] or [`schedules!`], with the
//! configurations (JSON) its tests start from; adding one is adding a line. For each, the
//! tests are:
//! - `fuzz`: proptest mutates a starting configuration and the state it makes (dropped and
//!   added fields, buffers of other lengths, absurd numbers, wrong types), loads both, and
//!   steps (serially or on 0-3 threads) with parameters and gradients that may be of the
//!   wrong length or hold NaN, infinities and huge values;
//! - `state_round_trips_at_every_step` (optimizers): 25 steps in `f32` and `f64`, the state
//!   written to JSON and read back after each one, equal every time;
//! - `split_buffers_of_the_wrong_length_are_errors` (optimizers): a buffer long enough to be
//!   split across threads, with each state buffer one too short, one too long or empty.

use gradstep::schedule::{
    Constant, Cosine, CosineWarmRestarts, Exponential, Factor, InverseSqrt, MultiStep, OneCycle, Polynomial,
    ReduceOnPlateau, Schedule, Scheduled, Warmup,
};
use gradstep::*;
use proptest::prelude::*;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::{Map, Number, Value};

/// splitmix64: the fuzzer's dice, from one seed that proptest draws (and prints on failure).
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// True with probability `p` percent.
    fn chance(&mut self, p: u64) -> bool {
        self.next() % 100 < p
    }
    fn pick<'a, X>(&mut self, xs: &'a [X]) -> &'a X {
        &xs[self.below(xs.len())]
    }
}

/// Numbers that break rules: out of every range, at the edges, beyond `f32`, not integers.
const NUMBERS: [f64; 22] = [
    0.0, -0.0, 1.0, -1.0, 0.5, 0.9, 0.999, 1e-8, 2.0, 3.0, 1e10, -1e10, 1e39, -1e39, 1e308, -1e308, 5e-324,
    1.5, -0.5, 100.0, 4.0, 0.1,
];
/// Strings: the enum variants of the crate, and others.
const STRINGS: [&str; 10] = [
    "Raw",
    "BiasCorrected",
    "OutsideSqrt",
    "InsideSqrt",
    "MomentumSchedule",
    "Optax",
    "Min",
    "inf",
    "-inf",
    "x",
];

fn leaf(d: &mut Dice) -> Value {
    match d.below(9) {
        0 => Value::Null,
        1 => Value::Bool(d.chance(50)),
        2 => Value::from(*d.pick(&[0u64, 1, 2, 7, u64::MAX, u64::MAX - 1, 1 << 40])),
        3 => Value::from(*d.pick(&[-1i64, i64::MIN, -7])),
        4 => Value::String(d.pick(&STRINGS).to_string()),
        5 => Value::Array((0..d.below(4)).map(|_| number(d)).collect()),
        6 => Value::Object(Map::new()),
        _ => number(d),
    }
}

fn number(d: &mut Dice) -> Value {
    Value::Number(Number::from_f64(*d.pick(&NUMBERS)).expect("finite"))
}

/// A copy of `v` with random damage: fields dropped, added or replaced, arrays cut or
/// lengthened, numbers, flags and names changed, recursively.
fn mutate(v: &Value, d: &mut Dice, depth: usize) -> Value {
    if depth > 4 || d.chance(3) {
        return leaf(d);
    }
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                if d.chance(8) {
                    continue;
                }
                let v = if d.chance(35) { mutate(v, d, depth + 1) } else { v.clone() };
                out.insert(k.clone(), v);
            }
            if d.chance(5) {
                out.insert("unknown".into(), leaf(d));
            }
            Value::Object(out)
        }
        Value::Array(a) => {
            let mut a: Vec<Value> =
                a.iter().map(|v| if d.chance(15) { mutate(v, d, depth + 1) } else { v.clone() }).collect();
            match d.below(6) {
                0 => {
                    a.pop();
                }
                1 => a.push(number(d)),
                2 => a.clear(),
                _ => {}
            }
            Value::Array(a)
        }
        Value::Number(_) => {
            if d.chance(70) {
                number(d)
            } else {
                leaf(d)
            }
        }
        Value::Bool(b) => Value::Bool(!b),
        Value::String(_) => Value::String(d.pick(&STRINGS).to_string()),
        Value::Null => leaf(d),
    }
}

/// Parameter or gradient values, finite or not.
fn values<T: Float>(d: &mut Dice, n: usize) -> Vec<T> {
    const V: [f64; 12] =
        [0.0, 1.0, -1.0, 0.25, -3.0, 1e-30, 1e30, -1e30, 1e300, f64::NAN, f64::INFINITY, -0.0];
    (0..n).map(|_| T::of(*d.pick(&V))).collect()
}

/// `Debug` text: equal for equal values, NaN included (which `PartialEq` says differ).
fn same<X: std::fmt::Debug>(a: &X, b: &X) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

fn fuzz_optimizer_as<T: Float, O>(seed: &str, dice: u64) -> Result<(), TestCaseError>
where
    O: Optimizer<T> + Serialize + DeserializeOwned,
{
    let d = &mut Dice(dice);
    let seed: Value = serde_json::from_str(seed).expect("seed JSON");
    let start: O = serde_json::from_value(seed.clone()).expect("the seed configuration loads");
    // A damaged configuration that still loads replaces the seed; one that does not is simply
    // an error (it must not have panicked), and the state is fuzzed with the seed's.
    let mut opt = serde_json::from_value::<O>(mutate(&seed, d, 0)).unwrap_or(start);
    if d.chance(20) {
        let lr = *d.pick(&NUMBERS);
        let _ = opt.set_learning_rate(lr);
    }
    let n = d.below(5);
    let made = serde_json::to_value(opt.init(n)).expect("a state serialises");
    let Ok(mut state) = serde_json::from_value::<O::State>(mutate(&made, d, 0)) else { return Ok(()) };
    let len = if d.chance(80) { n } else { d.below(5) };
    let mut params: Vec<T> = values(d, len);
    let glen = if d.chance(80) { len } else { d.below(5) };
    let grads: Vec<T> = values(d, glen);
    for _ in 0..3 {
        let before = (params.clone(), state.clone());
        let r = if d.chance(50) {
            opt.step(&mut params, &grads, &mut state)
        } else {
            opt.step_parallel(&mut params, &grads, &mut state, d.below(4))
        };
        if r.is_err() {
            prop_assert!(same(&before.0, &params), "an error changed the parameters: {r:?}");
            prop_assert!(same(&before.1, &state), "an error changed the state: {r:?}");
        }
        // Whatever the state has become, it is written, and read back equal unless it holds a
        // NaN or an infinity (which JSON writes as null, and loading refuses).
        let json = serde_json::to_string(&state).expect("a state serialises");
        match serde_json::from_str::<O::State>(&json) {
            Ok(back) => prop_assert!(same(&back, &state), "{json}"),
            Err(e) => prop_assert!(json.contains("null"), "a finite state did not load back: {e}: {json}"),
        }
    }
    Ok(())
}

/// 25 steps of a noisy quadratic, the state through JSON after each one.
fn round_trip_as<T: Float, O>(seed: &str)
where
    O: Optimizer<T> + DeserializeOwned,
{
    let opt: O = serde_json::from_str(seed).expect("the seed configuration loads");
    let mut x: Vec<T> = [1.0, -2.0, 0.5, 3.0].iter().map(|&v| T::of(v)).collect();
    let mut state = opt.init(x.len());
    for t in 0..25 {
        let g: Vec<T> = x
            .iter()
            .enumerate()
            .map(|(i, &v)| v * T::of(0.5) + T::of(((t * 7 + i) % 5) as f64 - 2.0))
            .collect();
        opt.step(&mut x, &g, &mut state).unwrap();
        let json = serde_json::to_string(&state).unwrap();
        let back: O::State = serde_json::from_str(&json).unwrap_or_else(|e| panic!("step {t}: {e}: {json}"));
        assert_eq!(back, state, "step {t}");
    }
}

/// A buffer long enough to be split across threads, with every state buffer made one too
/// short, one too long and empty in turn: an error (or, for an empty optional buffer, a
/// step), never a panic, on one thread and on two.
fn split_wrong_lengths<O>(seed: &str)
where
    O: Optimizer<f32> + DeserializeOwned,
{
    let opt: O = serde_json::from_str(seed).expect("the seed configuration loads");
    let n = 2 * 32768 + 3;
    // Edited in place and read by reference: copies of 65k-element JSON arrays are slow.
    let mut made = serde_json::to_value(opt.init(n)).unwrap();
    let names: Vec<String> = match &made {
        Value::Object(m) => m
            .iter()
            .filter(|(_, v)| v.as_array().is_some_and(|a| a.len() == n))
            .map(|(k, _)| k.clone())
            .collect(),
        _ => return,
    };
    let mut params = vec![0.5_f32; n];
    let grads = vec![0.25_f32; n];
    for name in &names {
        for change in ["short", "long", "empty"] {
            let buf = made[name.as_str()].as_array_mut().unwrap();
            let kept = match change {
                "short" => vec![buf.pop().unwrap()],
                "long" => {
                    buf.push(Value::from(0.0));
                    vec![]
                }
                _ => std::mem::take(buf),
            };
            // Loading may already refuse a state whose buffers disagree.
            if let Ok(mut state) = O::State::deserialize(&made) {
                for threads in [1, 2] {
                    let r = opt.step_parallel(&mut params, &grads, &mut state, threads);
                    assert!(change == "empty" || r.is_err(), "`{name}` {change}: {r:?}");
                }
            }
            let buf = made[name.as_str()].as_array_mut().unwrap();
            match change {
                "long" => drop(buf.pop()),
                _ => buf.extend(kept),
            }
        }
    }
}

/// One line per optimizer: `name: Type => [configurations as JSON]` (the first few with the
/// options on that change the state). Generates a module of tests per line.
macro_rules! optimizers {
    ($($name:ident: $opt:ty => [$($seed:expr),+ $(,)?]),* $(,)?) => {$(
        mod $name {
            use super::*;
            const SEEDS: &[&str] = &[$($seed),+];

            proptest! {
                #![proptest_config(ProptestConfig { cases: 32, failure_persistence: None, ..ProptestConfig::default() })]
                #[test]
                fn fuzz(dice in any::<u64>(), which in 0usize..16) {
                    let seed = SEEDS[which % SEEDS.len()];
                    fuzz_optimizer_as::<f32, $opt>(seed, dice)?;
                    fuzz_optimizer_as::<f64, $opt>(seed, dice)?;
                }
            }

            #[test]
            fn state_round_trips_at_every_step() {
                for seed in SEEDS {
                    round_trip_as::<f32, $opt>(seed);
                    round_trip_as::<f64, $opt>(seed);
                }
            }

            #[test]
            fn split_buffers_of_the_wrong_length_are_errors() {
                for seed in SEEDS {
                    split_wrong_lengths::<$opt>(seed);
                }
            }
        }
    )*};
}

optimizers! {
    sgd: Sgd => [r#"{"lr": 0.1}"#, r#"{"lr": 0.1, "momentum": 0.9, "nesterov": true, "weight_decay": 0.1}"#, r#"{"lr": 0.1, "momentum": 0.5, "dampening": 0.5, "maximize": true}"#],
    adagrad: Adagrad => [r#"{"lr": 0.1, "lr_decay": 0.01, "initial_accumulator_value": 0.1}"#, r#"{"lr": 0.1, "eps_placement": "InsideSqrt"}"#],
    rmsprop: RmsProp => [r#"{"lr": 0.01}"#, r#"{"lr": 0.01, "centered": true, "momentum": 0.9}"#, r#"{"lr": 0.01, "momentum": 0.5, "eps_placement": "InsideSqrt"}"#],
    adadelta: Adadelta => [r#"{"lr": 1.0}"#, r#"{"lr": 1.0, "weight_decay": 0.1, "maximize": true}"#],
    adam: Adam => [r#"{"lr": 0.1}"#, r#"{"lr": 0.1, "amsgrad": true, "weight_decay": 0.1}"#, r#"{"lr": 0.1, "amsgrad": true, "amsgrad_max": "BiasCorrected", "decoupled_weight_decay": true}"#],
    adamw: AdamW => [r#"{"lr": 0.1}"#, r#"{"lr": 0.1, "amsgrad": true}"#],
    adam_bf16: AdamBf16 => [r#"{"lr": 0.1}"#, r#"{"lr": 0.1, "decoupled_weight_decay": true, "weight_decay": 0.1, "maximize": true}"#],
    adam_8bit: Adam8bit => [r#"{"lr": 0.1}"#, r#"{"lr": 0.1, "decoupled_weight_decay": true, "weight_decay": 0.1, "maximize": true}"#],
    nadam: NAdam => [r#"{"lr": 0.1}"#, r#"{"lr": 0.1, "variant": "Optax", "decoupled_weight_decay": true, "weight_decay": 0.1}"#],
    radam: RAdam => [r#"{"lr": 0.1}"#, r#"{"lr": 0.1, "decoupled_weight_decay": true, "weight_decay": 0.1}"#],
    adamax: Adamax => [r#"{"lr": 0.1}"#, r#"{"lr": 0.1, "weight_decay": 0.1}"#],
    yogi: Yogi => [r#"{"lr": 0.1}"#],
    lion: Lion => [r#"{"lr": 0.1}"#, r#"{"lr": 0.1, "weight_decay": 0.0}"#],
    rprop: Rprop => [r#"{"lr": 0.01}"#, r#"{"lr": 0.01, "etas": [0.4, 1.3], "step_sizes": [1e-5, 10.0], "maximize": true}"#],
    asgd: Asgd => [r#"{"lr": 0.01}"#, r#"{"lr": 0.01, "t0": 2.0, "weight_decay": 0.1}"#],
    lamb: Lamb => [r#"{"lr": 0.01}"#, r#"{"lr": 0.01, "weight_decay": 0.1}"#],
    adamw_schedulefree: AdamWScheduleFree => [r#"{"lr": 0.01}"#, r#"{"lr": 0.01, "warmup_steps": 3, "weight_decay": 0.1}"#],
    adafactor: Adafactor => [r#"{"lr": 0.01}"#, r#"{"lr": 0.01, "weight_decay": 0.1, "maximize": true}"#],
    scheduled: Scheduled<Adam, Warmup<Cosine>> => [r#"{"optimizer": {"lr": 1.0, "amsgrad": true}, "schedule": {"steps": 3, "start": 0.0, "inner": {"lr": 0.1, "final_lr": 0.001, "steps": 8}}}"#],
    guarded: SkipNonFinite<RmsProp> => [r#"{"inner": {"lr": 0.01, "centered": true, "momentum": 0.9}}"#],
}

fn fuzz_schedule<S: Schedule + Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(
    seed: &str,
    dice: u64,
) -> Result<(), TestCaseError> {
    let d = &mut Dice(dice);
    let seed: Value = serde_json::from_str(seed).expect("seed JSON");
    let Ok(s) = serde_json::from_value::<S>(mutate(&seed, d, 0)) else { return Ok(()) };
    let ts = [0, 1, 2, d.next() % 1000, d.next(), u64::MAX - 1, u64::MAX];
    for t in ts {
        let lr = s.lr(t);
        // A checked schedule gives a rate >= 0 (infinite at worst: MultiStep with γ > 1,
        // which Scheduled then refuses with a typed error).
        prop_assert!(lr >= 0.0, "lr({t}) = {lr} for {s:?}");
    }
    let json = serde_json::to_string(&s).expect("a schedule serialises");
    prop_assert_eq!(serde_json::from_str::<S>(&json).expect("a loaded schedule loads back"), s);
    Ok(())
}

/// One line per schedule: `name: Type => [configurations as JSON]`. Generates a module of
/// tests per line: `fuzz`, and `round_trips` (each configuration through JSON, equal, with
/// the same rates).
macro_rules! schedules {
    ($($name:ident: $ty:ty => [$($seed:expr),+ $(,)?]),* $(,)?) => {
        mod schedules {
            use super::*;
            $(
                mod $name {
                    use super::*;
                    const SEEDS: &[&str] = &[$($seed),+];

                    proptest! {
                        #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]
                        #[test]
                        fn fuzz(dice in any::<u64>(), which in 0usize..16) {
                            fuzz_schedule::<$ty>(SEEDS[which % SEEDS.len()], dice)?;
                        }
                    }

                    #[test]
                    fn round_trips() {
                        for seed in SEEDS {
                            let s: $ty = serde_json::from_str(seed).expect("the seed loads");
                            let back: $ty = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
                            assert_eq!(back, s);
                            assert_eq!(back.sample(40), s.sample(40));
                        }
                    }
                }
            )*
        }
    };
}

schedules! {
    constant: Constant => [r#"{"lr": 0.1}"#],
    factor: Factor => [r#"{"lr": 2.0, "factor": 0.9, "floor": 0.01}"#],
    multi_step: MultiStep => [r#"{"lr": 0.5, "milestones": [2, 4, 100], "gamma": 0.5}"#],
    exponential: Exponential => [r#"{"lr": 1.0, "gamma": 0.5}"#],
    polynomial: Polynomial => [r#"{"lr": 1.0, "end": 0.0, "power": 2.0, "decay_steps": 4}"#],
    inverse_sqrt: InverseSqrt => [r#"{"lr": 0.1, "timescale": 1.0}"#],
    cosine: Cosine => [r#"{"lr": 0.1, "final_lr": 0.0, "steps": 10}"#],
    cosine_warm_restarts: CosineWarmRestarts => [r#"{"lr": 1.0, "min_lr": 0.0, "first_period": 2, "period_mult": 2}"#, r#"{"lr": 1.0, "min_lr": 0.1, "first_period": 3, "period_mult": 1}"#],
    one_cycle: OneCycle => [r#"{"max_lr": 0.1, "total_steps": 30, "pct_start": 0.3, "div_factor": 25.0, "final_div_factor": 10000.0}"#],
    warmup: Warmup<Cosine> => [r#"{"steps": 3, "start": 0.0, "inner": {"lr": 0.1, "final_lr": 0.0, "steps": 10}}"#],
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    /// Reduce-on-plateau, loaded from a damaged state and shown any metrics: a rate that
    /// stays finite and >= 0, and a state that reads back equal after every observation.
    #[test]
    fn reduce_on_plateau_fuzz(dice in any::<u64>(), max in any::<bool>()) {
        let d = &mut Dice(dice);
        let mut start = ReduceOnPlateau::new(1.0, 0.5, 1).unwrap().cooldown(1, 0.01).unwrap();
        if max {
            start = start.mode(schedule::PlateauMode::Max);
        }
        let seed = serde_json::to_value(&start).unwrap();
        let mut p = serde_json::from_value::<ReduceOnPlateau>(mutate(&seed, d, 0)).unwrap_or(start);
        const METRICS: [f64; 8] = [3.0, 2.0, 2.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -1e308, 0.5];
        for _ in 0..12 {
            let lr = p.observe(*d.pick(&METRICS));
            prop_assert!(lr.is_finite() && lr >= 0.0, "{lr} {p:?}");
            let json = serde_json::to_string(&p).unwrap();
            prop_assert_eq!(serde_json::from_str::<ReduceOnPlateau>(&json).unwrap(), p.clone(), "{}", json);
        }
    }
}

/// The line searches and the classical methods, with absurd step sizes, tolerances and
/// budgets and with objectives that return NaN: Ok or a typed Err.
#[test]
fn classical_methods_with_absurd_inputs_return_errors() {
    use gradstep::classical::{
        Backtracking, Bisection, CgFormula, ConjugateGradient, Lbfgs, LineSearch, Objective, Stop,
        StrongWolfe,
    };
    fn bowl(x: &[f64], g: &mut [f64]) -> f64 {
        g.iter_mut().zip(x).for_each(|(g, x)| *g = 2.0 * x);
        x.iter().map(|x| x * x).sum()
    }
    fn nan_beyond_one(x: &[f64], g: &mut [f64]) -> f64 {
        if x[0].abs() > 1.0 {
            g.fill(f64::NAN);
            return f64::NAN;
        }
        bowl(x, g)
    }
    type Function = fn(&[f64], &mut [f64]) -> f64;
    for f in [bowl as Function, nan_beyond_one] {
        let x = [0.5, -0.25];
        let mut g = [0.0; 2];
        let fx = f.value_grad(&x, &mut g);
        let d = [-g[0], -g[1]];
        for alpha0 in [f64::NAN, -1.0, 0.0, f64::INFINITY, 1e308, 5e-324] {
            let (mut xn, mut gn) = ([0.0; 2], [0.0; 2]);
            let _ = Backtracking::default().search(&f, &x, fx, &g, &d, alpha0, &mut xn, &mut gn);
            let _ = Bisection::new(1e-12, 50).unwrap().search(&f, &x, fx, &g, &d, alpha0, &mut xn, &mut gn);
            let _ = StrongWolfe::default().search(&f, &x, fx, &g, &d, alpha0, &mut xn, &mut gn);
            let _ = StrongWolfe::pytorch(1e-4, 0.9, 1e-9, 25)
                .unwrap()
                .search(&f, &x, fx, &g, &d, alpha0, &mut xn, &mut gn);
        }
        for stop in [
            Stop { max_iter: 0, grad_tol: 0.0 },
            Stop { max_iter: 50, grad_tol: 0.0 },
            Stop { max_iter: 5, grad_tol: f64::NAN },
        ] {
            let _ = Lbfgs::new(usize::MAX).unwrap().minimize(&f, &mut [0.9, 0.9], stop);
            let _ = ConjugateGradient::new(CgFormula::HestenesStiefel).minimize(&f, &mut [0.9, 0.9], stop);
            let _ = ConjugateGradient::new(CgFormula::FletcherReeves).minimize(&bowl, &mut [], stop);
            let _ = Lbfgs::new(3).unwrap().minimize(&bowl, &mut [], stop);
        }
    }
}
