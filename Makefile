# One command each: `make serve` sets up and starts maas on its embedded defaults; `make test` sets up and
# runs the whole suite. Both create ./.venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install serve test lint format

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/.installed

serve: install
	$(BIN)/maas serve

test: install
	$(BIN)/ruff check app tests bench
	$(BIN)/ruff format --check app tests bench
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check app tests bench

format: install
	$(BIN)/ruff format app tests bench
	$(BIN)/ruff check --fix app tests bench
