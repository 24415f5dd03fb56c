"""Math answer checking: pull the final answer out of free text and compare it with a reference
numerically, or symbolically with sympy.

Handles `\\boxed{...}` (nested braces), "the answer is ...", LaTeX fractions (`\\frac{1}{2}`),
plain fractions (`1/2`), decimals (`0.5`), thousands commas (`1,234`), percent signs, currency
and trailing units (`68 apples`, `$12`). `1/2`, `0.5` and `\\frac{1}{2}` are all the same answer.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

from alignkit.data.arithmetic import extract_answer

_MARKER = re.compile(r"(?:final answer|answer)\s*(?:is|:|=)\s*:?\s*(.+)", re.IGNORECASE)
# a number with a currency sign or words before it and units after: "$12", "68 apples", "x = 5"
_WITH_UNITS = re.compile(r"[a-zA-Z$€£=:\s]*?(-?(?:\d+(?:\.\d*)?|\.\d+)(?:/\d+)?)\s*[a-zA-Z$€£ ]*")


def boxed(text: str) -> str | None:
    """The content of the last \\boxed{...} (or \\fbox{...}), braces balanced; None if absent."""
    start = max(text.rfind("\\boxed{"), text.rfind("\\fbox{"))
    if start < 0:
        return None
    i = text.index("{", start) + 1
    depth, j = 1, i
    while j < len(text) and depth:
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        j += 1
    return text[i : j - 1].strip() if depth == 0 else None


def final_answer(text: str, mode: str = "final") -> str | None:
    """The answer a reply commits to. mode "last": the last number (the arithmetic benchmark's rule);
    "final": the last \\boxed{}, else what follows the last "answer is"/"Answer:", else the last number."""
    if mode == "final":
        if (b := boxed(text)) is not None:
            return b
        markers = list(_MARKER.finditer(text))
        if markers:
            tail = re.split(r"\.(?!\d)|\n|;|,\s(?!\d{3})", markers[-1].group(1).strip())[0]
            if tail.strip():
                return tail.strip()
    elif mode != "last":
        raise ValueError(f"unknown extraction mode {mode!r} (use final or last)")
    return extract_answer(text)


def _latex_to_plain(s: str) -> str:
    s = re.sub(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}", r"(\1)/(\2)", s)
    s = re.sub(r"\\sqrt\s*\{([^{}]*)\}", r"sqrt(\1)", s)
    s = s.replace("\\cdot", "*").replace("\\times", "*").replace("\\div", "/").replace("^", "**")
    s = re.sub(r"\\(?:left|right|,|!|;|:|\s)", "", s).replace("\\pi", "pi")
    s = re.sub(r"\\text\s*\{[^{}]*\}|\\mathrm\s*\{[^{}]*\}", "", s)
    return s.replace("{", "(").replace("}", ")").replace("$", "")


def parse_value(answer: Any) -> Any:
    """A number (Fraction, exact) or a sympy expression for an answer string; None if unparseable."""
    if isinstance(answer, (int, Fraction)):
        return Fraction(answer)
    if isinstance(answer, float):
        return Fraction(str(answer))
    s = str(answer)
    s = _latex_to_plain(boxed(s) or s).strip().rstrip(".")
    percent = s.endswith("%")
    s = re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", s.rstrip("%")).strip()  # thousands separators
    if not s:
        return None
    scale = Fraction(1, 100) if percent else 1
    try:
        return Fraction(s.replace(" ", "")) * scale  # integers, decimals, a/b
    except (ValueError, ZeroDivisionError):
        pass
    expr = _sympy(s)
    if expr is not None and expr.is_number:
        return expr * scale
    unit = _WITH_UNITS.fullmatch(s)  # a number with words around it: "$12", "68 apples", "x = 5"
    if unit and "/0" not in unit.group(1):
        return Fraction(unit.group(1)) * scale
    return None if expr is None else expr * scale


_NAMES = {"sqrt", "pi", "e", "E", "i", "I", "log", "ln", "exp", "sin", "cos", "tan"}


def _safe(s: str) -> bool:
    """sympy's parser evaluates Python: let through only short arithmetic over known names and
    single letters, with small exponents (9**9**9 would never finish)."""
    return (len(s) <= 100 and re.fullmatch(r"[\w+\-*/().\s]*", s) is not None and "_" not in s
            and all(len(w) == 1 or w in _NAMES for w in re.findall(r"[A-Za-z]+", s))
            and s.count("**") <= 1 and not re.search(r"\*\*\s*\(?\s*\d{3,}", s))


def _sympy(s: str) -> Any:
    """A sympy expression for `s` (implicit multiplication allowed: 2pi), or None."""
    import sympy
    from sympy.parsing.sympy_parser import implicit_multiplication_application, parse_expr, standard_transformations

    if not _safe(s):
        return None
    try:
        expr = parse_expr(s, transformations=(*standard_transformations, implicit_multiplication_application))
    except Exception:  # sympy raises many types on junk (SympifyError, SyntaxError, TypeError...)
        return None
    if not isinstance(expr, sympy.Expr) or expr.has(sympy.zoo, sympy.nan, sympy.oo):
        return None
    return expr


def equivalent(predicted: Any, reference: Any, rel_tol: float = 1e-6) -> bool:
    """Whether two answers are the same value: exact for rationals, symbolic (sympy) otherwise,
    numeric within rel_tol as a last resort."""
    a, b = parse_value(predicted), parse_value(reference)
    if a is None or b is None:
        return False
    if isinstance(a, Fraction) and isinstance(b, Fraction):
        return a == b
    import sympy

    try:
        diff = sympy.simplify(sympy.nsimplify(a) - sympy.nsimplify(b))
        if diff == 0:
            return True
        x, y = complex(sympy.N(a)), complex(sympy.N(b))
    except (TypeError, ValueError, AttributeError, sympy.SympifyError):
        return False
    return abs(x - y) <= rel_tol * max(1.0, abs(y))
