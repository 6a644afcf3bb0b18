//! What the golden tests share: reading hyperparameters by PyTorch name (failing on unknown
//! ones), building any optimizer of the fixture format, and the quadratic's gradient.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use gradstep::schedule::*;
use gradstep::*;
use serde_json::{Map, Value};

/// Reads hyperparameters by PyTorch name and remembers which were read, so that a name
/// nobody asked for (a typo, an unsupported flag) fails loudly.
pub struct Hyper<'a> {
    map: &'a Map<String, Value>,
    used: BTreeSet<&'static str>,
    pub fixture: String,
}

impl<'a> Hyper<'a> {
    /// Hyperparameters `map` of fixture `fixture`.
    pub fn new(map: &'a Map<String, Value>, fixture: &str) -> Self {
        Self { map, used: BTreeSet::new(), fixture: fixture.to_owned() }
    }

    fn f64(&mut self, key: &'static str, default: f64) -> f64 {
        self.used.insert(key);
        match self.map.get(key) {
            None => default,
            Some(v) => v.as_f64().unwrap_or_else(|| panic!("{}: `{key}` is not a number: {v}", self.fixture)),
        }
    }
    fn bool(&mut self, key: &'static str, default: bool) -> bool {
        self.used.insert(key);
        match self.map.get(key) {
            None => default,
            Some(v) => v.as_bool().unwrap_or_else(|| panic!("{}: `{key}` is not a bool: {v}", self.fixture)),
        }
    }
    fn str(&mut self, key: &'static str) -> Option<String> {
        self.used.insert(key);
        self.map.get(key).map(|v| {
            v.as_str().unwrap_or_else(|| panic!("{}: `{key}` is not a string: {v}", self.fixture)).to_owned()
        })
    }
    fn betas(&mut self, default: (f64, f64)) -> (f64, f64) {
        self.used.insert("betas");
        match self.map.get("betas") {
            None => default,
            Some(v) => {
                let a = v.as_array().filter(|a| a.len() == 2);
                let a = a.unwrap_or_else(|| panic!("{}: `betas` is not a pair: {v}", self.fixture));
                let num = |x: &Value| x.as_f64().unwrap_or_else(|| panic!("{}: bad beta {x}", self.fixture));
                (num(&a[0]), num(&a[1]))
            }
        }
    }
    fn pair(&mut self, key: &'static str, default: (f64, f64)) -> (f64, f64) {
        self.used.insert(key);
        match self.map.get(key) {
            None => default,
            Some(v) => {
                let a = v.as_array().filter(|a| a.len() == 2);
                let a = a.unwrap_or_else(|| panic!("{}: `{key}` is not a pair: {v}", self.fixture));
                let num =
                    |x: &Value| x.as_f64().unwrap_or_else(|| panic!("{}: bad `{key}` {x}", self.fixture));
                (num(&a[0]), num(&a[1]))
            }
        }
    }
    fn triple(&mut self, key: &'static str, default: (f64, f64, f64)) -> (f64, f64, f64) {
        self.used.insert(key);
        match self.map.get(key) {
            None => default,
            Some(v) => {
                let a = v.as_array().filter(|a| a.len() == 3);
                let a = a.unwrap_or_else(|| panic!("{}: `{key}` is not a triple: {v}", self.fixture));
                let num =
                    |x: &Value| x.as_f64().unwrap_or_else(|| panic!("{}: bad `{key}` {x}", self.fixture));
                (num(&a[0]), num(&a[1]), num(&a[2]))
            }
        }
    }
    /// A pair whose first entry may be `null` (Adafactor's `eps`).
    fn optional_pair(&mut self, key: &'static str, default: (Option<f64>, f64)) -> (Option<f64>, f64) {
        self.used.insert(key);
        match self.map.get(key) {
            None => default,
            Some(v) => {
                let a = v.as_array().filter(|a| a.len() == 2);
                let a = a.unwrap_or_else(|| panic!("{}: `{key}` is not a pair: {v}", self.fixture));
                let num =
                    |x: &Value| x.as_f64().unwrap_or_else(|| panic!("{}: bad `{key}` {x}", self.fixture));
                (if a[0].is_null() { None } else { Some(num(&a[0])) }, num(&a[1]))
            }
        }
    }
    fn u64(&mut self, key: &'static str, default: u64) -> u64 {
        self.used.insert(key);
        match self.map.get(key) {
            None => default,
            Some(v) => v.as_u64().unwrap_or_else(|| panic!("{}: `{key}` is not a count: {v}", self.fixture)),
        }
    }
    fn eps_placement(&mut self) -> EpsPlacement {
        if self.bool("eps_in_sqrt", false) { EpsPlacement::InsideSqrt } else { EpsPlacement::OutsideSqrt }
    }
    pub fn finish(&self) {
        let unknown: Vec<&String> = self.map.keys().filter(|k| !self.used.contains(k.as_str())).collect();
        assert!(unknown.is_empty(), "{}: unknown hyperparameter(s) {unknown:?}", self.fixture);
    }
}

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
    fn visit<O: Optimizer<f64> + Optimizer<f32> + Clone>(self, opts: Vec<O>) -> Self::Out;
}

