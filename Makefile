# The two set-up commands (see README):  make run   and   make test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install run test lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/python run.py

test: install
	$(BIN)/ruff check hotspots tests benchmarks run.py
	$(BIN)/ruff format --check hotspots tests benchmarks run.py
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python benchmarks/bench_import.py

clean:
	rm -rf $(VENV) instance test-artefacts .pytest_cache
