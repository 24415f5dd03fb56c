"""Prompt source `hf`: the user's data through Hugging Face `datasets`.

`prompts.path` is one of
- a directory written by `Dataset.save_to_disk` (or `DatasetDict.save_to_disk`; `prompts.split` picks one),
- a local .json / .jsonl / .csv / .parquet file, read by `load_dataset(<format>, data_files=...)`,
- a hub dataset id (`owner/name`), read by `load_dataset(id, split=prompts.split)` where the hub is reachable.

Columns: `messages_column` (a chat: a list of {role, content}) or `prompt_column` (a string); unset, a
`messages` column is used, else `prompt`. `meta_columns` are copied into each prompt's meta, and so
is a `meta` column (an object or a JSON string) when there is one. With `shuffle`, `n` rows are drawn
with `seed` (datasets' own shuffle) before the first `n` are taken.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from alignkit.data.files import _to_prompt
from alignkit.errors import AlignkitError
from alignkit.types import Prompt

_FORMATS = {".json": "json", ".jsonl": "json", ".csv": "csv", ".parquet": "parquet"}


def load_hf(cfg) -> list[Prompt]:
    """`cfg.n` prompts (`cfg` is a recipe's `prompts` section with `source: hf`)."""
    if not cfg.path:
        raise AlignkitError("prompts.source is 'hf' but prompts.path is not set", where="prompts.path",
                            fix="set path to a save_to_disk directory, a .json/.jsonl/.csv/.parquet file, "
                                "or a hub dataset id (owner/name)")
    ds = _open(cfg.path, cfg.split)
    text_col, chat_col = _pick_columns(ds.column_names, cfg)
    # in memory: an index file would otherwise be written into the user's save_to_disk directory
    if cfg.shuffle:
        ds = ds.shuffle(seed=cfg.seed, keep_in_memory=True)
    ds = ds.select(range(min(cfg.n, len(ds))), keep_in_memory=True)
    prompts = []
    for i, row in enumerate(ds):
        meta = _meta(row.get("meta"), f"{cfg.path}: row {i}") | {c: row[c] for c in cfg.meta_columns}
        out: dict[str, Any] = {"meta": meta}
        if chat_col:
            out["messages"] = row[chat_col]
        else:
            out["prompt"] = row[text_col]
        prompts.append(_to_prompt(out, f"{cfg.path}: row {i} (column `{chat_col or text_col}`)"))
    if not prompts:
        raise AlignkitError("the dataset has no rows", where=f"prompts.path: {cfg.path}",
                            fix="give a dataset with at least one row")
    return prompts


def _open(path: str, split: str):
    """A `datasets.Dataset` from a save_to_disk directory, a local data file or a hub id."""
    import datasets

    local = Path(path).expanduser()
    if local.is_dir():
        try:
            ds = datasets.load_from_disk(str(local))
        except FileNotFoundError as exc:
            raise AlignkitError(f"{path!r} is not a directory written by save_to_disk ({exc})",
                                where="prompts.path", fix="save it with `Dataset.save_to_disk(DIR)`, or give "
                                "a .json/.jsonl/.csv/.parquet file") from None
        if isinstance(ds, datasets.DatasetDict):
            if split not in ds:
                raise AlignkitError(f"split {split!r} not in {path!r} (splits found: {', '.join(ds)})",
                                    where="prompts.split", fix="set prompts.split to one of the splits found")
            ds = ds[split]
        return ds
    if local.suffix.lower() in _FORMATS:
        if not local.is_file():
            raise AlignkitError(f"dataset file {path!r} not found", where="prompts.path",
                                fix="give an existing file, a save_to_disk directory or a hub dataset id")
        try:
            return datasets.load_dataset(_FORMATS[local.suffix.lower()], data_files=str(local), split="train")
        except Exception as exc:  # datasets wraps parser errors in several types
            raise AlignkitError(f"cannot read {path!r}: {_first_line(exc)}", where="prompts.path",
                                fix=f"check that the file is valid {_FORMATS[local.suffix.lower()]}") from None
    try:
        return datasets.load_dataset(path, split=split)
    except Exception as exc:  # offline: OfflineModeIsEnabled, ConnectionError, DatasetNotFoundError, ...
        raise AlignkitError(f"could not load dataset {path!r} from the Hugging Face Hub: {_first_line(exc)}",
                            where="prompts.path",
                            fix="check the id and split; without hub access (this machine may have none), "
                                "save the dataset with `save_to_disk` elsewhere and give its directory, or give "
                                "a local .json/.jsonl/.csv/.parquet file") from None


def _pick_columns(found: list[str], cfg) -> tuple[str | None, str | None]:
    """(prompt column, messages column): one of them is set."""
    listed = ", ".join(found) or "none"
    for field in ("prompt_column", "messages_column"):
        col = getattr(cfg, field)
        if col is not None and col not in found:
            raise AlignkitError(f"column {col!r} not in the dataset (columns found: {listed})",
                                where=f"prompts.{field}", fix=f"set prompts.{field} to one of the columns found")
    for col in cfg.meta_columns:
        if col not in found:
            raise AlignkitError(f"column {col!r} not in the dataset (columns found: {listed})",
                                where="prompts.meta_columns", fix="list only columns found, or remove it")
    if cfg.prompt_column or cfg.messages_column:
        return cfg.prompt_column, cfg.messages_column
    if "messages" in found:
        return None, "messages"
    if "prompt" in found:
        return "prompt", None
    raise AlignkitError(f"no `messages` or `prompt` column (columns found: {listed})",
                        where="prompts.prompt_column",
                        fix="name the column holding the prompt text (prompt_column) or chat (messages_column)")


def _meta(value: Any, where: str) -> dict:
    """A row's `meta` column: an object, a JSON string of one, or absent."""
    if value is None:
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise AlignkitError("`meta` is a string but not JSON", where=where,
                                fix="store meta as an object or a JSON object string") from None
    if not isinstance(value, dict):
        raise AlignkitError("`meta` must be an object", where=where, fix="store meta as an object")
    return value


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
