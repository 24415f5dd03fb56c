"""YAML with bounds: a recipe or constitution file is read only if it is small, shallow and does
not expand (through anchors and aliases) into more values than any real config holds.

PyYAML shares an aliased node instead of copying it, so an "anchor bomb" (each level aliasing
the one before ten times) loads in microseconds and only explodes later, when something walks
it as a tree (hashing a stage key, validating, dumping). `check_size` counts the values as a
tree walk would see them, with each shared object counted once per reference, memoized so the
count itself stays cheap, and stops at the first part past the limit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from alignkit.errors import AlignkitError

MAX_BYTES = 1 << 20  # a recipe of 1 MiB is already far past any real one
MAX_VALUES = 100_000  # mappings, lists and scalars, counted as a tree (aliases expanded)
MAX_DEPTH = 64


def read_text(path: Any, what: str = "recipe") -> str:
    """A UTF-8 text file of at most MAX_BYTES."""
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise AlignkitError(f"the {what} file is {size:,} bytes; at most {MAX_BYTES:,} are read", where=str(path),
                            fix=f"a {what} holds settings, not data: move large content into a file it names")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise AlignkitError(f"not UTF-8 text (byte {exc.start})", where=str(path),
                            fix=f"save the {what} as UTF-8") from None


def load(text: str, where: str) -> tuple[Any, yaml.Node | None]:
    """The parsed document and its node tree (for line numbers), bounded in size and depth.
    YAML syntax errors propagate as `yaml.YAMLError` for the caller to place."""
    if len(text) > MAX_BYTES:
        raise AlignkitError(f"{len(text):,} characters of YAML; at most {MAX_BYTES:,} are read", where=where,
                            fix="move large content into a file the config names")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.SafeLoader("").construct_document(root) if root is not None else None
    except RecursionError:
        raise AlignkitError(f"the YAML is nested too deeply (more than {MAX_DEPTH} levels)", where=where,
                            fix="flatten the structure") from None
    check_size(data, where)
    return data, root


def parse(text: str, path: Any, fix: str) -> tuple[Any, yaml.Node | None]:
    """`load` for a file's text, a syntax error turned into an AlignkitError at `path:line:column`
    with `fix` (what a valid file of this kind looks like)."""
    try:
        return load(text, str(path))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise AlignkitError(f"invalid YAML: {problem}", where=where, fix=fix) from None


def check_size(data: Any, where: str, prefix: str = "") -> None:
    """Raise if `data`, walked as a tree, holds more than MAX_VALUES values, nests deeper than
    MAX_DEPTH, or contains itself."""
    sizes: dict[int, int] = {}

    def count(v: Any, path: tuple, active: frozenset[int]) -> int:
        if not isinstance(v, (dict, list)):
            return 1
        field = ".".join(str(p) for p in (prefix.split(".") if prefix else []) + list(path)) or "(top level)"
        if id(v) in active:
            raise AlignkitError(f"field `{field}` contains itself (a recursive YAML alias)", where=where,
                                fix="remove the alias that points back to its own anchor")
        if len(path) > MAX_DEPTH:
            raise AlignkitError(f"field `{field}` is nested more than {MAX_DEPTH} levels deep", where=where,
                                fix="flatten the structure")
        if id(v) in sizes:
            return sizes[id(v)]
        items = v.items() if isinstance(v, dict) else enumerate(v)
        inner = active | {id(v)}
        total = 1
        for k, x in items:
            total += count(x, (*path, k), inner)
            if total > MAX_VALUES:
                raise AlignkitError(f"field `{field}` expands to more than {MAX_VALUES:,} values (YAML anchors "
                                    "and aliases are expanded when the recipe is used)", where=where,
                                    fix="write the values out once; an alias repeated inside aliases multiplies "
                                    "the size at each level (an 'anchor bomb')")
        sizes[id(v)] = total
        return total

    count(data, (), frozenset())
