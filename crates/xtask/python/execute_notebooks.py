"""Execute notebooks headless with a real Jupyter client and check every output.

Usage: execute_notebooks.py --out DIR --timeout SECONDS NOTEBOOK...

Each notebook runs in a fresh kernel named in its metadata (the evcxr Rust kernel), with the
notebook's folder as the working directory. The executed copy goes to DIR. The run fails if any
cell has an error output, writes to stderr, or prints "panicked at": a panicking evcxr cell does
not make nbclient fail by itself.
"""

import argparse
import os
import sys
import time

import nbformat
from nbclient import NotebookClient


def problems_of(nb):
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        first_line = (cell.source.splitlines() or [""])[0][:60]
        for out in cell.get("outputs", []):
            kind = out.get("output_type")
            if kind == "error":
                found.append((index, first_line, f"error {out.get('ename')}: {out.get('evalue')}"))
            elif kind == "stream" and out.get("name") == "stderr":
                found.append((index, first_line, "stderr: " + out.get("text", "")[:2000]))
            text = out.get("text", "") if kind == "stream" else ""
            if "panicked at" in text:
                found.append((index, first_line, "panic: " + text[:2000]))
    return found


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--timeout", type=int, default=1200)
    parser.add_argument("notebooks", nargs="+")
    args = parser.parse_args()
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
        problems = problems_of(nb)
        seconds = time.time() - start
        if problems:
            failed += 1
            print(f"FAILED {name} ({seconds:.1f} s)", flush=True)
            for index, first_line, what in problems:
                print(f"  cell {index} ({first_line!r}): {what}", flush=True)
        else:
            cells = sum(1 for c in nb.cells if c.cell_type == "code")
            print(f"ok     {name}: {cells} code cells ({seconds:.1f} s)", flush=True)
    print(f"notebooks: {len(args.notebooks) - failed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
