"""The judging scaffolding the signals share: the self-rewarding rubric (Yuan et al. 2024) and
how a judge's score is asked for and read, as one digit's log-probabilities or from generated
text."""

from __future__ import annotations

import math
import re

# Yuan et al. 2024, Figure 2, with the score asked for as one digit (logprob) or after a short
# justification (generate).
RUBRIC = """Review the user's question and the response below using the additive 5-point scoring system described here. Points accumulate as each criterion is met:
- Add 1 point if the response is relevant and gives some information related to the question, even if it is incomplete or contains some irrelevant content.
- Add another point if the response addresses a substantial portion of the question, but does not completely resolve it.
- Award a third point if the response answers the basic elements of the question in a useful way.
- Grant a fourth point if the response addresses the question directly and comprehensively, and is well organised and helpful, following every instruction in the question.
- Bestow a fifth point if the response is impeccably tailored to the question, without extraneous information, reflecting expert knowledge.

{question}
{response}
"""  # noqa: E501
SCORE_ASK = {
    "logprob": "Reply with the total score only: a single digit from 0 to 5.",
    "generate": 'Briefly justify your total score in under 50 words, then conclude with "Score: <total points>".',
}
SCORES = tuple(str(i) for i in range(6))


def parse_score(text: str) -> int | None:
    """The score in a generated judgment: "Score: N", else the last lone digit 0-5."""
    m = re.search(r"score\s*[:=]?\s*\**\s*([0-5])\b", text, flags=re.IGNORECASE)
    if m:
        return int(m.group(1))
    digits = re.findall(r"(?<!\d)(?<!\d\.)([0-5])(?!\d|\.\d)", text)
    return int(digits[-1]) if digits else None


def expected_score(logps: list[float]) -> tuple[float, list[float]]:
    """Expected score under the judge's distribution over "0".."5" (renormalised)."""
    top = max(logps)
    weights = [math.exp(lp - top) for lp in logps]
    probs = [w / sum(weights) for w in weights]
    return sum(i * p for i, p in enumerate(probs)), probs
