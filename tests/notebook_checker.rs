//! The notebook checker flags what `jupyter execute` lets through: error outputs, anything on
//! stderr, and panics (an evcxr cell that panics does not fail the execution by itself).

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

fn notebook(outputs: Value) -> Value {
    json!({"cells": [
        {"cell_type": "markdown", "source": "# Title", "metadata": {}},
        {"cell_type": "code", "source": ["let x = 1;\n", "println!(\"{x}\");"], "outputs": outputs, "metadata": {}, "execution_count": 1}
    ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
}

/// Runs the checker on one executed notebook; returns (success, what it printed).
fn check(name: &str, nb: &Value) -> (bool, String) {
    let dir = std::env::temp_dir().join(format!("notebook-checker-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.ipynb"));
    std::fs::write(&path, nb.to_string()).unwrap();
    let script = xtask::root().join("crates/xtask/python/execute_notebooks.py");
    let out =
        Command::new("python3").arg(&script).arg("--check-only").arg(&path).output().expect("python3 runs");
    std::fs::remove_file(Path::new(&path)).unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn a_clean_notebook_passes() {
    let nb = notebook(json!([
        {"output_type": "stream", "name": "stdout", "text": ["epoch 10, x: 0.060466\n"]},
        {"output_type": "execute_result", "data": {"image/svg+xml": "<svg/>"}, "metadata": {}, "execution_count": 1}
    ]));
    let (ok, report) = check("clean", &nb);
    assert!(ok, "{report}");
    assert!(report.contains("notebooks: 1 passed, 0 failed"), "{report}");
}

#[test]
fn error_outputs_fail() {
    let nb = notebook(json!([
        {"output_type": "error", "ename": "Error", "evalue": "cannot find value `y` in this scope", "traceback": []}
    ]));
    let (ok, report) = check("error", &nb);
    assert!(!ok);
    assert!(report.contains("cannot find value `y`") && report.contains("cell 1"), "{report}");
}

#[test]
fn anything_on_stderr_fails() {
    let nb =
        notebook(json!([{"output_type": "stream", "name": "stderr", "text": "warning: unused variable\n"}]));
    let (ok, report) = check("stderr", &nb);
    assert!(!ok);
    assert!(report.contains("stderr: warning: unused variable"), "{report}");
}

#[test]
fn a_panic_reported_on_stdout_fails() {
    let nb = notebook(json!([
        {"output_type": "stream", "name": "stdout", "text": ["thread '<unnamed>' panicked at src/lib.rs:3:5:\n", "boom\n"]}
    ]));
    let (ok, report) = check("panic", &nb);
    assert!(!ok);
    assert!(report.contains("panic: thread '<unnamed>' panicked at"), "{report}");
}
