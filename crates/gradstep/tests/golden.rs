//! Golden tests: replay every fixture in `tests/fixtures/*.json` and compare the trajectory
//! with the one PyTorch or optax produced (`tools/gen_fixtures.py` writes them).
//!
//! Format: `{"name", "reference", "optimizer", "hyper", "problem": {"A", "b"}, "x0",
//! "trajectory", "rtol"}` on f(x) = ½xᵀAx − bᵀx. An unknown optimizer or hyperparameter, a
//! malformed file, or a trajectory entry off by more than `rtol` (relative to the largest
//! |x| of that step) fails the test and names the fixture. An optional `"dtype": "float32"`
//! replays the run in `f32`. An optional `"shape"` (e.g. `[rows, cols]`) gives the optimizer
//! the tensor's shape (`init_shaped`); x0 and the trajectory are its row-major flattening. An
//! optional `"eval_trajectory"` holds the point to evaluate after each step
//! (`Optimizer::eval_point`: ASGD's average, schedule-free's x), checked like the trajectory.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{
    Visit, fixture_files, gradient, mat_f64, step_error, vec_f64, with_optimizers, write_temp_fixture,
};
use gradstep::*;
use serde_json::Value;

struct Fixture {
    name: String,
    a: Vec<Vec<f64>>,
    b: Vec<f64>,
    x0: Vec<f64>,
    trajectory: Vec<Vec<f64>>,
    rtol: f64,
    /// "float64" (default) or "float32".
    dtype: String,
    shape: Option<Shape>,
    eval_trajectory: Option<Vec<Vec<f64>>>,
}

/// Runs `opt` over the fixture's problem in the fixture's element type and returns the
/// largest relative error.
fn replay<O: Optimizer<f64> + Optimizer<f32>>(opt: O, f: &Fixture) -> f64 {
    match f.dtype.as_str() {
        "float64" => replay_as::<f64, O>(&opt, f),
        "float32" => replay_as::<f32, O>(&opt, f),
        other => panic!("{}: unknown dtype {other:?}", f.name),
    }
}

fn replay_as<T: Float, O: Optimizer<T>>(opt: &O, f: &Fixture) -> f64 {
    let mut x: Vec<T> = f.x0.iter().map(|&v| T::of(v)).collect();
    let (mut x64, mut g64) = (vec![0.0; x.len()], vec![0.0; x.len()]);
    let mut g = vec![T::zero(); x.len()];
    let mut state = match &f.shape {
        None => opt.init(x.len()),
        Some(s) => opt.init_shaped(s).unwrap_or_else(|e| panic!("{}: {e}", f.name)),
    };
    let mut eval = vec![T::zero(); x.len()];
    let mut worst = 0.0_f64;
    for (t, expected) in f.trajectory.iter().enumerate() {
        // The gradient is formed in f64 and rounded once to T, as the generator does.
        for (a, b) in x64.iter_mut().zip(&x) {
            *a = b.to_f64_lossless();
        }
        gradient(&f.a, &f.b, &x64, &mut g64);
        for (a, b) in g.iter_mut().zip(&g64) {
            *a = T::of(*b);
        }
        opt.step(&mut x, &g, &mut state).unwrap_or_else(|e| panic!("{}: step {} failed: {e}", f.name, t + 1));
        let got: Vec<f64> = x.iter().map(|v| v.to_f64_lossless()).collect();
        worst = worst.max(step_error(&f.name, t + 1, &got, expected, f.rtol));
        if let Some(evals) = &f.eval_trajectory {
            opt.eval_point(&x, &state, &mut eval).unwrap_or_else(|e| panic!("{}: eval point: {e}", f.name));
            let got: Vec<f64> = eval.iter().map(|v| v.to_f64_lossless()).collect();
            let name = format!("{} (eval point)", f.name);
            worst = worst.max(step_error(&name, t + 1, &got, &evals[t], f.rtol));
        }
    }
    worst
}

