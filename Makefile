# Two commands on a fresh machine: `make run` and `make test`. Both build the venv themselves.
# The first interpreter that actually runs and is 3.11+ (pyenv shims may exist but not run).
PYTHON ?= $(shell for p in python3 python3.12 python3.11; do $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
BENCH_STAMP := $(VENV)/.installed-bench
DATA_DIR ?= data
NATIVE_DIR := build/native
NATIVE_STAMP := $(NATIVE_DIR)/.built
SOURCES := $(shell find src/cambist -name '*.py')

.PHONY: venv test lint typecheck format run run-native native bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Cambist needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	@touch $(BENCH_STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check --no-cache src tests bench tools
	$(BIN)/ruff format --no-cache --check src tests bench tools

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest -n 2 --dist loadgroup -q

format: $(STAMP)
	$(BIN)/ruff format src tests bench tools
	$(BIN)/ruff check --fix src tests bench tools

run: $(STAMP)
	$(BIN)/cambist serve --data-dir $(DATA_DIR)

# The same code with the domain core compiled by mypyc (needs a C compiler); rebuilt when any
# source changes, so a stale binary never runs.
$(NATIVE_STAMP): $(STAMP) $(SOURCES) tools/build_native.py
	$(BIN)/python tools/build_native.py $(NATIVE_DIR)

native: $(NATIVE_STAMP)

run-native: $(NATIVE_STAMP)
	PYTHONPATH=$(NATIVE_DIR) $(BIN)/cambist serve --data-dir $(DATA_DIR)

bench: $(BENCH_STAMP)
	$(BIN)/python bench/engine.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache build src/*.egg-info
