PYTHON ?= python3
OUT ?= runs/demo

.PHONY: setup demo test lint

setup:
	bash scripts/setup.sh

## One command: set everything up, then align the embedded model and print before/after.
demo: setup
	$(PYTHON) -m alignkit demo --out $(OUT)

## One command: set everything up, then run the test suite.
test: setup
	$(PYTHON) -m pytest -q

lint:
	$(PYTHON) -m ruff check src tests bench scripts