fn run_fixture(path: &Path) -> (String, f64) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: invalid JSON: {e}", path.display()));
    let name = doc["name"].as_str().unwrap_or_else(|| panic!("{}: no `name`", path.display())).to_owned();
    let field = |k: &str| doc.get(k).unwrap_or_else(|| panic!("{name}: no `{k}`"));
    let problem = field("problem");
    let f = Fixture {
        a: mat_f64(&problem["A"], "problem.A", &name),
        b: vec_f64(&problem["b"], "problem.b", &name),
        x0: vec_f64(field("x0"), "x0", &name),
        trajectory: mat_f64(field("trajectory"), "trajectory", &name),
        rtol: field("rtol").as_f64().unwrap_or_else(|| panic!("{name}: `rtol` is not a number")),
        dtype: match doc.get("dtype") {
            None => "float64".to_owned(),
            Some(v) => v.as_str().unwrap_or_else(|| panic!("{name}: `dtype` is not a string")).to_owned(),
        },
        shape: doc.get("shape").map(|v| {
            let dims: Vec<usize> = vec_f64(v, "shape", &name)
                .iter()
                .map(|&d| {
                    assert!(d >= 0.0 && d.fract() == 0.0, "{name}: `shape` has a non-count {d}");
                    d as usize
                })
                .collect();
            Shape::new(&dims)
        }),
        eval_trajectory: doc.get("eval_trajectory").map(|v| mat_f64(v, "eval_trajectory", &name)),
        name: name.clone(),
    };
    assert!(!f.trajectory.is_empty(), "{name}: empty trajectory");
    if let Some(s) = &f.shape {
        assert_eq!(s.len(), f.x0.len(), "{name}: `shape` does not match x0");
    }
    if let Some(e) = &f.eval_trajectory {
        assert_eq!(e.len(), f.trajectory.len(), "{name}: eval_trajectory and trajectory differ in length");
    }
    assert!(f.a.len() == f.x0.len() && f.b.len() == f.x0.len(), "{name}: A, b and x0 disagree in size");
    let optimizer =
        field("optimizer").as_str().unwrap_or_else(|| panic!("{name}: `optimizer` is not a string"));
    let hyper = field("hyper").as_object().unwrap_or_else(|| panic!("{name}: `hyper` is not an object"));
    struct Replay<'a>(&'a Fixture);
    impl Visit for Replay<'_> {
        type Out = f64;
        fn visit<O: Optimizer<f64> + Optimizer<f32> + Clone>(self, opts: Vec<O>) -> f64 {
            let opt = opts.into_iter().next().expect("one optimizer");
            replay(opt, self.0)
        }
    }
    let worst = with_optimizers(&name, optimizer, &[hyper], Replay(&f));
    (name, worst)
}

#[test]
fn every_fixture_matches_its_reference_trajectory() {
    let files = fixture_files("fixtures");
    assert!(!files.is_empty(), "no fixtures found");
    // The largest relative error seen, per element type.
    let mut worst: std::collections::BTreeMap<String, (String, f64)> = Default::default();
    let mut optimizers = BTreeSet::new();
    // Fixture count and largest relative error per optimizer.
    let mut per_optimizer: std::collections::BTreeMap<String, (usize, f64)> = Default::default();
    for path in &files {
        let (name, err) = run_fixture(path);
        let text = std::fs::read_to_string(path).unwrap();
        let doc: Value = serde_json::from_str(&text).unwrap();
        let opt = doc["optimizer"].as_str().unwrap().to_owned();
        let dtype = doc.get("dtype").and_then(Value::as_str).unwrap_or("float64").to_owned();
        let o = per_optimizer.entry(format!("{opt} ({dtype})")).or_insert((0, 0.0));
        *o = (o.0 + 1, o.1.max(err));
        optimizers.insert(opt);
        let w = worst.entry(dtype).or_insert((String::new(), 0.0));
        if err >= w.1 {
            *w = (name, err);
        }
    }
    println!("{} fixtures passed", files.len());
    for (dtype, (name, err)) in &worst {
        println!("  {dtype}: largest relative error {err:e} ({name})");
    }
    for (opt, (count, err)) in &per_optimizer {
        println!("  {opt}: {count} fixtures, largest relative error {err:e}");
    }
    // Every optimizer of the format is covered by at least one fixture.
    for o in [
        "sgd",
        "adagrad",
        "rmsprop",
        "adadelta",
        "adam",
        "adamw",
        "nadam",
        "radam",
        "adamax",
        "yogi",
        "lion",
        "rprop",
        "asgd",
        "adafactor",
        "muon",
        "adamw_schedulefree",
        "lamb",
    ] {
        assert!(optimizers.contains(o), "no fixture for {o}");
    }
}

