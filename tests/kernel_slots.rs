//! The kernel launcher (`crates/xtask/python/kernel.py`) gives each running kernel a build
//! folder of its own, gives a finished kernel's folder to the next one, starts a new folder as
//! a copy of the headless runs' build (also ahead of time, with `--prepare`, which also removes
//! free folders past the first two), and leaves a kernel started with `EVCXR_TMPDIR` alone.
//! Every kernel starts without transparent huge pages for evcxr's allocator unless the
//! environment asks for them.
//! A shell script stands in for evcxr_jupyter: it records the folder it was given and waits.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch(name: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("kernel-slots-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir)
}

/// A stand-in kernel: writes "EVCXR_TMPDIR|argv|MIMALLOC_ALLOW_THP" to $OUT, then runs until
/// $RELEASE exists.
fn fake_kernel(dir: &Path) -> PathBuf {
    let path = dir.join("fake-evcxr.sh");
    std::fs::write(
        &path,
        "#!/bin/sh\nprintf '%s|%s %s|%s' \"$EVCXR_TMPDIR\" \"$1\" \"$2\" \"${MIMALLOC_ALLOW_THP-unset}\" \
         > \"$OUT.tmp\"\nmv \"$OUT.tmp\" \"$OUT\"\n\
         while [ ! -e \"$RELEASE\" ]; do sleep 0.05; done\n",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    path
}

/// A started launcher: (its process, the file its kernel writes, the file that ends it).
/// Dropping it ends the kernel, so a failed assertion does not leave stand-ins running.
struct Kernel(Child, PathBuf, PathBuf);

impl Drop for Kernel {
    fn drop(&mut self) {
        let _ = std::fs::write(&self.2, "");
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the launcher as Jupyter would; `tmpdir` is the EVCXR_TMPDIR it is started with.
fn launch(dir: &Path, name: &str, tmpdir: Option<&str>) -> Kernel {
    launch_with_thp(dir, name, tmpdir, None)
}

/// [`launch`], with MIMALLOC_ALLOW_THP set to `thp` (or not set at all).
fn launch_with_thp(dir: &Path, name: &str, tmpdir: Option<&str>, thp: Option<&str>) -> Kernel {
    let (out, release) = (dir.join(format!("{name}.out")), dir.join(format!("{name}.release")));
    let mut cmd = Command::new("python3");
    cmd.arg(xtask::root().join("crates/xtask/python/kernel.py"))
        .arg(fake_kernel(dir))
        .arg("/run/connection.json")
        .env("GRADSTEP_EVCXR_DIR", dir.join("evcxr"))
        .env("OUT", &out)
        .env("RELEASE", &release)
        .env_remove("EVCXR_TMPDIR")
        .env_remove("MIMALLOC_ALLOW_THP");
    if let Some(t) = tmpdir {
        cmd.env("EVCXR_TMPDIR", t);
    }
    if let Some(t) = thp {
        cmd.env("MIMALLOC_ALLOW_THP", t);
    }
    Kernel(cmd.spawn().expect("python3 runs"), out, release)
}

/// What the stand-in kernel recorded: (its EVCXR_TMPDIR, its arguments, its MIMALLOC_ALLOW_THP).
fn recorded(out: &Path) -> (String, String, String) {
    let start = Instant::now();
    while !out.exists() {
        assert!(start.elapsed() < Duration::from_secs(30), "the kernel never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let text = std::fs::read_to_string(out).unwrap();
    let mut fields = text.split('|').map(str::to_owned);
    let mut next = || fields.next().expect("three fields");
    (next(), next(), next())
}

fn finish(mut kernel: Kernel) {
    std::fs::write(&kernel.2, "").unwrap();
    assert!(kernel.0.wait().unwrap().success());
}

#[test]
fn each_running_kernel_gets_its_own_folder_and_a_free_one_is_reused() {
    let dir = scratch("reuse");
    let root = dir.0.join("evcxr");
    let a = launch(&dir.0, "a", None);
    let (folder_a, args, thp) = recorded(&a.1);
    assert_eq!(folder_a, root.join("interactive-0").to_string_lossy());
    assert_eq!(args, "--control_file /run/connection.json");
    assert_eq!(thp, "0");
    // While the first runs, the next kernels get the next folders.
    let b = launch(&dir.0, "b", None);
    assert_eq!(recorded(&b.1).0, root.join("interactive-1").to_string_lossy());
    let c = launch(&dir.0, "c", None);
    assert_eq!(recorded(&c.1).0, root.join("interactive-2").to_string_lossy());
    // When the first has ended, its folder is free again; the others are still held.
    finish(a);
    let d = launch(&dir.0, "d", None);
    assert_eq!(recorded(&d.1).0, root.join("interactive-0").to_string_lossy());
    let e = launch(&dir.0, "e", None);
    assert_eq!(recorded(&e.1).0, root.join("interactive-3").to_string_lossy());
    for k in [b, c, d, e] {
        finish(k);
    }
}

#[test]
fn a_kernel_given_a_folder_keeps_it() {
    let dir = scratch("given");
    let k = launch(&dir.0, "k", Some("/somewhere/else"));
    let (folder, _, thp) = recorded(&k.1);
    assert_eq!(folder, "/somewhere/else");
    // Headless kernels, started this way, also run without huge pages.
    assert_eq!(thp, "0");
    finish(k);
    assert!(!dir.0.join("evcxr/interactive-0").exists());
}

#[test]
fn a_kernel_asked_for_huge_pages_gets_them() {
    let dir = scratch("thp");
    let k = launch_with_thp(&dir.0, "k", Some("/somewhere/else"), Some("1"));
    assert_eq!(recorded(&k.1).2, "1");
    finish(k);
}

#[test]
fn a_new_folder_starts_from_the_headless_build_unless_a_headless_run_holds_it() {
    let dir = scratch("seed");
    let built = dir.0.join("evcxr/kernel");
    std::fs::create_dir_all(built.join("target/debug/deps")).unwrap();
    std::fs::create_dir_all(built.join("target/debug/incremental/ctx-1")).unwrap();
    std::fs::write(built.join("target/debug/deps/liblab.rlib"), "compiled").unwrap();
    std::fs::write(built.join("target/debug/incremental/ctx-1/state"), "cells").unwrap();
    std::fs::write(built.join("Cargo.lock"), "lock").unwrap();

    // A headless run holds kernel.lock: the new folder is left empty for the kernel to fill.
    let lock = std::fs::File::create(dir.0.join("evcxr/kernel.lock")).unwrap();
    lock.lock().unwrap();
    let a = launch(&dir.0, "a", None);
    let slot = PathBuf::from(recorded(&a.1).0);
    assert!(!slot.join("target").exists());
    finish(a);
    lock.unlock().unwrap();

    let b = launch(&dir.0, "b", None);
    let slot = PathBuf::from(recorded(&b.1).0);
    assert_eq!(std::fs::read_to_string(slot.join("target/debug/deps/liblab.rlib")).unwrap(), "compiled");
    assert_eq!(std::fs::read_to_string(slot.join("Cargo.lock")).unwrap(), "lock");
    assert!(!slot.join("target/debug/incremental").exists());
    assert!(!slot.join("target.partial").exists());
    finish(b);

    // A folder that has a build keeps it.
    std::fs::write(built.join("target/debug/deps/liblab.rlib"), "rebuilt").unwrap();
    let c = launch(&dir.0, "c", None);
    let slot = PathBuf::from(recorded(&c.1).0);
    assert_eq!(std::fs::read_to_string(slot.join("target/debug/deps/liblab.rlib")).unwrap(), "compiled");
    finish(c);
}

#[test]
fn prepare_seeds_the_first_free_folder_and_holds_nothing() {
    let dir = scratch("prepare");
    let built = dir.0.join("evcxr/kernel");
    std::fs::create_dir_all(built.join("target/debug/deps")).unwrap();
    std::fs::write(built.join("target/debug/deps/liblab.rlib"), "compiled").unwrap();
    let status = Command::new("python3")
        .arg(xtask::root().join("crates/xtask/python/kernel.py"))
        .arg("--prepare")
        .env("GRADSTEP_EVCXR_DIR", dir.0.join("evcxr"))
        .status()
        .expect("python3 runs");
    assert!(status.success());
    let slot = dir.0.join("evcxr/interactive-0");
    assert_eq!(std::fs::read_to_string(slot.join("target/debug/deps/liblab.rlib")).unwrap(), "compiled");
    // The folder is free for the first kernel, which finds it built.
    let k = launch(&dir.0, "k", None);
    assert_eq!(recorded(&k.1).0, slot.to_string_lossy());
    finish(k);
}

#[test]
fn prepare_removes_free_folders_past_the_first_two_and_leaves_held_ones() {
    let dir = scratch("prune");
    let root = dir.0.join("evcxr");
    for n in 0..5 {
        std::fs::create_dir_all(root.join(format!("interactive-{n}/target"))).unwrap();
        std::fs::write(root.join(format!("interactive-{n}/target/built")), "x").unwrap();
    }
    // Kernels hold folders 1 and 3.
    let held: Vec<std::fs::File> = [1, 3]
        .iter()
        .map(|n| {
            let lock = std::fs::File::create(root.join(format!("interactive-{n}.lock"))).unwrap();
            lock.lock().unwrap();
            lock
        })
        .collect();
    let status = Command::new("python3")
        .arg(xtask::root().join("crates/xtask/python/kernel.py"))
        .arg("--prepare")
        .env("GRADSTEP_EVCXR_DIR", &root)
        .status()
        .expect("python3 runs");
    assert!(status.success());
    let built = |n: usize| root.join(format!("interactive-{n}/target/built")).exists();
    // Free: 0 and 2 are kept, 4 is removed; held: 1 and 3 are untouched.
    assert_eq!((0..5).map(built).collect::<Vec<_>>(), [true, true, true, true, false]);
    assert!(!root.join("interactive-4").exists());
    // Its lock file stays (see kernel.py); with 0 to 3 taken, the next kernel makes it again.
    assert!(root.join("interactive-4.lock").exists());
    let (mut kernels, mut folders) = (Vec::new(), Vec::new());
    for name in ["a", "b", "c"] {
        // One at a time, so that each has its folder before the next looks for one.
        let k = launch(&dir.0, name, None);
        folders.push(recorded(&k.1).0);
        kernels.push(k);
    }
    let expected: Vec<String> = [0, 2, 4]
        .iter()
        .map(|n| root.join(format!("interactive-{n}")).to_string_lossy().into_owned())
        .collect();
    assert_eq!(folders, expected);
    assert!(root.join("interactive-4").is_dir());
    kernels.into_iter().for_each(finish);
    drop(held);
}
