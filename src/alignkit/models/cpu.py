"""What this CPU computes natively: bfloat16 runs in hardware only with AVX512-BF16 or AMX; elsewhere
(AVX2-only CPUs, such as many AMD EPYC and older Xeon machines) torch and vLLM emulate it, and a
recipe's `dtype: bfloat16` costs time instead of saving it."""

from __future__ import annotations

import sys
from pathlib import Path

NATIVE_BF16 = frozenset({"avx512_bf16", "amx_bf16"})  # /proc/cpuinfo flags with bfloat16 arithmetic

# measured on an AVX2-only AMD EPYC (docs/benchmarks.md, "Generation weights"): vLLM eager, the same run's
# first stages, 16 min against 4.5 min (the base answering 217 prompts) and ~16 against 4.7 (160 samples)
_SLOWDOWN = "about 3.5x slower than float32 (vLLM, 2 cores)"

_noted = False


def cpuinfo(path: str | Path = "/proc/cpuinfo") -> dict[str, str]:
    """/proc/cpuinfo's fields, the first line of each key (the first processor's `model name`, `flags`...);
    empty where there is no cpuinfo to read."""
    try:
        text = Path(path).read_text()
    except OSError:
        return {}
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip(), value.strip())
    return fields


def cpu_flags(info: dict[str, str] | None = None) -> frozenset[str]:
    """The CPU's feature flags, from `info` (`cpuinfo()`'s fields; read now when not given)."""
    return frozenset((cpuinfo() if info is None else info).get("flags", "").split())


def bf16_note(dtype: str, flags: frozenset[str], cuda: bool) -> str | None:
    """What to tell a user who asks for bfloat16 weights on a CPU that emulates it; None when there is
    nothing to say (another dtype, a GPU, native support, or flags unknown)."""
    if dtype != "bfloat16" or cuda or not flags or flags & NATIVE_BF16:
        return None
    return ("note: dtype bfloat16 on this CPU runs in software (no avx512_bf16 or amx_bf16 in /proc/cpuinfo): "
            f"generation measured {_SLOWDOWN}. Set `dtype: float32` in the recipe, or pass "
            "--set dtype=float32 (alignkit eval: --dtype float32).")


def note_bf16_once(dtype: str) -> None:
    """Print `bf16_note` to stderr, checked once per process (torch is imported by every backend that calls this)."""
    global _noted
    if _noted or dtype != "bfloat16":
        return
    import torch

    _noted = True  # asked once: the CPU does not change within a process
    note = bf16_note(dtype, cpu_flags(), torch.cuda.is_available())
    if note:
        print(note, file=sys.stderr)
