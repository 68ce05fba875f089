# Two commands for users: `make run` and `make test`. Both work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501

.PHONY: run test test-fast lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The pinned requirements, then Parallax itself (editable: the `parallax` command runs this checkout).
$(VENV)/.installed: requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/parallax app --port=$(PORT)

test: $(VENV)/.installed-dev
	bash scripts/system-deps.sh
	$(BIN)/ruff check .
	$(BIN)/mypy parallax
	$(BIN)/python -m pytest

# The edit loop: everything but the browser, PostgreSQL and slow suites (`make test` still runs all).
test-fast: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -m "not browser and not postgres and not slow"

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/mypy parallax

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/fanout.py

clean:
	rm -rf $(VENV) test-artifacts .pytest_cache .mypy_cache .ruff_cache
