//! The tasks behind `cargo xtask`.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use xtask::{chapter_names, notebook, outputs, root};

use crate::setup;

/// Prints a progress line.
pub fn step(msg: &str) {
    eprintln!("==> {msg}");
}

/// Runs a command from the repository root, echoing it; a non-zero exit is an error.
pub fn run(cmd: &mut Command) -> Result<()> {
    if cmd.get_current_dir().is_none() {
        cmd.current_dir(root());
    }
    let shown = format!("{cmd:?}").replace('"', "");
    eprintln!("    $ {shown}");
    let status = cmd.status().with_context(|| format!("could not start `{shown}`"))?;
    if !status.success() {
        bail!("`{shown}` failed ({status})");
    }
    Ok(())
}

/// The cargo target folder.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}

/// Where executed notebooks go; the book's `outputs` preprocessor reads them from here.
fn executed_dir() -> PathBuf {
    root().join("target/notebooks")
}

/// The notebooks generated from the chapters, with the file each belongs in.
pub fn generated_notebooks() -> Result<Vec<(PathBuf, String)>> {
    let root = root();
    let deps = std::fs::read_to_string(root.join("Cargo.toml"))?;
    let chapters = chapter_names()?;
    chapters
        .iter()
        .map(|name| {
            let md = std::fs::read_to_string(root.join(format!("book/{name}.md")))
                .with_context(|| format!("reading book/{name}.md"))?;
            let nb = notebook::generate(name, &md, &deps, &chapters);
            Ok((root.join(format!("notebooks/{name}.ipynb")), notebook::to_string(&nb)))
        })
        .collect()
}

/// `cargo xtask notebooks`: writes every chapter's notebook.
pub fn write_notebooks() -> Result<()> {
    for (path, text) in generated_notebooks()? {
        let changed = std::fs::read_to_string(&path).map_or(true, |old| old != text);
        if changed {
            std::fs::write(&path, text)?;
            step(&format!("wrote {}", path.strip_prefix(root()).unwrap_or(&path).display()));
        }
    }
    Ok(())
}

