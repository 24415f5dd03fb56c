"""Shared pieces of signals that ask a model: quoting, sampling parameters, templates, and
the critique-then-revise exchange (self-refine, constitutional revision).

Candidate text is always quoted inside tags it cannot close, so a response cannot end the
quote and give the judge or critic instructions of its own.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, ValidationInfo

from alignkit.models.base import Backend, Sampling
from alignkit.signals.base import SignalParams


def _folded(text: str) -> tuple[str, list[int]]:
    """`text` as a reader might see it (NFKC: fullwidth ＜／ｒ become </r; invisible format
    characters such as zero-width spaces dropped), with each folded character's index in `text`."""
    chars, origin = [], []
    for i, ch in enumerate(text):
        if unicodedata.category(ch) == "Cf":
            continue
        folded = unicodedata.normalize("NFKC", ch) if ord(ch) > 127 else ch
        chars.append(folded)
        origin.extend([i] * len(folded))
    return "".join(chars), origin


def quote(text: str, tag: str) -> str:
    """`text` inside <tag>...</tag>. Anything in `text` that could read as that tag opening or
    closing is defused by turning its `<` into `‹`: any case, whitespace or attributes
    (`</response x="1">`, `</response/>`, `< /Response >`, `</response` with no `>`, `</responses>`), fullwidth
    or zero-width-split spellings (`＜/ｒｅｓｐｏｎｓｅ＞`, `</res\u200bponse>`)."""
    folded, origin = _folded(text)
    opens = {origin[m.start()] for m in re.finditer(rf"<\s*/?\s*{re.escape(tag)}", folded,
                                                    flags=re.IGNORECASE)}
    inner = "".join("‹" if i in opens else ch for i, ch in enumerate(text)) if opens else text
    return f"<{tag}>\n{inner}\n</{tag}>"


# -- parameters shared by signals that ask a model -----------------------------------------------

def temperature_field(default: float) -> Any:
    return Field(default, ge=0, description="sampling temperature (0: greedy)")


def max_new_tokens_field(default: int) -> Any:
    return Field(default, ge=1, description="most tokens generated per answer")


class SamplingParams(SignalParams):
    """`n`, `temperature`, `top_p`, `max_new_tokens` and `seed` for what a signal generates.
    A signal sets its own defaults by redeclaring a field (e.g. `temperature: float =
    temperature_field(0.7)`); one it lets be unset (None) takes the default of the call site
    (`sampling_from(p, temperature=...)`), which its description states."""

    n: int = Field(1, ge=1, description="answers sampled per prompt")
    temperature: float = temperature_field(0.0)
    top_p: float = Field(1.0, gt=0, le=1, description="nucleus sampling: keep the top tokens of this probability mass")
    max_new_tokens: int = max_new_tokens_field(128)


class TeacherSamplingParams(SignalParams):
    """Sampling of a teacher model's answers: `teacher_n`, `teacher_temperature`, ..."""

    teacher_n: int = Field(1, ge=1, description="teacher answers sampled per prompt")
    teacher_temperature: float = Field(0.0, ge=0, description="the teacher's sampling temperature (0: greedy)")
    teacher_top_p: float = Field(1.0, gt=0, le=1, description="the teacher's nucleus sampling mass")
    teacher_max_new_tokens: int = Field(128, ge=1, description="most tokens per teacher answer")
    teacher_seed: int = Field(0, description="the teacher's sampling seed")


AskPosition = Literal["end", "start"]


class JudgeParams(SignalParams):
    """A judge's prompt layout (`ask_position`)."""

    ask_position: AskPosition = Field("end", description="where the closing ask goes: end (after the material) or "
                                      "start (before it: rows share their prompt up to their own candidate)")


def _check_placeholders(fields: tuple[str, ...]) -> Callable[[str, ValidationInfo], str]:
    def check(text: str, info: ValidationInfo) -> str:
        missing = [f for f in fields if "{" + f + "}" not in text]
        if missing:
            what = "template" if info.field_name == "template" else f"{info.field_name} template"
            raise ValueError(f"the {what} lacks {', '.join('{' + f + '}' for f in missing)}; "
                             "include each placeholder once in the template")
        return text
    return check


def Template(*fields: str) -> Any:  # noqa: N802  (used as a type)
    """A prompt-template type: a string that must contain each `{field}` placeholder."""
    return Annotated[str, AfterValidator(_check_placeholders(fields))]


def sampling_from(p: BaseModel, *, n: int = 1, temperature: float = 0.0, max_new_tokens: int = 128,
                  prefix: str = "") -> Sampling:
    """Sampling parameters from a signal's params (`n`, `temperature`, `top_p`, `max_new_tokens`,
    `seed`, each optionally prefixed, e.g. `teacher_`); a field the signal leaves unset (None)
    takes the default given here."""
    def get(key: str, default: Any) -> Any:
        value = getattr(p, prefix + key, None)
        return default if value is None else value

    return Sampling(n=int(get("n", n)), temperature=float(get("temperature", temperature)),
                    top_p=float(get("top_p", 1.0)), max_new_tokens=int(get("max_new_tokens", max_new_tokens)),
                    seed=int(get("seed", 0)))


def with_ask(position: str, body: str, ask: str) -> str:
    """A judge's prompt: its material, then the closing ask (`ask_position: end`, the default), or
    the ask first (`start`). With the ask first, every row's prompt is shared up to its own
    candidate, so a log-probability judge, which runs shared prefixes once (models/hf.py), computes
    only the candidate per row instead of the candidate and the ask."""
    if position == "end":
        return body + "\n" + ask
    return f"{ask}\n\n{body}" if ask else body


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


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
