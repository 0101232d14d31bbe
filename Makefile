# invoiceflow: `make dev` runs the whole stack on this machine, `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: dev test test-fast lint typecheck check bench install clean

$(STAMP): pyproject.toml contracts/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ./contracts -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

dev: $(STAMP)
	$(PY) -m deploy.devstack

test: $(STAMP)
	$(PY) -m pytest -q

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not e2e"

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: $(STAMP)
	$(PY) -m mypy contracts services deploy bench tests

check: lint typecheck test

bench: $(STAMP)
	$(PY) -m bench.pipeline

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache
