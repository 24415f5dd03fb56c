"""Shared pieces of signals that ask a model: quoting, sampling parameters, templates, and
the critique-then-revise exchange (self-refine, constitutional revision).

Candidate text is always quoted inside tags it cannot close, so a response cannot end the
quote and give the judge or critic instructions of its own.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from alignkit.errors import AlignkitError
from alignkit.models.base import Backend, Sampling


def quote(text: str, tag: str) -> str:
    """`text` inside <tag>...</tag>, with any <tag> or </tag> it contains defused."""
    inner = re.sub(rf"<\s*/?\s*{re.escape(tag)}\s*>", lambda m: m.group(0).replace("<", "‹").replace(">", "›"),
                   text, flags=re.IGNORECASE)
    return f"<{tag}>\n{inner}\n</{tag}>"


def sampling_from(params: dict[str, Any], *, n: int = 1, temperature: float = 0.0, max_new_tokens: int = 128,
                  prefix: str = "") -> Sampling:
    """Sampling parameters from a signal's params (`n`, `temperature`, `top_p`, `max_new_tokens`,
    `seed`, each optionally prefixed), with the signal's defaults."""
    get = lambda key, default: params.get(prefix + key, default)  # noqa: E731
    return Sampling(n=int(get("n", n)), temperature=float(get("temperature", temperature)),
                    top_p=float(get("top_p", 1.0)), max_new_tokens=int(get("max_new_tokens", max_new_tokens)),
                    seed=int(get("seed", 0)))


def scoring_mode(params: dict[str, Any], modes: Collection[str]) -> str:
    """The signal's `scoring` param (default logprob), checked against the modes it offers."""
    mode = params.get("scoring", "logprob")
    if mode not in modes:
        choices = list(modes)
        raise AlignkitError(f"unknown scoring {mode!r}", where="signals.params.scoring",
                            fix="use " + ", ".join(choices[:-1]) + " or " + choices[-1])
    return mode


ASK_POSITIONS = ("end", "start")


def ask_position(params: dict[str, Any]) -> str:
    """A judge's `ask_position` param (default end), checked."""
    position = params.get("ask_position", "end")
    if position not in ASK_POSITIONS:
        raise AlignkitError(f"unknown ask_position {position!r}", where="signals.params.ask_position",
                            fix="use end (the ask after the material, the default) or start (before it)")
    return position


def with_ask(params: dict[str, Any], body: str, ask: str) -> str:
    """A judge's prompt: its material, then the closing ask (`ask_position: end`, the default), or
    the ask first (`start`). With the ask first, every row's prompt is shared up to its own
    candidate, so a log-probability judge, which runs shared prefixes once (models/hf.py), computes
    only the candidate per row instead of the candidate and the ask."""
    if ask_position(params) == "end":
        return body + "\n" + ask
    return f"{ask}\n\n{body}" if ask else body


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def template(params: dict[str, Any], key: str, default: str, fields: tuple[str, ...]) -> str:
    """A prompt template from params (or the default), checked for its placeholders."""
    text = params.get(key, default)
    missing = [f for f in fields if "{" + f + "}" not in text]
    if missing:
        raise AlignkitError(f"the {key} template lacks {', '.join('{' + f + '}' for f in missing)}",
                            where=f"signals.params.{key}", fix="include each placeholder once in the template")
    return text


def critique_and_revise(model: Backend, items: list[tuple[str, str, str, str]], critique_sampling: Sampling,
                        revision_sampling: Sampling) -> list[tuple[str, str, str]]:
    """For each (request, draft, critique instruction, revision instruction): the model critiques
    the draft, then rewrites it given its critique. Returns (critique, revision, finish_reason)."""
    critique_convs = [user(f"Here is a request and a draft answer.\n\n{quote(q, 'request')}\n{quote(d, 'draft')}"
                           f"\n\n{ask} Do not rewrite the draft.") for q, d, ask, _ in items]
    critiques = [o[0] for o in model.generate(critique_convs, critique_sampling)]
    revise_convs = [user(f"{quote(q, 'request')}\n{quote(d, 'draft')}\n{quote(c, 'feedback')}\n\n{ask} "
                         "Reply with the rewritten answer only.") for (q, d, _, ask), c in zip(items, critiques)]
    revisions = model.generate(revise_convs, revision_sampling, details=True)
    return [(c, text, finish) for c, [(text, finish)] in zip(critiques, revisions)]
