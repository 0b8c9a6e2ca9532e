# Marrow Ready. `make run` for a local portal, `make test` for the suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000

.PHONY: run test lint format migrations-check install messages

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

messages: install
	SECRET_KEY="$${SECRET_KEY:-compile-only}" $(PY) manage.py compile_translations

# Embedded default: SQLite (WAL), a filesystem broker, email printed here.
run: export DEBUG ?= 1
run: messages
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_demo_data
	@echo
	@echo "  Marrow Ready is starting on http://127.0.0.1:$(PORT)/"
	@echo "  Demo logins (password marrow-demo-2026):"
	@echo "    nurse@example.org    nurse"
	@echo "    parent@example.org   parent (English)"
	@echo "    parent2@example.org  parent (Spanish)"
	@echo "    admin@example.org    admin (Django admin at /admin/)"
	@echo "  Staff two-step backup codes: nurse-demo-1111 ... (see README)"
	@echo "  Invitation emails are printed in this window."
	@echo
	trap 'kill 0' EXIT INT TERM; \
	$(VENV)/bin/celery -A portal worker --beat --pool=solo --loglevel=INFO -Q celery,celery-sms,celery-email & \
	$(PY) manage.py runserver 127.0.0.1:$(PORT) --noreload

test: messages
	mkdir -p var && rm -f var/test-run.log
	LOG_FILE=$(CURDIR)/var/test-run.log $(PY) -m pytest
	$(PY) scripts/check_logs.py var/test-run.log

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

migrations-check: install
	DEBUG=1 $(PY) manage.py makemigrations --check --dry-run
