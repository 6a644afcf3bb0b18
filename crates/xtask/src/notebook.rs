//! Generating a chapter's notebook: prose to Markdown cells, each runnable Rust block's visible
//! lines to a code cell, the first of them after the `:dep` lines the chapter needs. Blocks
//! inside a collapsed solution (`<details>`) stay in the Markdown, as text, with their visible
//! lines only: the notebook shows solutions but does not run them.

use std::collections::BTreeSet;

use pulldown_cmark::{Event, Parser, Tag};
use serde_json::{Value, json};

use crate::chapter::{self, Block};

/// Generates the notebook of chapter `name` (e.g. `gd`) from its Markdown.
///
/// `workspace_deps` is the `[workspace.dependencies]` table of the root `Cargo.toml` as text;
/// it says how each crate a chapter names in `extern crate` is to be loaded (`path` entries are
/// made relative to `notebooks/`). `chapters` are the chapters that have notebooks, so that
/// links between chapters point at notebooks too.
pub fn generate(name: &str, markdown: &str, workspace_deps: &str, chapters: &[String]) -> Value {
    let solutions = chapter::solution_ranges(markdown);
    let in_solution = |b: &Block| solutions.iter().any(|r| r.start <= b.range.start && b.range.end <= r.end);
    let (shown, blocks): (Vec<Block>, Vec<Block>) =
        chapter::blocks(markdown).into_iter().filter(Block::is_runnable_rust).partition(in_solution);
    let mut cells = Vec::new();
    let mut cursor = 0;
    let prose = |range: std::ops::Range<usize>, cells: &mut Vec<Value>| {
        let mut text = String::new();
        let mut from = range.start;
        for b in shown.iter().filter(|b| range.start <= b.range.start && b.range.end <= range.end) {
            text.push_str(&markdown[from..b.range.start]);
            text.push_str(&format!("```rust\n{}\n```", b.visible_code()));
            from = b.range.end;
        }
        text.push_str(&markdown[from..range.end]);
        for part in split_at_headings(&text) {
            cells.push(markdown_cell(&link_notebooks(&part, chapters)));
        }
    };
    for (i, block) in blocks.iter().enumerate() {
        prose(cursor..block.range.start, &mut cells);
        let mut code = block.visible_code();
        if i == 0 {
            cells.push(markdown_cell(&format!(
                "*This notebook is generated from the chapter `book/{name}.md` of the gradstep course \
                 (`cargo xtask notebooks`); edit the chapter, not the notebook. It runs in the evcxr \
                 Rust kernel: the `:dep` lines at the top of the first code cell load the crates.*"
            )));
            // In the first block's cell rather than one of their own: evcxr's rust-analyzer
            // then works through the new dependencies once instead of twice (a kernel took
            // 7.2-8.0 s for the two cells, 8.5-10.4 s with a cell of `:dep` lines first).
            code = format!("{}\n{code}", dep_lines(&blocks, workspace_deps));
        }
        cells.push(code_cell(&code));
        cursor = block.range.end;
    }
    prose(cursor..markdown.len(), &mut cells);
    for (i, cell) in cells.iter_mut().enumerate() {
        cell["id"] = json!(format!("{name}-{i:03}"));
    }
    json!({
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Rust", "language": "rust", "name": "rust"},
            "language_info": {
                "codemirror_mode": "rust",
                "file_extension": ".rs",
                "mimetype": "text/rust",
                "name": "Rust",
                "pygment_lexer": "rust",
                "version": ""
            }
        },
        "nbformat": 4,
        "nbformat_minor": 5
    })
}

/// Serialises a notebook the way Jupyter does (one-space indent, sorted keys, final newline),
/// so that a notebook saved by Jupyter without changes compares equal.
pub fn to_string(notebook: &Value) -> String {
    let mut out = Vec::new();
    let mut ser =
        serde_json::Serializer::with_formatter(&mut out, serde_json::ser::PrettyFormatter::with_indent(b" "));
    serde::Serialize::serialize(notebook, &mut ser).expect("a JSON value always serialises");
    let mut s = String::from_utf8(out).expect("serde_json writes UTF-8");
    s.push('\n');
    s
}

