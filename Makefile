# One entry point for people and CI. `make check` is exactly what .ci/run runs.
SHELL := /bin/bash
PYTHON ?= $(shell command -v /usr/bin/python3.11 || command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
TMP_DB := $(shell mktemp -u /tmp/payouts-alembic-XXXXXX).db

.PHONY: dashboard dashboard-build install run dev lint fmt typecheck lint-imports schema schema-check schema-lint openapi alembic-check test test-fast test-sqlite test-postgres check bench clean

install: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

node_modules/.installed: package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

## run: the embedded default (SQLite, in-process bus, sandbox provider) on http://127.0.0.1:8000/graphql
run: install
	$(BIN)/payouts serve

## dashboard: the API on an embedded database and the reference dashboard (examples/dashboard)
dashboard: install dashboard-build
	$(BIN)/python examples/dashboard/run.py

dashboard-build:
	cd examples/dashboard && npm ci --no-audit --no-fund --loglevel=error && npm run build

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: install
	$(BIN)/mypy .

## lint-imports: the layer contracts of pyproject.toml ([tool.importlinter])
lint-imports: install
	$(BIN)/lint-imports

schema: install
	$(BIN)/payouts export-schema --output schema.graphql

schema-check: install
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/test_schema.py tests/api/rest/test_openapi.py

## openapi: regenerate openapi.json (the REST API's document) from the route table
openapi: install
	$(BIN)/python -m api.rest --output openapi.json

## schema-lint: graphql-schema-linter on schema.graphql, every rule but the ordering ones
## (.graphql-schema-linterrc): descriptions everywhere, naming, Relay connection shapes
schema-lint: install
	node_modules/.bin/graphql-schema-linter --format compact

alembic-check: install
	PAYOUTS_DATABASE_URL=sqlite+aiosqlite:///$(TMP_DB) $(BIN)/alembic upgrade head
	PAYOUTS_DATABASE_URL=sqlite+aiosqlite:///$(TMP_DB) $(BIN)/alembic check
	rm -f $(TMP_DB)*

## test-fast: everything but the end-to-end tests (real servers, browsers), on SQLite
test-fast: install
	PAYOUTS_TEST_BACKEND=sqlite $(BIN)/python -m pytest -q -p no:cacheprovider -m "not e2e" --ignore=tests/e2e

test-sqlite: install
	PAYOUTS_TEST_BACKEND=sqlite $(BIN)/python -m pytest -q

test-postgres: install
	PAYOUTS_TEST_BACKEND=postgres $(BIN)/python -m pytest -q

test: test-sqlite test-postgres

## check: everything CI runs
check: lint typecheck lint-imports schema-check schema-lint alembic-check test-sqlite test-postgres

bench: install
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) node_modules examples/dashboard/node_modules examples/dashboard/dist .mypy_cache .ruff_cache .pytest_cache payouts.db*
