"""Synthesised verifiable-instruction prompts: a base task plus 1-2 constraints.

Training and held-out sets use disjoint base tasks, and the held-out set's
two-constraint combinations never occur in the training set.
"""

from __future__ import annotations

import itertools
import random

from alignkit.checks import constraints as C
from alignkit.data.phrasings import rephrase as reword
from alignkit.types import Prompt

TRAIN_TASKS = (
    "Write a short poem about the ocean.",
    "Describe your favorite season.",
    "Explain why people should drink water.",
    "Write a short story about a lost cat.",
    "Give advice to a student starting university.",
    "Describe a busy city street.",
    "Explain how a bicycle works.",
    "Write a letter to a friend about your weekend.",
    "Describe the taste of an orange.",
    "Explain why sleep is important.",
    "Write a product description for a coffee mug.",
    "Describe a walk in the forest.",
    "Explain what a computer does.",
    "Write a short speech for a birthday party.",
    "Describe how to make a sandwich.",
    "Explain why exercise is healthy.",
    "Write a review of a restaurant you imagine.",
    "Describe a rainy day.",
    "Explain how plants grow.",
    "Write a thank-you note to a teacher.",
    "Describe a dog playing in the park.",
    "Explain what the moon is.",
    "Write a short story about a robot.",
    "Give tips for saving money.",
    "Describe your dream house.",
    "Explain why reading books is useful.",
    "Write an invitation to a picnic.",
    "Describe a mountain at sunrise.",
    "Explain how to plant a tree.",
    "Write a short poem about friendship.",
    "Describe a train journey.",
    "Explain what a library is for.",
    "Write a motivational message for a runner.",
    "Describe the sound of rain.",
    "Explain how to boil an egg.",
    "Write a short story about a dragon.",
    "Give tips for learning a new language.",
    "Describe a summer festival.",
    "Explain why bees are important.",
    "Write a short advertisement for a bakery.",
)

HELDOUT_TASKS = (
    "Write a short poem about the stars.",
    "Describe your ideal vacation.",
    "Explain why people recycle.",
    "Write a short story about a brave mouse.",
    "Give advice to someone starting a new job.",
    "Describe a quiet village.",
    "Explain how a car engine works.",
    "Write a letter to your future self.",
    "Describe the smell of fresh bread.",
    "Explain why friendship matters.",
    "Write a product description for a backpack.",
    "Describe a day at the beach.",
    "Explain what the internet is.",
    "Write a short speech for a graduation.",
    "Describe how to make a cup of tea.",
    "Explain why vegetables are healthy.",
    "Write a review of a movie you imagine.",
    "Describe a snowy morning.",
    "Explain how rain forms.",
    "Write a short story about a pirate.",
    "Give tips for staying focused.",
    "Describe a farmers market.",
    "Explain why the sky looks blue.",
    "Write an invitation to a wedding.",
    "Describe an old castle.",
)

SPLITS = {"train": TRAIN_TASKS, "heldout": HELDOUT_TASKS}


def _pairs(types: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(a, b) for a, b in itertools.combinations(types, 2) if not C.conflicts(a, b)]


def split_pairs(seed: int = 1234) -> dict[str, list[tuple[str, str]]]:
    """Partition the compatible constraint pairs: half for training, half held out."""
    pairs = _pairs(C.SYNTH_TYPES)
    random.Random(seed).shuffle(pairs)
    half = len(pairs) // 2
    return {"train": pairs[:half], "heldout": pairs[half:]}


def draw_constraints(split: str, rng: random.Random, pair_fraction: float = 0.5,
                     allowed: set[str] | None = None, types: str = "synth") -> list[str]:
    """One constraint type or, with probability `pair_fraction`, a compatible pair of the split;
    `allowed` narrows the types (e.g. to those the checker can repair). `types`: "synth" draws
    from SYNTH_TYPES; "broad" also from BROAD_TYPES' extra types, in pairs with any other type
    (ifeval_heldout never holds them, so no held-out pair is used)."""
    pairs = split_pairs()[split]
    if types == "broad":
        extra = [t for t in C.BROAD_TYPES if t not in C.SYNTH_TYPES]
        pairs = pairs + [(a, b) for a in extra for b in C.BROAD_TYPES if a != b and not C.conflicts(a, b)]
    pool = C.BROAD_TYPES if types == "broad" else C.SYNTH_TYPES
    pairs = [p for p in pairs if allowed is None or set(p) <= allowed]
    singles = [t for t in pool if allowed is None or t in allowed]
    return list(rng.choice(pairs)) if rng.random() < pair_fraction else [rng.choice(singles)]


def compose(task: str, ids: list[str], rng: random.Random, split: str, rephrase: float = 0.0, **meta) -> Prompt:
    """The prompt for `task` with constraints `ids`, their parameters drawn from `rng`. With
    `rephrase` > 0, each constraint is worded, with that probability, in one of the other
    phrasings of `data/phrasings.py` instead of lm-eval's sentence. "Repeat the request" comes
    last, and the request to repeat is everything before it."""
    parts, cons = [task], []
    for cid in sorted(ids, key=lambda c: c == "combination:repeat_prompt"):
        text, con = C.describe(cid, rng, prompt=" ".join(parts) if cid == "combination:repeat_prompt" else task)
        if rephrase > 0 and rng.random() < rephrase:
            text = reword(cid, con.kwargs, rng) or text
        parts.append(text)
        cons.append(con.as_dict())
    if rephrase > 0:
        meta["rephrase"] = rephrase
    meta = {"task": "verifiable_instructions", "split": split, "base_task": task,
            "constraints": cons, "source": "alignkit.ifeval_synth", **meta}
    return Prompt(messages=[{"role": "user", "content": " ".join(parts)}], meta=meta)


def synthesize(split: str, n: int, seed: int = 0, pair_fraction: float = 0.5) -> list[Prompt]:
    """`n` prompts of the split: each a base task with one constraint or, with
    probability `pair_fraction`, a pair of compatible constraints."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {sorted(SPLITS)}")
    rng = random.Random(f"{split}:{seed}")
    tasks = SPLITS[split]
    prompts: list[Prompt] = []
    seen: set[str] = set()
    while len(prompts) < n:
        task = rng.choice(tasks)
        prompt = compose(task, draw_constraints(split, rng, pair_fraction), rng, split)
        if prompt.text in seen:
            continue
        seen.add(prompt.text)
        prompts.append(prompt)
    return prompts
