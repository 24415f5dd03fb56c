"""`alignkit export`: a finished run's data as a dataset folder (Hugging Face `datasets` on disk,
Parquet or JSON Lines) with a dataset card, and `--push-to-hub` through `huggingface_hub`.

What goes out:
- `candidates`: one row per generated candidate, with its prompt, origin (which model wrote
  it, with what sampling) and every signal's annotation (value, rationale, provenance);
- the training rows, named by their kind (`sft`, `preference`, `kto`, or `prompts` for online
  RL), in exactly the columns TRL's trainers read (`train.COLUMNS`);
- README.md, the dataset card (cards.py).
An iterated run has one split per iteration (it1, it2, ...); a single one has `train`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from alignkit.cards import dataset_card, read_run
from alignkit.errors import AlignkitError
from alignkit.methods import COLUMNS, ONLINE

FORMATS = ("hf", "parquet", "jsonl")
_STAGE = re.compile(r"(prompts|generate|annotate|build)(?:_it(\d+))?$")


def _candidate_features():
    from datasets import Features, Value

    message = {"role": Value("string"), "content": Value("string")}
    annotation = {k: Value("string") for k in ("signal", "kind", "value", "rationale", "provenance")}
    return Features({"prompt_id": Value("string"), "iteration": Value("int32"), "messages": [message],
                     "meta": Value("string"), "candidate": Value("int32"), "text": Value("string"),
                     "origin": Value("string"), "annotations": [annotation]})


def finished_stages(run: Path) -> dict[str, dict[int, Path]]:
    """{stage: {iteration: directory}} of the stages that finished (have a manifest)."""
    found: dict[str, dict[int, Path]] = {}
    for d in sorted((run / "stages").glob("*")):
        m = _STAGE.fullmatch(d.name)
        if m and (d / "manifest.json").is_file():
            found.setdefault(m.group(1), {})[int(m.group(2) or 1)] = d
    return found


def candidate_rows(run: Path, stages: dict[str, dict[int, Path]]) -> list[dict[str, Any]]:
    """Every candidate of every iteration, annotated where the annotate stage ran."""
    from alignkit.data.store import Stage

    rows = []
    written = stages.get("annotate") or stages.get("generate") or {}
    for iteration, path in sorted(written.items()):
        for g in Stage.existing(run, path.name).read_groups():
            row = g.to_row()
            for i, c in enumerate(row["candidates"]):
                rows.append({"prompt_id": row["id"], "iteration": iteration, "messages": row["messages"],
                             "meta": row["meta"], "candidate": i, "text": c["text"], "origin": c["origin"],
                             "annotations": c["annotations"]})
    return rows


def training_rows(run: Path, stages: dict[str, dict[int, Path]], method: str | None) -> tuple[str, dict[int, list]]:
    """(kind, {iteration: rows}) in TRL's columns: the built rows, or the prompts of online RL."""
    from alignkit.data.store import Stage

    if method in ONLINE or "build" not in stages:
        if "prompts" not in stages:
            return "prompts", {}
        groups = Stage.existing(run, "prompts").read_groups()
        return "prompts", {1: [{"prompt": g.prompt.messages, "meta": json.dumps(g.prompt.meta, sort_keys=True)}
                               for g in groups]}
    out, kind = {}, "sft"
    for iteration, path in sorted(stages["build"].items()):
        kind = json.loads((path / "manifest.json").read_text()).get("kind", kind)
        out[iteration] = [{k: r[k] for k in COLUMNS[kind]} for r in json.loads((path / "rows.json").read_text())]
    return kind, out


def _write(dataset, fmt: str, path: Path) -> None:
    if fmt == "parquet":
        dataset.to_parquet(str(path))
    else:
        dataset.to_json(str(path), lines=True, force_ascii=False)


def export_run(run: str | Path, fmt: str, to: str | Path) -> dict[str, Any]:
    """Write the run's candidates, training rows and dataset card to `to`. Returns the configs written."""
    from datasets import Dataset, DatasetDict

    run, to = Path(run), Path(to)
    if fmt not in FORMATS:
        raise AlignkitError(f"unknown export format {fmt!r}", where="--format", fix=f"choose {', '.join(FORMATS)}")
    if not (run / "stages").is_dir():
        raise AlignkitError(f"{run} is not a run directory (it has no stages/)", where=str(run),
                            fix="give the --out directory of `alignkit run`")
    if to.exists() and any(to.iterdir()):
        raise AlignkitError(f"{to} exists and is not empty", where="--to",
                            fix="give a new or empty folder (export does not overwrite)")
    stages = finished_stages(run)
    recipe = read_run(run)["recipe"] or {}
    kind, trained = training_rows(run, stages, recipe.get("train", {}).get("method"))
    iterated = len(trained) > 1
    parts = {"candidates": {1: Dataset.from_list(candidate_rows(run, stages), features=_candidate_features())}}
    if any(trained.values()):  # a run whose signal kept no rows has no training config (its count says 0)
        parts[kind] = {it: Dataset.from_list(rows) for it, rows in trained.items() if rows}
    to.mkdir(parents=True, exist_ok=True)
    configs = []
    for name, splits in parts.items():
        named = {"train" if name == "candidates" or not iterated else f"it{it}": ds for it, ds in splits.items()}
        if fmt == "hf":
            DatasetDict(named).save_to_disk(str(to / name))
            files = {s: f"{name}/{s}" for s in named}
        else:
            ext = "parquet" if fmt == "parquet" else "jsonl"
            files = {s: f"{name}.{ext}" if s == "train" else f"{name}-{s}.{ext}" for s in named}
            for s, ds in named.items():
                _write(ds, fmt, to / files[s])
        columns = next(iter(named.values())).column_names
        configs.append({"name": name, "files": files, "rows": sum(len(d) for d in named.values()), "columns": columns,
                        "what": "generated answers with every signal's annotation and provenance"
                        if name == "candidates" else f"training rows ({name}) in TRL's columns"})
    cands = parts["candidates"][1]
    counts = {"prompts": len(set(cands["prompt_id"])) if len(cands) else _prompt_count(run, stages),
              "candidates": len(cands), "annotations": sum(len(a) for a in cands["annotations"]),
              **{f"training rows ({kind}{'' if not iterated else f', iteration {it}'})": len(rows)
                 for it, rows in trained.items()}}
    (to / "README.md").write_text(dataset_card(run, configs, fmt, counts))
    return {"configs": configs, "counts": counts}


def _prompt_count(run: Path, stages: dict[str, dict[int, Path]]) -> int:
    if "prompts" not in stages:
        return 0
    return json.loads((stages["prompts"][1] / "manifest.json").read_text()).get("rows", 0)


# -- the Hub ------------------------------------------------------------------------------------
def push_to_hub(folder: str | Path, repo: str, repo_type: str = "dataset", private: bool = False) -> str:
    """Upload `folder` (with its README.md card) to the Hub repo `repo`; returns the repo's URL.
    Every way this fails here (no token, offline mode, no network, a refused token) is an
    AlignkitError that says which and what to do."""
    from huggingface_hub import HfApi

    folder = Path(folder)
    check_hub(repo)
    if not (folder / "README.md").is_file():
        raise AlignkitError(f"{folder} has no README.md card to upload", where=str(folder),
                            fix="export the run first (`alignkit export`), or give a model folder of a run")
    api = HfApi()
    try:
        url = api.create_repo(repo, repo_type=repo_type, private=private, exist_ok=True)
        api.upload_folder(repo_id=repo, repo_type=repo_type, folder_path=str(folder),
                          commit_message=f"alignkit: upload {folder.name}")
    except Exception as exc:
        raise _hub_error(exc, repo) from None
    return str(url)


def check_hub(repo: str) -> None:
    """What can be known before any upload: the repo id, offline mode, a token (so that
    `alignkit run --push-to-hub` fails before training, not after)."""
    from huggingface_hub import constants, get_token

    if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo):
        raise AlignkitError(f"{repo!r} is not a Hub repo id", where="--push-to-hub", fix="write OWNER/NAME")
    if constants.HF_HUB_OFFLINE:
        raise AlignkitError("HF_HUB_OFFLINE is set, so nothing can be uploaded", where="--push-to-hub",
                            fix="unset HF_HUB_OFFLINE (or set it to 0) on a machine that reaches the Hub")
    if not get_token():
        raise AlignkitError("no Hugging Face token: the Hub refuses uploads without one", where="--push-to-hub",
                            fix="run `hf auth login` or set HF_TOKEN to a token with write access")


def _hub_error(exc: Exception, repo: str) -> AlignkitError:
    from huggingface_hub import constants
    from huggingface_hub.errors import HfHubHTTPError

    if isinstance(exc, HfHubHTTPError):
        status = getattr(exc.response, "status_code", None)
        return AlignkitError(f"the Hub refused the upload to {repo} (HTTP {status}): {str(exc).splitlines()[0]}",
                             where="--push-to-hub", fix="use a token with write access to that owner "
                             "(`hf auth login`), or push to a repo under your own name")
    names = {c.__name__ for c in type(exc).__mro__}  # httpx's errors, whichever httpx the Hub client uses
    if names & {"TransportError", "ConnectionError", "TimeoutException"} or isinstance(exc, OSError):
        return AlignkitError(f"cannot reach the Hub at {constants.ENDPOINT}: {exc}", where="--push-to-hub",
                             fix="check the network (and HF_ENDPOINT), then run the same command again")
    return AlignkitError(f"uploading to {repo} failed: {type(exc).__name__}: {exc}", where="--push-to-hub")

