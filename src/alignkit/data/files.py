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


MAX_LINE = 32 << 20  # bytes in one JSONL row: far past any prompt a model can take


def _utf8(value: Any, field: str, where: str) -> None:
    """Raise if a string in `value` cannot be written as UTF-8 (a lone surrogate, e.g. "\\ud800")."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise AlignkitError(f"`{field}` holds a lone surrogate ({exc.object[exc.start]!r}), which is not text",
                            where=where, fix="remove the unpaired \\ud800-\\udfff escape from the row, or write "
                            "the character it was meant to be") from None


def _to_prompt(row: Any, where: str) -> Prompt:
    if not isinstance(row, dict):
        raise AlignkitError(f"expected a JSON object, got {type(row).__name__}", where=where, fix=_FIX)
    meta = row.get("meta") or {}
    if not isinstance(meta, dict):
        raise AlignkitError("`meta` must be an object", where=where, fix=_FIX)
    _utf8(meta, "meta", where)
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
    elif "prompt" in row:
        what = "an empty string" if isinstance(row["prompt"], str) else type(row["prompt"]).__name__
        raise AlignkitError(f"`prompt` must be a non-empty string, got {what}", where=where, fix=_FIX)
    else:
        found = ", ".join(sorted(row)) or "none"
        raise AlignkitError(f"missing column `messages` or `prompt` (columns found: {found})", where=where, fix=_FIX)
    _utf8(messages, "messages" if "messages" in row else "prompt", where)
    return Prompt(messages=messages, meta=meta)


def load_jsonl(path: str | Path, n: int | None = None) -> list[Prompt]:
    """One prompt per non-blank line of a UTF-8 JSONL file; with `n`, the first n (the file is
    read only that far)."""
    path = Path(path)
    if not path.is_file():
        raise AlignkitError(f"prompt file {str(path)!r} not found", where="prompts.path",
                            fix="give an existing .jsonl file")
    prompts = []
    with open(path, "rb") as f:
        for lineno, raw in enumerate(iter(lambda: f.readline(MAX_LINE + 1), b""), start=1):
            if n is not None and len(prompts) >= n:
                break
            if len(raw) > MAX_LINE:
                raise AlignkitError(f"the line is longer than {MAX_LINE >> 20} MiB", where=f"{path}:{lineno}",
                                    fix="one prompt per line; a prompt this long does not fit any model")
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


def _parquet_meta(row: dict, where: str) -> dict:
    """A Parquet row with its `meta` parsed when it is a JSON string."""
    if not isinstance(row.get("meta"), str):
        return row
    try:
        return row | {"meta": json.loads(row["meta"])}
    except json.JSONDecodeError as exc:
        raise AlignkitError(f"`meta` is a string but not JSON ({exc.msg} at character {exc.pos})", where=where,
                            fix='write `meta` as a JSON object string, e.g. \'{"constraints": []}\', or as a '
                            "struct column") from None


def load_parquet(path: str | Path, n: int | None = None) -> list[Prompt]:
    """One prompt per row of a Parquet file (`meta` may be a JSON string); with `n`, the first n
    (read batch by batch, only that far)."""
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_file():
        raise AlignkitError(f"prompt file {str(path)!r} not found", where="prompts.path",
                            fix="give an existing .parquet file")
    prompts: list[Prompt] = []
    try:
        batches = pq.ParquetFile(path).iter_batches(batch_size=min(n or 1024, 1024))
        for batch in batches:
            for r in batch.to_pylist():
                if n is not None and len(prompts) >= n:
                    break
                where = f"{path}: row {len(prompts)}"
                prompts.append(_to_prompt(_parquet_meta(r, where), where))
            if n is not None and len(prompts) >= n:
                break
    except AlignkitError:
        raise
    except Exception as exc:
        raise AlignkitError(f"cannot read Parquet: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
                            where=str(path), fix="check that the file is Parquet") from None
    if not prompts:
        raise AlignkitError("the prompt file has no rows", where=str(path), fix=_FIX)
    return prompts


def load_file(path: str | Path) -> list[Prompt]:
    """A prompt file by its extension: .parquet, else JSONL."""
    return load_parquet(path) if str(path).endswith(".parquet") else load_jsonl(path)
