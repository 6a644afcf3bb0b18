"""Start the evcxr kernel in a build folder that outlives it.

Usage (the kernel spec's argv): kernel.py EVCXR_JUPYTER CONNECTION_FILE
       kernel.py --prepare   (prune and seed the free folders now; `cargo xtask jupyter` does this)

evcxr builds every kernel's cells and dependencies in a folder of its own, by default a fresh
temporary one, so each notebook a reader opens compiled the lab and its forty dependencies
again before its first result. This launcher gives the kernel one of the folders
`interactive-0`, `interactive-1`, ... under the kernels' build root instead (`target/evcxr`, or
GRADSTEP_EVCXR_DIR): the first one that no running kernel holds. It holds it with an exclusive
`flock` on the folder's lock file, which the kernel inherits, so two open notebooks never build
in the same folder, and the lock goes when the kernel's process ends, however it ends. A folder
keeps what was compiled in it, so a reader's next notebook starts from a built lab. Under the
build root, the folders also get the headless runs' Cargo settings (`.cargo/config.toml`,
copied there from notebooks/headless-profile.toml by the commands that start Jupyter).

A folder that has never been built in starts as a copy of what the headless runs built (the
`kernel` folder's Cargo.lock and target/ without the cells' incremental state: about 150 MB,
5 s to copy), when no headless run is writing it: with the same Cargo settings and
dependencies, Cargo finds the lab built, so even a reader's first notebook does not wait about
a minute for it to compile. `cargo xtask jupyter` makes that copy (`--prepare`) before it starts
JupyterLab.

Each folder takes 150-300 MB, and one is made for every kernel that ran while the others were
open. `--prepare` therefore also removes the free folders past the first KEEP free ones (held
ones are never touched), so what a reader's past sessions left behind does not grow without
bound. It holds a folder's lock while it removes it, so no kernel can start in it meanwhile.

A kernel started with EVCXR_TMPDIR already set (the headless runs, which share one folder and
run one notebook at a time) keeps that folder.

Every kernel, headless or not, also starts with MIMALLOC_ALLOW_THP=0 unless the environment says
otherwise. evcxr_jupyter 0.22 allocates with mimalloc, which by default asks Linux for
transparent huge pages; its rust-analyzer then spent over a quarter of its time in the kernel
zeroing 2 MiB pages it had just released and faulted in again (`perf`: clear_page under
folio_zero_user). Without them, the kernel starts about 3 s sooner and the first cell that
defines a variable takes about 2.5 s less. The cells' own code is not affected: it allocates
through the standard library's shared object, with glibc's malloc.
"""

import os
import shutil
import sys
from pathlib import Path

try:
    import fcntl
except ImportError:  # not a Unix: no locks, so evcxr keeps its own temporary folders
    fcntl = None

# Far more kernels than anyone keeps open; past it, evcxr's own temporary folder is used.
SLOTS = 64
# Free folders kept by --prepare: a reader with two notebooks open finds both built.
KEEP = 2


def build_root():
    """The folder that holds the kernels' build folders."""
    override = os.environ.get("GRADSTEP_EVCXR_DIR")
    if override:
        return Path(override)
    # crates/xtask/python/kernel.py -> the repository's root
    return Path(__file__).resolve().parents[3] / "target" / "evcxr"


def lock_slot(root, n):
    """Locks slot `n`'s lock file without waiting; returns the descriptor, or None if it is held."""
    # Lock files are never removed: a kernel that opened one just before it was deleted would
    # lock a file nobody else sees, and share its folder.
    fd = os.open(root / f"interactive-{n}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def take_slot(root):
    """Locks the first free `interactive-N` folder under `root`; returns (folder, lock fd) or None."""
    root.mkdir(parents=True, exist_ok=True)
    for n in range(SLOTS):
        fd = lock_slot(root, n)
        if fd is None:
            continue
        # Made only once locked: --prepare may have just removed it.
        folder = root / f"interactive-{n}"
        folder.mkdir(exist_ok=True)
        return folder, fd
    return None


def prune(root, keep):
    """Removes every free `interactive-N` folder past the first `keep` free ones."""
    free = 0
    for n in range(SLOTS):
        folder = root / f"interactive-{n}"
        if not folder.is_dir():
            continue
        fd = lock_slot(root, n)
        if fd is None:
            continue  # a running kernel's
        try:
            free += 1
            if free > keep:
                shutil.rmtree(folder, ignore_errors=True)
        finally:
            os.close(fd)


def seed(root, folder):
    """Copies the headless runs' build into `folder` if it has none and no headless run is on."""
    built = root / "kernel"
    if (folder / "target").exists() or not (built / "target").is_dir():
        return
    # Headless runs hold kernel.lock (flock) while their kernels build in `kernel`.
    runs = root / "kernel.lock"
    try:
        fd = os.open(runs, os.O_RDONLY)
    except OSError:
        fd = None
    try:
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        partial = folder / "target.partial"
        shutil.rmtree(partial, ignore_errors=True)
        # The cells' incremental state is evcxr's own crate's, of no use to another folder.
        shutil.copytree(built / "target", partial, symlinks=True, ignore=shutil.ignore_patterns("incremental"))
        if (built / "Cargo.lock").exists():
            shutil.copy2(built / "Cargo.lock", folder / "Cargo.lock")
        partial.rename(folder / "target")
    except (BlockingIOError, OSError):
        pass  # a headless run is on, or the copy failed: the kernel builds what it needs itself
    finally:
        if fd is not None:
            os.close(fd)


def main():
    root = build_root()
    if sys.argv[1:] == ["--prepare"]:
        # Done before Jupyter starts, so that the reader's first kernel does not wait for the copy.
        if fcntl is None:
            return
        prune(root, KEEP)
        slot = take_slot(root)
        if slot is not None:
            seed(root, slot[0])
        return
    if len(sys.argv) != 3:
        sys.exit(f"usage: {sys.argv[0]} EVCXR_JUPYTER CONNECTION_FILE")
    evcxr, connection_file = sys.argv[1], sys.argv[2]
    os.environ.setdefault("MIMALLOC_ALLOW_THP", "0")
    if fcntl is not None and not os.environ.get("EVCXR_TMPDIR"):
        slot = take_slot(root)
        if slot is not None:
            folder, fd = slot
            seed(root, folder)
            # The lock lives as long as some process holds this descriptor: the kernel, after exec.
            os.set_inheritable(fd, True)
            os.environ["EVCXR_TMPDIR"] = str(folder)
    os.execv(evcxr, [evcxr, "--control_file", connection_file])


if __name__ == "__main__":
    main()
