# invoiceflow: `make dev` runs the whole stack on this machine, `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: dev test test-fast lint typecheck check bench install clean

$(STAMP): pyproject.toml contracts/pyproject.toml clients/python/pyproject.toml clients/js/package-lock.json
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ./contracts -e ./clients/python -e ".[dev]"
	# The JS client's dev dependencies (react, socket.io-client) for its tests; no runtime ones.
	if command -v npm >/dev/null; then npm ci --prefix clients/js --no-audit --no-fund --silent; fi
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
	$(PY) -m mypy contracts services deploy bench testkit tests clients/python/invoiceflow

check: lint typecheck test

# The pipeline's throughput, scale-out by replicas, sockets (memory at 10,000, a join burst of
# 1,000, and the bare cost of a socket write under them), then the fault drills: several minutes.
bench: $(STAMP)
	$(PY) -m bench.pipeline
	$(PY) -m bench.scaleout
	$(PY) -m bench.sockets
	$(PY) -m bench.socket_writes
	$(PY) -m bench.chaos

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache clients/js/node_modules
