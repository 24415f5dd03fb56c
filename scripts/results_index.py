"""docs/results.jsonl, the machine-readable index of measured results: one JSON object per line per
benchmark of a run, with recipe, family (the survey source of the recipe's first signal), benchmark,
split (dev, test or ood), n, before, after, delta, ci95, command, date and an optional note.
docs/results.md keeps the prose.

    python scripts/results_index.py append RUN_DIR --command "python3 -m alignkit run ..." [--family F]
        [--note TEXT] [--date YYYY-MM-DD] [--split S] [--index PATH]
    python scripts/results_index.py check [--index PATH]

`append` reads RUN_DIR/report.json and adds one line per paired (before/after) benchmark. The family
comes from the recipe the run stored (the Recipe section of RUN_DIR/report.html), else from
recipes/NAME.yaml; --family overrides. The date is the day report.json was written unless --date
is given. `check` validates every line and exits 1 naming each bad line.
"""

from __future__ import annotations

import argparse
import datetime
import html
import json
import math
import re
import sys
from pathlib import Path
from typing import Any

from alignkit.signals.base import SOURCES

# the survey's four sources of signal, and in-context alignment (no training: recipes/in_context.yaml)
FAMILIES = (*SOURCES, "in_context")

REPO = Path(__file__).resolve().parents[1]
INDEX = REPO / "docs" / "results.jsonl"
SPLITS = ("dev", "test", "ood")
REQUIRED = {"recipe": str, "family": str, "benchmark": str, "split": str, "n": int, "before": float, "after": float,
            "delta": float, "ci95": list, "command": str, "date": str}
OPTIONAL = {"note": str}
TOLERANCE = 0.002  # before, after and delta are written rounded (docs show 3 decimals)


# -- check ----------------------------------------------------------------------------------------

def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def problems(entry: Any) -> list[str]:
    """What is wrong with one index line (empty: nothing)."""
    if not isinstance(entry, dict):
        return ["not a JSON object"]
    out = [f"missing key {k!r}" for k in REQUIRED if k not in entry]
    out += [f"unknown key {k!r}" for k in entry if k not in REQUIRED and k not in OPTIONAL]
    for key, kind in {**REQUIRED, **OPTIONAL}.items():
        if key not in entry:
            continue
        v = entry[key]
        if kind is float and not _number(v):
            out.append(f"{key} is not a number: {v!r}")
        elif kind is int and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
            out.append(f"{key} is not a positive integer: {v!r}")
        elif kind is str and (not isinstance(v, str) or not v.strip()):
            out.append(f"{key} is not a non-empty string: {v!r}")
        elif kind is list and not (isinstance(v, list) and len(v) == 2 and all(_number(x) for x in v)):
            out.append(f"ci95 is not a [lo, hi] pair of numbers: {v!r}")
    if out:
        return out
    if entry["family"] not in FAMILIES:
        out.append(f"family {entry['family']!r} is not one of {', '.join(FAMILIES)}")
    if entry["split"] not in SPLITS:
        out.append(f"split {entry['split']!r} is not one of {', '.join(SPLITS)}")
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", entry["date"]):
            raise ValueError
        datetime.date.fromisoformat(entry["date"])
    except ValueError:
        out.append(f"date {entry['date']!r} is not a YYYY-MM-DD date")
    gap = entry["after"] - entry["before"] - entry["delta"]
    if abs(gap) > TOLERANCE:
        out.append(f"after - before = {entry['after'] - entry['before']:+.4f} but delta is {entry['delta']:+.4f}")
    lo, hi = entry["ci95"]
    if lo > hi:
        out.append(f"ci95 is not ordered: [{lo}, {hi}]")
    return out


def check(index: Path) -> int:
    if not index.is_file():
        print(f"{index}: no such file", file=sys.stderr)
        return 1
    lines = index.read_text().splitlines()
    bad = 0
    for number, line in enumerate(lines, 1):
        try:
            found = problems(json.loads(line)) if line.strip() else ["empty line"]
        except json.JSONDecodeError as exc:
            found = [f"not JSON: {exc.msg} (column {exc.colno})"]
        for p in found:
            print(f"{index}:{number}: {p}", file=sys.stderr)
        bad += bool(found)
    if bad:
        print(f"{index}: {bad} bad line(s) of {len(lines)}", file=sys.stderr)
        return 1
    print(f"{index}: {len(lines)} lines ok")
    return 0


# -- append ---------------------------------------------------------------------------------------