/// Builds optimizer `optimizer` (a name of the fixture format) once for each map in `hypers`
/// and hands them to `v`. Unknown names and hyperparameters panic, naming `fixture`.
pub fn with_optimizers<V: Visit>(
    fixture: &str,
    optimizer: &str,
    hypers: &[&Map<String, Value>],
    v: V,
) -> V::Out {
    fn each<O>(fixture: &str, hypers: &[&Map<String, Value>], make: fn(&mut Hyper) -> O) -> Vec<O> {
        hypers
            .iter()
            .map(|m| {
                let mut h = Hyper::new(m, fixture);
                let o = make(&mut h);
                h.finish();
                o
            })
            .collect()
    }
    match optimizer {
        "sgd" => v.visit(each(fixture, hypers, make_sgd)),
        "adagrad" => v.visit(each(fixture, hypers, make_adagrad)),
        "rmsprop" => v.visit(each(fixture, hypers, make_rmsprop)),
        "adadelta" => v.visit(each(fixture, hypers, make_adadelta)),
        "adam" => v.visit(each(fixture, hypers, make_adam)),
        "adamw" => v.visit(each(fixture, hypers, make_adamw)),
        "nadam" => v.visit(each(fixture, hypers, make_nadam)),
        "radam" => v.visit(each(fixture, hypers, make_radam)),
        "adamax" => v.visit(each(fixture, hypers, make_adamax)),
        "yogi" => v.visit(each(fixture, hypers, make_yogi)),
        "lion" => v.visit(each(fixture, hypers, make_lion)),
        "rprop" => v.visit(each(fixture, hypers, make_rprop)),
        "asgd" => v.visit(each(fixture, hypers, make_asgd)),
        "adafactor" => v.visit(each(fixture, hypers, make_adafactor)),
        "muon" => v.visit(each(fixture, hypers, make_muon)),
        "adamw_schedulefree" => v.visit(each(fixture, hypers, make_adamw_schedulefree)),
        "lamb" => v.visit(each(fixture, hypers, make_lamb)),
        other => panic!("{fixture}: unknown optimizer {other:?}"),
    }
}

/// Optimizer `optimizer` of the fixture format as an [`AnyOptimizer`], for runs that mix
/// optimizers in one set of groups. Unknown names and hyperparameters panic, naming `fixture`.
pub fn any_optimizer(fixture: &str, optimizer: &str, hyper: &Map<String, Value>) -> AnyOptimizer {
    let mut h = Hyper::new(hyper, fixture);
    let o: AnyOptimizer = match optimizer {
        "sgd" => make_sgd(&mut h).into(),
        "adagrad" => make_adagrad(&mut h).into(),
        "rmsprop" => make_rmsprop(&mut h).into(),
        "adadelta" => make_adadelta(&mut h).into(),
        "adam" => make_adam(&mut h).into(),
        "adamw" => make_adamw(&mut h).into(),
        "nadam" => make_nadam(&mut h).into(),
        "radam" => make_radam(&mut h).into(),
        "adamax" => make_adamax(&mut h).into(),
        "yogi" => make_yogi(&mut h).into(),
        "lion" => make_lion(&mut h).into(),
        "rprop" => make_rprop(&mut h).into(),
        "asgd" => make_asgd(&mut h).into(),
        "adafactor" => make_adafactor(&mut h).into(),
        "muon" => make_muon(&mut h).into(),
        "adamw_schedulefree" => make_adamw_schedulefree(&mut h).into(),
        "lamb" => make_lamb(&mut h).into(),
        other => panic!("{fixture}: unknown optimizer {other:?}"),
    };
    h.finish();
    o
}

fn make_sgd(h: &mut Hyper) -> Sgd {
    let c = SgdConfig {
        lr: h.f64("lr", 1e-3),
        momentum: h.f64("momentum", 0.0),
        dampening: h.f64("dampening", 0.0),
        nesterov: h.bool("nesterov", false),
        weight_decay: h.f64("weight_decay", 0.0),
        maximize: h.bool("maximize", false),
    };
    build(&h.fixture, Sgd::from_config(c))
}

