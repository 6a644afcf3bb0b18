"""Execute notebooks headless with a real Jupyter client and check every output.

Usage: execute_notebooks.py --out DIR --timeout SECONDS [--touch FILE] NOTEBOOK...
       execute_notebooks.py --check-only EXECUTED_NOTEBOOK...

Each notebook runs in a fresh kernel named in its metadata (the evcxr Rust kernel), with the
notebook's folder as the working directory. The executed copy goes to DIR. The run fails if any
cell has an error output, writes to stderr, or prints "panicked at": a panicking evcxr cell does
not make nbclient fail by itself.

--touch FILE updates FILE's modification time after each notebook, so that a running
`mdbook serve` that watches FILE rebuilds the book with the new outputs.

--check-only applies the same checks to notebooks that were already executed; it needs nothing
but the standard library, which lets the project's tests exercise the checks without a kernel.
"""

import argparse
import json
import os
import sys
import time


def text_of(value):
    """A notebook string field: either a string or a list of lines."""
    return "".join(value) if isinstance(value, list) else (value or "")


def problems_of(nb):
    """(cell index, first line of the cell, what is wrong) for every bad output of a notebook."""
    found = []
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        first_line = (text_of(cell["source"]).splitlines() or [""])[0][:60]
        for out in cell.get("outputs", []):
            kind = out.get("output_type")
            text = text_of(out.get("text", "")) if kind == "stream" else ""
            if kind == "error":
                found.append((index, first_line, f"error {out.get('ename')}: {out.get('evalue')}"))
            elif kind == "stream" and out.get("name") == "stderr":
                found.append((index, first_line, "stderr: " + text[:2000]))
            elif "panicked at" in text:
                found.append((index, first_line, "panic: " + text[:2000]))
    return found


def report(name, problems, seconds):
    if problems:
        print(f"FAILED {name} ({seconds:.1f} s)", flush=True)
        for index, first_line, what in problems:
            print(f"  cell {index} ({first_line!r}): {what}", flush=True)
    else:
        print(f"ok     {name} ({seconds:.1f} s)", flush=True)
    return bool(problems)


def check_only(paths):
    failed = 0
    for path in paths:
        with open(path, encoding="utf-8") as f:
            failed += report(os.path.basename(path), problems_of(json.load(f)), 0.0)
    print(f"notebooks: {len(paths) - failed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out")
    parser.add_argument("--timeout", type=int, default=1200)
    parser.add_argument("--check-only", action="store_true")
    parser.add_argument("--touch")
    parser.add_argument("notebooks", nargs="+")
    args = parser.parse_args()
    if args.check_only:
        return check_only(args.notebooks)
    if not args.out:
        parser.error("--out is required unless --check-only")
    # Imported here so that --check-only runs on a bare Python.
    import nbformat
    from nbclient import NotebookClient

    os.makedirs(args.out, exist_ok=True)
    failed = 0
    for path in args.notebooks:
        start = time.time()
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(
            nb,
            timeout=args.timeout,
            kernel_name=nb.metadata.get("kernelspec", {}).get("name", "rust"),
            allow_errors=True,
            resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}},
        )
        client.execute()
        name = os.path.basename(path)
        nbformat.write(nb, os.path.join(args.out, name))
        failed += report(name, problems_of(nb), time.time() - start)
        if args.touch:
            os.utime(args.touch)
    print(f"notebooks: {len(args.notebooks) - failed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
