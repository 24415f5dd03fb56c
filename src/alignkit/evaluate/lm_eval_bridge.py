"""A bridge to EleutherAI's lm-evaluation-harness: an aligned checkpoint (or any model spec
alignkit loads) evaluated with `lm_eval` on its registered tasks or on local task files.

alignkit writes no evaluation loop here: it resolves the model spec to a local directory
(`embedded` -> the cached safetensors of the embedded model), hands it to lm-eval's own `hf`
model class, and keeps lm-eval's results (metrics and their standard errors) as they are."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alignkit.errors import AlignkitError
from alignkit.models import BACKEND_PREFIXES
from alignkit.models.embedded import resolve_model_path

TASKS_DIR = Path(__file__).parent / "lm_eval_tasks"  # alignkit's own local tasks (always on the include path)


def run_lm_eval(model: str, tasks: list[str], *, include_path: str | Path | None = None, limit: int | None = None,
                batch_size: int = 8, num_fewshot: int | None = None, seed: int = 0) -> dict[str, Any]:
    """Evaluate `model` with lm-eval; returns {"results": {task: {metric: value}}, "n": {task: samples}}."""
    try:
        import lm_eval
        from lm_eval.tasks import TaskManager
    except ImportError:
        raise AlignkitError("the lm-eval bridge needs the lm-eval package", where="lm-eval",
                            fix="pip install lm-eval") from None
    if model.startswith(BACKEND_PREFIXES):
        raise AlignkitError(f"the lm-eval bridge loads local weights; {model!r} has none here", where="--model",
                            fix="give `embedded`, a checkpoint directory (e.g. runs/NAME/model) or a hub id")

    path = resolve_model_path(model)
    includes = [str(TASKS_DIR)] + ([str(include_path)] if include_path else [])
    manager = TaskManager(include_path=includes)
    unknown = [t for t in tasks if t not in manager.all_tasks]
    if unknown:
        raise AlignkitError(f"lm-eval does not know task(s) {', '.join(unknown)}", where="--tasks",
                            fix="give a task lm-eval lists, or a folder of task YAML files with --include-path")
    # lm-eval reads a task's local data files relative to the working directory; run from the
    # task folder so that alignkit's shipped tasks find theirs wherever alignkit is called from
    with _cwd(Path(include_path or TASKS_DIR)):
        out = lm_eval.simple_evaluate(model="hf", model_args={"pretrained": str(path), "dtype": "float32"},
                                      tasks=tasks, limit=limit, batch_size=batch_size, num_fewshot=num_fewshot,
                                      device="cuda" if _cuda() else "cpu", task_manager=manager, random_seed=seed,
                                      numpy_random_seed=seed, torch_random_seed=seed, bootstrap_iters=1000,
                                      log_samples=False)
    results = {task: {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and k != "alias"}
               for task, metrics in out["results"].items()}
    n = {task: int(s.get("effective", s.get("original", 0))) for task, s in out.get("n-samples", {}).items()}
    return {"model": model, "path": str(path), "results": results, "n": n}


@contextmanager
def _cwd(path: Path) -> Iterator[None]:
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def _cuda() -> bool:
    if os.environ.get("CUDA_VISIBLE_DEVICES") == "":
        return False
    import torch

    return torch.cuda.is_available()
