"""The one vocabulary: Prompt, Candidate, Annotation, Group."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

AnnotationKind = Literal["score", "label", "critique", "preference"]


def content_hash(obj: Any, length: int = 16) -> str:
    """Stable hash of any JSON-serialisable value."""
    blob = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:length]


@dataclass
class Prompt:
    messages: list[dict[str, str]]
    meta: dict[str, Any] = field(default_factory=dict)
    id: str = ""

    def __post_init__(self) -> None:
        if not self.id:
            self.id = content_hash({"messages": self.messages, "meta": self.meta})

    @property
    def text(self) -> str:
        """The last user turn, which is what constraint checkers quote."""
        return next((m["content"] for m in reversed(self.messages) if m["role"] == "user"), "")


@dataclass
class Annotation:
    signal: str
    kind: AnnotationKind
    value: Any
    rationale: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)


@dataclass
class Candidate:
    text: str
    origin: dict[str, Any] = field(default_factory=dict)
    annotations: list[Annotation] = field(default_factory=list)

    def value(self, signal: str, default: Any = None) -> Any:
        """The latest value the named signal gave this candidate."""
        for ann in reversed(self.annotations):
            if ann.signal == signal:
                return ann.value
        return default


@dataclass
class Group:
    prompt: Prompt
    candidates: list[Candidate] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.prompt.id

    # Parquet rows: nested candidates; free-form values are JSON strings so every
    # shard has one schema whatever the signals put in them.
    def to_row(self) -> dict[str, Any]:
        return {
            "id": self.prompt.id,
            "messages": self.prompt.messages,
            "meta": json.dumps(self.prompt.meta, sort_keys=True),
            "candidates": [
                {
                    "text": c.text,
                    "origin": json.dumps(c.origin, sort_keys=True),
                    "annotations": [
                        {**asdict(a), "value": json.dumps(a.value), "provenance": json.dumps(a.provenance)}
                        for a in c.annotations
                    ],
                }
                for c in self.candidates
            ],
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Group:
        prompt = Prompt(messages=[dict(m) for m in row["messages"]], meta=json.loads(row["meta"]), id=row["id"])
        cands = [
            Candidate(
                text=c["text"],
                origin=json.loads(c["origin"]),
                annotations=[
                    Annotation(
                        signal=a["signal"], kind=a["kind"], value=json.loads(a["value"]),
                        rationale=a["rationale"], provenance=json.loads(a["provenance"]),
                    )
                    for a in c["annotations"]
                ],
            )
            for c in row["candidates"]
        ]
        return cls(prompt=prompt, candidates=cands)
