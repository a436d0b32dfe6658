# The two set-up commands of the README: `make demo` (the main job) and `make test` (every test).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv demo harness test lint bench bench-quick system-packages reference-tool clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

# The lost-update and stale-cache races of the design documents, replayed with real processes
# in a scratch project against the naive baseline and against taskmaster; prints the verdicts.
demo: venv
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/harness run lost-update stale-cache --quick

harness: venv reference-tool
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/harness run all --quick

test: venv system-packages reference-tool
	$(BIN)/pytest -n auto

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# wrk (the api benchmark's load generator) and redis-server, from Debian, when missing.
system-packages:
	.ci/system-packages

# task-master-ai (the reference tool) from npm into ~/.cache/taskmaster-pro, when missing: the
# interoperability tests and the reference-tool scenario run it (skipped without npm).
reference-tool:
	.ci/reference-tool

# Every benchmark, the README's table, charts in results/charts, then the gates.
bench: venv system-packages
	$(BIN)/pip install --quiet -e ".[dev,bench]"
	mkdir -p results
	$(BIN)/python -m benchmarks run --json results/bench.json --plot results/charts
	$(BIN)/python -m benchmarks gate results/bench.json

# What CI runs: every benchmark with fewer repeats, then the same gates.
bench-quick: venv system-packages
	mkdir -p results
	$(BIN)/python -m benchmarks run --quick --json results/bench-quick.json
	$(BIN)/python -m benchmarks gate results/bench-quick.json

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis
