"""One self-contained HTML page per run: the recipe, the before/after table with CIs and each
benchmark's split, answer lengths and per-constraint changes, per-iteration curves, score
distributions, the signal audit, and a browsable sample of prompts, candidates, annotations,
training rows and evaluation answers. Plots are matplotlib PNGs embedded as data URIs, so the
page is one file that opens anywhere."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

SAMPLE = 12  # items shown per browsable section

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:70em;color:#222;padding:0 1em}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;
vertical-align:top}th{background:#f2f2f2}td.num{text-align:right;font-variant-numeric:tabular-nums}
.good{color:#176f2c}.bad{color:#a11}.flag{color:#a11;font-weight:600}pre{white-space:pre-wrap;background:#f7f7f7;
padding:.5em;margin:.2em 0;max-height:20em;overflow:auto}details{margin:.4em 0}summary{cursor:pointer}
img{max-width:100%;border:1px solid #ddd;margin:.5em 0}.muted{color:#777}
"""
# The page records how many of its images decoded, so a browser test can check they rendered.
_SCRIPT = """<script>
window.addEventListener('load', function () {
  var imgs = Array.from(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute('data-images', imgs.length);
  document.body.setAttribute('data-images-rendered', ok);
  document.body.setAttribute('data-tables', document.querySelectorAll('table').length);
});
</script>"""


def _e(x: Any) -> str:
    return html.escape(str(x))


def _f(x: Any, signed: bool = False) -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:+.3f}" if signed else f"{x:.3f}"
    return _e(x)


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return f'<img alt="plot" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _table(headers: list[str], rows: list[list[str]], cls: str = "") -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(rows_cell for rows_cell in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _td(x: Any, signed: bool = False, cls: str = "num") -> str:
    return f'<td class="{cls}">{_f(x, signed)}</td>'


_SPLITS = ("<b>Split</b>: <i>test</i>, held out from training and never used to choose a setting (in "
           "distribution); <i>ood</i>, written by others, in styles alignkit's generators do not produce; "
           "<i>dev</i>, for choosing settings: <b>dev numbers are not results</b>.")


def _bench_section(report: dict) -> str:
    benchmarks = report.get("benchmarks", {})
    paired = any("before" in b for b in benchmarks.values())
    rows = []
    for name, b in benchmarks.items():
        lo, hi = b["ci95"]
        split = b.get("split", "")
        split_td = f'<td class="flag">{_e(split)}</td>' if split == "dev" else f"<td>{_e(split)}</td>"
        if "before" in b:
            cls = "good" if lo > 0 else "bad" if hi < 0 else ""
            rows.append([f"<td>{_e(name)}</td>", split_td, _td(b["n"]), _td(b["before"]), _td(b["after"]),
                         f'<td class="num {cls}">{_f(b["delta"], True)}</td>',
                         f'<td class="num">[{_f(lo, True)}, {_f(hi, True)}]</td>'])
        else:  # one score (an eval, or a reward model's held-out pair accuracy)
            better = "" if b.get("higher_is_better", True) else " (lower is better)"
            cells = [f"<td>{_e(name)}{better}</td>", split_td, _td(b["n"]), _td(b.get("score")),
                     f'<td class="num">[{_f(lo)}, {_f(hi)}]</td>']
            rows.append(cells[:3] + ["<td></td>"] + cells[3:4] + ["<td></td>"] + cells[4:] if paired else cells)
    headers = (["benchmark", "split", "n", "before", "after", "delta", "95% CI"] if paired
               else ["benchmark", "split", "n", "score", "95% CI"])
    out = "<h2>Benchmarks</h2>" + _table(headers, rows)
    out += ('<p class="muted">Paired bootstrap CI of the per-item difference (10,000 resamples).</p>' if paired
            else '<p class="muted">Bootstrap CI of the mean (10,000 resamples).</p>')
    ic_rows = []
    for name, b in benchmarks.items():
        if ic := b.get("in_context"):
            lo, hi = ic["ci95"]
            cls = "good" if lo > 0 else "bad" if hi < 0 else ""
            ic_rows.append([f"<td>{_e(name)}</td>", f"<td>{_e(ic['context'])}</td>", _td(ic["score"]),
                            _td(b["after"]), f'<td class="num {cls}">{_f(ic["delta"], True)}</td>',
                            f'<td class="num">[{_f(lo, True)}, {_f(hi, True)}]</td>'])
    if ic_rows:
        out += ("<h3>Against the in-context baseline</h3><p>The base model aligned by its context alone "
                "(URIAL-style, no training) is the baseline a trained model has to beat.</p>"
                + _table(["benchmark", "context", "in-context", "trained", "delta", "95% CI"], ic_rows))
    if any("split" in b for b in benchmarks.values()):
        out += f"<p>{_SPLITS}</p>"
    if benchmarks:
        out += _bench_plot(benchmarks)
    return out


