# Targets for a fresh clone: `make demo` and `make test` set everything up themselves.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help demo test lint bench clean

help:  ## List the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-6s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,embedded]'
	$(BIN)/python -m sor.app.compile  # compile every kernel once, here, not in a first run
	touch $(STAMP)

demo: $(STAMP)  ## Set up, generate a synthetic market and run the backtest on it
	$(BIN)/sor demo

test: $(STAMP)  ## Set up, lint, type-check and run the whole test suite
	$(BIN)/ruff check src tests benchmarks backtest.py kafka_producer.py
	$(BIN)/ruff format --check src tests benchmarks backtest.py kafka_producer.py
	$(BIN)/mypy
# two workers: the suite waits on brokers and subprocesses as much as it computes; a worker
# out of tests takes half of the other's queue, so neither sits idle while the other ends
	$(BIN)/pytest -q -n 2 --dist worksteal

lint: $(STAMP)  ## Lint and type-check only
	$(BIN)/ruff check src tests benchmarks backtest.py kafka_producer.py
	$(BIN)/mypy

bench: $(STAMP)  ## Print speed and memory figures (see benchmarks/)
	$(BIN)/python benchmarks/run_all.py

clean:  ## Remove the virtual environment and generated files
	rm -rf $(VENV) build *.egg-info src/*.egg-info output.json results.png .sor
