//! The `outputs` mdbook preprocessor: under each runnable Rust block of a chapter, the lines it
//! printed and the figures it drew when the chapter's notebook was executed.
//!
//! Outputs are found by content, not position: a block gets the outputs of the executed cell
//! whose source is exactly the block's visible code. A block edited since the last execution
//! therefore shows no (stale) output until the notebooks run again.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use crate::chapter;
use crate::notebook::{source_text, without_dep_lines};

/// One displayable output of a cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Printed text.
    Text(String),
    /// An SVG figure.
    Svg(String),
}

/// Outputs of each code cell of an executed notebook, keyed by the cell's source without the
/// `:dep` lines that open the first one (the chapter's block does not have them).
pub fn outputs_by_source(notebook: &Value) -> HashMap<String, Vec<Output>> {
    let mut map = HashMap::new();
    for cell in notebook["cells"].as_array().into_iter().flatten() {
        if cell["cell_type"] != "code" {
            continue;
        }
        let mut outs = Vec::new();
        for out in cell["outputs"].as_array().into_iter().flatten() {
            match out["output_type"].as_str() {
                Some("stream") if out["name"] == "stdout" => push_text(&mut outs, source_text(&out["text"])),
                Some("display_data" | "execute_result") => {
                    let data = &out["data"];
                    if !data["image/svg+xml"].is_null() {
                        outs.push(Output::Svg(source_text(&data["image/svg+xml"])));
                    } else if !data["text/plain"].is_null() {
                        // evcxr shows the unit value of a cell that ends in a loop as `()`:
                        // the kernel's artefact, not something the code printed.
                        let text = source_text(&data["text/plain"]);
                        if text.trim() != "()" {
                            push_text(&mut outs, text);
                        }
                    }
                }
                _ => {}
            }
        }
        map.insert(without_dep_lines(&source_text(&cell["source"])), outs);
    }
    map
}

/// Consecutive stream messages belong to one printout.
fn push_text(outs: &mut Vec<Output>, text: String) {
    if let Some(Output::Text(prev)) = outs.last_mut() {
        prev.push_str(&text);
    } else {
        outs.push(Output::Text(text));
    }
}

/// Inserts the outputs of `executed` under the matching blocks of `markdown`.
pub fn insert_outputs(markdown: &str, executed: &HashMap<String, Vec<Output>>) -> String {
    let mut out = String::with_capacity(markdown.len());
    let mut cursor = 0;
    for block in chapter::blocks(markdown).into_iter().filter(chapter::Block::is_runnable_rust) {
        let Some(outputs) = executed.get(&block.visible_code()).filter(|o| !o.is_empty()) else { continue };
        out.push_str(&markdown[cursor..block.range.end]);
        out.push_str("\n\n");
        out.push_str(&render(outputs));
        out.push_str("\n\n");
        cursor = block.range.end;
    }
    out.push_str(&markdown[cursor..]);
    out
}

/// The HTML of a block's outputs. It has no blank line, so Markdown keeps it one HTML block.
pub fn render(outputs: &[Output]) -> String {
    let mut html = String::from("<div class=\"cell-output\">");
    for o in outputs {
        match o {
            Output::Text(t) => {
                html.push_str("<pre class=\"cell-stdout\">");
                html.push_str(&escape(t.trim_end()).replace('\n', "&#10;"));
                html.push_str("</pre>");
            }
            Output::Svg(svg) => {
                html.push_str("<img class=\"cell-figure\" alt=\"figure drawn by the code above\" src=\"data:image/svg+xml;base64,");
                html.push_str(&base64(svg.as_bytes()));
                html.push_str("\">");
            }
        }
    }
    html.push_str("</div>");
    html
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('$', "&#36;")
}

fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Runs the preprocessor protocol: reads `[context, book]` from `input` and returns the book
/// with, in every chapter that has a notebook in `notebooks_dir`, a link to that notebook under
/// the title and the outputs of its executed copy in `executed_dir` under the code blocks.
pub fn preprocess(input: &str, executed_dir: &Path, notebooks_dir: &Path) -> anyhow::Result<String> {
    let mut pair: Value = serde_json::from_str(input)?;
    let repository = pair[0]["config"]["output"]["html"]["git-repository-url"].as_str().map(str::to_string);
    let mut book =
        pair.get_mut(1).map(Value::take).ok_or_else(|| anyhow::anyhow!("expected [context, book]"))?;
    visit_chapters(&mut book, &mut |chapter| {
        let Some(name) = chapter["path"].as_str().and_then(|p| p.strip_suffix(".md")).map(str::to_string)
        else {
            return;
        };
        let Some(content) = chapter["content"].as_str() else { return };
        if !notebooks_dir.join(format!("{name}.ipynb")).exists() {
            return;
        }
        let executed = std::fs::read_to_string(executed_dir.join(format!("{name}.ipynb")))
            .ok()
            .and_then(|text| serde_json::from_str::<Value>(&text).ok());
        let content = match executed {
            Some(nb) => insert_outputs(content, &outputs_by_source(&nb)),
            None => content.to_string(),
        };
        chapter["content"] = Value::String(with_notebook_link(&content, &name, repository.as_deref()));
    });
    Ok(serde_json::to_string(&book)?)
}

