"""bfloat16 on a CPU that emulates it: the note a user gets, and the hardware block's flag."""

from pathlib import Path

import pytest

from alignkit.models import cpu
from alignkit.models.cpu import bf16_note, cpu_flags, cpuinfo
from alignkit.provenance import hardware

AVX2_ONLY = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse2 avx avx2 fma\n"
SAPPHIRE_RAPIDS = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n"


def test_cpu_flags_reads_the_first_flags_line(tmp_path: Path):
    (tmp_path / "cpuinfo").write_text(AVX2_ONLY + "processor\t: 1\nflags\t\t: other\n")
    assert cpu_flags(cpuinfo(tmp_path / "cpuinfo")) == {"fpu", "sse2", "avx", "avx2", "fma"}
    assert cpu_flags(cpuinfo(tmp_path / "missing")) == frozenset()


def test_bf16_note_speaks_only_where_bfloat16_is_emulated(tmp_path: Path):
    (tmp_path / "avx2").write_text(AVX2_ONLY)
    (tmp_path / "amx").write_text(SAPPHIRE_RAPIDS)
    note = bf16_note("bfloat16", cpu_flags(cpuinfo(tmp_path / "avx2")), cuda=False)
    assert note and "dtype=float32" in note and "avx512_bf16" in note
    assert bf16_note("bfloat16", cpu_flags(cpuinfo(tmp_path / "amx")), cuda=False) is None
    assert bf16_note("float32", cpu_flags(cpuinfo(tmp_path / "avx2")), cuda=False) is None
    assert bf16_note("bfloat16", cpu_flags(cpuinfo(tmp_path / "avx2")), cuda=True) is None
    assert bf16_note("bfloat16", frozenset(), cuda=False) is None  # flags unknown: say nothing


def test_note_is_printed_once_per_process(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture,
                                          tmp_path: Path):
    (tmp_path / "avx2").write_text(AVX2_ONLY)
    monkeypatch.setattr(cpu, "_noted", False)
    monkeypatch.setattr(cpu, "cpu_flags", lambda: cpu_flags(cpuinfo(tmp_path / "avx2")))  # this machine's flags vary
    cpu.note_bf16_once("float32")
    assert capsys.readouterr().err == ""
    cpu.note_bf16_once("bfloat16")
    cpu.note_bf16_once("bfloat16")
    assert capsys.readouterr().err.count("runs in software") == 1


def test_hardware_says_whether_bfloat16_is_native():
    flags = cpu_flags()
    info = hardware()
    if not flags:
        pytest.skip("no /proc/cpuinfo flags on this machine")
    assert info["bf16_native"] == bool(flags & {"avx512_bf16", "amx_bf16"})
