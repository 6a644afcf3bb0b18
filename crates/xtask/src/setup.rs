//! Installing what the project needs, skipping what is already there at the pinned version.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};
use xtask::root;

use crate::tasks::{run, step};

/// The pinned tools: crate, version, and why the project needs it.
pub const TOOLS: &[(&str, &str, &str)] = &[
    ("mdbook", "0.5.4", "builds, tests and serves the book"),
    ("mdbook-katex", "0.10.0", "renders the book's math at build time"),
    ("evcxr_jupyter", "0.22.0", "the Rust kernel the notebooks run in"),
];

/// Everything: the pinned tools, the Python client, the kernel.
pub fn setup() -> Result<()> {
    tools()?;
    python()?;
    kernel()?;
    Ok(())
}

/// The tools the book needs to be built and served: everything but the kernel.
pub const BOOK_TOOLS: &[&str] = &["mdbook", "mdbook-katex"];

/// Installs each pinned tool unless `cargo install --list` shows it at that version.
pub fn tools() -> Result<()> {
    install_tools(&TOOLS.iter().map(|t| t.0).collect::<Vec<_>>())
}

/// The named pinned tools that `cargo install --list` does not show at their version.
pub fn missing_tools<'a>(names: &[&'a str]) -> Result<Vec<&'a str>> {
    let listed =
        Command::new("cargo").args(["install", "--list"]).output().context("running cargo install --list")?;
    let listed = String::from_utf8_lossy(&listed.stdout);
    Ok(names
        .iter()
        .copied()
        .filter(|name| {
            TOOLS.iter().any(|(n, version, _)| {
                n == name && !listed.lines().any(|l| l.starts_with(&format!("{name} v{version}:")))
            })
        })
        .collect())
}

/// Installs the named pinned tools that are missing. When several are missing they build at
/// the same time: each `cargo install` has its own build folder, and a fresh machine gets to
/// the served book sooner than with one build after the other.
pub fn install_tools(names: &[&str]) -> Result<()> {
    let absent = missing_tools(names)?;
    let mut missing = Vec::new();
    for (i, (name, version, why)) in TOOLS.iter().enumerate().filter(|(_, t)| names.contains(&t.0)) {
        let progress = format!("[{}/{}] {name} {version} ({why})", i + 1, TOOLS.len());
        if !absent.contains(name) {
            step(&format!("{progress}: already installed"));
        } else {
            step(&format!("{progress}: installing with cargo (minutes on a fresh machine)"));
            missing.push((*name, *version));
        }
    }
    let children = missing
        .iter()
        .map(|(name, version)| {
            let mut cmd = Command::new("cargo");
            cmd.args(["install", "--locked", "--quiet", name, "--version", version]);
            eprintln!("    $ cargo install --locked --quiet {name} --version {version}");
            cmd.spawn().with_context(|| format!("starting cargo install {name}")).map(|c| (*name, c))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut failed = Vec::new();
    for (name, mut child) in children {
        if !child.wait()?.success() {
            failed.push(name);
        }
    }
    if !failed.is_empty() {
        bail!("`cargo install` failed for {}", failed.join(", "));
    }
    Ok(())
}

/// The project's virtual environment.
pub fn venv() -> PathBuf {
    root().join(".venv")
}

/// The virtual environment's Python.
pub fn python_bin() -> PathBuf {
    venv().join("bin/python")
}

/// Creates `.venv` and installs `requirements.txt` into it, unless it already holds exactly
/// that file's pins.
pub fn python() -> Result<()> {
    install_requirements("requirements.txt", "the Jupyter client that runs the notebooks")
}

/// Installs a requirements file of the repository into `.venv`, once per content.
pub fn install_requirements(file: &str, why: &str) -> Result<()> {
    let wanted = std::fs::read_to_string(root().join(file)).with_context(|| format!("reading {file}"))?;
    if !python_bin().exists() {
        step(&format!("creating the Python environment .venv ({why})"));
        let python = ["python3", "python"]
            .into_iter()
            .find(|p| Command::new(p).arg("--version").output().is_ok_and(|o| o.status.success()))
            .context("no python3 on PATH: install Python 3.9 or newer")?;
        run(Command::new(python).args(["-m", "venv"]).arg(venv()))?;
    }
    let stamp = venv().join(format!(".installed-{file}"));
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s == wanted) {
        step(&format!("{file}: already installed in .venv"));
        return Ok(());
    }
    step(&format!("installing {file} into .venv ({why})"));
    run(Command::new(python_bin())
        .args(["-m", "pip", "install", "--disable-pip-version-check", "-q", "-r"])
        .arg(root().join(file)))?;
    std::fs::write(&stamp, wanted)?;
    Ok(())
}

/// Registers the evcxr kernel inside `.venv` (not in the user's home), where the environment's
/// Jupyter finds it, after making sure the standard library's source is there ([`rust_src`]).
/// The spec starts the kernel through `crates/xtask/python/kernel.py`, which gives it a build
/// folder that outlives it (see [`kernel_build_root`]).
pub fn kernel() -> Result<()> {
    rust_src()?;
    let spec = venv().join("share/jupyter/kernels/rust/kernel.json");
    let evcxr = which("evcxr_jupyter").context("evcxr_jupyter is not on PATH; run `cargo xtask setup`")?;
    let argv = [python_bin(), kernel_launcher(), evcxr.clone()].map(|p| p.to_string_lossy().into_owned());
    let registered = || -> Option<bool> {
        let spec: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&spec).ok()?).ok()?;
        let found = spec.get("argv")?.as_array()?;
        Some(found.len() == 4 && found.iter().zip(&argv).all(|(a, b)| a == b.as_str()))
    };
    if registered() == Some(true) {
        step("Rust kernel: already registered in .venv");
        return Ok(());
    }
    step("registering the Rust kernel (evcxr) in .venv");
    // evcxr_jupyter writes the kernel spec under $XDG_DATA_HOME/jupyter/kernels (with its logo
    // files); its argv is then pointed at the launcher.
    run(Command::new(&evcxr).arg("--install").env("XDG_DATA_HOME", venv().join("share")))?;
    let mut json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&spec)
            .with_context(|| format!("evcxr_jupyter --install did not write {}", spec.display()))?,
    )
    .with_context(|| format!("reading {}", spec.display()))?;
    json["argv"] = serde_json::json!([argv[0], argv[1], argv[2], "{connection_file}"]);
    std::fs::write(&spec, serde_json::to_string_pretty(&json)?)?;
    Ok(())
}