/// Adds, under the chapter's title, where its notebook is and how to run it.
fn with_notebook_link(markdown: &str, name: &str, repository: Option<&str>) -> String {
    let file = format!("notebooks/{name}.ipynb");
    let link = match repository {
        Some(url) => format!("[`{file}`]({}/blob/main/{file})", url.trim_end_matches('/')),
        None => format!("`{file}`"),
    };
    let note = format!(
        "> This chapter is also a Jupyter notebook for the Rust kernel, {link}, generated from this page. \
         To run it, clone the repository and start `cargo xtask jupyter`."
    );
    match markdown.find('\n').filter(|_| markdown.starts_with("# ")) {
        Some(end) => format!("{}\n\n{note}\n{}", &markdown[..end], &markdown[end..]),
        None => format!("{note}\n\n{markdown}"),
    }
}

/// Calls `f` on every chapter object of mdbook's book JSON, however deeply nested.
fn visit_chapters(v: &mut Value, f: &mut impl FnMut(&mut Value)) {
    match v {
        Value::Object(map) => {
            if let Some(ch) = map.get_mut("Chapter") {
                f(ch);
            }
            for (_, child) in map.iter_mut() {
                visit_chapters(child, f);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| visit_chapters(i, f)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn base64_matches_the_rfc_vectors() {
        for (plain, enc) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foobar", "Zm9vYmFy")]
        {
            assert_eq!(base64(plain.as_bytes()), enc);
        }
    }

    #[test]
    fn outputs_go_under_the_block_with_the_same_visible_code() {
        let nb = json!({"cells": [
            {"cell_type": "code", "source": [":dep a = { path = \"../a\" }\n", ":dep b\n", "let x = 1;\n", "println!(\"{x}\");"], "outputs": [
                {"output_type": "stream", "name": "stdout", "text": ["1\n"]},
                {"output_type": "stream", "name": "stdout", "text": "2 < 3\n"},
                {"output_type": "display_data", "data": {"image/svg+xml": "<svg/>", "text/plain": "fig"}, "metadata": {}}
            ]},
            {"cell_type": "code", "source": "for i in 0..1 {}", "outputs": [
                {"output_type": "execute_result", "data": {"text/plain": "()"}, "metadata": {}, "execution_count": 2}
            ]},
            {"cell_type": "code", "source": "let stale = 0;", "outputs": [
                {"output_type": "stream", "name": "stdout", "text": "old\n"}
            ]}
        ]});
        let md = "Text\n\n```rust\n# extern crate a;\nlet x = 1;\nprintln!(\"{x}\");\n```\n\n```rust\nlet edited = 0;\n```\nEnd\n";
        let out = insert_outputs(md, &outputs_by_source(&nb));
        let expected_html = format!(
            "<div class=\"cell-output\"><pre class=\"cell-stdout\">1&#10;2 &lt; 3</pre><img class=\"cell-figure\" alt=\"figure drawn by the code above\" src=\"data:image/svg+xml;base64,{}\"></div>",
            base64(b"<svg/>")
        );
        assert!(out.contains(&format!("println!(\"{{x}}\");\n```\n\n{expected_html}\n\n")), "{out}");
        assert!(!out.contains("old"));
        assert!(outputs_by_source(&nb)["for i in 0..1 {}"].is_empty(), "a unit result is not an output");
        assert!(out.ends_with("let edited = 0;\n```\nEnd\n"));
    }

    #[test]
    fn preprocess_links_notebooks_and_inserts_outputs_of_executed_ones() {
        let dir = std::env::temp_dir().join(format!("xtask-outputs-{}", std::process::id()));
        let (executed, notebooks) = (dir.join("executed"), dir.join("notebooks"));
        std::fs::create_dir_all(&executed).unwrap();
        std::fs::create_dir_all(&notebooks).unwrap();
        let nb = json!({"cells": [{"cell_type": "code", "source": "f();", "outputs": [
            {"output_type": "stream", "name": "stdout", "text": "hi\n"}]}]});
        std::fs::write(executed.join("gd.ipynb"), nb.to_string()).unwrap();
        std::fs::write(notebooks.join("gd.ipynb"), "{}").unwrap();
        std::fs::write(notebooks.join("sgd.ipynb"), "{}").unwrap();
        let chapter = |name: &str, subs: Value| json!({"Chapter": {"name": name, "path": format!("{name}.md"), "content": "# T\n\n```rust\nf();\n```\n", "sub_items": subs}});
        let input = json!([
            {"root": ".", "config": {"output": {"html": {"git-repository-url": "https://example.org/r"}}}},
            {"items": [chapter("gd", json!([chapter("sgd", json!([])), chapter("index", json!([]))]))]}
        ]);
        let out: Value =
            serde_json::from_str(&preprocess(&input.to_string(), &executed, &notebooks).unwrap()).unwrap();
        let gd = out["items"][0]["Chapter"]["content"].as_str().unwrap();
        assert!(gd.starts_with("# T\n\n> This chapter is also a Jupyter notebook for the Rust kernel, [`notebooks/gd.ipynb`](https://example.org/r/blob/main/notebooks/gd.ipynb)"), "{gd}");
        assert!(gd.contains("<pre class=\"cell-stdout\">hi</pre>"));
        let subs = &out["items"][0]["Chapter"]["sub_items"];
        let sgd = subs[0]["Chapter"]["content"].as_str().unwrap();
        assert!(
            sgd.contains("notebooks/sgd.ipynb") && !sgd.contains("cell-output"),
            "not executed: no outputs"
        );
        assert_eq!(subs[1]["Chapter"]["content"], "# T\n\n```rust\nf();\n```\n", "no notebook: unchanged");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
