//! The machinery behind `cargo xtask`: reading chapters, generating notebooks from them, and
//! putting the notebooks' executed outputs back under the book's code blocks.
//!
//! The chapters (`book/*.md`) are the single source. [`chapter`] finds their Rust blocks and
//! the lines a reader sees; [`notebook`] turns a chapter into a Jupyter notebook for the evcxr
//! kernel; [`outputs`] is the mdbook preprocessor that shows, under each block, what the same
//! code printed and drew when the notebook ran.

pub mod chapter;
pub mod notebook;
pub mod outputs;
pub mod preview;

use std::path::PathBuf;

/// The repository root (the folder with the workspace `Cargo.toml`).
pub fn root() -> PathBuf {
    // Set by .cargo/config.toml for every cargo invocation inside the repository.
    if let Some(dir) = option_env!("CARGO_WORKSPACE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The chapters that have notebooks: every `book/*.md` but the table of contents, the front
/// page and pages without runnable Rust code (such as the licence note), in the order of
/// `book/SUMMARY.md`. A listed page that cannot be read counts as a chapter, so that the
/// commands that need it report it missing.
pub fn chapter_names() -> std::io::Result<Vec<String>> {
    let summary = std::fs::read_to_string(root().join("book/SUMMARY.md"))?;
    let has_code = |name: &str| {
        std::fs::read_to_string(root().join(format!("book/{name}.md")))
            .map_or(true, |md| chapter::blocks(&md).iter().any(chapter::Block::is_runnable_rust))
    };
    Ok(summary
        .lines()
        .filter_map(|l| {
            let target = l.split("](").nth(1)?.split(')').next()?;
            let name = target.strip_suffix(".md")?;
            (!name.contains('/') && name != "index" && has_code(name)).then(|| name.to_string())
        })
        .collect())
}
