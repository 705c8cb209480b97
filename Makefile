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
## (rlberry pins gymnasium 0.29, so its UCBVI runs from its own environment, .venv-rlberry;
## if that cannot be installed the benchmark says so and uses the quoted figure)
RLBERRY_STAMP := .venv-rlberry/.installed-stamp

$(RLBERRY_STAMP):
	-@test -x .venv-rlberry/bin/python || $(PYTHON) -m venv .venv-rlberry
	-.venv-rlberry/bin/python -m pip install --quiet "rlberry==0.7.3" "rlberry-scool==0.7.3" \
		&& touch $(RLBERRY_STAMP)

bench: $(STAMP) $(RLBERRY_STAMP)
	$(BIN)/python -m benchmarks.run

## make docs: build the site (site/), serve MathJax with it, and check it in headless Chromium
## (home page, a tutorial, an API page: loads, no console error, math rendered); screenshots
## in site_screenshots/. Installs Debian's chromium when it is missing.
docs: $(STAMP)
	bash docs/javascripts/get_mathjax.sh
	$(BIN)/mkdocs build --strict
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
		|| (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
		|| (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)
	$(BIN)/python docs/check_site.py site --screenshots site_screenshots

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .venv-rlberry report site site_screenshots docs/javascripts/mathjax .pytest_cache
