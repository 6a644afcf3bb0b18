//! What the golden tests share: reading hyperparameters by PyTorch name (failing on unknown
//! ones), building any optimizer of the fixture format, and the quadratic's gradient.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use gradstep::schedule::*;
use gradstep::*;
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Map, Value};

/// The `*.json` files of `tests/<folder>`, sorted by name.
pub fn fixture_files(folder: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join(folder);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("readable fixtures folder").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

/// Writes `body` to a fixture file of its own in the temporary folder, for the tests that
/// check a bad fixture fails (`suite` and `tag` name it).
pub fn write_temp_fixture(suite: &str, tag: &str, body: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gradstep-{suite}-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("f.json");
    std::fs::write(&p, body).unwrap();
    p
}

/// The largest error of `got` against the reference `want` of step `step` (counted from 1) of
/// fixture `name`, relative to the largest |want|; fails, naming the entry, beyond `rtol`.
pub fn step_error(name: &str, step: usize, got: &[f64], want: &[f64], rtol: f64) -> f64 {
    assert_eq!(want.len(), got.len(), "{name}: step {step} has the wrong length");
    let scale = want.iter().fold(0.0_f64, |m, v| m.max(v.abs())).max(f64::MIN_POSITIVE);
    let mut worst = 0.0_f64;
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let rel = (g - w).abs() / scale;
        assert!(
            rel <= rtol,
            "{name}: step {step}, x[{i}] = {g:e}, reference {w:e} (relative error {rel:e} > rtol {rtol:e})"
        );
        worst = worst.max(rel);
    }
    worst
}

pub fn vec_f64(v: &Value, what: &str, name: &str) -> Vec<f64> {
    v.as_array()
        .unwrap_or_else(|| panic!("{name}: `{what}` is not an array"))
        .iter()
        .map(|x| x.as_f64().unwrap_or_else(|| panic!("{name}: `{what}` has a non-number {x}")))
        .collect()
}

pub fn mat_f64(v: &Value, what: &str, name: &str) -> Vec<Vec<f64>> {
    v.as_array()
        .unwrap_or_else(|| panic!("{name}: `{what}` is not an array"))
        .iter()
        .map(|row| vec_f64(row, what, name))
        .collect()
}

/// ∇f = Ax − b with sequential sums, as the generator forms it in Python floats.
pub fn gradient(a: &[Vec<f64>], b: &[f64], x: &[f64], out: &mut [f64]) {
    for ((row, bi), o) in a.iter().zip(b).zip(out.iter_mut()) {
        let mut s = 0.0;
        for (aij, xj) in row.iter().zip(x) {
            s += aij * xj;
        }
        *o = s - bi;
    }
}