/// A fingerprint of everything a notebook's outputs depend on: the notebook itself, the
/// crates it loads, the lock file and the kernel settings.
fn fingerprint(notebook: &Path) -> Result<u64> {
    let root = root();
    let mut files = vec![
        notebook.to_path_buf(),
        root.join("Cargo.lock"),
        root.join("notebooks/evcxr.toml"),
        root.join("notebooks/headless-profile.toml"),
    ];
    let mut stack = vec![root.join("crates/gradstep"), root.join("crates/gradstep-lab")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs" || e == "toml") {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut h = DefaultHasher::new();
    for f in files {
        f.hash(&mut h);
        std::fs::read(&f).unwrap_or_default().hash(&mut h);
    }
    Ok(h.finish())
}

/// `cargo xtask execute [NAME…]`: runs the notebooks through Jupyter and checks them. With
/// `cached`, a notebook whose fingerprint matches its last successful run is skipped.
pub fn execute(names: &[String], cached: bool) -> Result<()> {
    setup::python()?;
    setup::kernel()?;
    run_notebooks(names, cached, None)
}

/// Holds an exclusive lock on `target/NAME.lock` until the returned file is dropped, so that
/// two commands sharing a build folder (e.g. two checks started by hand) run one after another.
fn lock(name: &str) -> Result<std::fs::File> {
    std::fs::create_dir_all(target_dir())?;
    let path = target_dir().join(format!("{name}.lock"));
    let file = std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    if file.try_lock().is_err() {
        step(&format!("waiting for another `{name}` run to finish ({})", path.display()));
        file.lock()?;
    }
    Ok(file)
}

/// Runs the notebooks (all when `names` is empty) once the kernel is set up; see [`execute`].
/// With `touch`, that file's modification time is updated after each notebook (see `serve`).
fn run_notebooks(names: &[String], cached: bool, touch: Option<&Path>) -> Result<()> {
    // The kernels of every run share one build folder (below).
    let _lock = lock("notebooks")?;
    let names = if names.is_empty() { chapter_names()? } else { names.to_vec() };
    let out = executed_dir();
    std::fs::create_dir_all(&out)?;
    let mut todo = Vec::new();
    for name in &names {
        let nb = root().join(format!("notebooks/{name}.ipynb"));
        if !nb.exists() {
            bail!("no notebook {}; run `cargo xtask notebooks`", nb.display());
        }
        let stamp = out.join(format!("{name}.fingerprint"));
        let print = fingerprint(&nb)?.to_string();
        if cached && std::fs::read_to_string(&stamp).is_ok_and(|s| s == print) {
            step(&format!("notebook {name}: unchanged since its last run, outputs reused"));
        } else {
            let _ = std::fs::remove_file(&stamp);
            todo.push((nb, stamp, print));
        }
    }
    if todo.is_empty() {
        return Ok(());
    }
    data_for_kernels();
    step(&format!(
        "executing {} notebook(s) with the evcxr kernel (the first compiles the crates)",
        todo.len()
    ));
    let mut cmd = Command::new(setup::python_bin());
    cmd.arg(root().join("crates/xtask/python/execute_notebooks.py"))
        .arg("--out")
        .arg(&out)
        .args(["--timeout", "1800"]);
    // One build folder for every kernel of the run: the dependencies compile once and stay
    // compiled for the next run. Notebooks run one after another, so no two kernels share it.
    // While they build there, interactive kernels do not copy the folder (kernel.py's `seed`).
    let build_root = setup::kernel_build_root()?;
    let kernel_dir = build_root.join("kernel");
    std::fs::create_dir_all(&kernel_dir)?;
    let kernel_lock = std::fs::File::create(build_root.join("kernel.lock"))?;
    kernel_lock.lock()?;
    cmd.env("EVCXR_TMPDIR", kernel_dir);
    if let Some(file) = touch {
        cmd.arg("--touch").arg(file);
    }
    cmd.args(todo.iter().map(|(nb, _, _)| nb));
    run(&mut cmd)?;
    for (_, stamp, print) in todo {
        std::fs::write(stamp, print)?;
    }
    Ok(())
}

/// `cargo xtask data`: checks the data sets the chapters read and downloads the missing ones
/// into the lab's cache (nothing is downloaded when `GRADSTEP_DATA_DIR` holds them). The
/// notebooks' kernels load the lab without its `download` feature, whose TLS stack would make
/// every kernel's first cells slower, so the files must be in place before a kernel starts.
pub fn fetch_data() -> Result<()> {
    step("checking the data sets (downloading missing ones into the cache)");
    run(Command::new("cargo")
        .args(["run", "--quiet", "-p", "gradstep-lab", "--example", "fetch_data"])
        .current_dir(root()))
}

/// [`fetch_data`] before kernels start; if a data set cannot be put in place, says so and goes
/// on: only the notebooks that read it fail, with the loader's message.
///
/// First, `cargo fetch` downloads every package of the lockfile, for every platform. The
/// kernels run Cargo offline (`notebooks/evcxr.toml`) and resolve their `:dep` lines against
/// the downloaded packages only, but that resolution also asks for the packages of other
/// platforms (wasm-bindgen's `bumpalo`, say), which a build for this one never downloads: on a
/// machine whose Cargo cache is new, every kernel failed at its `:dep` cell without this.
fn data_for_kernels() {
    step("downloading every package of Cargo.lock for the offline kernels (cargo fetch)");
    if let Err(e) = run(Command::new("cargo").args(["fetch", "--quiet"]).current_dir(root())) {
        step(&format!("warning: cargo fetch failed ({e:#}); kernels may not resolve their dependencies"));
    }
    if let Err(e) = fetch_data() {
        step(&format!(
            "warning: the data sets are not all in place ({e:#}); the notebooks that read them will fail"
        ));
    }
}

/// Builds the crates the chapters use, with the `chapters` profile, and gathers exactly the
/// artifacts of that build into a fresh folder for `mdbook test -L`. A folder with one build of
/// each crate avoids rustdoc's "multiple candidates" error (E0464) that a shared `deps/`
/// folder gives after builds with other features.
pub fn chapter_deps() -> Result<PathBuf> {
    step("building the crates the chapters use (profile `chapters`)");
    let mut cmd = Command::new("cargo");
    cmd.args([
        "build",
        "-p",
        "gradstep-lab",
        "--profile",
        "chapters",
        "--message-format=json-render-diagnostics",
    ])
    .current_dir(root())
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit());
    let mut child = cmd.spawn().context("starting cargo build")?;
    let mut stdout = String::new();
    child.stdout.take().context("cargo's stdout")?.read_to_string(&mut stdout)?;
    if !child.wait()?.success() {
        bail!("building the chapters' crates failed");
    }
    let dir = target_dir().join("chapter-deps");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    for line in stdout.lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        if msg["reason"] != "compiler-artifact" {
            continue;
        }
        for file in msg["filenames"].as_array().into_iter().flatten().filter_map(|f| f.as_str()) {
            let file = Path::new(file);
            if file.extension().is_some_and(|e| e == "rlib" || e == "so") {
                let dest = dir.join(file.file_name().context("artifact without a name")?);
                std::fs::hard_link(file, &dest).or_else(|_| std::fs::copy(file, &dest).map(drop))?;
            }
        }
    }
    Ok(dir)
}