/// The cell sources of a notebook, with their kinds: what the sync check compares.
pub fn cell_sources(notebook: &Value) -> Vec<(String, String)> {
    notebook["cells"]
        .as_array()
        .map(|cells| {
            cells
                .iter()
                .map(|c| {
                    let kind = c["cell_type"].as_str().unwrap_or_default().to_string();
                    (kind, source_text(&c["source"]))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A cell's `source` (a string or a list of lines) as one string.
pub fn source_text(source: &Value) -> String {
    match source {
        Value::String(s) => s.clone(),
        Value::Array(lines) => lines.iter().filter_map(Value::as_str).collect(),
        _ => String::new(),
    }
}

/// Jupyter's form of a cell source: a list of lines, each but the last ending in a newline.
fn lines(text: &str) -> Value {
    json!(text.strip_suffix('\n').unwrap_or(text).split_inclusive('\n').collect::<Vec<_>>())
}

fn markdown_cell(text: &str) -> Value {
    json!({"cell_type": "markdown", "metadata": {}, "source": lines(text.trim())})
}

fn code_cell(code: &str) -> Value {
    json!({"cell_type": "code", "execution_count": null, "metadata": {}, "outputs": [], "source": lines(code)})
}

/// Splits prose before each heading, so that each section is a cell of its own.
fn split_at_headings(text: &str) -> Vec<String> {
    let mut starts: Vec<usize> = Parser::new_ext(text, chapter::markdown_options())
        .into_offset_iter()
        .filter_map(|(e, r)| matches!(e, Event::Start(Tag::Heading { .. })).then_some(r.start))
        .collect();
    starts.retain(|&s| s > 0);
    let mut parts = Vec::new();
    let mut from = 0;
    for s in starts.into_iter().chain([text.len()]) {
        let part = text[from..s].trim();
        if !part.is_empty() {
            parts.push(part.to_string());
        }
        from = s;
    }
    parts
}

fn link_notebooks(text: &str, chapters: &[String]) -> String {
    let mut out = text.to_string();
    for c in chapters {
        out = out.replace(&format!("]({c}.md"), &format!("]({c}.ipynb"));
    }
    out
}

/// How a line that loads a crate starts (evcxr's command), in [`dep_lines`] and
/// [`without_dep_lines`].
const DEP: &str = ":dep ";

/// `source` without its leading `:dep` lines: the code of the block a cell was made from.
pub(crate) fn without_dep_lines(source: &str) -> String {
    let mut rest = source;
    while rest.starts_with(DEP) {
        rest = rest.split_once('\n').map_or("", |(_, tail)| tail);
    }
    rest.to_string()
}

/// `:dep` lines for every crate the chapter's blocks load with `extern crate`.
fn dep_lines(blocks: &[Block], workspace_deps: &str) -> String {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for krate in blocks.iter().flat_map(Block::extern_crates) {
        if !seen.insert(krate.clone()) {
            continue;
        }
        out.push(match dependency_spec(&krate, workspace_deps) {
            Some((package, spec)) => format!("{DEP}{package} = {spec}"),
            None => format!("{DEP}{krate}"),
        });
    }
    out.join("\n")
}

/// The workspace's declaration of `krate` (matching `_` and `-`), with paths made relative to
/// `notebooks/`.
fn dependency_spec(krate: &str, workspace_deps: &str) -> Option<(String, String)> {
    let mut in_section = false;
    for line in workspace_deps.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            in_section = t == "[workspace.dependencies]";
            continue;
        }
        let Some((key, spec)) = t.split_once('=').filter(|_| in_section) else { continue };
        let key = key.trim();
        if key.replace('-', "_") == krate {
            let mut spec = spec.trim().replace("path = \"", "path = \"../");
            if key == "gradstep-lab"
                && let Some(open) = spec.strip_suffix('}')
            {
                // Without `download` (ureq and its TLS stack): the kernel's rust-analyzer then
                // indexes 24 fewer crates, which took about 3 s off every notebook's
                // first cells, and the first kernel compiles no TLS code. The commands that
                // start kernels fetch the data sets beforehand (`cargo xtask data`).
                spec = format!("{}, default-features = false }}", open.trim_end());
            }
            return Some((key.to_string(), spec));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPS: &str = "[workspace]\nmembers = []\n[workspace.dependencies]\ngradstep-lab = { path = \"crates/gradstep-lab\", version = \"0.1.0\" }\nndarray = { version = \"0.16\" }\n[package]\nname = \"x\"\n";

    const CHAPTER: &str = "# Gradient Descent\n\nIntro, see [SGD](sgd.md).\n\n## One dimension\n\nText.\n\n```rust\n# extern crate gradstep_lab;\n# extern crate ndarray;\nlet x = 1;\nprintln!(\"{x}\");\n# assert_eq!(x, 1);\n```\n\nAfter.\n";

    #[test]
    fn cells_follow_the_chapter() {
        let nb = generate("gd", CHAPTER, DEPS, &["gd".into(), "sgd".into()]);
        let cells = cell_sources(&nb);
        let kinds: Vec<&str> = cells.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(kinds, ["markdown", "markdown", "markdown", "code", "markdown"]);
        assert_eq!(cells[0].1, "# Gradient Descent\n\nIntro, see [SGD](sgd.ipynb).");
        assert_eq!(cells[1].1, "## One dimension\n\nText.");
        assert_eq!(
            cells[3].1,
            ":dep gradstep-lab = { path = \"../crates/gradstep-lab\", version = \"0.1.0\", default-features = false }\n:dep ndarray = { version = \"0.16\" }\nlet x = 1;\nprintln!(\"{x}\");"
        );
        assert_eq!(nb["cells"][4]["id"], "gd-004");
    }

    #[test]
    fn solutions_are_shown_not_run() {
        let md = format!(
            "{CHAPTER}\n## Exercises\n\n1. Why?\n\n<details>\n<summary>Solution</summary>\n\nBecause.\n\n```rust\n# extern crate ndarray;\nlet y = 2;\n# assert_eq!(y, 2);\n```\n\n</details>\n"
        );
        let cells = cell_sources(&generate("gd", &md, DEPS, &[]));
        assert_eq!(
            cells.iter().filter(|(k, _)| k == "code").count(),
            1,
            "the one chapter block, after the dep lines"
        );
        let last = &cells.last().unwrap().1;
        assert!(last.starts_with("## Exercises") && last.contains("<details>"), "{last}");
        assert!(last.contains("```rust\nlet y = 2;\n```") && !last.contains("assert_eq!(y"), "{last}");
    }

    #[test]
    fn serialisation_is_stable_and_round_trips() {
        let nb = generate("gd", CHAPTER, DEPS, &[]);
        let text = to_string(&nb);
        assert!(text.ends_with("}\n") && text.contains("\n \"cells\": ["));
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(to_string(&back), text);
    }
}
