"""alignkit command line. Thin: parses, calls the library, prints."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import typer

from alignkit.errors import AlignkitError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Align language models without human labels.")


def repo_recipes_dir() -> Path:
    env = os.environ.get("ALIGNKIT_RECIPES")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "recipes").is_dir() and (parent / "pyproject.toml").is_file():
            return parent / "recipes"
    return here.parent / "recipes"


DEFAULT_RECIPE = "verifiable_instructions"


def _quiet_libraries() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import warnings

    warnings.filterwarnings("ignore")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()


@app.command()
def validate(recipe: Path = typer.Argument(..., help="recipe YAML"),
             set_: list[str] = typer.Option([], "--set", help="override: key.path=value")) -> None:
    """Check a recipe without running it."""
    from alignkit.recipe import load_recipe

    r = load_recipe(recipe, set_)
    signals = ", ".join(s.name for s in r.signals) or "none, in context"
    typer.echo(f"ok: {recipe} (recipe {r.name!r}, signals: {signals})")


@app.command()
def run(recipe: Path = typer.Argument(..., help="recipe YAML"),
        out: Path = typer.Option(None, "--out", help="run directory (default runs/NAME)"),
        set_: list[str] = typer.Option([], "--set", help="override: key.path=value"),
        executor: str = typer.Option(None, "--executor", help="local or ray (overrides the recipe)"),
        launcher: str = typer.Option(None, "--launcher", help="none, accelerate or torchrun: how training runs"),
        accelerate_config: Path = typer.Option(None, "--accelerate-config", help="accelerate config file"),
        push_to_hub: str = typer.Option(None, "--push-to-hub", help="upload the trained model/ and its card to "
                                        "this Hub model repo (OWNER/NAME)")) -> None:
    """Run a recipe end to end; re-running skips finished stages."""
    from alignkit.recipe import load_recipe

    extra = [f"executor={executor}"] if executor else []
    extra += [f"train.launcher={launcher}"] if launcher else []
    extra += [f"train.accelerate_config={accelerate_config}"] if accelerate_config else []
    r = load_recipe(recipe, [*set_, *extra])
    if r.caution:
        typer.echo(f"caution: {r.caution}", err=True)
    if push_to_hub:  # the Hub must be reachable at the end: check what can be checked before training
        os.environ.setdefault("HF_HUB_OFFLINE", "0")
        from alignkit.export import check_hub

        check_hub(push_to_hub)
    _quiet_libraries()
    from alignkit.pipeline import run_recipe

    report = run_recipe(r, out or Path("runs") / r.name, recipe_name=recipe.stem)
    _print_report(report, out or Path("runs") / r.name)
    if push_to_hub:
        from alignkit.export import push_to_hub as push
        from alignkit.export_gguf import final_model

        typer.echo(f"pushed: {push(final_model(out or Path('runs') / r.name), push_to_hub, 'model')}")


@app.command()
def demo(out: Path = typer.Option(Path("runs/demo"), "--out", help="run directory"),
         set_: list[str] = typer.Option([], "--set", help="override: key.path=value")) -> None:
    """Align the embedded model with the default recipe and print before/after."""
    run(repo_recipes_dir() / f"{DEFAULT_RECIPE}.yaml", out, set_, None, None, None, None)


@app.command()
def export(run_dir: Path = typer.Argument(..., help="a run directory"),
           fmt: str = typer.Option("parquet", "--format", help="hf (save_to_disk), parquet or jsonl"),
           to: Path = typer.Option(..., "--to", help="a new folder for the dataset and its card"),
           push_to_hub: str = typer.Option(None, "--push-to-hub", help="then upload it to this Hub dataset repo"),
           private: bool = typer.Option(False, "--private", help="make a new Hub repo private")) -> None:
    """Export a run's candidates (with annotations), training rows (TRL's columns) and a dataset card."""
    import datasets

    from alignkit.export import export_run
    from alignkit.export import push_to_hub as push

    datasets.disable_progress_bars()
    result = export_run(run_dir, fmt, to)
    for c in result["configs"]:
        typer.echo(f"{c['name']}: {c['rows']} rows -> " + ", ".join(str(to / f) for f in c["files"].values()))
    typer.echo(f"card: {to / 'README.md'}")
    if push_to_hub:
        typer.echo(f"pushed: {push(to, push_to_hub, 'dataset', private)}")


@app.command(name="export-gguf")
def export_gguf_(run_dir: Path = typer.Argument(..., help="a run directory"),
                 outtype: str = typer.Option("f32", "--outtype", help="f32, f16, bf16 or q8_0"),
                 to: Path = typer.Option(None, "--to", help="the .gguf file (default RUN/gguf/MODEL-TYPE.gguf)"),
                 ) -> None:
    """Convert the run's trained model to GGUF (llama.cpp's converter) for llama.cpp and Ollama."""
    from alignkit.export_gguf import export_gguf

    path = export_gguf(run_dir, outtype, to)
    typer.echo(f"gguf: {path}  ({path.stat().st_size / 1e6:.1f} MB; Ollama: ollama create NAME -f "
               f"{path.parent / 'Modelfile'})")


def _weights_in_out(models: list[Path], out: Path) -> None:
    """interpolate's and soup's arguments: model folders to read, and a folder that does not exist yet."""
    if missing := [m for m in models if not (m / "config.json").is_file()]:
        raise AlignkitError(f"{missing[0]} is not a model folder (no config.json)", where="--model",
                            fix="give a trained model's folder, e.g. runs/NAME/model")
    if out.exists():
        raise AlignkitError(f"{out} already exists", where="--out", fix="give a new folder, or remove it")


@app.command(name="interpolate")
def interpolate_(model: Path = typer.Option(..., "--model", help="a trained model folder, e.g. a run's model/"),
                 alpha: str = typer.Option(..., "--alpha", help="one or more, comma-separated, in (0, 2]"),
                 out: Path = typer.Option(..., "--out", help="a new folder (OUT/aALPHA for each when several)"),
                 start: str = typer.Option("embedded", "--start", help="the model its training started from"),
                 ) -> None:
    """WiSE-FT without retraining: save start + ALPHA x (model - start), e.g. to choose a recipe's
    train.interpolate on a dev benchmark (`alignkit eval --model OUT/a0.75`)."""
    from alignkit.models.embedded import resolve_model_path
    from alignkit.train import interpolate

    try:
        alphas = [float(a) for a in alpha.split(",")]
    except ValueError:
        raise AlignkitError(f"--alpha {alpha!r} is not a number or a comma-separated list of numbers",
                            where="--alpha", fix="give e.g. --alpha 0.75 or --alpha 0.5,0.75") from None
    if bad := [a for a in alphas if not 0 < a <= 2]:
        raise AlignkitError(f"--alpha {bad[0]:g} is outside (0, 2]", where="--alpha",
                            fix="0.5-0.9 keeps part of training's change; 1 is the trained model itself")
    _weights_in_out([model], out)
    origin = resolve_model_path(start)
    out.mkdir(parents=True)
    for a in alphas:
        target = out / f"a{a:g}" if len(alphas) > 1 else out
        interpolate(origin, model, a, target)
        typer.echo(f"{target}: {start} + {a:g} x ({model} - {start})")


@app.command(name="soup")
def soup_(models: list[Path] = typer.Option(..., "--model", help="a trained model folder; give two or more"),
          out: Path = typer.Option(..., "--out", help="a new folder"),
          weights: str = typer.Option(None, "--weights", help="relative weights, comma-separated (default equal)"),
          ) -> None:
    """A model soup without retraining: the weighted mean of models trained from one start, e.g. one
    recipe on several seeds (`alignkit eval --model OUT`)."""
    from alignkit.train import soup

    try:
        ws = [float(w) for w in weights.split(",")] if weights else None
    except ValueError:
        raise AlignkitError(f"--weights {weights!r} is not a comma-separated list of numbers", where="--weights",
                            fix="give e.g. --weights 1,1 (one per --model), or none for equal weights") from None
    _weights_in_out(models, out)
    used = soup(models, out, ws)
    typer.echo(f"{out}: " + " + ".join(f"{w:.3g} x {m}" for w, m in zip(used, models)))


@app.command(name="eval")
def eval_(model: str = typer.Option(..., "--model", help="model: `embedded`, a path, a hub id or openai:NAME@URL"),
          bench: str = typer.Option("ifeval_heldout", "--bench", help="benchmark name(s), comma-separated, or all"),
          out: Path = typer.Option(..., "--out", help="output directory"),
          limit: int = typer.Option(100, "--limit", "--n", help="items per benchmark (at most)"),
          seed: int = typer.Option(0, "--seed", help="which items: synthesized sets draw new ones, fixed sets a "
                                   "random subset (0: the first ones)"),
          baseline: str = typer.Option("embedded", "--baseline", help="judged benchmarks: the model to beat"),
          judge: str = typer.Option("embedded", "--judge", help="judged benchmarks: the judge model"),
          max_new_tokens: int = typer.Option(128, "--max-new-tokens"),
          dtype: str = typer.Option("float32", "--dtype", help="local models' weights: float32 or bfloat16"),
          context: str | None = typer.Option(None, "--context", help="in-context alignment: a built-in context "
                                             "(urial) or a context file, put before every prompt")) -> None:
    """Score a model on built-in benchmarks with 95% bootstrap CIs; writes report.json and report.html."""
    from alignkit.evaluate.benchmarks import BENCHMARKS
    from alignkit.in_context import ContextBackend, load_context

    loaded = load_context(context, where="--context") if context else None  # before any model work

    names = list(BENCHMARKS) if bench.strip() == "all" else [b.strip() for b in bench.split(",") if b.strip()]
    for name in names:
        if name not in BENCHMARKS:
            raise AlignkitError(f"unknown benchmark {name!r}", where="--bench",
                                fix=f"choose from: {', '.join(sorted(BENCHMARKS))} (or all)")
    from alignkit.data.store import writable_dir

    writable_dir(out)  # before any model work
    _quiet_libraries()
    from alignkit.data.store import atomic_write_json
    from alignkit.evaluate.benchmarks import EvalContext, items, run_benchmark
    from alignkit.evaluate.guard import answer_form
    from alignkit.evaluate.report_html import write_run_report
    from alignkit.evaluate.stats import bootstrap_ci
    from alignkit.models.cache import ModelCache

    t0 = time.time()
    resolve = ModelCache(dtype=dtype).get
    backend = resolve(model)
    if loaded is not None:
        backend = ContextBackend(backend, loaded)
    ctx = EvalContext(resolve, baseline=baseline, judge=judge)
    out.mkdir(parents=True, exist_ok=True)
    report = {"model": model, "recipe": None, "seed": seed, "dtype": dtype, "max_new_tokens": max_new_tokens,
              "context": loaded.path if loaded else None, "wall_seconds": 0.0, "benchmarks": {}}
    for name in names:
        res = run_benchmark(backend, name, limit, seed=seed, max_new_tokens=max_new_tokens, ctx=ctx)
        entry = {"score": res.mean, "ci95": bootstrap_ci(res.scores, seed=seed), "n": len(res.scores),
                 "higher_is_better": BENCHMARKS[name].higher_is_better, "split": BENCHMARKS[name].split,
                 "form": answer_form(list(res.responses))}  # words, loops, glued fences: what a score hides
        if BENCHMARKS[name].score is None:
            entry.update(baseline=baseline, judge=judge)
        report["benchmarks"][name] = entry
        atomic_write_json(out / f"{name}.items.json", items(res))
    report["wall_seconds"] = time.time() - t0
    atomic_write_json(out / "report.json", report)
    page = write_run_report(out)
    for name, b in report["benchmarks"].items():
        typer.echo(f"{name} ({b['split']}): {b['score']:.3f}  95% CI [{b['ci95'][0]:.3f}, {b['ci95'][1]:.3f}]  "
                   f"n={b['n']}" + ("" if b["higher_is_better"] else "  (lower is better)"))
    typer.echo(f"report: {out / 'report.json'}  page: {page}")


@app.command()
def audit(signal: str = typer.Option(..., "--signal", help="signal name(s), comma-separated (`alignkit signals`)"),
          bench: str = typer.Option("ifeval_heldout", "--bench", help="ground-truth benchmark for the probe set"),
          out: Path = typer.Option(..., "--out", help="output directory (audit.json, report.html)"),
          model: str = typer.Option("embedded", "--model", help="the model that answers the probe prompts (and "
                                    "is `policy` for signals that ask it)"),
          params: str = typer.Option("{}", "--params", help="signal params as JSON, e.g. '{\"judge\": \"embedded\"}'"),
          n: int = typer.Option(16, "--n", help="probe prompts"),
          k: int = typer.Option(4, "--k", help="sampled answers per prompt"),
          seed: int = typer.Option(1000, "--seed"),
          max_new_tokens: int = typer.Option(128, "--max-new-tokens")) -> None:
    """Measure signals against ground truth before training on them: AUROC, calibration,
    repeatability, position bias, length bias, injection robustness."""
    from alignkit.evaluate.benchmarks import BENCHMARKS
    from alignkit.signals.base import signal_names

    names = [s.strip() for s in signal.split(",") if s.strip()]
    unknown = [s for s in names if s not in signal_names()]
    if unknown:
        raise AlignkitError(f"unknown signal(s): {', '.join(unknown)}", where="--signal",
                            fix="`alignkit signals` lists the registered ones")
    if bench not in BENCHMARKS:
        raise AlignkitError(f"unknown benchmark {bench!r}", where="--bench",
                            fix=f"choose from: {', '.join(sorted(BENCHMARKS))}")
    try:
        extra = json.loads(params)
        if not isinstance(extra, dict):
            raise ValueError("not an object")
    except ValueError as exc:
        raise AlignkitError(f"--params is not a JSON object: {exc}", where="--params",
                            fix='write e.g. --params \'{"scoring": "logprob"}\'') from None
    from alignkit.data.store import writable_dir

    writable_dir(out)  # before any model work
    _quiet_libraries()
    from alignkit.data.store import atomic_write_json
    from alignkit.evaluate.audit import run_audit
    from alignkit.evaluate.report_html import write_run_report
    from alignkit.models.cache import ModelCache

    t0 = time.time()
    resolve = ModelCache(model)  # "policy" is --model
    result = run_audit([(s, extra) for s in names], bench, resolve(model), resolve, n=n, k=k, seed=seed,
                       max_new_tokens=max_new_tokens)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "audit.json", result)
    atomic_write_json(out / "report.json", {"model": model, "recipe": f"audit of {', '.join(names)}",
                                            "wall_seconds": time.time() - t0, "benchmarks": {}})
    page = write_run_report(out)
    _print_audit(result)
    typer.echo(f"audit: {out / 'audit.json'}  page: {page}")
    if all("error" in r for r in result["signals"]):
        raise AlignkitError("every audited signal failed on the probe set (errors above)", where="--signal",
                            fix="check that the signal fits the benchmark's prompts (e.g. the checker needs "
                            "ifeval_heldout, code_execution needs functions_heldout or humaneval)")


def _print_audit(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"signal audit on {result['prompts']} prompts of {result['bench']} × "
                        f"{result['answers_per_prompt']} answers (truth pass rate {result['truth_pass_rate']:.2f})")
    cols = ("signal", "auroc", "pairwise_accuracy", "calibration_error", "repeat_agreement", "position_flip_rate",
            "length_corr_passing", "length_corr_failing", "injection_win_rate")
    for col in cols:
        table.add_column(col.replace("_", " "))
    for r in result["signals"]:
        table.add_row(*[r["signal"]] + ["—" if r.get(c) is None else f"{r[c]:.2f}" for c in cols[1:]])
    Console().print(table)
    for r in result["signals"]:
        for line in [r[k] for k in ("error", "note", "undecided") if k in r] + r["flags"]:
            typer.echo(f"{r['signal']}: {line}")


@app.command(name="lm-eval")
def lm_eval_(model: str = typer.Option(..., "--model", help="`embedded`, a checkpoint directory or a hub id"),
             tasks: str = typer.Option("alignkit_arithmetic_truth", "--tasks", help="lm-eval task name(s), comma-"
                                       "separated"),
             out: Path = typer.Option(..., "--out", help="output directory (lm_eval.json)"),
             include_path: Path = typer.Option(None, "--include-path", help="folder of local lm-eval task YAMLs"),
             limit: int = typer.Option(None, "--limit", help="samples per task"),
             num_fewshot: int = typer.Option(None, "--num-fewshot"),
             batch_size: int = typer.Option(8, "--batch-size")) -> None:
    """Evaluate a model with EleutherAI's lm-evaluation-harness (its tasks or local task files)."""
    if include_path is not None and not include_path.is_dir():
        raise AlignkitError(f"--include-path {str(include_path)!r} is not a folder", where="--include-path",
                            fix="give the folder that holds the task YAML files")
    from alignkit.data.store import writable_dir

    writable_dir(out)  # before any model work
    _quiet_libraries()
    from alignkit.data.store import atomic_write_json
    from alignkit.evaluate.lm_eval_bridge import run_lm_eval

    names = [t.strip() for t in tasks.split(",") if t.strip()]
    result = run_lm_eval(model, names, include_path=include_path.resolve() if include_path else None, limit=limit,
                         batch_size=batch_size, num_fewshot=num_fewshot)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "lm_eval.json", result)
    for task, metrics in result["results"].items():
        typer.echo(f"{task} (n={result['n'].get(task)}): " + ", ".join(f"{k} {v:.3f}" for k, v in metrics.items()
                                                                      if k != "sample_len"))
    typer.echo(f"results: {out / 'lm_eval.json'}")


