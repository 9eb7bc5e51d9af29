# Each target bootstraps .venv from a fresh clone; nothing needs to be installed by hand.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: run test test-fast bench lint browser-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

## make run: migrate, seed on first run, serve web + worker (SQLite + SQLite broker)
run: $(STAMP)
	$(PY) manage.py run

## make test: the whole suite (SQLite by default; TEST_DATABASE_URL / TEST_BROKER_URL for others)
test: $(STAMP) browser-deps
	$(PY) -m pytest

## make test-fast: everything but the browser and end-to-end worker tests
test-fast: $(STAMP)
	$(PY) -m pytest -m "not browser and not e2e"

## Chromium from Debian's packages for the Playwright browser test (needs root or sudo)
browser-deps:
	@bash scripts/install-chromium.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check tracker integrations tests manage.py
	$(VENV)/bin/mypy integrations

bench: $(STAMP)
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && { apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }; } ; } || echo "wrk is not installed: the web benchmark falls back to its Python load generator"
	$(PY) -m bench

clean:
	rm -rf $(VENV) var .pytest_cache
