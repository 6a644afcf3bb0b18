//! `cargo xtask <task>`: the project's own commands.
//!
//! | task | what it does |
//! |---|---|
//! | `serve` | set up, execute the notebooks (cached), build the book and serve it on localhost |
//! | `test` | set up, then every check: fmt, clippy, cargo test, mdbook test, notebook sync and execution |
//! | `setup` | install the pinned tools, the Python client in `.venv`, and the Rust kernel |
//! | `build` | like `serve` without the server: the book in `target/book` |
//! | `notebooks` | regenerate `notebooks/*.ipynb` from the chapters |
//! | `execute [chapter…]` | run notebooks headless through Jupyter and check their outputs |
//! | `book-test [chapter…]` | build the chapters' dependencies and run `mdbook test` (on some chapters) |
//! | `data` | check the data sets and download the missing ones into the lab's cache |
//! | `jupyter` | open the notebooks in JupyterLab with the Rust kernel |
//! | `preview [--port N]` | serve the xtask's quick rendering of the chapters (no mdbook needed) |
//! | `mdbook-outputs` | the mdbook preprocessor that puts executed outputs under code blocks |

mod setup;
mod tasks;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (task, rest) = args.split_first().map_or(("help", &[][..]), |(t, r)| (t.as_str(), r));
    let result = match task {
        "serve" => tasks::serve(rest),
        "build" => tasks::build(),
        "test" => tasks::test(),
        "setup" => setup::setup(),
        "notebooks" => tasks::write_notebooks(),
        "execute" => tasks::execute(rest, false),
        "book-test" => tasks::book_test(rest),
        "jupyter" => tasks::jupyter(),
        "data" => tasks::fetch_data(),
        "preview" => tasks::preview(rest),
        "mdbook-outputs" => tasks::mdbook_outputs(rest),
        _ => {
            eprintln!("{}", USAGE);
            return if task == "help" || task == "--help" { ExitCode::SUCCESS } else { ExitCode::FAILURE };
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask {task}: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

const USAGE: &str = "usage: cargo xtask <task>

  serve [--port N]   set up, run the notebooks (cached), build and serve the book on localhost
  test               set up, then run every check (fmt, clippy, cargo test, mdbook test,
                     notebook sync, notebook execution, book build)
  setup              install the pinned tools, the Jupyter client in .venv and the Rust kernel
  build              like serve, without the server (output in target/book)
  notebooks          regenerate notebooks/*.ipynb from the chapters in book/
  execute [NAME...]  run notebooks headless through Jupyter and check their outputs
  book-test [NAME...] build the chapters' dependencies and run `mdbook test` (all chapters, or
                     only book/NAME.md for each NAME given)
  jupyter            open the notebooks in JupyterLab with the Rust kernel
  data               check the data sets; download the missing ones into the lab's cache
  preview [--port N] serve the quick rendering of the chapters that `serve` shows while mdbook
                     is being built (text, code, math; no outputs)
  mdbook-outputs     (called by mdbook) put executed outputs under the book's code blocks";
