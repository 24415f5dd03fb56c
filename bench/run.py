"""Run every benchmark script, one after another, and say which ones crashed. A missed
target is a finding, not a failure: only a script that exits non-zero fails the run.

    python bench/run.py --quick      # reduced sizes: checks every script runs (CI)
    python bench/run.py              # the full figures of docs/benchmarks.md (tens of minutes)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ["generation", "decode_settings", "peer", "judging", "training", "scaling", "hardware", "train_step",
           "dtype", "sandbox", "serve_load", "train_dtype", "context_prefix", "continuous"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", nargs="*", choices=SCRIPTS, help="run just these scripts")
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE.parent / "src"),
                                                                      os.environ.get("PYTHONPATH")]))}
    failed, start = [], time.perf_counter()
    for name in args.only or SCRIPTS:
        cmd = [sys.executable, str(HERE / f"{name}.py"), *(["--quick"] if args.quick else [])]
        print(f"\n=== {name}: {' '.join(cmd[1:])}", flush=True)
        t = time.perf_counter()
        proc = subprocess.run(cmd, env=env, cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(("#", "|", "raw seconds")) or "x (target" in ln
                 or ln.startswith(("agreement", "generation alone", "local ", "distilabel", "crashes"))]
        print("\n".join(lines if proc.returncode == 0 else proc.stdout.splitlines()[-40:]))
        print(f"=== {name}: exit {proc.returncode} in {time.perf_counter() - t:.0f} s", flush=True)
        if proc.returncode:
            failed.append(name)
    print(f"\n{len(args.only or SCRIPTS) - len(failed)} scripts ran, {len(failed)} crashed"
          f"{': ' + ', '.join(failed) if failed else ''}; {time.perf_counter() - start:.0f} s in all")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