def _breakdown_section(report: dict) -> str:
    """Per benchmark: the answer-length distribution before and after, and for instruction
    benchmarks every constraint type, losses (the paired CI below 0) marked."""
    from alignkit.evaluate.breakdown import LONG_ANSWER_WORDS, lost_note

    breakdown = report.get("breakdown")
    if not breakdown:
        return ""
    share = f"share_ge_{LONG_ANSWER_WORDS}"
    parts = ["<h2>Breakdown: answer lengths and constraints</h2>"]
    for name, bd in breakdown.items():
        split = report.get("benchmarks", {}).get(name, {}).get("split")
        parts.append(f"<h3>{_e(name)}{f' ({_e(split)})' if split else ''}</h3>")
        rows = []
        for label in ("before", "after"):
            st = bd["length"][label]
            rows.append([f"<td>{label}</td>", _td(st.get("n"))] + [
                f'<td class="num">{st[k]:.1f}</td>' if k in st else "<td></td>"
                for k in ("mean", "p10", "p25", "median", "p75", "p90")] + [_td(st.get(share)),
                                                                            _td(st.get("share_looping"))])
        parts.append(_table(["answer length (words)", "n", "mean", "p10", "p25", "median", "p75", "p90",
                             f"share ≥ {LONG_ANSWER_WORDS}", "share looping"], rows))
        c = bd.get("constraints")
        if not c:
            continue
        if not c["matched_items"]:
            parts.append(f"<p class='flag'>No item matched the benchmark's regenerated prompts "
                         f"({c['unmatched_items']} items): no per-constraint table.</p>")
            continue
        rows = []
        for cid, t in c["types"].items():
            cls = "bad" if t["significant_loss"] else "good" if t["significant_gain"] else ""
            mark = '<span class="flag">significant loss</span>' if t["significant_loss"] else (
                "significant gain" if t["significant_gain"] else "")
            if note := lost_note(t):
                mark += ("; " if mark else "") + _e(note)
            rows.append([f"<td><code>{_e(cid)}</code></td>", _td(t["items"]), _td(t["followed_before"]),
                         _td(t["followed_after"]), f'<td class="num {cls}">{_f(t["delta"], True)}</td>',
                         f'<td class="num">[{_f(t["ci95"][0], True)}, {_f(t["ci95"][1], True)}]</td>',
                         f"<td>{mark}</td>"])
        for level in ("instruction_level", "prompt_level"):
            if level in c:
                lv = c[level]
                rows.append([f"<td><i>{level.replace('_', '-')} accuracy</i></td>", _td(lv["n"]), _td(lv["before"]),
                             _td(lv["after"]), _td(lv["delta"], True),
                             f'<td class="num">[{_f(lv["ci95"][0], True)}, {_f(lv["ci95"][1], True)}]</td>',
                             "<td></td>"])
        losses = ", ".join(c["significant_losses"]) or "none"
        unmatched = f", {c['unmatched_items']} not found among the regenerated prompts" if c["unmatched_items"] else ""
        parts.append(f"<p>Per constraint type, strict ({c['matched_items']} items{_e(unmatched)}). Significant "
                     f"losses: <span class=\"{'flag' if c['significant_losses'] else ''}\">{_e(losses)}</span>.</p>")
        parts.append(_table(["constraint", "items", "followed before", "followed after", "delta", "95% CI", ""],
                            rows))
    parts.append('<p class="muted">Constraint rows count items; the two accuracy rows give rates, instruction-level '
                 "over every constraint (its n counts constraints), prompt-level over items. CIs: paired bootstrap "
                 "(10,000 resamples); a loss is a CI wholly below 0.</p>")
    return "".join(parts)


