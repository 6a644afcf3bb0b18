//! The committed notebooks are exactly what the generator makes from the chapters: a chapter
//! edited without `cargo xtask notebooks`, or a notebook edited by hand, fails here.

use std::path::Path;

#[test]
fn every_chapter_has_its_notebook_and_nothing_else_is_in_notebooks() {
    let root = xtask::root();
    let chapters = xtask::chapter_names().expect("book/SUMMARY.md is readable");
    assert!(chapters.contains(&"gd".to_string()), "the gradient-descent chapter is in SUMMARY.md");
    for entry in std::fs::read_dir(root.join("notebooks")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "ipynb") {
            let stem = path.file_stem().unwrap().to_string_lossy().to_string();
            assert!(chapters.contains(&stem), "{} has no chapter in book/SUMMARY.md", path.display());
        }
    }
}

#[test]
fn pages_without_rust_code_get_no_notebook() {
    let chapters = xtask::chapter_names().unwrap();
    let summary = std::fs::read_to_string(xtask::root().join("book/SUMMARY.md")).unwrap();
    assert!(summary.contains("(licence.md)"), "the licence note is in SUMMARY.md");
    assert!(!chapters.contains(&"licence".to_string()), "the licence note has no code, so no notebook");
    assert!(!chapters.contains(&"index".to_string()));
}

#[test]
fn committed_notebooks_match_their_chapters() {
    let root = xtask::root();
    let deps = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let chapters = xtask::chapter_names().unwrap();
    let mut stale = Vec::new();
    for name in &chapters {
        let md = std::fs::read_to_string(root.join(format!("book/{name}.md"))).unwrap();
        let expected = xtask::notebook::to_string(&xtask::notebook::generate(name, &md, &deps, &chapters));
        let path = root.join(format!("notebooks/{name}.ipynb"));
        match std::fs::read_to_string(&path) {
            Ok(committed) if committed == expected => {}
            Ok(committed) => stale.push(describe_difference(&path, &committed, &expected)),
            Err(_) => stale.push(format!("{} is missing", path.display())),
        }
    }
    assert!(
        stale.is_empty(),
        "notebooks out of sync with their chapters; run `cargo xtask notebooks`:\n{}",
        stale.join("\n")
    );
}

/// Names the first differing cell, so the failure says what drifted.
fn describe_difference(path: &Path, committed: &str, expected: &str) -> String {
    let parse =
        |s: &str| serde_json::from_str::<serde_json::Value>(s).map(|v| xtask::notebook::cell_sources(&v));
    match (parse(committed), parse(expected)) {
        (Ok(a), Ok(b)) => {
            let first = a.iter().zip(&b).position(|(x, y)| x != y);
            match first {
                Some(i) => format!(
                    "{}: cell {i} differs:\n--- committed\n{}\n--- chapter\n{}",
                    path.display(),
                    a[i].1,
                    b[i].1
                ),
                None if a.len() != b.len() => {
                    format!("{}: {} cells committed, {} generated", path.display(), a.len(), b.len())
                }
                None => format!("{}: same cells, different metadata or formatting", path.display()),
            }
        }
        (Err(e), _) => format!("{} is not valid JSON: {e}", path.display()),
        (_, Err(e)) => format!("generated notebook for {} is not valid JSON: {e}", path.display()),
    }
}

#[test]
fn hidden_helper_copies_match_what_readers_and_notebooks_run() {
    let root = xtask::root();
    let mut problems = Vec::new();
    for name in xtask::chapter_names().unwrap() {
        let md = std::fs::read_to_string(root.join(format!("book/{name}.md"))).unwrap();
        problems.extend(
            xtask::chapter::drifted_hidden_fns(&md).into_iter().map(|p| format!("book/{name}.md: {p}")),
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}
