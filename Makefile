# Storyline: two commands set everything up on a fresh machine (Python 3.11, pip, make).
#   make run    install into .venv, ingest the seed articles, show the stories
#   make test   install into .venv (with test tools) and run the test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DB ?= storyline.duckdb
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false

.PHONY: install run test lint clean wheel-check

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

run: install
	$(BIN)/storyline ingest --db $(DB) seeds/
	$(BIN)/storyline stories --db $(DB)
	$(BIN)/storyline show --db $(DB)

test: install
	$(BIN)/python -m pytest -q

# The built wheel in a fresh python3.11 venv with its bundled pip (not upgraded) extracts a real page.
wheel-check:
	.ci/wheel_check.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) $(DB) $(DB).wal $(DB).index .pytest_cache .ruff_cache