/// `cargo xtask book-test`: `mdbook test` against the chapters' own build of the crates.
///
/// mdbook keeps rustdoc's report to itself unless a block fails, so rustdoc is reached through
/// a small shim that copies the report to a log per chapter, printed when the chapter is done:
/// every block shows up as a test. The shim runs the rustdoc of cargo's own toolchain, which
/// must match the one that built the crates. Chapters run two (or more, on more cores) at a
/// time, the slowest of the last run first, and each one's time is printed.
pub fn book_test(chapters: &[String]) -> Result<()> {
    setup::tools()?;
    // Two runs at once would empty each other's `chapter-deps` folder and logs.
    let _lock = lock("book-test")?;
    let deps = chapter_deps()?;
    let rustdoc = setup::sysroot()?.join("bin/rustdoc");
    let shim_dir = target_dir().join("rustdoc-shim");
    std::fs::create_dir_all(&shim_dir)?;
    let logs = target_dir().join("mdbook-test");
    std::fs::create_dir_all(&logs)?;
    let shim = shim_dir.join("rustdoc");
    std::fs::write(
        &shim,
        format!(
            "#!/usr/bin/env bash\nset -o pipefail\n'{}' \"$@\" 2>&1 | tee -a \"$GRADSTEP_RUSTDOC_LOG\"\n",
            rustdoc.display()
        ),
    )?;
    std::fs::set_permissions(&shim, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    let path = std::env::join_paths(
        std::iter::once(shim_dir).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )?;
    let mut todo: Vec<String> = if chapters.is_empty() {
        chapter_names()?
    } else {
        chapters.iter().map(|c| c.trim_end_matches(".md").to_string()).collect()
    };
    // Longest first (by the last run's times), so that the slowest chapter does not start last.
    let times_file = logs.join("times.txt");
    let last: Vec<(String, f64)> = std::fs::read_to_string(&times_file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once(' ').and_then(|(n, t)| Some((n.to_string(), t.parse().ok()?))))
        .collect();
    let time_of = |name: &str| last.iter().find(|(n, _)| n == name).map_or(f64::INFINITY, |(_, t)| *t);
    todo.sort_by(|a, b| time_of(b).total_cmp(&time_of(a)));
    // Two chapters at a time, so that the slowest (lr-scheduler's training runs) goes on beside
    // the others instead of after them.
    let jobs = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 4));
    step(&format!("testing the Rust blocks of {} chapter(s), {jobs} at a time (mdbook test)", todo.len()));
    let queue = std::sync::Mutex::new(todo.into_iter());
    let results = std::sync::Mutex::new(Vec::new());
    let started = std::time::Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    let Some(name) = queue.lock().expect("queue").next() else { break };
                    let log = logs.join(format!("{name}.log"));
                    let _ = std::fs::write(&log, "");
                    let t = std::time::Instant::now();
                    let out = Command::new("mdbook")
                        .args(["test", "--chapter", &format!("{name}.md"), "-L"])
                        .arg(&deps)
                        .env("PATH", &path)
                        .env("GRADSTEP_RUSTDOC_LOG", &log)
                        // rustdoc runs a chapter's blocks side by side already: a network in a
                        // block keeps to one core (its results are the same on any number).
                        .env("RAYON_NUM_THREADS", "1")
                        .current_dir(root())
                        .output();
                    let secs = t.elapsed().as_secs_f64();
                    let ok = out.as_ref().is_ok_and(|o| o.status.success());
                    // One chapter's report at a time, whole: the two runs' outputs never interleave.
                    let mut results = results.lock().expect("results");
                    if ok {
                        eprint!("{}", std::fs::read_to_string(&log).unwrap_or_default());
                        println!("ok     {name} ({secs:.1} s)");
                    } else {
                        match &out {
                            Ok(o) => eprint!(
                                "{}{}",
                                String::from_utf8_lossy(&o.stdout),
                                String::from_utf8_lossy(&o.stderr)
                            ),
                            Err(e) => eprintln!("could not start mdbook: {e}"),
                        }
                        println!("FAILED {name} ({secs:.1} s)");
                    }
                    results.push((name, secs, ok));
                }
            });
        }
    });
    let results = results.into_inner().expect("results");
    let failed: Vec<&str> = results.iter().filter(|r| !r.2).map(|r| r.0.as_str()).collect();
    println!(
        "mdbook test: {} chapter(s) passed, {} failed, in {:.1} s",
        results.len() - failed.len(),
        failed.len(),
        started.elapsed().as_secs_f64()
    );
    let mut times: Vec<String> = last
        .iter()
        .filter(|(n, _)| !results.iter().any(|r| &r.0 == n))
        .map(|(n, t)| format!("{n} {t}"))
        .collect();
    times.extend(results.iter().map(|(n, t, _)| format!("{n} {t:.1}")));
    std::fs::write(&times_file, times.join("\n") + "\n")?;
    if !failed.is_empty() {
        bail!("mdbook test failed in {}", failed.join(", "));
    }
    Ok(())
}

