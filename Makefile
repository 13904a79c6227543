# The front door: `make run` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py

.PHONY: help install run test lint format worker beat migrate seed browser clean bench

help:
	@echo "make run     - install, migrate, seed the demo network and serve http://127.0.0.1:8000"
	@echo "make test    - ruff, migrations check and the whole test suite (browser tests included)"
	@echo "make worker  - a Celery worker (needs REDIS_URL)"
	@echo "make beat    - the Celery beat scheduler (needs REDIS_URL)"
	@echo "make lint    - ruff check and format check"
	@echo "make bench   - seed the scale database (gigafactory_bench), measure, compare with ColdFront, write docs/benchmarks.md"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml requirements.lock | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock ".[dev]"
	touch $@

install: $(VENV)/.installed

migrate: install
	$(MANAGE) migrate --noinput

seed: migrate
	$(MANAGE) seed_demo --if-empty

run: seed
	$(MANAGE) runserver 127.0.0.1:8000

worker: install
	$(BIN)/celery -A gigafactory worker --loglevel=INFO

beat: install
	$(BIN)/celery -A gigafactory beat --loglevel=INFO

# Browser tests drive Debian's Chromium; install it when it is missing and we may.
browser:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = "0" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "Install Debian's chromium package (sudo apt-get install chromium) for the browser tests." >&2; exit 1; fi; }

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: install browser
	$(BIN)/ruff check .
	$(MANAGE) makemigrations --check --dry-run
	$(BIN)/pytest

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Benchmarks: PostgreSQL and Redis required; not part of `make test`. Writes docs/benchmarks.md.
# The ColdFront comparison installs ColdFront 1.1.10 from PyPI into bench/.coldfront-venv.
bench: install
	$(BIN)/python bench/seed_scale.py
	$(BIN)/python bench/run.py --write-docs
	$(BIN)/python bench/compare_coldfront.py --write-docs

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
