"""Easy function-writing tasks with unit tests, for code-execution feedback.

Each task names a function and what it does; the tests are asserts computed from a
reference implementation on drawn inputs (the reference is never shown to a signal, only
its outputs inside `meta["tests"]`, which only the sandboxed checker reads). Train and
held-out use disjoint tasks, so a held-out function is never trained on.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from alignkit.errors import AlignkitError
from alignkit.types import Prompt

SOURCE = "alignkit.functions"
INSTRUCTION = "Reply with the Python code only, in one ```python block."

# name -> (signature, description, reference, input generator)
Task = tuple[str, str, Callable[..., Any], Callable[[random.Random], tuple]]


def _ints(k: int, lo: int = -20, hi: int = 20) -> Callable[[random.Random], tuple]:
    return lambda r: tuple(r.randint(lo, hi) for _ in range(k))


def _int_list(r: random.Random) -> tuple:
    return ([r.randint(-9, 9) for _ in range(r.randint(0, 6))],)


def _word(r: random.Random) -> tuple:
    return ("".join(r.choice("abcdeAEIou") for _ in range(r.randint(0, 8))),)


TASKS: dict[str, dict[str, Task]] = {
    "train": {
        "add": ("add(a, b)", "returns the sum of a and b", lambda a, b: a + b, _ints(2)),
        "maximum": ("maximum(a, b)", "returns the larger of a and b", max, _ints(2)),
        "is_even": ("is_even(n)", "returns True if n is even, else False", lambda n: n % 2 == 0, _ints(1)),
        "square": ("square(n)", "returns n multiplied by itself", lambda n: n * n, _ints(1)),
        "list_sum": ("list_sum(xs)", "returns the sum of the numbers in the list xs", sum, _int_list),
        "count_positive": ("count_positive(xs)", "returns how many numbers in the list xs are greater than 0",
                           lambda xs: sum(x > 0 for x in xs), _int_list),
        "reverse_string": ("reverse_string(s)", "returns the string s reversed", lambda s: s[::-1], _word),
        "absolute": ("absolute(n)", "returns the absolute value of n without using abs()", abs, _ints(1)),
        "first_or_none": ("first_or_none(xs)", "returns the first element of the list xs, or None if it is empty",
                          lambda xs: xs[0] if xs else None, _int_list),
        "double_all": ("double_all(xs)", "returns a new list with every number in xs doubled",
                       lambda xs: [2 * x for x in xs], _int_list),
    },
    "heldout": {
        "subtract": ("subtract(a, b)", "returns a minus b", lambda a, b: a - b, _ints(2)),
        "minimum": ("minimum(a, b)", "returns the smaller of a and b", min, _ints(2)),
        "is_odd": ("is_odd(n)", "returns True if n is odd, else False", lambda n: n % 2 == 1, _ints(1)),
        "cube": ("cube(n)", "returns n to the power of 3", lambda n: n**3, _ints(1)),
        "list_max": ("list_max(xs)", "returns the largest number in the non-empty list xs", max,
                     lambda r: ([r.randint(-9, 9) for _ in range(r.randint(1, 6))],)),
        "count_vowels": ("count_vowels(s)", "returns how many vowels (a, e, i, o, u, either case) the string s has",
                         lambda s: sum(c in "aeiouAEIOU" for c in s), _word),
        "last_or_none": ("last_or_none(xs)", "returns the last element of the list xs, or None if it is empty",
                         lambda xs: xs[-1] if xs else None, _int_list),
        "negate_all": ("negate_all(xs)", "returns a new list with every number in xs negated",
                       lambda xs: [-x for x in xs], _int_list),
    },
}

PHRASINGS = ("Write a Python function `{sig}` that {desc}.", "Implement `{sig}` in Python: it {desc}.",
             "In Python, define a function `{sig}` which {desc}.")


def make_tests(name: str, reference: Callable[..., Any], inputs: list[tuple]) -> list[str]:
    return [f"assert {name}({', '.join(map(repr, args))}) == {reference(*args)!r}" for args in inputs]


def synthesize(split: str, n: int, seed: int = 0, tests_per_task: int = 5) -> list[Prompt]:
    """`n` prompts cycling through the split's tasks and phrasings, each with its own test inputs."""
    if split not in TASKS:
        raise AlignkitError(f"unknown split {split!r} for the functions source", where="prompts.split",
                            fix=f"use one of: {', '.join(TASKS)}")
    rng = random.Random(f"{SOURCE}:{split}:{seed}")
    names = sorted(TASKS[split])
    out = []
    for i in range(n):
        name = names[i % len(names)]
        sig, desc, ref, draw = TASKS[split][name]
        phrasing = PHRASINGS[(i // len(names)) % len(PHRASINGS)]
        inputs = [draw(rng) for _ in range(tests_per_task)]
        text = phrasing.format(sig=sig, desc=desc) + " " + INSTRUCTION
        out.append(Prompt(messages=[{"role": "user", "content": text}],
                          meta={"source": SOURCE, "split": split, "task": name, "entry_point": name, "index": i,
                                "tests": make_tests(name, ref, inputs)}))
    return out