@app.command()
def report(run_dir: Path = typer.Argument(..., help="a run or eval directory")) -> None:
    """Re-render DIR/report.html from the run's files."""
    from alignkit.evaluate.report_html import write_run_report

    if not (run_dir / "report.json").is_file():
        raise AlignkitError(f"no report.json in {run_dir}", where=str(run_dir),
                            fix="give the --out directory of `alignkit run`, `eval` or `audit`")
    typer.echo(f"page: {write_run_report(run_dir)}")


@app.command()
def serve(model: str = typer.Argument(..., help="model: `embedded`, a local path or a hub id"),
          host: str = typer.Option("127.0.0.1", "--host", help="address to bind (0.0.0.0: every interface)"),
          port: int = typer.Option(8000, "--port", help="port (0: any free port)"),
          name: str = typer.Option(None, "--name", help="model name the API reports (default: MODEL)"),
          batch_size: int = typer.Option(32, "--batch-size"),
          client_timeout: float = typer.Option(None, "--client-timeout", min=0.1,
                                               help="seconds a client may take to send a request's head and "
                                               "body (default 10 and 30)")) -> None:
    """Serve a model over an OpenAI-compatible chat-completions API."""
    _quiet_libraries()
    from alignkit.models.hf import HFBackend
    from alignkit.serve import start_server

    backend = HFBackend(model, batch_size=batch_size)
    try:
        limits = {"header_timeout": client_timeout, "body_timeout": client_timeout} if client_timeout else {}
        httpd = start_server(backend, name or model, host, port, **limits)
    except OSError as exc:
        raise AlignkitError(f"cannot listen on {host}:{port}: {exc.strerror}", where="--port",
                            fix="choose a free port (or --port 0 for any)") from None
    h, p = httpd.server_address[:2]
    typer.echo(f"serving {name or model} at http://{h}:{p}/v1  (use it as the model spec "
               f"openai:{name or model}@http://{h}:{p}/v1; Ctrl-C stops)", err=False)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        httpd.shutdown()


