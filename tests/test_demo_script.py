"""scripts/demo.sh, what `make demo` runs: an engine it does not know stops it before any set-up."""

import os
import subprocess

from conftest import REPO


def _demo(out, **env) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(REPO / "scripts" / "demo.sh"), str(out)], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120)


def test_demo_script_refuses_an_unknown_engine(tmp_path):
    r = _demo(tmp_path / "out", ALIGNKIT_DEMO_ENGINE="cuda")
    assert r.returncode == 2
    assert "ALIGNKIT_DEMO_ENGINE=cuda" in r.stderr and "auto, hf or vllm" in r.stderr
    assert not (tmp_path / "out").exists()  # nothing ran


def test_demo_script_stops_when_vllm_is_asked_for_and_cannot_be_set_up(tmp_path):
    # setup_vllm.sh fails at its first step here: the interpreter that would make the environment does not exist
    r = _demo(tmp_path / "out", ALIGNKIT_DEMO_ENGINE="vllm", VLLM_VENV=str(tmp_path / "venv"),
              PYTHON=str(tmp_path / "no-python"))
    assert r.returncode == 1
    assert "could not create" in r.stderr  # setup_vllm.sh's own message, then the demo's
    assert "vLLM could not be set up" in r.stderr and "ALIGNKIT_DEMO_ENGINE=hf make demo" in r.stderr
    assert not (tmp_path / "out").exists()