/// The script Jupyter starts the kernel through; it gives the kernel its build folder.
pub fn kernel_launcher() -> PathBuf {
    root().join("crates/xtask/python/kernel.py")
}

/// The folder the notebooks' kernels build in, with the Cargo settings of
/// `notebooks/headless-profile.toml` copied to its `.cargo/config.toml`: `target/evcxr`, or
/// `GRADSTEP_EVCXR_DIR` (e.g. for a second checkout running at the same time; a folder inside
/// the repository other than target/evcxr would be taken for a workspace member). Headless runs
/// build in its `kernel` folder; interactive kernels in its `interactive-N` folders, one per
/// running kernel, which keep their compiled dependencies for the next kernel
/// (`crates/xtask/python/kernel.py`).
pub fn kernel_build_root() -> Result<PathBuf> {
    let dir =
        std::env::var_os("GRADSTEP_EVCXR_DIR").map_or_else(|| root().join("target/evcxr"), PathBuf::from);
    std::fs::create_dir_all(dir.join(".cargo"))?;
    std::fs::copy(root().join("notebooks/headless-profile.toml"), dir.join(".cargo/config.toml"))
        .context("copying notebooks/headless-profile.toml")?;
    Ok(dir)
}

/// Adds rustup's `rust-src` component when the toolchain lacks it. The kernel's built-in
/// rust-analyzer reads the standard library's source to work out the type of every variable a
/// cell keeps; without it, a cell as plain as `let v = vec![1.0]` fails with "Couldn't
/// automatically determine type", and rustup's `minimal` and `default` profiles leave it out.
pub fn rust_src() -> Result<()> {
    let sysroot = sysroot()?;
    if sysroot.join("lib/rustlib/src/rust/library/std").is_dir() {
        step("the standard library's source (rust-src): already installed");
        return Ok(());
    }
    if which("rustup").is_none() {
        bail!(
            "the notebooks' kernel needs the standard library's source in {}, and there is no rustup to add it",
            sysroot.join("lib/rustlib/src/rust/library").display()
        );
    }
    step("adding the standard library's source for the kernel (rustup component add rust-src)");
    run(Command::new("rustup").args(["component", "add", "rust-src"]))
}

/// The sysroot of the `rustc` on PATH.
pub fn sysroot() -> Result<PathBuf> {
    let out = Command::new("rustc").args(["--print", "sysroot"]).output().context("running rustc")?;
    Ok(PathBuf::from(String::from_utf8(out.stdout)?.trim()))
}

/// The full path of a program on PATH.
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(program)).find(|p| p.is_file())
}

/// Chromium for the browser check: the system's, or Debian's `chromium` package installed with
/// apt-get when missing (as root, which CI and containers are), and Playwright in `.venv` to
/// drive it.
pub fn browser() -> Result<PathBuf> {
    install_requirements("requirements-browser.txt", "Playwright, to load the book in Chromium")?;
    let find = || ["chromium", "chromium-browser"].into_iter().find_map(which);
    if let Some(path) = find() {
        step(&format!("Chromium: {}", path.display()));
        return Ok(path);
    }
    if which("apt-get").is_none() {
        bail!("no Chromium on PATH and no apt-get to install it: install Chromium");
    }
    step("installing Chromium with apt-get (Debian's `chromium` package)");
    run(Command::new("apt-get").args(["update", "-qq"]))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends", "chromium"])
        .env("DEBIAN_FRONTEND", "noninteractive"))?;
    find().context("apt-get installed chromium, but it is not on PATH")
}
