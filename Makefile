# scripts/setup.sh makes .venv (unless a virtual environment is active); every target runs in it.
VENV_PY = $(if $(VIRTUAL_ENV),$(VIRTUAL_ENV)/bin/python,.venv/bin/python)
OUT ?= runs/demo

.PHONY: setup demo test lint

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