def _bench_plot(benchmarks: dict) -> str:
    plt = _plt()
    names = list(benchmarks)
    fig, ax = plt.subplots(figsize=(1.8 + 1.6 * len(names), 3))
    for x, name in enumerate(names):
        b = benchmarks[name]
        if "before" in b:
            ax.bar(x - 0.2, b["before"], 0.4, color="#bbb", label="before" if x == 0 else None)
            ax.bar(x + 0.2, b["after"], 0.4, color="#3a7", label="after" if x == 0 else None)
        elif "score" in b:
            lo, hi = b["ci95"]
            ax.bar(x, b["score"], 0.5, yerr=[[b["score"] - lo], [hi - b["score"]]], capsize=4, color="#37a")
    if any("before" in b for b in benchmarks.values()):
        ax.legend()
    ax.set_xticks(list(range(len(names))), names, rotation=15)
    ax.set_ylim(0, 1)
    ax.set_ylabel("score")
    return _png(fig)


def _iterations_section(report: dict) -> str:
    its = report.get("iterations")
    if not its:
        return ""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3))
    for name, b in report["benchmarks"].items():
        ys = [b["before"]] + [it["benchmarks"][name]["after"] for it in its if name in it["benchmarks"]]
        ax.plot(range(len(ys)), ys, marker="o", label=name)
    ax.set_xlabel("iteration (0 = base model)")
    ax.set_ylabel("score")
    ax.legend()
    rows = [[_td(it["iteration"])] + [f'<td>{_e(n)}: {_f(b["after"])} ({_f(b["delta"], True)} vs previous, CI '
                                      f'[{_f(b["ci95"][0], True)}, {_f(b["ci95"][1], True)}])</td>'
                                      for n, b in it["benchmarks"].items()] for it in its]
    return "<h2>Iterations</h2>" + _png(fig) + _table(["iteration", "benchmarks"], rows)


def audit_table(audit: dict) -> str:
    if not audit:
        return ""
    rows = []
    for r in audit.get("signals", []):
        if "error" in r or "note" in r:
            why = _e(r.get("error") or r["note"])
            rows.append([f"<td>{_e(r['signal'])}</td>", f'<td colspan="9" class="muted">{why}</td>'])
            continue
        ci = r.get("auroc_ci95")
        flags = "<br>".join(f'<span class="flag">{_e(f)}</span>' for f in r["flags"])
        if r.get("undecided"):  # not a flag: the probe was too small to decide
            flags += ("<br>" if flags else "") + f'<span class="muted">{_e(r["undecided"])}</span>'
        flags = flags or "none"
        rows.append([f"<td>{_e(r['signal'])}</td>", _td(r.get("scored")),
                     f'<td class="num">{_f(r.get("auroc"))}{f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else ""}</td>',
                     _td(r.get("pairwise_accuracy")), _td(r.get("calibration_error")), _td(r.get("repeat_agreement")),
                     _td(r.get("position_flip_rate")),
                     f'<td class="num">{_f(r.get("length_corr_passing"))} / {_f(r.get("length_corr_failing"))}</td>',
                     _td(r.get("injection_win_rate")), f"<td>{flags}</td>"])
    head = (f"<h2>Signal audit</h2><p>Probe: {_e(audit.get('prompts'))} prompts of <b>{_e(audit.get('bench'))}</b> × "
            f"{_e(audit.get('answers_per_prompt'))} sampled answers, labelled by the benchmark's ground truth "
            f"(pass rate {_f(audit.get('truth_pass_rate'))}).</p>")
    return head + _table(["signal", "answers", "AUROC [95% CI]", "pair acc.", "calib. error", "repeat agree.",
                          "position flips", "length r (pass / fail)", "injection wins", "flags"], rows)


def _dist_section(groups: list[dict], signal: str | None) -> str:
    values = []
    for g in groups:
        for c in g["candidates"]:
            for a in c["annotations"]:
                v = json.loads(a["value"]) if isinstance(a["value"], str) else a["value"]
                if a["signal"] == signal and isinstance(v, (int, float)) and not isinstance(v, bool):
                    values.append(float(v))
    if not values:
        return ""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 2.8))
    ax.hist(values, bins=min(20, max(5, len(set(values)))), color="#37a")
    ax.set_xlabel(f"{signal} score")
    ax.set_ylabel("candidates")
    return f"<h2>Signal scores</h2><p>{len(values)} candidates scored by <b>{_e(signal)}</b>.</p>" + _png(fig)


