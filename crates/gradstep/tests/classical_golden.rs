//! Golden tests of the classical methods: replay every fixture in
//! `tests/fixtures-classical/*.json` (written by `tools/gen_classical_fixtures.py`; the format
//! is in that folder's README) and compare with the reference trajectory.
//!
//! - `lbfgs`: `torch.optim.LBFGS`, replayed with [`LbfgsTorch`]; x after every
//!   `optimizer.step(closure)` call and the number of objective evaluations so far.
//! - `cg`: `scipy.sparse.linalg.cg` on a quadratic, replayed with nonlinear conjugate
//!   gradient (each of the three β formulas) and an exact line search ([`Bisection`]).
//! - `newton`: pure Newton, $x - H^{-1}\nabla f$ with numpy's `linalg.solve` (a closed form).
//!
//! A key the reader does not know, anywhere in a file, fails the test and names the fixture;
//! so does any entry further than the file's `rtol` from the reference (relative to the
//! largest |x| of that step), or a different evaluation count.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{fixture_files, mat_f64, step_error, vec_f64, write_temp_fixture};
use gradstep::classical::{
    Bisection, CgFormula, ConjugateGradient, HessianObjective, LbfgsLineSearch, LbfgsTorch, LbfgsTorchConfig,
    Newton, Objective, Quadratic, Stop,
};
use serde_json::{Map, Value};

/// The chained Rosenbrock function $\sum_i (1-x_i)^2 + 100(x_{i+1}-x_i^2)^2$ (in 2-D the
/// classic one), in the generator's operation order.
struct Rosenbrock;

impl Objective for Rosenbrock {
    fn value_grad(&self, x: &[f64], g: &mut [f64]) -> f64 {
        g.iter_mut().for_each(|v| *v = 0.0);
        let mut f = 0.0;
        for i in 0..x.len() - 1 {
            let (a, b) = (1.0 - x[i], x[i + 1] - x[i] * x[i]);
            f += a * a + 100.0 * b * b;
            g[i] += -2.0 * a - 400.0 * x[i] * b;
            g[i + 1] += 200.0 * b;
        }
        f
    }
}

impl HessianObjective for Rosenbrock {
    fn hessian(&self, x: &[f64], h: &mut [f64]) {
        let n = x.len();
        h.iter_mut().for_each(|v| *v = 0.0);
        for i in 0..n - 1 {
            h[i * n + i] += 2.0 - 400.0 * (x[i + 1] - x[i] * x[i]) + 800.0 * x[i] * x[i];
            h[i * n + i + 1] += -400.0 * x[i];
            h[(i + 1) * n + i] += -400.0 * x[i];
            h[(i + 1) * n + i + 1] += 200.0;
        }
    }
}

enum Problem {
    Quadratic(Quadratic),
    Rosenbrock,
}

impl Objective for Problem {
    fn value_grad(&self, x: &[f64], g: &mut [f64]) -> f64 {
        match self {
            Problem::Quadratic(q) => q.value_grad(x, g),
            Problem::Rosenbrock => Rosenbrock.value_grad(x, g),
        }
    }
}

impl HessianObjective for Problem {
    fn hessian(&self, x: &[f64], h: &mut [f64]) {
        match self {
            Problem::Quadratic(q) => q.hessian(x, h),
            Problem::Rosenbrock => Rosenbrock.hessian(x, h),
        }
    }
}

/// Fails unless every key of `obj` is one of `allowed`.
fn only_keys(obj: &Map<String, Value>, allowed: &[&str], what: &str, name: &str) {
    let unknown: Vec<&String> = obj.keys().filter(|k| !allowed.contains(&k.as_str())).collect();
    assert!(unknown.is_empty(), "{name}: unknown key(s) {unknown:?} in {what}");
}

struct Fixture {
    name: String,
    method: String,
    hyper: Map<String, Value>,
    problem: Problem,
    x0: Vec<f64>,
    trajectory: Vec<Vec<f64>>,
    func_evals: Option<Vec<usize>>,
    rtol: f64,
}

