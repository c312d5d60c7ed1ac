# kyosei — two commands: `make demo` and `make test` (see README.md)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast lint bench clean realset

# Python caches compiled modules (and pytest its rewritten tests) in __pycache__ even where the shell says not to:
# without the cache, every test run spends ~5 s per worker compiling the tests again.
unexport PYTHONDONTWRITEBYTECODE

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall when the dependency list changes.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/kyosei demo --out-root outputs

# Everything, on both cores; a test file's tests stay together on one worker (its module fixtures — a flow run,
# a warm process — are made once).
test: $(STAMP)
	$(BIN)/python -m ruff check .
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

# Daily work: unit tests only (no Prefect flow runs, no servers, no clusters, no browser), on both cores.
test-fast: $(STAMP)
	$(BIN)/python -m ruff check .
	$(BIN)/python -m pytest -q -n 2 -m "not integration and not slow"

lint: $(STAMP)
	$(BIN)/python -m ruff check .

clean:
	rm -rf outputs/*/ outputs/.*.tmp-* .pytest_cache .ruff_cache

bench: $(STAMP)
	$(BIN)/python -m bench.run --overhead
	$(BIN)/python -m bench.run 1000 10000 100000

# The real-comment yardstick (texts re-created outside the repository: ../shared/realset/README.md).
TEXTS ?= /tmp/realset/texts.tsv
REALSET ?= ../shared/realset
realset: $(STAMP)
	$(BIN)/python tools/realset_eval.py --texts $(TEXTS) --realset $(REALSET)