const BASE: &str = r#"{"name": "t", "reference": "hand", "optimizer": "sgd", "hyper": {"lr": 0.5},
  "problem": {"A": [[1.0]], "b": [0.0]}, "x0": [1.0], "trajectory": [[0.5], [0.25]], "rtol": 1e-12}"#;

#[test]
fn a_hand_made_fixture_passes() {
    // x ← x − 0.5·x halves x each step.
    let (_, err) = run_fixture(&write_temp_fixture("golden", "ok", BASE));
    assert_eq!(err, 0.0);
}

#[test]
#[should_panic(expected = "unknown optimizer \"adamq\"")]
fn an_unknown_optimizer_fails_loudly() {
    run_fixture(&write_temp_fixture("golden", "opt", &BASE.replace("\"sgd\"", "\"adamq\"")));
}

#[test]
#[should_panic(expected = "unknown hyperparameter(s) [\"momentun\"]")]
fn an_unknown_hyperparameter_fails_loudly() {
    run_fixture(&write_temp_fixture(
        "golden",
        "hyp",
        &BASE.replace("{\"lr\": 0.5}", "{\"lr\": 0.5, \"momentun\": 0.9}"),
    ));
}

#[test]
#[should_panic(expected = "unknown dtype \"float16\"")]
fn an_unknown_dtype_fails_loudly() {
    run_fixture(&write_temp_fixture(
        "golden",
        "dtype",
        &BASE.replace("\"rtol\"", "\"dtype\": \"float16\", \"rtol\""),
    ));
}

#[test]
#[should_panic(expected = "relative error")]
fn a_trajectory_off_by_more_than_rtol_fails() {
    run_fixture(&write_temp_fixture("golden", "traj", &BASE.replace("[0.25]", "[0.2500001]")));
}

#[test]
fn a_hand_made_shaped_fixture_passes_and_a_wrong_shape_fails() {
    // A 1×2 matrix of Muon with no momentum, decay or lr scaling: the 1×2 update is g/|g|,
    // here (0.6, 0.8) exactly up to rounding, for a gradient (3, 4) = A x with A = 0 and b = (-3, -4).
    let body = r#"{"name": "m", "reference": "hand", "optimizer": "muon",
      "hyper": {"lr": 0.5, "weight_decay": 0.0, "momentum": 0.0, "nesterov": false,
                "ns_coefficients": [1.5, -0.5, 0.0], "ns_steps": 60},
      "problem": {"A": [[0.0, 0.0], [0.0, 0.0]], "b": [-3.0, -4.0]}, "shape": [1, 2],
      "x0": [0.0, 0.0], "trajectory": [[-0.3, -0.4], [-0.6, -0.8]], "rtol": 1e-12}"#;
    let (_, err) = run_fixture(&write_temp_fixture("golden", "shaped", body));
    assert!(err < 1e-12, "{err}");
    let bad = body.replace("[1, 2]", "[2, 2]");
    let r = std::panic::catch_unwind(|| run_fixture(&write_temp_fixture("golden", "shaped-bad", &bad)));
    assert!(r.is_err());
}