def _builtin_recipes() -> list[tuple[Path, Any]]:
    """Every recipe in the repository's recipes/, loaded (name order)."""
    from alignkit.recipe import load_recipe

    return [(path, load_recipe(path)) for path in sorted(repo_recipes_dir().glob("*.yaml"))]


@app.command()
def signals(as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """List the alignment signals, then the methods that are prompt sources or experiment modules,
    each with the built-in recipes that use it."""
    from alignkit.data.prompts import SOURCE_METHODS
    from alignkit.experiments import describe_experiments
    from alignkit.signals.base import describe_signals

    # the signals, then the methods that are prompt sources (data/prompts.py) or experiment modules
    rows = describe_signals() + [dict(m) for m in SOURCE_METHODS] + describe_experiments()
    used: dict[str, list[str]] = {}  # method name -> recipes naming it as a signal or a prompt source
    for path, r in _builtin_recipes():
        for name in {s.name for s in r.signals} | {r.prompts.source}:
            used.setdefault(name, []).append(path.stem)
    for row in rows:
        row["recipes"] = used.get(row["name"], [])
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        typer.echo(f"{r['name']:28} {r['source']:22} {r['kind']:10} {r['description']}")
        typer.echo(f"{'':28} recipes: {', '.join(r['recipes']) or '-'}")


@app.command()
def recipes(as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """List built-in recipes by the survey family their signal comes from, with the training method."""
    from alignkit.signals.base import get_signal

    rows = []
    for path, r in _builtin_recipes():
        names = [s.name for s in r.signals]
        decides = r.build.signal if r.build.signal in names else names[0] if names else None  # builds the dataset
        rows.append({"name": path.stem, "path": str(path), "signals": names,
                     "family": get_signal(decides).source if decides else "in_context", "method": r.train.method,
                     "caution": r.caution})
    rows.sort(key=lambda r: (r["family"], r["name"]))
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        typer.echo(f"{r['family']:22} {r['name']:30} {r['method']:8} {', '.join(r['signals'])}")
        if r["caution"]:
            typer.echo(f"{'':22} caution: {r['caution']}")


def _print_report(report: dict, out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{report['recipe']}: before / after ({report['wall_seconds']:.0f} s)")
    for col in ("benchmark", "split", "n", "before", "after", "delta", "95% CI"):
        table.add_column(col)
    for name, b in report["benchmarks"].items():
        split = b.get("split", "")  # dev: for choosing settings, not a result
        if "before" in b:
            table.add_row(name, split, str(b["n"]), f"{b['before']:.3f}", f"{b['after']:.3f}", f"{b['delta']:+.3f}",
                          f"[{b['ci95'][0]:+.3f}, {b['ci95'][1]:+.3f}]")
        else:  # a single score, e.g. a reward model's held-out pair accuracy
            table.add_row(name, split, str(b["n"]), "", f"{b['score']:.3f}", "",
                          f"[{b['ci95'][0]:.3f}, {b['ci95'][1]:.3f}]")
    Console().print(table)
    if any(b.get("split") == "dev" for b in report["benchmarks"].values()):
        typer.echo("dev benchmarks are for choosing settings; their numbers are not results")
    for name, b in report["benchmarks"].items():
        if ic := b.get("in_context"):  # the training-free baseline the trained model has to beat
            beats = "beats it" if ic["ci95"][0] > 0 else "loses to it" if ic["ci95"][1] < 0 else "does not beat it"
            typer.echo(f"{name}: in-context baseline ({ic['context']}) {ic['score']:.3f}; the trained model "
                       f"{ic['delta']:+.3f} [{ic['ci95'][0]:+.3f}, {ic['ci95'][1]:+.3f}], {beats}")
    from alignkit.evaluate.breakdown import summary_line

    for name, bd in report.get("breakdown", {}).items():
        typer.echo(summary_line(name, bd))
    for it in report.get("iterations", []):
        cells = ", ".join(f"{name} {b['after']:.3f} ({b['delta']:+.3f} vs previous, CI [{b['ci95'][0]:+.3f}, "
                          f"{b['ci95'][1]:+.3f}])" for name, b in it["benchmarks"].items())
        typer.echo(f"iteration {it['iteration']}: {cells}")
    signals = report.get("signals")
    for name, facts in (signals.items() if isinstance(signals, dict) else []):
        typer.echo(f"signal {name}: " + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                                                  for k, v in facts.items()))
    for name, verdict in report.get("audit", {}).get("signals", {}).items():
        flags = verdict.get("flags", []) + [verdict[k] for k in ("undecided", "error") if k in verdict]
        flags = flags or ["no flags"]
        typer.echo(f"audit {name}: " + "; ".join(flags))
    typer.echo(f"report: {out / 'report.json'}  page: {out / 'report.html'}  model: {report['model']}")


def main() -> None:
    try:
        app(standalone_mode=False)
    except AlignkitError as exc:
        typer.echo(exc.render(), err=True)
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("aborted", err=True)
        sys.exit(130)
    except OSError as exc:  # a file the run reads or writes: full disk, read-only, permissions
        name = exc.filename or "a file"
        typer.echo(AlignkitError(f"cannot use {name}: {exc.strerror or exc}", fix="check the path, the free space "
                                 "and the permissions, then run the same command again").render(), err=True)
        sys.exit(2)
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Exit):
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    main()