fn read_fixture(path: &Path) -> Fixture {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: invalid JSON: {e}", path.display()));
    let doc = doc.as_object().unwrap_or_else(|| panic!("{}: not a JSON object", path.display()));
    let name = doc.get("name").and_then(Value::as_str);
    let name = name.unwrap_or_else(|| panic!("{}: no `name`", path.display())).to_owned();
    let allowed =
        ["name", "reference", "method", "hyper", "problem", "x0", "trajectory", "func_evals", "rtol"];
    only_keys(doc, &allowed, "the file", &name);
    let field = |k: &str| doc.get(k).unwrap_or_else(|| panic!("{name}: no `{k}`"));
    assert!(field("reference").is_string(), "{name}: `reference` is not a string");
    let method = field("method").as_str().unwrap_or_else(|| panic!("{name}: `method` is not a string"));
    let problem =
        field("problem").as_object().unwrap_or_else(|| panic!("{name}: `problem` is not an object"));
    let kind = problem.get("kind").and_then(Value::as_str);
    let problem = match kind.unwrap_or_else(|| panic!("{name}: `problem.kind` is not a string")) {
        "quadratic" => {
            only_keys(problem, &["kind", "A", "b"], "problem", &name);
            let (a, b) =
                (mat_f64(&problem["A"], "problem.A", &name), vec_f64(&problem["b"], "problem.b", &name));
            Problem::Quadratic(Quadratic::new(a, b).unwrap_or_else(|e| panic!("{name}: {e}")))
        }
        "rosenbrock" => {
            only_keys(problem, &["kind"], "problem", &name);
            Problem::Rosenbrock
        }
        other => panic!("{name}: unknown problem kind {other:?}"),
    };
    let func_evals = doc.get("func_evals").map(|v| {
        let v = v.as_array().unwrap_or_else(|| panic!("{name}: `func_evals` is not an array"));
        v.iter()
            .map(|n| n.as_u64().unwrap_or_else(|| panic!("{name}: bad evaluation count {n}")) as usize)
            .collect()
    });
    let fixture = Fixture {
        method: method.to_owned(),
        hyper: field("hyper")
            .as_object()
            .unwrap_or_else(|| panic!("{name}: `hyper` is not an object"))
            .clone(),
        problem,
        x0: vec_f64(field("x0"), "x0", &name),
        trajectory: mat_f64(field("trajectory"), "trajectory", &name),
        func_evals,
        rtol: field("rtol").as_f64().unwrap_or_else(|| panic!("{name}: `rtol` is not a number")),
        name,
    };
    assert!(!fixture.trajectory.is_empty(), "{}: empty trajectory", fixture.name);
    fixture
}

/// [`step_error`] of `got` against the fixture's step `k` (counted from 0).
fn compare(f: &Fixture, k: usize, got: &[f64]) -> f64 {
    step_error(&f.name, k + 1, got, &f.trajectory[k], f.rtol)
}

fn lbfgs_config(f: &Fixture) -> LbfgsTorchConfig {
    let h = &f.hyper;
    let allowed = [
        "lr",
        "max_iter",
        "max_eval",
        "tolerance_grad",
        "tolerance_change",
        "history_size",
        "line_search_fn",
    ];
    only_keys(h, &allowed, "hyper", &f.name);
    let num =
        |k: &str| h.get(k).map(|v| v.as_f64().unwrap_or_else(|| panic!("{}: `{k}` is not a number", f.name)));
    let count =
        |k: &str| h.get(k).map(|v| v.as_u64().unwrap_or_else(|| panic!("{}: `{k}` is not a count", f.name)));
    let d = LbfgsTorchConfig::default();
    LbfgsTorchConfig {
        lr: num("lr").unwrap_or(d.lr),
        max_iter: count("max_iter").map_or(d.max_iter, |v| v as usize),
        max_eval: count("max_eval").map(|v| v as usize),
        tolerance_grad: num("tolerance_grad").unwrap_or(d.tolerance_grad),
        tolerance_change: num("tolerance_change").unwrap_or(d.tolerance_change),
        history_size: count("history_size").map_or(d.history_size, |v| v as usize),
        line_search_fn: match h.get("line_search_fn").map(Value::as_str) {
            None => LbfgsLineSearch::FixedStep,
            Some(Some("strong_wolfe")) => LbfgsLineSearch::StrongWolfe,
            Some(other) => panic!("{}: unknown line_search_fn {other:?}", f.name),
        },
    }
}

fn replay_lbfgs(f: &Fixture) -> f64 {
    let opt = LbfgsTorch::from_config(lbfgs_config(f)).unwrap_or_else(|e| panic!("{}: {e}", f.name));
    let evals = f.func_evals.as_ref().unwrap_or_else(|| panic!("{}: no `func_evals`", f.name));
    assert_eq!(evals.len(), f.trajectory.len(), "{}: one evaluation count per call", f.name);
    let mut x = f.x0.clone();
    let mut state = opt.init(x.len());
    let mut worst = 0.0_f64;
    for (k, &expected_evals) in evals.iter().enumerate() {
        opt.step(&f.problem, &mut x, &mut state)
            .unwrap_or_else(|e| panic!("{}: call {} failed: {e}", f.name, k + 1));
        worst = worst.max(compare(f, k, &x));
        assert_eq!(state.func_evals, expected_evals, "{}: evaluations after call {}", f.name, k + 1);
    }
    worst
}

