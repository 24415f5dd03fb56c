"""Synthesised arithmetic word problems with known answers (2-digit addition and subtraction).

The ground truth in `meta["answer"]` is for evaluation, and for answer checking (`answer_match`,
environment feedback: the environment grades training-split problems); no other signal may read it.
Splits are disjoint twice over: train and held-out use different sentence templates, and
each (operation, a, b) triple belongs to exactly one split, so a held-out problem never
appears in training, not even reworded.
"""

from __future__ import annotations

import random
import re

from alignkit.errors import AlignkitError
from alignkit.types import Prompt, content_hash

SOURCE = "alignkit.arithmetic"
INSTRUCTION = "Answer with the number."

# {n}: a name, {x}: a plural noun, {a}/{b}: the operands.
TEMPLATES: dict[str, dict[str, tuple[str, ...]]] = {
    "train": {
        "+": (
            "{n} has {a} {x} and buys {b} more. How many {x} does {n} have now?",
            "{n} found {a} {x} in the morning and {b} {x} in the afternoon. How many {x} did {n} find in all?",
            "A box holds {a} {x}. {n} puts {b} more {x} in it. How many {x} are in the box?",
            "{n} counted {a} {x} on Monday and {b} {x} on Tuesday. How many {x} did {n} count altogether?",
            "There are {a} {x} on a table and {n} adds {b} more. How many {x} are on the table now?",
        ),
        "-": (
            "{n} has {a} {x} and gives away {b}. How many {x} does {n} have left?",
            "A basket had {a} {x}. {n} took {b} of them. How many {x} are still in the basket?",
            "{n} had {a} {x} and lost {b}. How many {x} does {n} have now?",
            "There were {a} {x} in a shop. The shop sold {b}. How many {x} were left?",
            "{n} needs {a} {x} and already has {b}. How many more {x} does {n} need?",
        ),
    },
    "heldout": {
        "+": (
            "{n} saved {a} {x} last week and {b} {x} this week. What is the total number of {x} {n} saved?",
            "A shop has {a} {x} in one crate and {b} {x} in another. How many {x} does the shop have?",
            "{n} received {a} {x} from a friend and {b} {x} from a cousin. How many {x} did {n} receive?",
        ),
        "-": (
            "A jar contains {a} {x}. {n} takes out {b} of them. How many {x} remain in the jar?",
            "{n} started with {a} {x} and used {b}. How many {x} are left over?",
            "A class collected {a} {x} and handed out {b}. How many {x} does the class still have?",
        ),
    },
}
SPLITS = tuple(TEMPLATES)
OPERANDS = (10, 99)
NAMES = ("Tom", "Anna", "Sam", "Lily", "Ben", "Mia", "Leo", "Zoe", "Max", "Eva", "Noah", "Ruth")
ITEMS = ("apples", "marbles", "stickers", "books", "coins", "pencils", "cookies", "shells", "cards", "eggs")


def split_of(op: str, a: int, b: int) -> str:
    """The one split an (operation, a, b) triple belongs to: a quarter go to held-out."""
    return "heldout" if int(content_hash([op, a, b]), 16) % 4 == 0 else "train"


def _problem(rng: random.Random, split: str, operands: tuple[int, int]) -> tuple[str, int, int, int] | None:
    """Draw (op, a, b, answer) of the split: operands in `operands` (inclusive), non-negative
    differences; None when 10,000 draws found none (a range too narrow for the split)."""
    for _ in range(10_000):
        op = rng.choice("+-")
        a, b = rng.randint(*operands), rng.randint(*operands)
        if op == "-" and a <= b:
            a, b = b, a
        if a != b and split_of(op, a, b) == split:
            return op, a, b, a + b if op == "+" else a - b


def synthesize(split: str, n: int, seed: int = 0, references: bool = False,
               operands: tuple[int, int] = OPERANDS) -> list[Prompt]:
    """`n` distinct problems of `split` ("train" or "heldout"); the same arguments give the same list.
    `operands` bounds both numbers (the benchmarks use the 2-digit default; a training split may draw
    easier, still unlabelled, problems: an easy-to-hard curriculum).
    With `references`, meta["reference"] holds a worked answer: supervised data for methods that
    need it (SPIN); other signals must not read it."""
    if split not in TEMPLATES:
        raise AlignkitError(f"unknown arithmetic split {split!r}", where="prompts.split",
                            fix=f"use one of: {', '.join(SPLITS)}")
    rng = random.Random(f"{SOURCE}:{split}:{seed}")
    prompts: dict[str, Prompt] = {}
    misses = 0  # draws in a row that gave no new problem
    while len(prompts) < n:
        drawn = _problem(rng, split, operands)
        if drawn is None or misses > 10_000:
            raise AlignkitError(f"the {split} split has only {len(prompts)} distinct problems with operands "
                                f"{operands[0]}-{operands[1]}, {n} were asked for", where="prompts.operands",
                                fix="widen prompts.operands or ask for fewer problems (prompts.n)")
        op, a, b, answer = drawn
        text = rng.choice(TEMPLATES[split][op]).format(n=rng.choice(NAMES), x=rng.choice(ITEMS), a=a, b=b)
        meta = {"task": "arithmetic", "split": split, "op": op, "answer": answer, "source": SOURCE}
        if references:
            meta["reference"] = f"{a} {op} {b} = {answer}. The answer is {answer}."
        p = Prompt(messages=[{"role": "user", "content": f"{text} {INSTRUCTION}"}], meta=meta)
        misses = misses + 1 if p.id in prompts else 0
        prompts.setdefault(p.id, p)
    return list(prompts.values())


# A number: optional minus (not a hyphen between words/digits), thousands commas, optional decimals.
_NUMBER = re.compile(r"(?<!\w)-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?!\d)")


def extract_answer(text: str) -> str | None:
    """The last number in a free-form answer, normalised ("1,234" -> "1234", "68.0" -> "68"), or None."""
    found = _NUMBER.findall(text)
    if not found:
        return None
    num = found[-1].replace(",", "")
    if "." in num:
        num = num.rstrip("0").rstrip(".")
    return "0" if num in ("-0", "") else num
