# Two commands set everything up on a fresh machine:
#   make demo   builds .venv, writes a demo ledger, prints the team's signals
#   make test   builds .venv and runs lint, types, layering and the fast test suite
#   make test-all  the same with the slow system tests (what CI runs)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-all lint fmt bench docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	rm -rf demo
	mkdir -p demo
	$(BIN)/commitments --db demo/commitments.db demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# The everyday run leaves out the slow system tests (kill loops, large files,
# long fuzzing); CI runs everything with test-all.
test: lint
	$(BIN)/pytest -q -n 2 -p no:cacheprovider -m "not slow"

test-all: lint
	$(BIN)/pytest -q -n 2 -p no:cacheprovider

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

docs: $(STAMP)
	$(BIN)/python docs/gen_cli.py
	$(BIN)/python docs/gen_events.py

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) demo