fn make_adagrad(h: &mut Hyper) -> Adagrad {
    let c = AdagradConfig {
        lr: h.f64("lr", 1e-2),
        lr_decay: h.f64("lr_decay", 0.0),
        weight_decay: h.f64("weight_decay", 0.0),
        initial_accumulator_value: h.f64("initial_accumulator_value", 0.0),
        eps: h.f64("eps", 1e-10),
        eps_placement: h.eps_placement(),
        maximize: h.bool("maximize", false),
    };
    build(&h.fixture, Adagrad::from_config(c))
}

fn make_rmsprop(h: &mut Hyper) -> RmsProp {
    let c = RmsPropConfig {
        lr: h.f64("lr", 1e-2),
        alpha: h.f64("alpha", 0.99),
        eps: h.f64("eps", 1e-8),
        eps_placement: h.eps_placement(),
        weight_decay: h.f64("weight_decay", 0.0),
        momentum: h.f64("momentum", 0.0),
        centered: h.bool("centered", false),
        maximize: h.bool("maximize", false),
    };
    build(&h.fixture, RmsProp::from_config(c))
}

fn make_adadelta(h: &mut Hyper) -> Adadelta {
    let c = AdadeltaConfig {
        lr: h.f64("lr", 1.0),
        rho: h.f64("rho", 0.9),
        eps: h.f64("eps", 1e-6),
        weight_decay: h.f64("weight_decay", 0.0),
        maximize: h.bool("maximize", false),
    };
    build(&h.fixture, Adadelta::from_config(c))
}

fn make_adam(h: &mut Hyper) -> Adam {
    let amsgrad_max = match h.str("amsgrad_max").as_deref() {
        None | Some("raw") => AmsgradMax::Raw,
        Some("bias_corrected") => AmsgradMax::BiasCorrected,
        Some(other) => panic!("{}: unknown amsgrad_max {other:?}", h.fixture),
    };
    let c = AdamConfig {
        lr: h.f64("lr", 1e-3),
        betas: h.betas((0.9, 0.999)),
        eps: h.f64("eps", 1e-8),
        weight_decay: h.f64("weight_decay", 0.0),
        amsgrad: h.bool("amsgrad", false),
        amsgrad_max,
        decoupled_weight_decay: h.bool("decoupled_weight_decay", false),
        maximize: h.bool("maximize", false),
    };
    build(&h.fixture, Adam::from_config(c))
}

fn make_adamw(h: &mut Hyper) -> AdamW {
    let c = AdamWConfig {
        lr: h.f64("lr", 1e-3),
        betas: h.betas((0.9, 0.999)),
        eps: h.f64("eps", 1e-8),
        weight_decay: h.f64("weight_decay", 1e-2),
        amsgrad: h.bool("amsgrad", false),
        maximize: h.bool("maximize", false),
    };
    build(&h.fixture, AdamW::from_config(c))
}

fn make_nadam(h: &mut Hyper) -> NAdam {
    let variant = match h.str("variant").as_deref() {
        None | Some("torch") => NadamVariant::MomentumSchedule,
        Some("optax") => NadamVariant::Optax,
        Some(other) => panic!("{}: unknown NAdam variant {other:?}", h.fixture),
    };
    let c = NAdamConfig {
        lr: h.f64("lr", 2e-3),
        betas: h.betas((0.9, 0.999)),
        eps: h.f64("eps", 1e-8),
        weight_decay: h.f64("weight_decay", 0.0),
        momentum_decay: h.f64("momentum_decay", 4e-3),
        decoupled_weight_decay: h.bool("decoupled_weight_decay", false),
        variant,
        maximize: h.bool("maximize", false),
    };
    build(&h.fixture, NAdam::from_config(c))
}

fn make_radam(h: &mut Hyper) -> RAdam {
    let c = RAdamConfig {
        lr: h.f64("lr", 1e-3),
        betas: h.betas((0.9, 0.999)),
        eps: h.f64("eps", 1e-8),
        weight_decay: h.f64("weight_decay", 0.0),
        decoupled_weight_decay: h.bool("decoupled_weight_decay", false),
        maximize: h.bool("maximize", false),
    };
    build(&h.fixture, RAdam::from_config(c))
}

