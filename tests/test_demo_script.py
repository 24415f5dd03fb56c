"""scripts/demo.sh, what `make demo` runs: an engine it does not know stops it before any set-up."""

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_demo_script_refuses_an_unknown_engine(tmp_path):
    env = {**os.environ, "ALIGNKIT_DEMO_ENGINE": "cuda"}
    r = subprocess.run(["bash", str(ROOT / "scripts" / "demo.sh"), str(tmp_path / "out")], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "ALIGNKIT_DEMO_ENGINE=cuda" in r.stderr and "auto, hf or vllm" in r.stderr
    assert not (tmp_path / "out").exists()  # nothing ran


def test_demo_script_stops_when_vllm_is_asked_for_and_cannot_be_set_up(tmp_path):
    # setup_vllm.sh fails at its first step here: the interpreter that would make the environment does not exist
    env = {**os.environ, "ALIGNKIT_DEMO_ENGINE": "vllm", "VLLM_VENV": str(tmp_path / "venv"),
           "PYTHON": str(tmp_path / "no-python")}
    r = subprocess.run(["bash", str(ROOT / "scripts" / "demo.sh"), str(tmp_path / "out")], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert "could not create" in r.stderr  # setup_vllm.sh's own message, then the demo's
    assert "vLLM could not be set up" in r.stderr and "ALIGNKIT_DEMO_ENGINE=hf make demo" in r.stderr
    assert not (tmp_path / "out").exists()
