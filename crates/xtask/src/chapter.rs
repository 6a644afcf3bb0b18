//! Reading a chapter: its fenced Rust blocks, their attributes and their visible lines.

use std::ops::Range;

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};

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
    fn only_plain_rust_blocks_run() {
        let b = blocks(CHAPTER);
        assert!(b[0].is_runnable_rust());
        assert!(!b[1].is_runnable_rust());
        assert!(!b[2].is_runnable_rust());
    }
}