def _groups_section(groups: list[dict]) -> str:
    if not groups:
        return ""
    parts = []
    for g in groups[:SAMPLE]:
        prompt = g["messages"][-1]["content"] if g["messages"] else ""
        cands = []
        for i, c in enumerate(g["candidates"]):
            anns = "; ".join(f"{a['signal']}={_short(a['value'])}" for a in c["annotations"])
            cands.append(f"<li><b>candidate {i}</b> <span class='muted'>{_e(anns)}</span>"
                         f"<pre>{_e(c['text'])}</pre></li>")
        parts.append(f"<details><summary>{_e(prompt[:140])}</summary><pre>{_e(prompt)}</pre><ol>{''.join(cands)}"
                     "</ol></details>")
    return f"<h2>Prompts, candidates and annotations</h2><p>{len(groups)} prompts; first {min(SAMPLE, len(groups))}:" \
           f"</p>{''.join(parts)}"


def _short(v: Any) -> str:
    v = json.loads(v) if isinstance(v, str) else v
    return f"{v:.3g}" if isinstance(v, float) else str(v)[:40]


def _rows_section(rows: list[dict]) -> str:
    if not rows:
        return ""
    parts = []
    for r in rows[:SAMPLE]:
        prompt = r.get("prompt") or r.get("messages") or ""
        text = prompt[-1]["content"] if isinstance(prompt, list) and prompt else str(prompt)
        body = "".join(f"<p><b>{_e(k)}</b></p><pre>{_e(_content(r[k]))}</pre>"
                       for k in ("chosen", "rejected", "completion", "messages") if k in r)
        label = f" label={_e(r['label'])}" if "label" in r else ""
        parts.append(f"<details><summary>{_e(text[:140])}{label}</summary>{body}</details>")
    return f"<h2>Training rows</h2><p>{len(rows)} rows; first {min(SAMPLE, len(rows))}:</p>{''.join(parts)}"


def _content(x: Any) -> str:
    if isinstance(x, list):
        return "\n\n".join(f"[{m.get('role')}] {m.get('content')}" for m in x)
    return str(x)


def _items_section(items: dict[str, dict[str, list[dict]]]) -> str:
    """items: benchmark -> label (before/after/score) -> per-item dicts with prompt, response, score."""
    if not items:
        return ""
    parts = []
    for bench, by_label in items.items():
        labels = list(by_label)
        first = by_label[labels[0]]
        rows = []
        for i, it in enumerate(first[:SAMPLE]):
            cells = [f"<td><pre>{_e(it['prompt'][:600])}</pre></td>"]
            for lab in labels:
                other = by_label[lab][i] if i < len(by_label[lab]) else {}
                cells.append(f"<td><pre>{_e(other.get('response', ''))}</pre>"
                             f"<b>score {_f(other.get('score'))}</b></td>")
            rows.append(cells)
        parts.append(f"<details><summary>{_e(bench)} ({len(first)} items)</summary>"
                     + _table(["prompt", *labels], rows) + "</details>")
    return "<h2>Evaluation answers</h2>" + "".join(parts)


def _provenance_section(report: dict) -> str:
    """What produced the run: command, versions, git commit, hardware, seeds (report.json's provenance)."""
    prov = report.get("provenance")
    if not prov:
        return ""
    git = prov.get("git") or {}
    hw = prov.get("hardware") or {}
    rows = [["<td>command</td>", f"<td><code>{_e(prov.get('command'))}</code></td>"],
            ["<td>versions</td>", "<td>" + ", ".join(f"{_e(k)} {_e(v or 'not installed')}"
                                                     for k, v in (prov.get("versions") or {}).items()) + "</td>"],
            ["<td>git commit</td>", f"<td><code>{_e(git.get('commit', 'not a git checkout'))}</code>"
                                    f"{' (uncommitted changes)' if git.get('dirty') else ''}</td>"],
            ["<td>hardware</td>", f"<td>{_e(hw.get('cpu'))}, {_e(hw.get('cores'))} cores, "
                                  f"{_e(hw.get('memory_gb'))} GB; GPUs: {_e(', '.join(hw.get('gpus') or []) or 'none')}"
                                  "</td>"],
            ["<td>seeds</td>", f"<td><code>{_e(json.dumps(prov.get('seeds')))}</code></td>"],
            ["<td>finished</td>", f"<td>{_e(prov.get('finished_utc'))}</td>"]]
    return "<h2>Provenance</h2>" + _table(["", ""], rows)


