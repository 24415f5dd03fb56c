"""Minimal edits that make a response satisfy a failed constraint.

Used by the `checker_revision` signal: the environment says which constraint failed
and proposes the smallest edit that fixes it; the checker then re-verifies the
edited text, so a repair that does not pass is never used. Constraint types with no
safe edit (letter frequencies, "at least N words" or sentences) have no entry, or
return the text unchanged, and stay unrepaired.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

Repair = Callable[[str, dict, str], str]  # (response, constraint kwargs, base task) -> new response

_SENT = re.compile(r"(?<=[.!?])\s+")
_SENTENCE_END = re.compile(r"[.!?][\"')\]*]*(?=\s|$)")  # a sentence's last mark, closing quotes and brackets


def _sentences(text: str) -> list[str]:
    flat = " ".join(line.strip(" *-#") for line in text.splitlines() if line.strip())
    return [s for s in _SENT.split(flat) if s.strip()]


def _spread(parts: list[str], k: int) -> list[str]:
    """Split `parts` into exactly k non-empty consecutive chunks (k <= len(parts))."""
    size, extra = divmod(len(parts), k)
    out, i = [], 0
    for j in range(k):
        step = size + (1 if j < extra else 0)
        out.append(" ".join(parts[i : i + step]))
        i += step
    return out


def _chunks(text: str, k: int) -> list[str] | None:
    """k groups of whole sentences, or None when there are fewer than k sentences."""
    sents = _sentences(text)
    return _spread(sents, k) if len(sents) >= k else None


def _lower(text: str, kw: dict, task: str) -> str:
    return text.lower()


def _upper(text: str, kw: dict, task: str) -> str:
    return text.upper()


def _no_comma(text: str, kw: dict, task: str) -> str:
    return re.sub(r"\s*,\s*", " ", text).replace("，", " ")


def _quote(text: str, kw: dict, task: str) -> str:
    return '"' + text.strip().strip('"') + '"'


def _end_phrase(text: str, kw: dict, task: str) -> str:
    phrase = kw["end_phrase"]
    return text.rstrip() + ("\n" if text.strip() else "") + phrase


def _postscript(text: str, kw: dict, task: str) -> str:
    return text.rstrip() + f"\n\n{kw['postscript_marker']} I hope this helps."


def _title(text: str, kw: dict, task: str) -> str:
    words = re.sub(r"[^\w\s]", "", task).split()[-4:] or ["answer"]
    return f"<<{' '.join(words).title()}>>\n\n{text.strip()}"


def _json(text: str, kw: dict, task: str) -> str:
    return json.dumps({"response": text.strip()}, ensure_ascii=False)


def _keywords(text: str, kw: dict, task: str) -> str:
    missing = [k for k in kw["keywords"] if not re.search(re.escape(k), text, flags=re.IGNORECASE)]
    return text.rstrip() + (f" This brings to mind {', '.join(missing)}." if missing else "")


def _forbidden(text: str, kw: dict, task: str) -> str:
    for word in kw["forbidden_words"]:
        text = re.sub(r"\b" + re.escape(word) + r"\b", "", text, flags=re.IGNORECASE)
    return re.sub(r"[ \t]{2,}", " ", text)


def _bullets(text: str, kw: dict, task: str) -> str:
    parts = _chunks(text, kw["num_bullets"])
    return text if parts is None else "\n".join(f"* {p}" for p in parts)


def _highlights(text: str, kw: dict, task: str) -> str:
    sents = _sentences(text)
    n = kw["num_highlights"]
    if len(sents) < n:
        return text
    return " ".join(f"*{s.strip()}*" if i < n else s for i, s in enumerate(sents))


def _sections(text: str, kw: dict, task: str) -> str:
    parts = _chunks(text, kw["num_sections"])
    if parts is None:
        return text
    return "\n\n".join(f"{kw['section_spliter']} {i + 1}\n{p}" for i, p in enumerate(parts))


def _paragraphs(text: str, kw: dict, task: str) -> str:
    parts = _chunks(text, kw["num_paragraphs"])
    return text if parts is None else "\n\n***\n\n".join(parts)


def _max_words(text: str, kw: dict, task: str) -> str:
    if kw.get("relation") != "less than":
        return text
    keep, count = [], 0
    for s in _sentences(text):
        n = len(s.split())
        if count + n >= kw["num_words"]:
            break
        keep.append(s)
        count += n
    return " ".join(keep) if keep else text


def _max_sentences(text: str, kw: dict, task: str) -> str:
    if kw.get("relation") != "less than":
        return text
    sents = _sentences(text)
    return " ".join(sents[: max(1, kw["num_sentences"] - 1)]) if sents else text


def _placeholders(text: str, kw: dict, task: str) -> str:
    found = len(re.findall(r"\[.*?\]", text))
    need = kw["num_placeholders"] - found
    names = ["[name]", "[date]", "[place]", "[time]", "[address]", "[item]", "[amount]", "[contact]"]
    return text.rstrip() + (" Fill in: " + " ".join(names[: max(need, 0)]) if need > 0 else "")


def _first_word(text: str, kw: dict, task: str) -> str:
    parts = _chunks(text, kw["num_paragraphs"])
    if parts is None:
        return text
    i = kw["nth_paragraph"] - 1
    if i < len(parts):  # the checker reads letters up to the first punctuation mark
        parts[i] = f"{kw['first_word'].capitalize()}, {parts[i][:1].lower()}{parts[i][1:]}"
    return "\n\n".join(parts)


def _keyword_frequency(text: str, kw: dict, task: str) -> str:
    word, n = kw["keyword"], kw["frequency"]
    count = len(re.findall(word, text, flags=re.IGNORECASE))
    if kw.get("relation") == "at least":
        return text.rstrip() + "".join(f" That is what {word} means here." for _ in range(max(n - count, 0)))
    keep = [s for s in _sentences(text) if not re.search(word, s, flags=re.IGNORECASE)]  # "less than"
    return text if count < n else " ".join(keep)


def _capital_words(text: str, kw: dict, task: str) -> str:
    n = kw["capital_frequency"]
    if kw.get("capital_relation") == "at least":
        seen = [0]

        def up(m: re.Match) -> str:
            seen[0] += 1
            return m.group(0).upper() if seen[0] <= n + 1 else m.group(0)

        return re.sub(r"[A-Za-z]{2,}", up, text)
    text = re.sub(r"\b[A-Z]{2,}\b", lambda m: m.group(0).capitalize(), text)  # "less than"
    return re.sub(r"\bA\b", "a", text)


_NEEDS = ("num_bullets", "num_paragraphs", "num_sections", "num_highlights")


def _repeat_prompt(text: str, kw: dict, task: str) -> str:
    return f"{kw['prompt_to_repeat'].strip()}\n\n{text.strip()}"


def _two_responses(text: str, kw: dict, task: str) -> str:
    """Two responses from one: its sentences split in half, joined by the six asterisks asked for."""
    parts = _chunks(text, 2)
    return text if parts is None else f"{parts[0]}\n******\n{parts[1]}"


_STOP = frozenset("""about above after again against because before being below between could doing during
every further having other their there these those through under until where which while would should
without within really always never often might shall theirs them then than that this what when with
your yours from into over also just very more most much many some such only same both each here like make""".split())


def answer_words(text: str, k: int = 2) -> list[str]:
    """Up to k content words of `text` (5+ letters, not stopwords) that each occur in at least one
    sentence but in under a third of them: words the answer really uses, and whose sentences can go
    without losing most of it. The most frequent first; deterministic."""
    sents = _sentences(text)
    counts: dict[str, int] = {}
    for s in sents:
        for w in set(re.findall(r"[a-z]{5,}", s.lower())) - _STOP:
            counts[w] = counts.get(w, 0) + 1
    ok = [w for w, n in counts.items() if n * 3 < len(sents)]
    return sorted(ok, key=lambda w: (-counts[w], w))[:k]


def drop_sentences_with(text: str, words: list[str]) -> str:
    """`text` without the sentences that use any of `words` (whole words, any case): an answer that
    avoids them and stays grammatical, unlike deleting the words."""
    pat = re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\b", re.IGNORECASE)
    return " ".join(s for s in _sentences(text) if not pat.search(s))


def shorten(text: str, k: int, constraints: list[dict] = ()) -> str:
    """The first k sentences or lines of `text` (more when a constraint needs more parts to
    split into), keeping its line structure."""
    k = max([k] + [c.get("kwargs", {}).get(key) or 0 for c in constraints for key in _NEEDS])
    ends = _ends(text)
    return text if len(ends) <= k else text[: ends[k - 1]].rstrip()


def _ends(text: str) -> list[int]:
    """Where `text`'s sentences and non-empty lines end."""
    return sorted({m.end() for m in _SENTENCE_END.finditer(text)}
                  | {m.start() for m in re.finditer(r"(?<=\S)\n", text)})


