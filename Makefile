# mdplab: every target creates .venv and installs the package on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: report test test-all bench docs lint clean install

$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,bench,dask]"
	@touch $(STAMP)

install: $(STAMP)

## make report: run every claim in full mode, write report/index.md and figures/
## (a claim that fails is reported as FAIL in the report; only a claim that crashes fails make)
report: $(STAMP)
	$(BIN)/mdplab claims check --all --out report --no-fail-on-claims --workers 2

## make test: the fast test suite (slow experiments excluded)
test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" -q

test-all: $(STAMP)
	$(BIN)/python -m pytest -q

## make bench: peer comparison, writes benchmarks/results.md
bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

docs: $(STAMP)
	$(BIN)/mkdocs build --strict

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) report site .pytest_cache