fn replay_cg(f: &Fixture) -> f64 {
    only_keys(&f.hyper, &[], "hyper", &f.name);
    assert!(matches!(f.problem, Problem::Quadratic(_)), "{}: CG fixtures are quadratics", f.name);
    let mut worst = 0.0_f64;
    for formula in [CgFormula::FletcherReeves, CgFormula::PolakRibierePlus, CgFormula::HestenesStiefel] {
        let cg = ConjugateGradient::new(formula).with_line_search(Bisection::default());
        let mut x = f.x0.clone();
        let mut iterates = Vec::new();
        let stop = Stop { max_iter: f.trajectory.len(), grad_tol: 0.0 };
        cg.minimize_with(&f.problem, &mut x, stop, |x, _| iterates.push(x.to_vec()))
            .unwrap_or_else(|e| panic!("{} ({formula:?}): {e}", f.name));
        assert_eq!(iterates.len(), f.trajectory.len(), "{} ({formula:?}): iterations", f.name);
        for (k, x) in iterates.iter().enumerate() {
            worst = worst.max(compare(f, k, x));
        }
    }
    worst
}

fn replay_newton(f: &Fixture) -> f64 {
    only_keys(&f.hyper, &["lr"], "hyper", &f.name);
    let lr = f.hyper.get("lr").map_or(1.0, |v| v.as_f64().unwrap_or_else(|| panic!("{}: bad `lr`", f.name)));
    let newton = Newton::new(lr).unwrap_or_else(|e| panic!("{}: {e}", f.name));
    let mut x = f.x0.clone();
    let mut state = newton.init(x.len());
    let mut worst = 0.0_f64;
    for k in 0..f.trajectory.len() {
        newton
            .step(&f.problem, &mut x, &mut state)
            .unwrap_or_else(|e| panic!("{}: step {}: {e}", f.name, k + 1));
        worst = worst.max(compare(f, k, &x));
    }
    worst
}

fn run_fixture(path: &Path) -> (String, String, f64) {
    let f = read_fixture(path);
    assert_eq!(f.x0.len(), f.trajectory[0].len(), "{}: x0 and the trajectory disagree in size", f.name);
    let worst = match f.method.as_str() {
        "lbfgs" => replay_lbfgs(&f),
        "cg" => replay_cg(&f),
        "newton" => replay_newton(&f),
        other => panic!("{}: unknown method {other:?}", f.name),
    };
    if f.method != "lbfgs" {
        assert!(f.func_evals.is_none(), "{}: `func_evals` is only for lbfgs", f.name);
    }
    (f.method, f.name, worst)
}

#[test]
fn every_classical_fixture_matches_its_reference() {
    let files = fixture_files("fixtures-classical");
    let mut worst: BTreeMap<String, (String, f64, usize)> = BTreeMap::new();
    for path in &files {
        let (method, name, err) = run_fixture(path);
        let w = worst.entry(method).or_insert((String::new(), 0.0, 0));
        w.2 += 1;
        if err >= w.1 {
            (w.0, w.1) = (name, err);
        }
    }
    println!("{} classical fixtures passed", files.len());
    for (method, (name, err, count)) in &worst {
        println!("  {method}: {count} fixtures, largest relative error {err:e} ({name})");
    }
    for method in ["lbfgs", "cg", "newton"] {
        assert!(worst.contains_key(method), "no fixture for {method}");
    }
}

/// f = ½x², g = x: PyTorch's first iteration scales the step by min(1, 1/|g|) = 1/2, so one
/// iteration from x = 2 with lr = 1 lands on 1 (one evaluation: the last iteration of a call
/// does not evaluate again).
const BASE: &str = r#"{"name": "t", "reference": "hand", "method": "lbfgs", "hyper": {"max_iter": 1},
  "problem": {"kind": "quadratic", "A": [[1.0]], "b": [0.0]}, "x0": [2.0], "trajectory": [[1.0]],
  "func_evals": [1], "rtol": 1e-15}"#;

#[test]
fn a_hand_made_fixture_passes() {
    let (_, _, err) = run_fixture(&write_temp_fixture("classical", "ok", BASE));
    assert_eq!(err, 0.0);
}

#[test]
fn bad_fixtures_fail_loudly_and_name_the_problem() {
    // (what is wrong, text of BASE to replace, its replacement, the expected message)
    let cases = [
        ("hyperparameter", "\"max_iter\"", "\"history\"", "unknown key(s) [\"history\"] in hyper"),
        (
            "top-level key",
            "\"rtol\"",
            "\"trajectroy\": [], \"rtol\"",
            "unknown key(s) [\"trajectroy\"] in the file",
        ),
        ("method", "\"lbfgs\"", "\"bfgs\"", "unknown method \"bfgs\""),
        ("problem", "\"quadratic\"", "\"beale\"", "unknown problem kind \"beale\""),
        ("trajectory", "[[1.0]]", "[[1.0000001]]", "relative error"),
        ("evaluation count", "[1],", "[2],", "evaluations after call 1"),
    ];
    for (what, from, to, expected) in cases {
        let path = write_temp_fixture("classical", what, &BASE.replace(from, to));
        let panic = std::panic::catch_unwind(|| run_fixture(&path)).expect_err(what);
        let message = panic.downcast_ref::<String>().map_or("", String::as_str);
        assert!(message.contains(expected), "{what}: the panic says {message:?}");
    }
}
