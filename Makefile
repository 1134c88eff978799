# The two set-up commands (see README):  make run   and   make test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CHROMIUM := /usr/bin/chromium

.PHONY: install run test lint bench browser clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# Leaflet and its plugins come from the npm registry and are served by the app itself.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed node_modules/.installed

# Browser tests drive Debian's Chromium; Playwright never downloads a browser.
browser:
	@test -x $(CHROMIUM) || (echo "Installing Debian's chromium for the browser tests…" && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

run: install
	$(BIN)/python run.py

lint: install
	$(BIN)/ruff check hotspots tests benchmarks run.py
	$(BIN)/ruff format --check hotspots tests benchmarks run.py

test: install browser lint
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python benchmarks/bench_import.py
	$(BIN)/python benchmarks/bench_methods.py

clean:
	rm -rf $(VENV) node_modules instance test-artefacts .pytest_cache
