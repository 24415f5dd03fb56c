"""Prompt files: JSONL and Parquet rows read into `Prompt`s, with errors that name the file,
the line (or row) and the fix.

A row needs `messages` (a list of {role, content}) or `prompt` (a string); `meta` (an object)
is optional and may carry `constraints` for the checker.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from alignkit.errors import AlignkitError
from alignkit.types import Prompt

_FIX = ('each row needs "messages": [{"role": "user", "content": "..."}] or "prompt": "...", '
        'and optionally "meta": {...}')


def _to_prompt(row: Any, where: str) -> Prompt:
    if not isinstance(row, dict):
        raise AlignkitError(f"expected a JSON object, got {type(row).__name__}", where=where, fix=_FIX)
    meta = row.get("meta") or {}
    if not isinstance(meta, dict):
        raise AlignkitError("`meta` must be an object", where=where, fix=_FIX)
    if "messages" in row:
        msgs = row["messages"]
        ok = isinstance(msgs, list) and msgs and all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
            for m in msgs
        )
        if not ok:
            raise AlignkitError("`messages` must be a non-empty list of {role, content} strings", where=where, fix=_FIX)
        messages = [{"role": m["role"], "content": m["content"]} for m in msgs]
    elif isinstance(row.get("prompt"), str) and row["prompt"].strip():
        messages = [{"role": "user", "content": row["prompt"]}]
    else:
        found = ", ".join(sorted(row)) or "none"
        raise AlignkitError(f"missing column `messages` or `prompt` (columns found: {found})", where=where, fix=_FIX)
    return Prompt(messages=messages, meta=meta)


def load_jsonl(path: str | Path) -> list[Prompt]:
    """One prompt per non-blank line of a UTF-8 JSONL file."""
    path = Path(path)
    if not path.is_file():
        raise AlignkitError(f"prompt file {str(path)!r} not found", where="prompts.path",
                            fix="give an existing .jsonl file")
    prompts = []
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise AlignkitError("not UTF-8 text", where=f"{path}:{lineno}", fix="save the file as UTF-8") from None
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise AlignkitError(f"invalid JSON ({exc.msg} at column {exc.colno})", where=f"{path}:{lineno}",
                                    fix="write one JSON object per line") from None
            prompts.append(_to_prompt(row, f"{path}:{lineno}"))
    if not prompts:
        raise AlignkitError("the prompt file has no rows", where=str(path), fix=_FIX)
    return prompts


def load_parquet(path: str | Path) -> list[Prompt]:
    """One prompt per row of a Parquet file (`meta` may be a JSON string)."""
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_file():
        raise AlignkitError(f"prompt file {str(path)!r} not found", where="prompts.path",
                            fix="give an existing .parquet file")
    try:
        rows = pq.read_table(path).to_pylist()
    except Exception as exc:
        raise AlignkitError(f"cannot read Parquet: {exc}", where=str(path),
                            fix="check that the file is Parquet") from None
    prompts = [_to_prompt(r | ({"meta": json.loads(r["meta"])} if isinstance(r.get("meta"), str) else {}),
                          f"{path}: row {i}") for i, r in enumerate(rows)]
    if not prompts:
        raise AlignkitError("the prompt file has no rows", where=str(path), fix=_FIX)
    return prompts


def load_file(path: str | Path) -> list[Prompt]:
    """A prompt file by its extension: .parquet, else JSONL."""
    return load_parquet(path) if str(path).endswith(".parquet") else load_jsonl(path)