fn make_adamax(h: &mut Hyper) -> Adamax {
    let c = AdamaxConfig {
        lr: h.f64("lr", 2e-3),
        betas: h.betas((0.9, 0.999)),
        eps: h.f64("eps", 1e-8),
        weight_decay: h.f64("weight_decay", 0.0),
        maximize: h.bool("maximize", false),
    };
    build(&h.fixture, Adamax::from_config(c))
}

fn make_yogi(h: &mut Hyper) -> Yogi {
    let c = YogiConfig {
        lr: h.f64("lr", 1e-2),
        betas: h.betas((0.9, 0.999)),
        eps: h.f64("eps", 1e-3),
        initial_accumulator_value: h.f64("initial_accumulator_value", 1e-6),
        maximize: false,
    };
    build(&h.fixture, Yogi::from_config(c))
}

fn make_lion(h: &mut Hyper) -> Lion {
    let c = LionConfig {
        lr: h.f64("lr", 1e-4),
        betas: h.betas((0.9, 0.99)),
        weight_decay: h.f64("weight_decay", 1e-3),
        maximize: false,
    };
    build(&h.fixture, Lion::from_config(c))
}

fn make_rprop(h: &mut Hyper) -> Rprop {
    let c = RpropConfig {
        lr: h.f64("lr", 1e-2),
        etas: h.pair("etas", (0.5, 1.2)),
        step_sizes: h.pair("step_sizes", (1e-6, 50.0)),
        maximize: h.bool("maximize", false),
    };
    build(&h.fixture, Rprop::from_config(c))
}

fn make_asgd(h: &mut Hyper) -> Asgd {
    let c = AsgdConfig {
        lr: h.f64("lr", 1e-2),
        lambd: h.f64("lambd", 1e-4),
        alpha: h.f64("alpha", 0.75),
        t0: h.f64("t0", 1e6),
        weight_decay: h.f64("weight_decay", 0.0),
        maximize: h.bool("maximize", false),
    };
    build(&h.fixture, Asgd::from_config(c))
}

fn make_adafactor(h: &mut Hyper) -> Adafactor {
    let c = AdafactorConfig {
        lr: h.f64("lr", 1e-2),
        beta2_decay: h.f64("beta2_decay", -0.8),
        eps: h.optional_pair("eps", (None, 1e-3)),
        d: h.f64("d", 1.0),
        weight_decay: h.f64("weight_decay", 0.0),
        maximize: h.bool("maximize", false),
    };
    build(&h.fixture, Adafactor::from_config(c))
}

fn make_muon(h: &mut Hyper) -> Muon {
    let adjust = match h.str("adjust_lr_fn").as_deref() {
        None | Some("original") => AdjustLr::Original,
        Some("match_rms_adamw") => AdjustLr::MatchRmsAdamw,
        Some("spectral_unclamped") => AdjustLr::SpectralUnclamped,
        Some(other) => panic!("{}: unknown adjust_lr_fn {other:?}", h.fixture),
    };
    let steps = h.u64("ns_steps", 5);
    let c = MuonConfig {
        lr: h.f64("lr", 1e-3),
        weight_decay: h.f64("weight_decay", 0.1),
        momentum: h.f64("momentum", 0.95),
        nesterov: h.bool("nesterov", true),
        ns_coefficients: h.triple("ns_coefficients", (3.4445, -4.7750, 2.0315)),
        eps: h.f64("eps", 1e-7),
        ns_steps: u32::try_from(steps)
            .unwrap_or_else(|_| panic!("{}: ns_steps {steps} too large", h.fixture)),
        adjust_lr_fn: adjust,
    };
    build(&h.fixture, Muon::from_config(c))
}

fn make_adamw_schedulefree(h: &mut Hyper) -> AdamWScheduleFree {
    let c = AdamWScheduleFreeConfig {
        lr: h.f64("lr", 0.0025),
        betas: h.betas((0.9, 0.999)),
        eps: h.f64("eps", 1e-8),
        weight_decay: h.f64("weight_decay", 0.0),
        warmup_steps: h.u64("warmup_steps", 0),
        r: h.f64("r", 0.0),
        weight_lr_power: h.f64("weight_lr_power", 2.0),
    };
    build(&h.fixture, AdamWScheduleFree::from_config(c))
}

fn make_lamb(h: &mut Hyper) -> Lamb {
    let c = LambConfig {
        lr: h.f64("lr", 1e-3),
        betas: h.betas((0.9, 0.999)),
        eps: h.f64("eps", 1e-6),
        eps_root: h.f64("eps_root", 0.0),
        weight_decay: h.f64("weight_decay", 0.0),
    };
    build(&h.fixture, Lamb::from_config(c))
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
