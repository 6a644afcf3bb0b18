//! Golden tests of training with several tensors: parameter groups with their own
//! hyperparameters, gradient clipping by norm and by value, and a schedule driving the
//! groups' learning rates, against PyTorch (`tools/gen_training_fixtures.py` writes
//! `tests/fixtures-training/*.json`; its docstring gives the format).

mod common;

use std::collections::BTreeSet;

use common::{
    Params, Visit, fixture_files, gradient, mat_f64, sampled, step_error, vec_f64, with_optimizers,
};
use gradstep::clip::{clip_by_global_norm, clip_by_value};
use gradstep::{Optimizer, ParamGroups};
use serde_json::{Map, Value};

struct Case {
    name: String,
    a: Vec<Vec<f64>>,
    b: Vec<f64>,
    x0: Vec<f64>,
    split: Vec<usize>,
    /// Tensor indices of each group.
    groups: Vec<Vec<usize>>,
    clip_norm: Option<f64>,
    clip_value: Option<f64>,
    /// The lr factor of every step, if there is a schedule.
    factors: Option<Vec<f64>>,
    trajectory: Vec<Vec<f64>>,
    rtol: f64,
}

struct Train<'a>(&'a Case);

impl Visit for Train<'_> {
    type Out = f64;
    fn visit<O: Optimizer<f64> + Optimizer<f32> + Clone>(self, opts: Vec<O>) -> f64 {
        let c = self.0;
        let n = c.x0.len();
        let offsets: Vec<usize> =
            c.split.iter().scan(0, |o, &s| Some(std::mem::replace(o, *o + s))).collect();
        // The groups list tensors by index; ParamGroups takes them group after group.
        let order: Vec<usize> = c.groups.iter().flatten().copied().collect();
        let mut groups = ParamGroups::<f64, O>::new();
        for (opt, tensors) in opts.into_iter().zip(&c.groups) {
            let lens: Vec<usize> = tensors.iter().map(|&t| c.split[t]).collect();
            groups.push(opt, &lens);
        }
        let mut state = groups.init();
        let mut x = c.x0.clone();
        let mut g = vec![0.0; n];
        let mut worst = 0.0_f64;
        for (t, want) in c.trajectory.iter().enumerate() {
            gradient(&c.a, &c.b, &x, &mut g);
            {
                let mut gs: Vec<&mut [f64]> = split_mut(&mut g, &c.split);
                if let Some(m) = c.clip_norm {
                    clip_by_global_norm(&mut gs, m).unwrap();
                }
                if let Some(v) = c.clip_value {
                    for gi in gs.iter_mut() {
                        clip_by_value(gi, v).unwrap();
                    }
                }
            }
            if let Some(f) = &c.factors {
                groups.set_lr_factor(f[t]).unwrap();
            }
            let mut xs: Vec<Option<&mut [f64]>> = split_mut(&mut x, &c.split).into_iter().map(Some).collect();
            let mut params: Vec<&mut [f64]> =
                order.iter().map(|&i| xs[i].take().expect("tensor in one group")).collect();
            let grads: Vec<&[f64]> = order.iter().map(|&i| &g[offsets[i]..offsets[i] + c.split[i]]).collect();
            groups.step(&mut params, &grads, &mut state).unwrap_or_else(|e| panic!("{}: {e}", c.name));
            worst = worst.max(step_error(&c.name, t + 1, &x, want, c.rtol));
        }
        worst
    }
}

fn split_mut<'a>(mut v: &'a mut [f64], sizes: &[usize]) -> Vec<&'a mut [f64]> {
    let mut out = Vec::new();
    for &s in sizes {
        let (h, t) = std::mem::take(&mut v).split_at_mut(s);
        out.push(h);
        v = t;
    }
    out
}

#[test]
fn every_training_fixture_matches_pytorch() {
    let files = fixture_files("fixtures-training");
    assert!(files.len() >= 8, "training fixtures missing");
    let known: BTreeSet<&str> = [
        "name",
        "reference",
        "optimizer",
        "split",
        "groups",
        "clip_grad_norm",
        "clip_grad_value",
        "schedule",
        "problem",
        "x0",
        "trajectory",
        "rtol",
    ]
    .into();
    let mut worst = 0.0_f64;
    for path in &files {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let name = doc["name"].as_str().expect("name").to_owned();
        let obj = doc.as_object().unwrap();
        for k in obj.keys() {
            assert!(known.contains(k.as_str()), "{name}: unknown key {k:?}");
        }
        let trajectory = mat_f64(&doc["trajectory"], "trajectory", &name);
        let groups_json = doc["groups"].as_array().expect("groups");
        let hypers: Vec<&Map<String, Value>> =
            groups_json.iter().map(|g| g["hyper"].as_object().expect("hyper")).collect();
        let factors = doc.get("schedule").map(|spec| {
            let kind = spec["schedule"].as_str().expect("schedule kind");
            let mut p = Params {
                map: spec["params"].as_object().expect("params"),
                used: BTreeSet::new(),
                name: name.clone(),
            };
            let f = sampled(&name, kind, &mut p, spec, trajectory.len() as u64);
            p.finish();
            f
        });
        let case = Case {
            a: mat_f64(&doc["problem"]["A"], "A", &name),
            b: vec_f64(&doc["problem"]["b"], "b", &name),
            x0: vec_f64(&doc["x0"], "x0", &name),
            split: doc["split"]
                .as_array()
                .expect("split")
                .iter()
                .map(|v| v.as_u64().unwrap() as usize)
                .collect(),
            groups: groups_json
                .iter()
                .map(|g| {
                    g["tensors"]
                        .as_array()
                        .expect("tensors")
                        .iter()
                        .map(|v| v.as_u64().unwrap() as usize)
                        .collect()
                })
                .collect(),
            clip_norm: doc.get("clip_grad_norm").map(|v| v.as_f64().unwrap()),
            clip_value: doc.get("clip_grad_value").map(|v| v.as_f64().unwrap()),
            factors,
            trajectory,
            rtol: doc["rtol"].as_f64().expect("rtol"),
            name: name.clone(),
        };
        assert_eq!(case.split.iter().sum::<usize>(), case.x0.len(), "{name}: split");
        let optimizer = doc["optimizer"].as_str().expect("optimizer");
        worst = worst.max(with_optimizers(&name, optimizer, &hypers, Train(&case)));
    }
    println!("{} training fixtures passed; largest relative error {worst:e}", files.len());
}
