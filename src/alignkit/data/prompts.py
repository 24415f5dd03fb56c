"""Prompt sources: the built-in synthesisers (instructions, arithmetic), JSONL and Parquet files
(read by `data/files.py`), and model-written instructions (Self-Instruct, Evol-Instruct:
`data/synthesis.py`), and any dataset `datasets` reads (`data/hf_source.py`).

A prompt file row needs `messages` (a list of {role, content}) or `prompt` (a string);
`meta` (an object) is optional and may carry `constraints` for the checker.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from alignkit.data import arithmetic, broad, functions, instructions, synthesis

# load_jsonl and load_parquet live in data/files.py so that synthesis.py and broad.py, which this
# module dispatches to, can read prompt files without importing it back; still importable from here.
from alignkit.data.files import load_jsonl, load_parquet
from alignkit.data.hf_source import load_hf
from alignkit.errors import AlignkitError
from alignkit.types import Prompt


def _ifeval_synth(cfg) -> list[Prompt]:
    return instructions.synthesize(cfg.split, cfg.n, seed=cfg.seed, pair_fraction=cfg.pair_fraction)


def _broad(cfg) -> list[Prompt]:
    return broad.synthesize(cfg)


def _functions(cfg) -> list[Prompt]:
    return functions.synthesize(cfg.split, cfg.n, seed=cfg.seed)


def _arithmetic(cfg) -> list[Prompt]:
    return arithmetic.synthesize(cfg.split, cfg.n, seed=cfg.seed, references=cfg.references, operands=cfg.operands)


def _model_written(cfg) -> list[Prompt]:
    return synthesis.synthesize(cfg)


def _hf(cfg) -> list[Prompt]:
    return load_hf(cfg)


def _file(cfg) -> list[Prompt]:
    if not cfg.path:
        raise AlignkitError(f"prompts.source is {cfg.source!r} but prompts.path is not set",
                            where="prompts.path", fix="add `path: FILE` under `prompts:`")
    # streamed: a file of a million rows is read only as far as the first prompts.n (all of it when
    # shuffled: n rows drawn with the seed, not the first n)
    limit = None if cfg.shuffle else cfg.n
    prompts = load_jsonl(cfg.path, limit) if cfg.source == "jsonl" else load_parquet(cfg.path, limit)
    if cfg.shuffle:
        random.Random(cfg.seed).shuffle(prompts)
    return prompts[: cfg.n]


# The prompt sources, one table: `prompts.source` names a row (the recipe schema is built from it);
# each reads the recipe's `prompts` section. A new source is a function and a row here.
SOURCES: dict[str, Callable[[Any], list[Prompt]]] = {
    "ifeval_synth": _ifeval_synth, "broad_instructions": _broad, "arithmetic": _arithmetic,
    "functions": _functions, "jsonl": _file, "parquet": _file, "self_instruct": _model_written,
    "evol_instruct": _model_written, "hf": _hf,
}


# Sources that are methods of the taxonomy in their own right (the model writes the prompts):
# `alignkit signals` lists them beside the signals, with their survey source.
SOURCE_METHODS: list[dict[str, str]] = [
    {"name": "evol_instruct", "source": "behavior_imitation", "kind": "prompts",
     "description": "Evol-Instruct (Xu et al. 2023): a generator model rewrites seed tasks in depth (constraints, "
                    "deepening, concretizing, reasoning) and in breadth over rounds; failed or copied rewrites are "
                    "eliminated and near-duplicates dropped by MiniLM similarity. Use: prompts.source: evol_instruct."},
    {"name": "self_instruct", "source": "behavior_imitation", "kind": "prompts",
     "description": "Self-Instruct (Wang et al. 2023): a generator model writes new instructions from sampled pool "
                    "tasks; Self-Instruct's filters and MiniLM deduplication keep diverse ones. "
                    "Use: prompts.source: self_instruct."},
]


def load_prompts(cfg) -> list[Prompt]:
    """Prompts for a recipe's `prompts` section."""
    return SOURCES[cfg.source](cfg)
