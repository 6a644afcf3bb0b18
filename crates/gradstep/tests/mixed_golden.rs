//! Golden test of one set of parameter groups that mixes optimizers, the way Muon is used:
//! Muon for matrices beside AdamW, Adafactor and LAMB, each group stepping its own tensors
//! (`tools/gen_shaped_fixtures.py` writes the fixtures from torch and optax).
//!
//! Format (`tests/fixtures-mixed/*.json`): `{"name", "reference", "groups": [{"optimizer",
//! "hyper", "shapes"}], "problem": {"A", "b"}, "x0", "trajectory", "rtol"}`. Names and
//! hyperparameters are those of `tests/fixtures`; `shapes` lists each tensor's dimensions.
//! x0 and every trajectory entry are all tensors, flattened row-major and concatenated in
//! order, and f(x) = ½xᵀAx − bᵀx acts on that vector. Replayed with
//! `ParamGroups<f64, AnyOptimizer>`, checkpointed through JSON halfway.

mod common;

use common::{any_optimizer, fixture_files, gradient, mat_f64, step_error, vec_f64};
use gradstep::*;
use serde_json::Value;

fn run(path: &std::path::Path) -> (String, f64) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let name = doc["name"].as_str().unwrap_or_else(|| panic!("{}: no `name`", path.display())).to_owned();
    let mut groups = ParamGroups::<f64, AnyOptimizer>::new();
    let mut shapes = Vec::new();
    for g in doc["groups"].as_array().unwrap_or_else(|| panic!("{name}: no `groups`")) {
        let opt = g["optimizer"].as_str().unwrap_or_else(|| panic!("{name}: group without `optimizer`"));
        let hyper = g["hyper"].as_object().unwrap_or_else(|| panic!("{name}: group without `hyper`"));
        let dims: Vec<Shape> = mat_f64(&g["shapes"], "shapes", &name)
            .iter()
            .map(|d| Shape::new(&d.iter().map(|&v| v as usize).collect::<Vec<_>>()))
            .collect();
        groups.push_shaped(any_optimizer(&name, opt, hyper), &dims).unwrap_or_else(|e| panic!("{name}: {e}"));
        shapes.extend(dims);
    }
    let (a, b) = (mat_f64(&doc["problem"]["A"], "A", &name), vec_f64(&doc["problem"]["b"], "b", &name));
    let mut x = vec_f64(&doc["x0"], "x0", &name);
    let trajectory = mat_f64(&doc["trajectory"], "trajectory", &name);
    let rtol = doc["rtol"].as_f64().unwrap_or_else(|| panic!("{name}: no `rtol`"));
    assert_eq!(shapes.iter().map(Shape::len).sum::<usize>(), x.len(), "{name}: shapes do not cover x0");
    let mut state = groups.init();
    let mut g = vec![0.0; x.len()];
    let mut worst = 0.0_f64;
    for (t, want) in trajectory.iter().enumerate() {
        if t == trajectory.len() / 2 {
            let saved = serde_json::to_string(&(&groups, &state)).unwrap();
            (groups, state) = serde_json::from_str(&saved).unwrap();
        }
        gradient(&a, &b, &x, &mut g);
        let mut xs: Vec<&mut [f64]> = Vec::new();
        let mut gs: Vec<&[f64]> = Vec::new();
        let (mut xr, mut gr) = (&mut x[..], &g[..]);
        for s in &shapes {
            let (xh, xt) = std::mem::take(&mut xr).split_at_mut(s.len());
            let (gh, gt) = gr.split_at(s.len());
            xs.push(xh);
            gs.push(gh);
            (xr, gr) = (xt, gt);
        }
        groups.step(&mut xs, &gs, &mut state).unwrap_or_else(|e| panic!("{name}: step {}: {e}", t + 1));
        worst = worst.max(step_error(&name, t + 1, &x, want, rtol));
    }
    (name, worst)
}

#[test]
fn mixed_groups_match_their_references() {
    let files = fixture_files("fixtures-mixed");
    assert!(!files.is_empty(), "no fixtures found");
    for path in &files {
        let (name, worst) = run(path);
        println!("{name}: largest relative error {worst:e}");
    }
}