/// The optimizer, or a panic that names the fixture and the rejected hyperparameter.
pub fn build<O>(name: &str, r: gradstep::Result<O>) -> O {
    r.unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Receives the optimizers built for a fixture, whatever their type.
pub trait Visit {
    /// What the visit returns.
    type Out;
    /// Called with one optimizer per hyperparameter map, in order.
    fn visit<O>(self, opts: Vec<O>) -> Self::Out
    where
        O: Optimizer<f64> + Optimizer<f32> + Clone + Into<AnyOptimizer>;
}

/// Builds optimizer `optimizer` (a name of the fixture format) once for each map in `hypers`
/// and hands them to `v`. Unknown names and hyperparameters panic, naming `fixture`.
pub fn with_optimizers<V: Visit>(
    fixture: &str,
    optimizer: &str,
    hypers: &[&Map<String, Value>],
    v: V,
) -> V::Out {
    fn each<O: Serialize + DeserializeOwned>(fixture: &str, hypers: &[&Map<String, Value>]) -> Vec<O> {
        hypers.iter().map(|h| optimizer_from(h, fixture)).collect()
    }
    match optimizer {
        "sgd" => v.visit(each::<Sgd>(fixture, hypers)),
        "adagrad" => v.visit(each::<Adagrad>(fixture, hypers)),
        "rmsprop" => v.visit(each::<RmsProp>(fixture, hypers)),
        "adadelta" => v.visit(each::<Adadelta>(fixture, hypers)),
        "adam" => v.visit(each::<Adam>(fixture, hypers)),
        "adamw" => v.visit(each::<AdamW>(fixture, hypers)),
        "nadam" => v.visit(each::<NAdam>(fixture, hypers)),
        "radam" => v.visit(each::<RAdam>(fixture, hypers)),
        "adamax" => v.visit(each::<Adamax>(fixture, hypers)),
        "yogi" => v.visit(each::<Yogi>(fixture, hypers)),
        "lion" => v.visit(each::<Lion>(fixture, hypers)),
        "rprop" => v.visit(each::<Rprop>(fixture, hypers)),
        "asgd" => v.visit(each::<Asgd>(fixture, hypers)),
        "adafactor" => v.visit(each::<Adafactor>(fixture, hypers)),
        "muon" => v.visit(each::<Muon>(fixture, hypers)),
        "adamw_schedulefree" => v.visit(each::<AdamWScheduleFree>(fixture, hypers)),
        "lamb" => v.visit(each::<Lamb>(fixture, hypers)),
        other => panic!("{fixture}: unknown optimizer {other:?}"),
    }
}

/// Optimizer `optimizer` of the fixture format as an [`AnyOptimizer`], for runs that mix
/// optimizers in one set of groups. Unknown names and hyperparameters panic, naming `fixture`.
pub fn any_optimizer(fixture: &str, optimizer: &str, hyper: &Map<String, Value>) -> AnyOptimizer {
    struct Any;
    impl Visit for Any {
        type Out = AnyOptimizer;
        fn visit<O: Into<AnyOptimizer>>(self, opts: Vec<O>) -> AnyOptimizer {
            opts.into_iter().next().expect("one optimizer").into()
        }
    }
    with_optimizers(fixture, optimizer, &[hyper], Any)
}

/// Optimizer `O` with the fixture's hyperparameters and its config's defaults for the rest,
/// read through serde, so that `from_config` checks it (a rejected value panics, naming the
/// fixture). The hyperparameters are the config's fields, with the fixture format's names for
/// the options PyTorch and optax spell differently ([`config_field`]); a name that is no field
/// (a typo, an unsupported flag) panics rather than being ignored.
fn optimizer_from<O: Serialize + DeserializeOwned>(hyper: &Map<String, Value>, fixture: &str) -> O {
    let read =
        |config: Value| serde_json::from_value::<O>(config).unwrap_or_else(|e| panic!("{fixture}: {e}"));
    let Ok(Value::Object(mut config)) = serde_json::to_value(read(Value::Object(Map::new()))) else {
        panic!("{fixture}: the config is not a JSON object")
    };
    let mut unknown = Vec::new();
    for (key, value) in hyper {
        let (field, value) = config_field(key, value, fixture);
        match config.get_mut(field) {
            Some(slot) => *slot = value,
            None => unknown.push(key),
        }
    }
    assert!(unknown.is_empty(), "{fixture}: unknown hyperparameter(s) {unknown:?}");
    read(Value::Object(config))
}

/// The config field, and its value, of hyperparameter `key` of the fixture format: the same
/// name and value, except for `eps_in_sqrt` (optax's flag for [`EpsPlacement`]) and the
/// lower-case names of NAdam's `variant` and Adam's `amsgrad_max`.
fn config_field<'a>(key: &'a str, value: &Value, fixture: &str) -> (&'a str, Value) {
    let variant = |name: &str| Value::String(name.to_owned());
    match (key, value.as_str()) {
        ("eps_in_sqrt", _) => match value.as_bool() {
            Some(true) => ("eps_placement", variant("InsideSqrt")),
            Some(false) => ("eps_placement", variant("OutsideSqrt")),
            None => panic!("{fixture}: `eps_in_sqrt` is not a bool: {value}"),
        },
        ("variant", Some("torch")) => (key, variant("MomentumSchedule")),
        ("variant", Some("optax")) => (key, variant("Optax")),
        ("amsgrad_max", Some("raw")) => (key, variant("Raw")),
        ("amsgrad_max", Some("bias_corrected")) => (key, variant("BiasCorrected")),
        ("variant" | "amsgrad_max", _) => panic!("{fixture}: unknown {key} {value}"),
        _ => (key, value.clone()),
    }
}

