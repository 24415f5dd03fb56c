"""Prompt sources: the built-in synthesisers (instructions, arithmetic), JSONL and Parquet files
(read by `data/files.py`), and model-written instructions (Self-Instruct, Evol-Instruct:
`data/synthesis.py`), and any dataset `datasets` reads (`data/hf_source.py`).

A prompt file row needs `messages` (a list of {role, content}) or `prompt` (a string);
`meta` (an object) is optional and may carry `constraints` for the checker.
"""

from __future__ import annotations

# load_jsonl and load_parquet live in data/files.py so that synthesis.py and broad.py, which this
# module dispatches to, can read prompt files without importing it back; still importable from here.
from alignkit.data.files import load_jsonl, load_parquet
from alignkit.errors import AlignkitError
from alignkit.types import Prompt


def load_prompts(cfg) -> list[Prompt]:
    """Prompts for a recipe's `prompts` section."""
    if cfg.source == "ifeval_synth":
        from alignkit.data.instructions import synthesize

        return synthesize(cfg.split, cfg.n, seed=cfg.seed, pair_fraction=cfg.pair_fraction)
    if cfg.source == "broad_instructions":
        from alignkit.data.broad import synthesize as synthesize_broad

        return synthesize_broad(cfg)
    if cfg.source == "functions":
        from alignkit.data import functions

        return functions.synthesize(cfg.split, cfg.n, seed=cfg.seed)
    if cfg.source == "arithmetic":
        from alignkit.data import arithmetic

        return arithmetic.synthesize(cfg.split, cfg.n, seed=cfg.seed, references=cfg.references,
                                     operands=cfg.operands)
    if cfg.source in ("self_instruct", "evol_instruct"):
        from alignkit.data.synthesis import synthesize as synthesize_instructions

        return synthesize_instructions(cfg)
    if cfg.source == "hf":
        from alignkit.data.hf_source import load_hf

        return load_hf(cfg)
    if not cfg.path:
        raise AlignkitError(f"prompts.source is {cfg.source!r} but prompts.path is not set",
                            where="prompts.path", fix="add `path: FILE` under `prompts:`")
    # streamed: a file of a million rows is read only as far as the first prompts.n (all of it when
    # shuffled: n rows drawn with the seed, not the first n)
    limit = None if cfg.shuffle else cfg.n
    prompts = load_jsonl(cfg.path, limit) if cfg.source == "jsonl" else load_parquet(cfg.path, limit)
    if cfg.shuffle:
        import random

        random.Random(cfg.seed).shuffle(prompts)
    return prompts[: cfg.n]