/// Builds the API documentation of the course's crates into `book/api/` (not committed), where
/// mdbook copies it into the book, so the book links to the docs of the exact code it runs.
/// With `strict` (the tests), any rustdoc warning, such as a broken intra-doc link, is an error.
pub fn api_docs(strict: bool) -> Result<()> {
    step("building the API docs of gradstep and gradstep-lab");
    let mut cmd = Command::new("cargo");
    cmd.args(["doc", "--no-deps", "-p", "gradstep", "-p", "gradstep-lab"]);
    if strict {
        cmd.env("RUSTDOCFLAGS", "-D warnings");
    }
    run(&mut cmd)?;
    let dest = root().join("book/api");
    if dest.exists() {
        std::fs::remove_dir_all(&dest)?;
    }
    copy_dir(&target_dir().join("doc"), &dest)
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// `cargo xtask build`: the book in target/book, with the notebooks' outputs.
pub fn build() -> Result<()> {
    setup::setup()?;
    run_notebooks(&[], true, None)?;
    api_docs(false)?;
    step("building the book");
    run(Command::new("mdbook").arg("build"))?;
    step(&format!("the book is in {}", root().join("target/book/index.html").display()));
    Ok(())
}

/// `cargo xtask serve [--port N]`: serves the book as soon as its text can be built, then fills
/// in what the code printed and drew.
///
/// On a fresh machine the first page is a preview the xtask renders itself (see
/// [`xtask::preview`]), served while mdbook and mdbook-katex are built; then `mdbook serve` takes
/// the same address, with the outputs of earlier notebook runs where there are any. The Rust
/// kernel is then installed and the notebooks executed (cached) while the book is being read;
/// after each notebook the book's table of contents is touched, so that `mdbook serve` rebuilds
/// and the open page reloads itself with the new outputs. (Executed notebooks live in `target/`,
/// which mdbook's watcher ignores, being git-ignored.)
pub fn serve(args: &[String]) -> Result<()> {
    let port = port_of(args, "serve")?;
    let start = Instant::now();
    // On a fresh machine mdbook takes minutes to build: meanwhile the xtask serves its own
    // rendering of the chapters (text, code and math) at the same address.
    let preview = if setup::missing_tools(setup::BOOK_TOOLS)?.is_empty() {
        None
    } else {
        let dir = root().join("target/preview");
        let pages = xtask::preview::render(&root(), &dir)?;
        let server = xtask::preview::Server::start(dir, &port)?;
        step(&format!(
            "a preview of the book ({pages} pages: text, code and math, no outputs yet) is up at \
             http://127.0.0.1:{port}/ after {:.0} s, while mdbook is built",
            start.elapsed().as_secs_f64()
        ));
        Some(server)
    };
    setup::install_tools(setup::BOOK_TOOLS)?;
    if let Some(server) = preview {
        server.stop();
    }
    step(&format!("starting the book server at http://127.0.0.1:{port}/"));
    eprintln!("    $ mdbook serve --hostname 127.0.0.1 --port {port}");
    let mut server = Command::new("mdbook")
        .args(["serve", "--hostname", "127.0.0.1", "--port", &port])
        .current_dir(root())
        .spawn()
        .context("starting mdbook serve")?;
    let address = format!("127.0.0.1:{port}");
    while std::net::TcpStream::connect(&address).is_err() {
        if let Some(status) = server.try_wait()? {
            bail!("mdbook serve stopped ({status})");
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    step(&format!(
        "the book is up at http://127.0.0.1:{port}/ after {:.0} s: text and math now; the code's \
         printed output and figures appear under each block as its notebook runs (the page \
         reloads itself). Ctrl-C stops.",
        start.elapsed().as_secs_f64()
    ));
    let outputs = (|| {
        setup::install_tools(&["evcxr_jupyter"])?;
        setup::python()?;
        setup::kernel()?;
        api_docs(false)?;
        run_notebooks(&[], true, Some(&root().join("book/SUMMARY.md")))
    })();
    match outputs {
        Ok(()) => step(&format!(
            "every output is in the book ({:.0} s after the start); still serving, Ctrl-C stops",
            start.elapsed().as_secs_f64()
        )),
        Err(e) => step(&format!("the book is served without some outputs: {e:#}")),
    }
    let status = server.wait()?;
    if !status.success() {
        bail!("mdbook serve stopped ({status})");
    }
    Ok(())
}

fn port_of(args: &[String], task: &str) -> Result<String> {
    match args {
        [] => Ok("3000".to_string()),
        [flag, port] if flag == "--port" => Ok(port.clone()),
        _ => bail!("usage: cargo xtask {task} [--port N]"),
    }
}

/// `cargo xtask preview [--port N]`: the preview `serve` shows while mdbook is being built,
/// rebuilt from the chapters each time the command starts; Ctrl-C stops it.
pub fn preview(args: &[String]) -> Result<()> {
    let port = port_of(args, "preview")?;
    let dir = root().join("target/preview");
    let pages = xtask::preview::render(&root(), &dir)?;
    let _server = xtask::preview::Server::start(dir, &port)?;
    step(&format!("a preview of the book ({pages} pages) is up at http://127.0.0.1:{port}/ (Ctrl-C stops)"));
    loop {
        std::thread::park();
    }
}

/// `cargo xtask jupyter`: JupyterLab on the notebooks folder, with the Rust kernel.
pub fn jupyter() -> Result<()> {
    setup::setup()?;
    setup::install_requirements("requirements-jupyter.txt", "JupyterLab")?;
    data_for_kernels();
    setup::kernel_build_root()?;
    step(
        "preparing a build folder for the first kernel (a copy of the notebooks' build, if there is one) \
         and removing unused ones past the first two",
    );
    run(Command::new(setup::python_bin()).arg(setup::kernel_launcher()).arg("--prepare"))?;
    step("starting JupyterLab on notebooks/ (Ctrl-C stops)");
    // --allow-root only lifts Jupyter's refusal to run as root (as in containers); it changes
    // nothing for other users.
    run(Command::new(setup::venv().join("bin/jupyter"))
        .args(["lab", "--ip", "127.0.0.1", "--allow-root", "--notebook-dir"])
        .arg(root().join("notebooks")))
}

/// `cargo xtask mdbook-outputs`: the preprocessor protocol (see [`xtask::outputs`]).
pub fn mdbook_outputs(args: &[String]) -> Result<()> {
    if let [supports, renderer] = args
        && supports == "supports"
    {
        std::process::exit(if renderer == "html" { 0 } else { 1 });
    }
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    print!("{}", outputs::preprocess(&input, &executed_dir(), &root().join("notebooks"))?);
    Ok(())
}

/// `mdbook build`, failing on any warning mdbook prints: they flag pages that render wrong, such
/// as math whose HTML unbalances the Markdown around it. The one warning that is not about the
/// book (mdbook-katex naming the mdbook version it was built against) is let through.
fn book_build_without_warnings() -> Result<()> {
    eprintln!("    $ mdbook build");
    let out =
        Command::new("mdbook").arg("build").current_dir(root()).output().context("running mdbook build")?;
    let log = String::from_utf8_lossy(&out.stderr);
    eprint!("{log}");
    if !out.status.success() {
        bail!("`mdbook build` failed ({})", out.status);
    }
    let warnings: Vec<&str> =
        log.lines().filter(|l| l.contains("WARN") && !l.contains("was built against mdbook")).collect();
    if !warnings.is_empty() {
        bail!("`mdbook build` warned:\n{}", warnings.join("\n"));
    }
    Ok(())
}

/// The book's pages, in the order of `book/SUMMARY.md`: the front page and every chapter.
fn book_pages() -> Result<Vec<String>> {
    let summary = std::fs::read_to_string(root().join("book/SUMMARY.md"))?;
    Ok(summary
        .lines()
        .filter_map(|l| l.split("](").nth(1)?.split(')').next()?.strip_suffix(".md").map(str::to_string))
        .collect())
}

/// Serves the built book from a sub-path (`/gradstep/`, as a project site is served), loads every
/// page in headless Chromium and checks what a reader sees: rendered math, figures, links and
/// resources that resolve, the search index, no JavaScript errors (see
/// `crates/xtask/python/check_book.py`).
fn browser_check() -> Result<()> {
    let chromium = setup::browser()?;
    let book = target_dir().join("book");
    if !book.join("index.html").exists() {
        bail!("no built book in {}; the book build check must pass first", book.display());
    }
    let site = target_dir().join("site");
    if site.exists() {
        std::fs::remove_dir_all(&site)?;
    }
    std::fs::create_dir_all(&site)?;
    std::os::unix::fs::symlink(&book, site.join("gradstep"))?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut server = Command::new(setup::python_bin())
        .args(["-m", "http.server", &port.to_string(), "--bind", "127.0.0.1", "--directory"])
        .arg(&site)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting a static file server")?;
    let result = (|| {
        let deadline = Instant::now() + std::time::Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                bail!("the static file server did not start on port {port}");
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let pages = book_pages()?;
        // mdbook names it searchindex.js, or searchindex-HASH.js when it hashes static files.
        let search_index = std::fs::read_dir(&book)?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .find(|n| n.starts_with("searchindex") && n.ends_with(".js"))
            .context("the built book has no search index (searchindex*.js)")?;
        let draws = |name: &&String| {
            std::fs::read_to_string(executed_dir().join(format!("{name}.ipynb")))
                .is_ok_and(|nb| nb.contains("image/svg+xml"))
        };
        let has_math = |name: &&String| {
            std::fs::read_to_string(root().join(format!("book/{name}.md"))).is_ok_and(|md| md.contains('$'))
        };
        let figures: Vec<&str> = pages.iter().filter(draws).map(String::as_str).collect();
        let math: Vec<&str> = pages.iter().filter(has_math).map(String::as_str).collect();
        step(&format!("loading {} pages in Chromium from http://127.0.0.1:{port}/gradstep/", pages.len()));
        run(Command::new(setup::python_bin())
            .arg(root().join("crates/xtask/python/check_book.py"))
            .arg("--base")
            .arg(format!("http://127.0.0.1:{port}/gradstep/"))
            .arg("--chromium")
            .arg(&chromium)
            .arg("--figures")
            .arg(figures.join(","))
            .arg("--math")
            .arg(math.join(","))
            .arg("--search-index")
            .arg(&search_index)
            .args(pages.iter().map(|p| format!("{p}.html"))))
    })();
    let _ = server.kill();
    let _ = server.wait();
    result
}

/// A named check of `cargo xtask test`.
type Check = (&'static str, fn() -> Result<()>);

/// `cargo xtask test`: every check of the project, in the order a failure is cheapest to see.
/// All checks run even when one fails; the summary says which failed.
pub fn test() -> Result<()> {
    let start = Instant::now();
    setup::setup()?;
    let checks: [Check; 7] = [
        ("rustfmt", || run(Command::new("cargo").args(["fmt", "--all", "--check"]))),
        ("clippy", || {
            run(Command::new("cargo").args([
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]))
        }),
        ("cargo test (crates, doc examples, notebook sync)", || {
            run(Command::new("cargo").args(["test", "--workspace"]))?;
            // The library without its default `rayon` feature: threads spawned per split.
            run(Command::new("cargo").args(["test", "-p", "gradstep", "--no-default-features", "--lib"]))
        }),
        ("mdbook test (every Rust block of the book)", || book_test(&[])),
        ("notebooks executed through Jupyter", || run_notebooks(&[], false, None)),
        ("book build with outputs and API docs", || {
            api_docs(true)?;
            book_build_without_warnings()
        }),
        ("the book in a browser (headless Chromium)", browser_check),
    ];
    let mut failed = Vec::new();
    for (name, check) in &checks {
        let t = Instant::now();
        step(&format!("check: {name}"));
        match check() {
            Ok(()) => step(&format!("passed: {name} ({:.0} s)", t.elapsed().as_secs_f64())),
            Err(e) => {
                step(&format!("FAILED: {name}: {e:#}"));
                failed.push(*name);
            }
        }
    }
    eprintln!("\nxtask test finished in {:.0} s", start.elapsed().as_secs_f64());
    for name in &failed {
        eprintln!("  failed: {name}");
    }
    println!("checks: {} passed, {} failed", checks.len() - failed.len(), failed.len());
    if failed.is_empty() { Ok(()) } else { bail!("{} check(s) failed", failed.len()) }
}
