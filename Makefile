# One command each: `make serve` sets up and starts maas on its embedded defaults (installing what serving needs,
# nothing more); `make test` sets up and runs the whole suite (adding the test tools, Ray and moto). Both create
# ./.venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install install-test serve test lint format

$(BIN)/.runtime: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(BIN)/.test: $(BIN)/.runtime
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/.runtime

install-test: $(BIN)/.test

serve: install
	$(BIN)/maas serve

test: install-test
	$(BIN)/ruff check app tests bench
	$(BIN)/ruff format --check app tests bench
	$(BIN)/pytest

lint: install-test
	$(BIN)/ruff check app tests bench

format: install-test
	$(BIN)/ruff format app tests bench
	$(BIN)/ruff check --fix app tests bench