def render(report: dict, *, details: dict | None = None, audit: dict | None = None, groups: list[dict] | None = None,
           rows: list[dict] | None = None, items: dict | None = None, recipe_text: str | None = None) -> str:
    title = f"alignkit: {report.get('recipe') or 'evaluation'} — {report.get('model')}"
    signal = (details or {}).get("signal", {}).get("signal") if details else None
    meta = [f"<p>Model: <code>{_e(report.get('model'))}</code>; wall time {report.get('wall_seconds', 0):.0f} s"]
    if details and details.get("base_model"):
        meta.append(f"; base model <code>{_e(details['base_model'])}</code>")
    if details and details.get("dataset_rows") is not None:
        meta.append(f"; {details['dataset_rows']} training rows")
    meta.append("</p>")
    if details and details.get("stage_seconds"):
        meta.append("<p class='muted'>Stage seconds: " + ", ".join(f"{_e(k)} {v}" for k, v in
                                                               details["stage_seconds"].items()) + "</p>")
    if report.get("signals"):
        meta.append("<p>Signal summary: <code>" + _e(json.dumps(report["signals"])) + "</code></p>")
    body = "".join([
        f"<h1>{_e(title)}</h1>", *meta, _bench_section(report), _breakdown_section(report),
        _iterations_section(report), audit_table(audit or {}),
        _dist_section(groups or [], signal), _groups_section(groups or []), _rows_section(rows or []),
        _items_section(items or {}),
        f"<h2>Recipe</h2><pre>{_e(recipe_text)}</pre>" if recipe_text else "", _provenance_section(report),
    ])
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{_e(title)}</title><style>{_CSS}</style>"
            f"</head><body>{body}{_SCRIPT}</body></html>")


def write_run_report(run_dir: str | Path, recipe_text: str | None = None) -> Path:
    """Render DIR/report.html from a run directory (`alignkit run`) or an eval directory
    (`alignkit eval`), from whatever of the run's files exist."""
    from alignkit.data.store import atomic_write_bytes

    run = Path(run_dir)
    report = _load(run / "report.json") or {}
    details = _load(run / "details.json")
    audit = _load(run / "audit.json")
    stages = run / "stages"
    groups, rows, items = [], [], {}
    if stages.is_dir():
        ann = _last(stages, "annotate")
        if ann is not None:
            import pyarrow.parquet as pq

            for shard in sorted(ann.glob("shard-*.parquet")):
                groups.extend(pq.read_table(shard).to_pylist())
                if len(groups) >= SAMPLE * 4:
                    break
        build = _last(stages, "build")
        rows = (_load(build / "rows.json") or []) if build else []
        for d in sorted(stages.glob("eval_*")):
            label, _, bench = d.name[len("eval_"):].partition("_")
            if (d / "items.json").is_file():
                items.setdefault(bench, {})[label] = _load(d / "items.json")
    for f in sorted(run.glob("*.items.json")):  # alignkit eval
        items.setdefault(f.name[: -len(".items.json")], {})["score"] = _load(f)
    for bench, by_label in items.items():  # before first, the latest model last
        items[bench] = dict(sorted(by_label.items(), key=lambda kv: (kv[0] != "before", kv[0])))
    page = render(report, details=details, audit=audit, groups=groups, rows=rows, items=items, recipe_text=recipe_text)
    out = run / "report.html"
    atomic_write_bytes(out, page.encode("utf-8"))
    return out


def _load(path: Path) -> Any:
    return json.loads(path.read_text()) if path.is_file() else None


def _last(stages: Path, prefix: str) -> Path | None:
    """The latest iteration's stage directory: prefix, prefix_it2, prefix_it3 ..."""
    found = [d for d in stages.iterdir() if d.name == prefix or d.name.startswith(prefix + "_it")]
    if not found:
        return None
    return max(found, key=lambda d: int(d.name.rsplit("_it", 1)[1]) if "_it" in d.name else 1)
