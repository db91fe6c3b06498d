# isoguard: the two set-up commands are `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint venv dev-venv clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24"

# The app alone, from the runtime lock file.
$(VENV)/.run-installed: requirements.lock pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

# The app and its development tools, from the development lock file.
$(VENV)/.dev-installed: requirements-dev.lock pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@ $(VENV)/.run-installed

venv: $(VENV)/.run-installed
dev-venv: $(VENV)/.dev-installed

## make run: set up, migrate, load demo data into an empty database, serve on http://127.0.0.1:8000
run: venv
	mkdir -p var
	$(BIN)/isoguard migrate --noinput
	$(BIN)/isoguard demo --if-empty
	$(BIN)/isoguard collectstatic --noinput --verbosity 0
	@echo "isoguard is serving at http://$(HOST):$(PORT)/ (Ctrl-C to stop)"
	$(BIN)/gunicorn isoguard.wsgi --config gunicorn.conf.py --bind $(HOST):$(PORT)

## make test: set up and run the whole suite (core, Django, browser), on SQLite and,
## when ISOGUARD_TEST_POSTGRES_URL is set (always in CI), again on PostgreSQL.
test: dev-venv
	@if [ "$$CI" = "true" ] && [ -z "$$ISOGUARD_TEST_POSTGRES_URL" ]; then \
		echo "make test: CI=true needs ISOGUARD_TEST_POSTGRES_URL (.ci/run starts PostgreSQL)"; exit 1; fi
	@echo "== the whole suite on SQLite"
	$(BIN)/pytest
	@if [ -n "$$ISOGUARD_TEST_POSTGRES_URL" ]; then \
		echo "== every database and browser test again on PostgreSQL"; \
		DATABASE_URL="$$ISOGUARD_TEST_POSTGRES_URL" $(BIN)/pytest --ignore=tests/core; \
	else echo "make test: ISOGUARD_TEST_POSTGRES_URL is not set, so the suite ran on SQLite only"; fi

## make lint: ruff, mypy on the pure core, and a check that no migration is missing.
lint: dev-venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/isoguard makemigrations --check --dry-run

clean:
	rm -rf $(VENV) var/static
