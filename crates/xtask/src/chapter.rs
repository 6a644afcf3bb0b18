//! Reading a chapter: its fenced Rust blocks, their attributes and their visible lines.

use std::ops::Range;

use pulldown_cmark::{CodeBlockKind, Event, LinkType, Options, Parser, Tag, TagEnd};

/// A fenced code block of a chapter.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// Byte range of the whole block, fences included, in the chapter's Markdown.
    pub range: Range<usize>,
    /// The info string after the opening fence, e.g. `rust,no_run`.
    pub info: String,
    /// The code between the fences, hidden lines included.
    pub code: String,
}

/// The Markdown extensions mdbook enables, so that blocks are found where mdbook finds them.
pub fn markdown_options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_HEADING_ATTRIBUTES
}

/// Every fenced code block of `markdown`, in order.
pub fn blocks(markdown: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut current: Option<Block> = None;
    for (event, range) in Parser::new_ext(markdown, markdown_options()).into_offset_iter() {
        match event {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                current = Some(Block { range, info: info.to_string(), code: String::new() });
            }
            Event::Text(text) => {
                if let Some(block) = current.as_mut() {
                    block.code.push_str(&text);
                }
            }
            Event::End(TagEnd::CodeBlock) => out.extend(current.take()),
            _ => {}
        }
    }
    out
}

impl Block {
    fn attributes(&self) -> impl Iterator<Item = &str> {
        self.info.split([',', ' ', '\t']).map(str::trim).filter(|a| !a.is_empty())
    }

    /// A Rust block that runs: tagged `rust` and neither `ignore`, `compile_fail` nor
    /// `should_panic`. Only these become notebook cells and get outputs in the book.
    pub fn is_runnable_rust(&self) -> bool {
        let mut attrs = self.attributes();
        attrs.next() == Some("rust")
            && !self.attributes().any(|a| matches!(a, "ignore" | "compile_fail" | "should_panic"))
    }

    /// The lines a reader sees: mdbook's rule hides lines that start with `# ` (or are just
    /// `#`) and turns a leading `##` into `#`. Leading and trailing blank lines are dropped.
    pub fn visible_code(&self) -> String {
        let lines: Vec<String> = self
            .code
            .lines()
            .filter_map(|line| {
                let trimmed = line.trim_start();
                let indent = &line[..line.len() - trimmed.len()];
                if trimmed == "#" || trimmed.starts_with("# ") {
                    None
                } else if let Some(rest) = trimmed.strip_prefix("##") {
                    Some(format!("{indent}#{rest}"))
                } else {
                    Some(line.to_string())
                }
            })
            .collect();
        let first = lines.iter().position(|l| !l.trim().is_empty()).unwrap_or(lines.len());
        let last = lines.iter().rposition(|l| !l.trim().is_empty()).map_or(first, |i| i + 1);
        lines[first..last].join("\n")
    }

    /// Crates named by `extern crate x;` lines (hidden or not), as the block needs them.
    pub fn extern_crates(&self) -> Vec<String> {
        self.code
            .lines()
            .filter_map(|l| {
                let l = l.trim_start().trim_start_matches('#').trim();
                let name = l.strip_prefix("extern crate ")?.trim_end_matches(';');
                Some(name.split_whitespace().next()?.to_string())
            })
            .collect()
    }
}

/// Byte ranges of the chapter's prose: the text a reader reads, math included (mdbook-katex
/// math is plain text to the Markdown parser). Left out: code blocks, inline code spans, HTML
/// (comments included), link destinations and autolinks. Adjacent pieces of text are merged.
pub fn prose_ranges(markdown: &str) -> Vec<Range<usize>> {
    let mut ranges: Vec<Range<usize>> = Vec::new();
    let (mut in_code, mut in_autolink) = (false, false);
    for (event, range) in Parser::new_ext(markdown, markdown_options()).into_offset_iter() {
        match event {
            Event::Start(Tag::CodeBlock(_)) => in_code = true,
            Event::End(TagEnd::CodeBlock) => in_code = false,
            Event::Start(Tag::Link { link_type: LinkType::Autolink | LinkType::Email, .. }) => {
                in_autolink = true
            }
            Event::End(TagEnd::Link) => in_autolink = false,
            Event::Text(_) if !in_code && !in_autolink => match ranges.last_mut() {
                Some(last) if last.end == range.start => last.end = range.end,
                _ => ranges.push(range),
            },
            _ => {}
        }
    }
    ranges
}

/// Byte ranges of the chapter's collapsed solutions: each runs from a line that starts with
/// `<details` to the next line that starts with `</details>` (or to the end of the chapter).
///
/// The book tests the blocks inside like any other; the notebook shows them as text, unrun, so
/// that running a notebook neither spoils the exercises nor pays for their solutions.
pub fn solution_ranges(markdown: &str) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    let mut open = None;
    let mut offset = 0;
    for line in markdown.split_inclusive('\n') {
        let t = line.trim_start();
        if open.is_none() && t.starts_with("<details") {
            open = Some(offset);
        } else if let Some(start) = open.filter(|_| t.starts_with("</details>")) {
            ranges.push(start..offset + line.len());
            open = None;
        }
        offset += line.len();
    }
    ranges.extend(open.map(|start| start..markdown.len()));
    ranges
}

