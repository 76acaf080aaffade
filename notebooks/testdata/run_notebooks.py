#!/usr/bin/python3
"""Execute notebooks with nbclient, each with its own folder as the kernel's working directory.

Usage:
    JUPYTER_PATH=DIR /usr/bin/python3 run_notebooks.py --kernel NAME --out OUTDIR NB.ipynb...

Every notebook is run from its first cell to its last with the kernelspec NAME (whatever the
notebook's metadata says); a cell error fails the run. The executed notebooks are written to
OUTDIR under their own names, and a JSON report (seconds per notebook) goes to stdout.
"""

import argparse
import json
import os
import sys
import time

import nbclient
import nbformat


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--timeout", type=int, default=60)
    ap.add_argument("notebooks", nargs="+")
    args = ap.parse_args()
    report = {"nbclient": nbclient.__version__, "notebooks": {}}
    status = 0
    for path in args.notebooks:
        nb = nbformat.read(path, as_version=4)
        client = nbclient.NotebookClient(
            nb, kernel_name=args.kernel, timeout=args.timeout, startup_timeout=30,
            resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}})
        t0 = time.monotonic()
        entry = {}
        try:
            client.execute()
        except Exception as e:  # CellExecutionError, timeouts, dead kernels
            entry["error"] = "%s: %s" % (type(e).__name__, e)
            status = 1
        entry["s"] = round(time.monotonic() - t0, 3)
        report["notebooks"][os.path.basename(path)] = entry
        nbformat.write(nb, os.path.join(args.out, os.path.basename(path)))
    json.dump(report, sys.stdout, indent=1)
    return status


if __name__ == "__main__":
    sys.exit(main())