def stored_recipe(run: Path, name: str | None) -> dict | None:
    """The recipe as the run stored it (report.html's Recipe section, written by the pipeline from
    the validated recipe), else the repository's recipes/NAME.yaml."""
    import yaml

    page = run / "report.html"
    if page.is_file():
        m = re.search(r"<h2>Recipe</h2><pre>(.*?)</pre>", page.read_text(), re.S)
        if m:
            return yaml.safe_load(html.unescape(m.group(1)))
    path = REPO / "recipes" / f"{name}.yaml"
    return yaml.safe_load(path.read_text()) if name and path.is_file() else None


def family_of(run: Path, recipe_name: str | None) -> str:
    from alignkit.signals.base import get_signal

    recipe = stored_recipe(run, recipe_name)
    signals = (recipe or {}).get("signals") or []
    if recipe and not signals and (recipe.get("evaluate") or {}).get("in_context"):
        return "in_context"  # aligned by its context alone
    if not signals:
        sys.exit(f"{run}: cannot find the run's recipe (no Recipe section in report.html, no recipes/"
                 f"{recipe_name}.yaml): give --family ({', '.join(FAMILIES)})")
    return get_signal(signals[0]["name"]).source


def entries(run: Path, command: str, family: str | None, note: str | None, date: str | None,
            split: str | None) -> list[dict]:
    from alignkit.evaluate.benchmarks import BENCHMARKS

    path = run / "report.json"
    if not path.is_file():
        sys.exit(f"no report.json in {run}: give the --out directory of `alignkit run`")
    report = json.loads(path.read_text())
    family = family or family_of(run, report.get("recipe"))
    date = date or datetime.date.fromtimestamp(path.stat().st_mtime).isoformat()
    out = []
    for name, b in report.get("benchmarks", {}).items():
        if "before" not in b:
            print(f"{name}: a single score, not a before/after comparison: not indexed", file=sys.stderr)
            continue
        where = split or b.get("split") or (BENCHMARKS[name].split if name in BENCHMARKS else None)
        if where is None:
            sys.exit(f"{name}: report.json gives no split: give --split ({', '.join(SPLITS)})")
        entry = {"recipe": report.get("recipe") or "", "family": family, "benchmark": name, "split": where,
                 "n": b["n"], "before": round(b["before"], 4), "after": round(b["after"], 4),
                 "delta": round(b["delta"], 4), "ci95": [round(x, 4) for x in b["ci95"]], "command": command,
                 "date": date}
        if note:
            entry["note"] = note
        out.append(entry)
    return out


def append(args: argparse.Namespace) -> int:
    new = entries(args.run, args.command, args.family, args.note, args.date, args.split)
    for e in new:
        found = problems(e)
        if found:
            sys.exit(f"{args.run}: {e['benchmark']}: " + "; ".join(found))
    old = [json.loads(line) for line in args.index.read_text().splitlines() if line.strip()] \
        if args.index.is_file() else []
    same = ("recipe", "benchmark", "command", "before", "after", "n")
    keep = [e for e in new if not any(all(o.get(k) == e[k] for k in same) for o in old)]
    for e in new:
        if e not in keep:
            print(f"{e['benchmark']}: already indexed with the same command and numbers: skipped", file=sys.stderr)
    text = args.index.read_text() if args.index.is_file() else ""
    if text and not text.endswith("\n"):
        text += "\n"
    args.index.write_text(text + "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in keep))
    for e in keep:
        print(f"indexed {e['recipe']} / {e['benchmark']} ({e['split']}): {e['before']:.3f} -> {e['after']:.3f}, "
              f"{e['delta']:+.3f} [{e['ci95'][0]:+.3f}, {e['ci95'][1]:+.3f}]")
    return 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="mode", required=True)
    a = sub.add_parser("append", help="index a finished run's report.json")
    a.add_argument("run", type=Path)
    a.add_argument("--command", required=True, help="the exact command that produced the run")
    a.add_argument("--family", choices=FAMILIES, help="survey source (default: the recipe's first signal's)")
    a.add_argument("--note")
    a.add_argument("--date", help="YYYY-MM-DD (default: the day report.json was written)")
    a.add_argument("--split", choices=SPLITS, help="for benchmarks whose report entry has no split")
    a.add_argument("--index", type=Path, default=INDEX)
    c = sub.add_parser("check", help="validate every line of the index")
    c.add_argument("--index", type=Path, default=INDEX)
    args = ap.parse_args()
    sys.exit(append(args) if args.mode == "append" else check(args.index))


if __name__ == "__main__":
    main()