/// Reads schedule parameters by name and fails on names nobody read.
pub struct Params<'a> {
    pub map: &'a Map<String, Value>,
    pub used: BTreeSet<String>,
    pub name: String,
}

impl Params<'_> {
    fn f64(&mut self, k: &str) -> f64 {
        self.used.insert(k.to_owned());
        self.map
            .get(k)
            .and_then(Value::as_f64)
            .unwrap_or_else(|| panic!("{}: missing number `{k}`", self.name))
    }
    fn f64_or(&mut self, k: &str, default: f64) -> f64 {
        if self.map.contains_key(k) { self.f64(k) } else { default }
    }
    fn u64(&mut self, k: &str) -> u64 {
        self.used.insert(k.to_owned());
        self.map
            .get(k)
            .and_then(Value::as_u64)
            .unwrap_or_else(|| panic!("{}: missing integer `{k}`", self.name))
    }
    fn u64_or(&mut self, k: &str, default: u64) -> u64 {
        if self.map.contains_key(k) { self.u64(k) } else { default }
    }
    pub fn finish(self) {
        let unknown: Vec<&String> = self.map.keys().filter(|k| !self.used.contains(*k)).collect();
        assert!(unknown.is_empty(), "{}: unknown parameter(s) {unknown:?}", self.name);
    }
}

/// The first `n` rates of the schedule `kind` with parameters `p` (`doc` is the whole fixture,
/// for reduce-on-plateau's `metrics`).
pub fn sampled(name: &str, kind: &str, p: &mut Params, doc: &Value, n: u64) -> Vec<f64> {
    let ok = |r: gradstep::Result<Vec<f64>>| r.unwrap_or_else(|e| panic!("{name}: {e}"));
    ok((|| {
        Ok(match kind {
            "exponential" => Exponential::new(p.f64("lr"), p.f64("gamma"))?.sample(n),
            "multistep" => {
                p.used.insert("milestones".into());
                let m = doc["params"]["milestones"].as_array().expect("milestones array");
                let m = m.iter().map(|v| v.as_u64().expect("integer milestone")).collect();
                MultiStep::new(p.f64("lr"), m, p.f64("gamma"))?.sample(n)
            }
            "polynomial" => {
                Polynomial::new(p.f64("lr"), p.f64("end"), p.f64("power"), p.u64("decay_steps"))?.sample(n)
            }
            "cosine" => Cosine::new(p.f64("lr"), p.f64("final_lr"), p.u64("steps"))?.sample(n),
            "cosine_warm_restarts" => CosineWarmRestarts::new(
                p.f64("lr"),
                p.f64("min_lr"),
                p.u64("first_period"),
                p.u64("period_mult"),
            )?
            .sample(n),
            "one_cycle" => OneCycle::with(
                p.f64("max_lr"),
                p.u64("total_steps"),
                p.f64_or("pct_start", 0.3),
                p.f64_or("div_factor", 25.0),
                p.f64_or("final_div_factor", 1e4),
            )?
            .sample(n),
            "warmup_cosine" => {
                let (w, start) = (p.u64("warmup_steps"), p.f64("start"));
                Cosine::new(p.f64("lr"), p.f64("final_lr"), p.u64("steps"))?.with_warmup(w, start)?.sample(n)
            }
            "factor" => Factor::new(p.f64("lr"), p.f64("factor"), p.f64("floor"))?.sample(n),
            "reduce_on_plateau" => {
                let mut s = ReduceOnPlateau::new(p.f64("lr"), p.f64("factor"), p.u64("patience"))?
                    .cooldown(p.u64_or("cooldown", 0), p.f64_or("min_lr", 0.0))?;
                p.used.insert("threshold_mode".into());
                let mode = match doc["params"].get("threshold_mode").and_then(Value::as_str) {
                    None | Some("rel") => ThresholdMode::Rel,
                    Some("abs") => ThresholdMode::Abs,
                    Some(m) => panic!("{name}: unknown threshold_mode {m:?}"),
                };
                s = s.threshold(p.f64_or("threshold", 1e-4), mode)?;
                let metrics = doc["metrics"].as_array().expect("metrics array");
                metrics.iter().map(|m| s.observe(m.as_f64().expect("numeric metric"))).collect()
            }
            other => panic!("{name}: unknown schedule {other:?}"),
        })
    })())
}

