"""Constitutions: a named list of principles, each a critique request and a revision request.

Two file formats, checked with errors that name the file, the line and the fix:

YAML:
    name: my-constitution
    principles:
      - {name: honest, critique: "Identify false claims...", revision: "Rewrite the answer..."}

Markdown: one `## name` heading per principle, followed by `Critique: ...` and `Revision: ...` lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from alignkit.data import safe_yaml
from alignkit.errors import AlignkitError

DEFAULT = Path(__file__).resolve().parents[1] / "constitutions" / "default.yaml"
_FIX_YAML = ("write `principles:` as a list of entries with `name`, `critique` and `revision` strings "
             "(see src/alignkit/constitutions/default.yaml)")
_FIX_MD = "write one `## name` heading per principle, each followed by a `Critique: ...` and a `Revision: ...` line"


@dataclass(frozen=True)
class Principle:
    name: str
    critique: str
    revision: str


@dataclass(frozen=True)
class Constitution:
    name: str
    principles: tuple[Principle, ...]
    path: str


def load_constitution(path: str | Path | None = None) -> Constitution:
    """Load a constitution file (.yaml/.yml or .md); None gives the built-in default."""
    path = Path(path) if path else DEFAULT
    if not path.is_file():
        raise AlignkitError(f"constitution file {str(path)!r} not found", where="signals.params.constitution",
                            fix="give the path of a .yaml or .md constitution, or omit it for the default")

    text = safe_yaml.read_text(path, "constitution")  # bounded in size
    if path.suffix.lower() in (".md", ".markdown"):
        return _from_markdown(text, path)
    return _from_yaml(text, path)


def _from_yaml(text: str, path: Path) -> Constitution:
    data, root = safe_yaml.parse(text, path, _FIX_YAML)  # bounded: depth, alias expansion
    if not isinstance(data, dict) or not isinstance(data.get("principles"), list) or not data["principles"]:
        raise AlignkitError("a constitution needs a non-empty `principles` list", where=str(path), fix=_FIX_YAML)
    items = next(v for k, v in root.value if k.value == "principles").value
    principles = []
    for i, (entry, node) in enumerate(zip(data["principles"], items)):
        where = f"{path}:{node.start_mark.line + 1}"
        if not isinstance(entry, dict):
            raise AlignkitError(f"principle {i + 1} is not a mapping", where=where, fix=_FIX_YAML)
        unknown = sorted(set(entry) - {"name", "critique", "revision"})
        if unknown:
            raise AlignkitError(f"principle {i + 1}: unknown field(s) {', '.join(unknown)}", where=where, fix=_FIX_YAML)
        for field in ("critique", "revision"):
            if not isinstance(entry.get(field), str) or not entry[field].strip():
                raise AlignkitError(f"principle {i + 1}: `{field}` must be a non-empty string", where=where,
                                    fix=_FIX_YAML)
        principles.append(Principle(str(entry.get("name") or f"principle_{i + 1}"), entry["critique"].strip(),
                                    entry["revision"].strip()))
    return Constitution(str(data.get("name") or path.stem), tuple(principles), str(path))


def _from_markdown(text: str, path: Path) -> Constitution:
    principles, current, start = [], None, 0
    title = path.stem

    def close() -> None:
        if current is None:
            return
        for field in ("critique", "revision"):
            if not current.get(field):
                raise AlignkitError(f"principle {current['name']!r} has no `{field.capitalize()}:` line",
                                    where=f"{path}:{start}", fix=_FIX_MD)
        principles.append(Principle(current["name"], current["critique"], current["revision"]))

    for lineno, line in enumerate(text.splitlines(), start=1):
        if m := re.match(r"^#\s+(.+)$", line):
            title = m.group(1).strip()
        elif m := re.match(r"^##\s+(.+)$", line):
            close()
            current, start = {"name": m.group(1).strip()}, lineno
        elif m := re.match(r"^\s*[-*]?\s*(critique|revision)\s*:\s*(.+)$", line, flags=re.IGNORECASE):
            if current is None:
                raise AlignkitError(f"`{m.group(1)}:` line before any `## principle` heading",
                                    where=f"{path}:{lineno}", fix=_FIX_MD)
            current[m.group(1).lower()] = m.group(2).strip()
    close()
    if not principles:
        raise AlignkitError("no principles found", where=str(path), fix=_FIX_MD)
    return Constitution(title, tuple(principles), str(path))