def halve(text: str, min_parts: int = 3, max_keep: float = 0.7) -> str | None:
    """The first half of `text`'s sentences or lines, keeping its line structure; None when it has
    fewer than `min_parts` of them or the half keeps more than `max_keep` of its words."""
    ends = _ends(text)
    if len(ends) < min_parts:
        return None
    half = text[: ends[len(ends) // 2 - 1]].rstrip()
    return half if len(half.split()) <= max_keep * len(text.split()) else None


def overrun(text: str, times: int = 3) -> str | None:
    """`text` with its last non-empty line repeated `times` more times, each after a blank line: how
    a model that misses its end goes on (after a code block, a run of empty fences). None when `text`
    has no words."""
    lines = [line for line in text.rstrip().splitlines() if line.strip()]
    return None if not lines else text.rstrip() + ("\n\n" + lines[-1].strip()) * times


def trim_unfinished(text: str, min_keep: float = 0.3) -> str | None:
    """Cut an answer that stopped mid-sentence back to its last complete sentence or line;
    None when that would keep less than `min_keep` of it."""
    ends = [m.end() for m in _SENTENCE_END.finditer(text)]
    lines = [m.start() for m in re.finditer(r"\n", text)]
    cut = max(ends[-1] if ends else 0, lines[-1] if lines else 0)
    kept = text[:cut].rstrip()
    return kept if kept and len(kept) >= min_keep * len(text) else None


REPAIRS: dict[str, Repair] = {
    "change_case:english_lowercase": _lower,
    "change_case:english_capital": _upper,
    "punctuation:no_comma": _no_comma,
    "startend:quotation": _quote,
    "startend:end_checker": _end_phrase,
    "detectable_content:postscript": _postscript,
    "detectable_format:title": _title,
    "detectable_format:json_format": _json,
    "keywords:existence": _keywords,
    "keywords:forbidden_words": _forbidden,
    "detectable_format:number_bullet_lists": _bullets,
    "detectable_format:number_highlighted_sections": _highlights,
    "detectable_format:multiple_sections": _sections,
    "length_constraints:number_paragraphs": _paragraphs,
    "length_constraints:number_words": _max_words,
    "length_constraints:number_sentences": _max_sentences,
    "detectable_content:number_placeholders": _placeholders,
    "length_constraints:nth_paragraph_first_word": _first_word,
    "keywords:frequency": _keyword_frequency,
    "change_case:capital_word_frequency": _capital_words,
    "combination:two_responses": _two_responses,
    "combination:repeat_prompt": _repeat_prompt,
}

# Structural edits first, wrappers (case, quotes, JSON, end phrase) last so they see the final text.
_ORDER = [
    "length_constraints:number_words", "length_constraints:number_sentences", "keywords:forbidden_words",
    "keywords:frequency", "keywords:existence", "detectable_content:number_placeholders",
    "detectable_format:number_bullet_lists",
    "detectable_format:number_highlighted_sections", "detectable_format:multiple_sections",
    "length_constraints:number_paragraphs", "length_constraints:nth_paragraph_first_word",
    "change_case:capital_word_frequency", "detectable_format:title", "detectable_content:postscript",
    "punctuation:no_comma", "change_case:english_lowercase", "change_case:english_capital",
    "startend:end_checker", "startend:quotation", "detectable_format:json_format",
    "combination:two_responses", "combination:repeat_prompt",
]


def repair(text: str, constraints: list[dict], task: str) -> str | None:
    """Apply the repairs for `constraints` in a safe order; None if any has no repair."""
    if any(c["id"] not in REPAIRS for c in constraints):
        return None
    for c in sorted(constraints, key=lambda c: _ORDER.index(c["id"])):
        text = REPAIRS[c["id"]](text, c.get("kwargs", {}), task)
    return text
