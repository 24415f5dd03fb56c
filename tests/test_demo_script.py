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