/// A function defined at the top level of some code: its name and its text from the `fn` line
/// to the closing brace.
fn top_level_fns(code: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = code.lines().collect();
    let mut fns = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let Some(rest) = line.strip_prefix("pub fn ").or_else(|| line.strip_prefix("fn ")) else {
            i += 1;
            continue;
        };
        let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        let end = (i..lines.len()).find(|&j| lines[j] == "}" || (j == i && line.ends_with('}')));
        let end = end.unwrap_or(lines.len() - 1);
        fns.push((name, lines[i..=end].join("\n")));
        i = end + 1;
    }
    fns
}

/// Hidden copies of functions that drifted from the visible definition a reader saw earlier.
///
/// A block that needs a helper an earlier block defined repeats it in hidden lines, since each
/// block is a separate doctest; the notebook, where all cells share one kernel, runs only the
/// visible definition. The two must be the same code, or the book would test one function and
/// the notebook run another. Returns one message per drifted copy.
pub fn drifted_hidden_fns(markdown: &str) -> Vec<String> {
    let mut visible: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    let mut problems = Vec::new();
    for block in blocks(markdown).into_iter().filter(Block::is_runnable_rust) {
        let hidden: String = block
            .code
            .lines()
            .filter_map(|l| if l == "#" { Some("") } else { l.strip_prefix("# ") })
            .collect::<Vec<_>>()
            .join("\n");
        // Layout may differ (a hidden copy is often written on fewer lines); code may not.
        let squeeze = |s: &str| s.split_whitespace().collect::<String>();
        for (name, text) in top_level_fns(&hidden) {
            if let Some(shown) = visible.get(&name).filter(|shown| squeeze(shown) != squeeze(&text)) {
                problems.push(format!(
                    "the hidden `fn {name}` of the block at byte {} differs from the visible one:\n--- visible\n{shown}\n--- hidden\n{text}",
                    block.range.start
                ));
            }
        }
        visible.extend(top_level_fns(&block.visible_code()));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHAPTER: &str = "# Title\n\nText $x$.\n\n```rust\n# extern crate gradstep;\n# use gradstep::Sgd;\nlet a = 1;\n## [derive(Debug)]\n#[derive(Clone)]\nstruct S;\n# assert_eq!(a, 1);\n```\n\n```text\nnot rust\n```\n\n```rust,ignore\nlet skipped;\n```\n";

    #[test]
    fn finds_blocks_with_their_ranges() {
        let b = blocks(CHAPTER);
        assert_eq!(b.len(), 3);
        assert!(CHAPTER[b[0].range.clone()].starts_with("```rust\n"));
        assert!(CHAPTER[b[0].range.clone()].trim_end().ends_with("```"));
        assert_eq!(b[1].info, "text");
    }

    #[test]
    fn hidden_lines_follow_mdbook() {
        let b = &blocks(CHAPTER)[0];
        assert_eq!(b.visible_code(), "let a = 1;\n# [derive(Debug)]\n#[derive(Clone)]\nstruct S;");
        assert_eq!(b.extern_crates(), vec!["gradstep"]);
    }

    #[test]
    fn hidden_copies_of_visible_functions_must_match() {
        let same = "```rust\nfn f(x: f64) -> f64 {\n    2.0 * x\n}\n```\n\n```rust\n# fn f(x: f64) -> f64 {\n#     2.0 * x\n# }\n# fn only_hidden() {}\nlet y = f(1.0);\n```\n";
        assert!(drifted_hidden_fns(same).is_empty());
        let reflowed = same
            .replace("# fn f(x: f64) -> f64 {\n#     2.0 * x\n# }", "# fn f(x: f64) -> f64 { 2.0 * x\n# }");
        assert!(drifted_hidden_fns(&reflowed).is_empty(), "layout alone is not drift");
        let drifted = same.replace("#     2.0 * x", "#     3.0 * x");
        let problems = drifted_hidden_fns(&drifted);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("`fn f`") && problems[0].contains("3.0 * x"), "{}", problems[0]);
    }

    #[test]
    fn solutions_are_the_details_blocks() {
        let md =
            "Q1.\n\n<details>\n<summary>Solution</summary>\n\nA.\n\n</details>\n\nQ2.\n\n<details>\nopen";
        let r = solution_ranges(md);
        assert_eq!(r.len(), 2);
        assert!(md[r[0].clone()].starts_with("<details>") && md[r[0].clone()].ends_with("</details>\n"));
        assert_eq!(&md[r[1].clone()], "<details>\nopen");
    }

    #[test]
    fn only_plain_rust_blocks_run() {
        let b = blocks(CHAPTER);
        assert!(b[0].is_runnable_rust());
        assert!(!b[1].is_runnable_rust());
        assert!(!b[2].is_runnable_rust());
    }

    #[test]
    fn prose_is_text_and_math_without_code_html_or_urls() {
        let md = "Loss $0.243$ and `0.555` in [a 0.777 link](https://x.org/1.234).\n\n<!-- quoted: 0.888 -->\n\n<https://y.org/9.87>\n\n```rust\nlet x = 0.999;\n```\n\nEnd 1.25.\n";
        let prose: String = prose_ranges(md).into_iter().map(|r| &md[r]).collect::<Vec<_>>().join("|");
        assert!(prose.contains("0.243") && prose.contains("0.777") && prose.contains("1.25"), "{prose}");
        for absent in ["0.555", "1.234", "0.888", "9.87", "0.999"] {
            assert!(!prose.contains(absent), "{absent} in {prose}");
        }
    }
}