/// Gradients of a random quadratic-plus-noise problem, decided up front: step `t` sees
/// `g_t = x/2 + noise_t` (the noise repeated along `x`), the same for the interrupted and the
/// uninterrupted run.
pub fn grads_at<T: Float>(x: &[T], noise: &[f64]) -> Vec<T> {
    x.iter().zip(noise.iter().cycle()).map(|(&xi, &n)| xi * T::of(0.5) + T::of(n)).collect()
}

/// Runs one step per entry of `noise` on a tensor of shape `shape` straight, and again with a
/// save and load (through JSON) of the state, the optimizer and the parameters after `cut`
/// steps; the results must be identical bits.
pub fn resume_is_exact<T: Float, O>(
    opt: &O,
    shape: &Shape,
    x0: &[T],
    noise: &[Vec<f64>],
    cut: usize,
) -> Result<(), proptest::test_runner::TestCaseError>
where
    O: Optimizer<T> + Serialize + DeserializeOwned,
{
    let mut x = x0.to_vec();
    let mut s = opt.init_shaped(shape).unwrap();
    for n in noise {
        let g = grads_at(&x, n);
        opt.step(&mut x, &g, &mut s).unwrap();
    }
    let mut y = x0.to_vec();
    let mut s2 = opt.init_shaped(shape).unwrap();
    for n in &noise[..cut] {
        let g = grads_at(&y, n);
        opt.step(&mut y, &g, &mut s2).unwrap();
    }
    let saved = (serde_json::to_string(&s2).unwrap(), serde_json::to_string(opt).unwrap());
    let saved_x = serde_json::to_string(&y).unwrap();
    drop((s2, y));
    let opt2: O = serde_json::from_str(&saved.1).unwrap();
    let mut s2: O::State = serde_json::from_str(&saved.0).unwrap();
    let mut y: Vec<T> = serde_json::from_str(&saved_x).unwrap();
    for n in &noise[cut..] {
        let g = grads_at(&y, n);
        opt2.step(&mut y, &g, &mut s2).unwrap();
    }
    let bits = |v: &[T]| v.iter().map(|a| a.to_f64_lossless().to_bits()).collect::<Vec<_>>();
    proptest::prop_assert_eq!(bits(&x), bits(&y));
    proptest::prop_assert_eq!(s, s2);
    Ok(())
}

/// Three steps of `opt` from `x0` with gradient `g`, serially and split across 3 threads: the
/// parameters and the states must be the same bits.
pub fn threads_match_serial<O: Optimizer<f32>>(opt: O, x0: &[f32], g: &[f32]) {
    let (mut a, mut b) = (x0.to_vec(), x0.to_vec());
    let (mut sa, mut sb) = (opt.init(a.len()), opt.init(b.len()));
    for _ in 0..3 {
        opt.step(&mut a, g, &mut sa).unwrap();
        opt.step_parallel(&mut b, g, &mut sb, 3).unwrap();
    }
    assert_eq!(a, b);
    assert_eq!(sa, sb);
}
