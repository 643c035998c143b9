# Two commands on a fresh machine: `make run` (demo on the embedded default) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run serve migrate demo worker test lint format check bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	touch $(STAMP)

install: $(STAMP)

## run: create the virtualenv, install, migrate, seed the demo shop and serve it
run: install migrate
	$(BIN)/loyalty demo --base-url http://$(HOST):$(PORT)
	$(BIN)/loyalty serve --host $(HOST) --port $(PORT)

migrate: install
	$(BIN)/loyalty migrate

demo: install
	$(BIN)/loyalty demo --base-url http://$(HOST):$(PORT)

worker: install
	$(BIN)/loyalty worker

## test: the whole suite, on SQLite and (when reachable; required with CI=true) PostgreSQL and Redis
test: install
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

check: lint test

## bench: the award benchmark (PostgreSQL + Redis + wrk); prints awards/s, latency, ratio
bench: install
	bench/award

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
