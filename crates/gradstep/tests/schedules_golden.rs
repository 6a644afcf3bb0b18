//! Golden tests of the schedules: every `tests/fixtures-schedules/*.json` (written by
//! `tools/gen_schedule_fixtures.py` from PyTorch's and optax's schedulers) is rebuilt and its
//! learning rates compared with `rtol`. Unknown schedules or parameters fail loudly.

mod common;

use std::collections::BTreeSet;

use common::{Params, fixture_files, sampled};
use serde_json::Value;

#[test]
fn every_schedule_fixture_matches_its_reference() {
    let files = fixture_files("fixtures-schedules");
    assert!(files.len() >= 10, "schedule fixtures missing");
    let mut worst = 0.0_f64;
    for path in &files {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let name = doc["name"].as_str().expect("name").to_owned();
        let kind = doc["schedule"].as_str().expect("schedule");
        let want: Vec<f64> =
            doc["lrs"].as_array().expect("lrs").iter().map(|v| v.as_f64().unwrap()).collect();
        let rtol = doc["rtol"].as_f64().expect("rtol");
        let mut p = Params {
            map: doc["params"].as_object().expect("params"),
            used: BTreeSet::new(),
            name: name.clone(),
        };
        let got = sampled(&name, kind, &mut p, &doc, want.len() as u64);
        p.finish();
        assert_eq!(got.len(), want.len(), "{name}: length");
        for (t, (g, w)) in got.iter().zip(&want).enumerate() {
            let rel = (g - w).abs() / w.abs().max(1e-300);
            assert!(
                rel <= rtol,
                "{name}: step {t}: lr {g:e}, reference {w:e} (relative error {rel:e} > {rtol:e})"
            );
            worst = worst.max(rel);
        }
    }
    println!("{} schedule fixtures passed; largest relative error {worst:e}", files.len());
}
