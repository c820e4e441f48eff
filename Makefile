# CareOps: `make run` brings the app up with demo data; `make test` installs and runs the suite.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000

# The suite runs against the real PostgreSQL and Redis on this machine.
LOCAL_ENV := REDIS_URL=redis://127.0.0.1:6379/15 \
	SECRET_KEY=test-secret-key-test-secret-key-test-secret-key-0123456789 \
	DEBUG=false SECURE_SSL_REDIRECT=false STATIC_MANIFEST=false LOG_LEVEL=WARNING
TEST_ENV := DATABASE_URL=postgres://postgres@127.0.0.1:5432/careops $(LOCAL_ENV)
BENCH_ENV := DATABASE_URL=postgres://postgres@127.0.0.1:5432/careops_bench $(LOCAL_ENV)

.PHONY: run test lint format install services browser migrate bench demo-big clean audit

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

.env:
	@sed "s|^SECRET_KEY=.*|SECRET_KEY=$$(head -c 48 /dev/urandom | base64 | tr -d '/+=\n')|" .env.example > .env
	@echo "Wrote .env from .env.example (the quickstart: SQLite, filesystem broker, console email)."

migrate: install .env
	$(BIN)/python manage.py migrate --no-input

run: migrate
	$(BIN)/python manage.py seed_demo
	@echo ""
	@echo "  CareOps is starting on http://localhost:$(PORT)/"
	@echo "  Sign in as owner@demo.careops.test or staff@demo.careops.test, password demo-password-1234"
	@echo "  API docs: http://localhost:$(PORT)/api/v1/docs/   Admin: http://localhost:$(PORT)/admin/"
	@echo ""
	PORT=$(PORT) $(BIN)/honcho start -f Procfile.dev

services:
	@scripts/ensure-services.sh

browser:
	@scripts/ensure-browser.sh

test: install services browser
	$(TEST_ENV) $(BIN)/pytest $(PYTEST_ARGS)

# A big demo on the local PostgreSQL (database careops_demo): DEMO_BOOKINGS (default 100000).
DEMO_ENV := DATABASE_URL=postgres://postgres@127.0.0.1:5432/careops_demo $(LOCAL_ENV)
demo-big: install services
	@psql -h 127.0.0.1 -U postgres -tc "SELECT 1 FROM pg_database WHERE datname='careops_demo'" | grep -q 1 \
		|| psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE careops_demo"
	$(DEMO_ENV) $(BIN)/python manage.py migrate --no-input -v0
	$(DEMO_ENV) $(BIN)/python manage.py seed_demo --bookings $${DEMO_BOOKINGS:-100000}

# Contacts, inbox, booking slots, stock moves and the automation outbox at scale, on
# PostgreSQL (database careops_bench); BENCH_ROWS, BENCH_CONVERSATIONS, BENCH_STAFF,
# BENCH_STOCK_THREADS, BENCH_STOCK_USAGES, BENCH_EVENTS, BENCH_BOOKINGS (the dashboard's).
bench: install services
	@psql -h 127.0.0.1 -U postgres -tc "SELECT 1 FROM pg_database WHERE datname='careops_bench'" | grep -q 1 \
		|| psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE careops_bench"
	$(BENCH_ENV) $(BIN)/python manage.py migrate --no-input -v0
	$(BENCH_ENV) $(BIN)/python bench/contacts_inbox.py
	$(BENCH_ENV) $(BIN)/python bench/bookings_slots.py
	$(BENCH_ENV) $(BIN)/python bench/automation_stock.py
	$(BENCH_ENV) $(BIN)/python bench/dashboard.py
	$(BENCH_ENV) $(BIN)/python bench/rls_overhead.py

# The HTTP benchmark (bench/http/run.py): the API and pages under wrk against gunicorn on
# loopback, a bare psycopg baseline for the lists, public booking races, reminders at scale
# with real Celery workers; writes bench/RESULTS.md and bench/results-latency.svg. Needs wrk
# (apt-get install -y wrk) and careops_bench seeded to BENCH_BOOKINGS (default 100000).
# BENCH_REMINDERS (default 100000), BENCH_WRK_CONNECTIONS (8), BENCH_WRK_DURATION (10s).
.PHONY: bench-http
bench-http: install services
	@psql -h 127.0.0.1 -U postgres -tc "SELECT 1 FROM pg_database WHERE datname='careops_bench'" | grep -q 1 \
		|| psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE careops_bench"
	$(BENCH_ENV) REDIS_URL=redis://127.0.0.1:6379/9 $(BIN)/python manage.py migrate --no-input -v0
	$(BENCH_ENV) REDIS_URL=redis://127.0.0.1:6379/9 $(BIN)/python manage.py seed_demo --bookings $${BENCH_BOOKINGS:-100000}
	$(BENCH_ENV) REDIS_URL=redis://127.0.0.1:6379/9 $(BIN)/python bench/http/run.py --reminders $${BENCH_REMINDERS:-100000}

# The same requests at 1,000,000 bookings (database careops_bench1m; seeding takes about ten
# minutes the first time): writes bench/RESULTS-1M.md and bench/results-1m-latency.svg.
BENCH_1M_ENV := DATABASE_URL=postgres://postgres@127.0.0.1:5432/careops_bench1m $(LOCAL_ENV) \
	REDIS_URL=redis://127.0.0.1:6379/9
.PHONY: bench-http-1m
bench-http-1m: install services
	@psql -h 127.0.0.1 -U postgres -tc "SELECT 1 FROM pg_database WHERE datname='careops_bench1m'" | grep -q 1 \
		|| psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE careops_bench1m"
	$(BENCH_1M_ENV) $(BIN)/python manage.py migrate --no-input -v0
	$(BENCH_1M_ENV) $(BIN)/python manage.py seed_demo --bookings 1000000
	$(BENCH_1M_ENV) $(BIN)/python bench/http/run.py --no-automation --results bench/RESULTS-1M.md

# Work per request of the API's lists and the baseline, in-process (bench/instructions.py):
# instructions and instruction-cache misses under callgrind (steady where req/s are not) and
# CPU time measured natively. Needs valgrind and careops_bench seeded.
.PHONY: bench-instructions
bench-instructions: install services
	$(BENCH_ENV) REDIS_URL=redis://127.0.0.1:6379/9 $(BIN)/python bench/instructions.py

# What each layer of an API request costs (bench/layers.py): a list's CPU per request with
# request logging, the throttle, the page middleware, the JWT check or the membership read
# taken out in-process, one at a time and all together. Needs careops_bench seeded.
.PHONY: bench-layers
bench-layers: install services
	$(BENCH_ENV) REDIS_URL=redis://127.0.0.1:6379/9 $(BIN)/python bench/layers.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# pip-audit over .venv: fails on a known vulnerability that has a fixed release; where the
# vulnerability database cannot be reached it says "audit skipped" and passes (AUDIT_REQUIRED=1
# makes that a failure). scripts/audit.py says why it probes first.
audit: install
	$(BIN)/python scripts/audit.py

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) var staticfiles test-artifacts .pytest_cache .ruff_cache
