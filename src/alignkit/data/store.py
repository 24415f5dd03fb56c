"""The run store: a run is a directory; each stage writes Parquet shards atomically
(temp file, then rename) and finishes with a manifest that records the stage's key
(hash of its config and inputs) and the sha256 of every shard.

A stage whose manifest matches its key and whose shards verify is skipped on re-run;
a stage with a different key is cleared and recomputed; shards written before a crash
are reused by a stage that resumes, and a half-written shard is never visible.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from alignkit.errors import AlignkitError
from alignkit.types import Group

_ANNOTATION = pa.struct([("signal", pa.string()), ("kind", pa.string()), ("value", pa.string()),
                         ("rationale", pa.string()), ("provenance", pa.string())])
_CANDIDATE = pa.struct([("text", pa.string()), ("origin", pa.string()),
                        ("annotations", pa.list_(_ANNOTATION))])
GROUP_SCHEMA = pa.schema([
    ("id", pa.string()),
    ("messages", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
    ("meta", pa.string()),
    ("candidates", pa.list_(_CANDIDATE)),
])


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, json.dumps(obj, indent=2, sort_keys=True).encode())


def eval_stage(label: str, bench: str) -> str:
    """The name of the stage that evaluated the model labelled `label` (before, after, itK) on `bench`."""
    return f"eval_{label}_{bench}"


def eval_items_path(source: str | Path, bench: str) -> Path:
    """Where an evaluation's items are: `RUN:LABEL` is that run's stage eval_LABEL_BENCH, a directory
    written by `alignkit eval` holds BENCH.items.json."""
    run, sep, label = str(source).rpartition(":")
    if sep and not Path(source).is_dir():
        return Path(run) / "stages" / eval_stage(label, bench) / "items.json"
    return Path(source) / f"{bench}.items.json"


class Stage:
    """One stage's directory inside a run."""

    def __init__(self, root: Path, name: str, key: str):
        self.name, self.key = name, key
        self.path = root / "stages" / name
        self.manifest_path = self.path / "manifest.json"
        self._prepare()

    @classmethod
    def existing(cls, run: str | Path, name: str) -> Stage:
        """Stage `name` of a finished run, under the key it was written with (for reading it back)."""
        key_file = Path(run) / "stages" / name / "KEY"
        if not key_file.is_file():
            raise AlignkitError(f"the run has no {name!r} stage", where=str(run),
                                fix="give the directory of a run written by `alignkit run` that got past that stage")
        return cls(Path(run), name, key_file.read_text())

    def _prepare(self) -> None:
        """Keep work done under the same key; clear the stage if its key changed."""
        key_file = self.path / "KEY"
        if self.path.exists() and (not key_file.exists() or key_file.read_text() != self.key):
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True, exist_ok=True)
        if not key_file.exists():
            atomic_write_bytes(key_file, self.key.encode())

    # -- state -------------------------------------------------------------------------
    def manifest(self) -> dict | None:
        try:
            return json.loads(self.manifest_path.read_text())
        except (OSError, json.JSONDecodeError):
            return None

    def done(self) -> bool:
        """Finished under this key, with every recorded file intact."""
        m = self.manifest()
        if not m or m.get("key") != self.key:
            return False
        for name, digest in m.get("files", {}).items():
            f = self.path / name
            if not f.is_file() or sha256_file(f) != digest:
                # a damaged file is never reused: drop it (a resuming stage recomputes it) and the manifest
                f.unlink(missing_ok=True)
                self.manifest_path.unlink(missing_ok=True)
                return False
        return True

    def finish(self, **info: Any) -> dict:
        files = {
            p.name: sha256_file(p)
            for p in sorted(self.path.iterdir())
            if p.is_file() and not p.name.startswith(".") and p.name not in {"manifest.json", "KEY"}
        }
        manifest = {"stage": self.name, "key": self.key, "files": files, "finished_at": time.time(), **info}
        atomic_write_json(self.manifest_path, manifest)
        return manifest

    # -- a directory outside the stage (the trained model) ---------------------------------
    def record_dir(self, name: str, directory: Path) -> None:
        """Write `name`: the sha256 of every file under `directory`. `finish` then hashes `name`
        into the manifest, so the directory is covered too (see `dir_damage`)."""
        self.write_json(name, {"dir": directory.name, "files": _digests(directory)})

    def dir_damage(self, name: str, directory: Path, ignore: frozenset[str] = frozenset()) -> str | None:
        """None if `directory` holds exactly the files recorded in `name` with their hashes (files named
        in `ignore` aside); else what differs (a missing, changed, truncated or extra file)."""
        try:
            recorded = self.read_json(name)["files"]
        except (OSError, ValueError, KeyError, TypeError):
            return f"no record of {directory}"
        if not directory.is_dir():
            return f"{directory} is missing"
        found = _digests(directory)
        for rel in sorted((set(recorded) | set(found)) - ignore):
            if recorded.get(rel) != found.get(rel):
                state = "missing" if rel not in found else "unexpected" if rel not in recorded else "changed"
                return f"{directory / rel} is {state}"
        return None

    # -- group shards --------------------------------------------------------------------
    def shard_path(self, index: int) -> Path:
        return self.path / f"shard-{index:05d}.parquet"

    def has_shard(self, index: int) -> bool:
        path = self.shard_path(index)
        if not path.is_file():
            return False
        try:
            pq.read_metadata(path)
            return True
        except Exception:  # unreadable: recompute it
            path.unlink(missing_ok=True)
            return False

    def write_shard(self, index: int, groups: list[Group]) -> None:
        table = pa.Table.from_pylist([g.to_row() for g in groups], schema=GROUP_SCHEMA)
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        atomic_write_bytes(self.shard_path(index), sink.getvalue().to_pybytes())

    def read_groups(self) -> list[Group]:
        groups: list[Group] = []
        for path in sorted(self.path.glob("shard-*.parquet")):
            groups.extend(Group.from_row(r) for r in pq.read_table(path).to_pylist())
        return groups

    def write_groups(self, groups: list[Group], shard_size: int = 256) -> None:
        for i, start in enumerate(range(0, max(len(groups), 1), shard_size)):
            self.write_shard(i, groups[start : start + shard_size])

    def write_json(self, name: str, obj: Any) -> None:
        atomic_write_json(self.path / name, obj)

    def read_json(self, name: str) -> Any:
        return json.loads((self.path / name).read_text())


def _digests(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): sha256_file(p) for p in sorted(directory.rglob("*")) if p.is_file()}


def writable_dir(path: str | Path, where: str = "--out") -> Path:
    """Create the output directory `path` if needed and check that files can be written there;
    else a clear error (it names a file, is on a read-only filesystem, lacks permission)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise AlignkitError(f"{str(path)!r} is a file, not a directory", where=where,
                            fix="give a directory (it is created if missing), or move the file away")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test.{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise AlignkitError(f"cannot write to {str(path)!r}: {exc.strerror or exc}", where=where,
                            fix="choose a directory on a writable filesystem that you may write to") from None
    return path


class RunStore:
    """A run directory holding stages."""

    def __init__(self, root: str | Path):
        self.root = writable_dir(root)

    def stage(self, name: str, key: str) -> Stage:
        return Stage(self.root, name, key)
