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
# Links in what the portal sends follow the port it serves, unless SITE_URL is given.
SITE_URL ?= http://127.0.0.1:$(PORT)
# A calm terminal: the logins, then what the portal sends; log lines only when something is wrong.
run: export DEBUG ?= 1
run: export SITE_URL := $(SITE_URL)
run: export LOG_LEVEL ?= WARNING
run: export DJANGO_RUNSERVER_HIDE_WARNING ?= true
run: messages
	@# Where this portal is served, for commands run beside it (fast_forward_reminders writes links).
	@mkdir -p var && echo "$(SITE_URL)" > var/site-url
	@$(PY) manage.py migrate --noinput --verbosity 0
	@$(PY) manage.py load_demo_data --verbosity 0
	@echo
	@echo "  Marrow Ready is starting on http://127.0.0.1:$(PORT)/"
	@echo "  Demo logins (password marrow-demo-2026):"
	@echo "    nurse@example.org    nurse"
	@echo "    parent@example.org   parent (English)"
	@echo "    parent2@example.org  parent (Spanish)"
	@echo "    admin@example.org    admin (Django admin at /admin/)"
	@echo "  Staff two-step backup codes: nurse-demo-1111 ... (see README)"
	@echo "  Emails and texts the portal sends are printed below. Ctrl-C stops."
	@echo
	@# Stop both when either ends or on Ctrl-C/TERM. The trap signals only the two children:
	@# a trap that signals its own process group runs itself again until the shell crashes.
	@# It runs once: a TERM to the group reaches this shell twice (make passes its own on), and
	@# a second run would signal the worker again while it is already stopping.
	@trap 'trap "" INT TERM; kill -TERM $$pids 2>/dev/null; wait; exit 0' INT TERM; \
	$(VENV)/bin/celery -A portal --quiet worker --beat --pool=solo --loglevel=WARNING \
		-Q celery,celery-sms,celery-email & pids=$$!; \
	$(PY) manage.py runserver 127.0.0.1:$(PORT) --noreload --skip-checks & pids="$$pids $$!"; \
	wait -n; status=$$?; kill -TERM $$pids 2>/dev/null; wait; exit $$status

# Tests run in parallel workers (pytest-xdist), each with its own database and Redis database
# (tests/parallel.py); TEST_WORKERS=0 runs them in this one process.
TEST_WORKERS ?= 4
test: messages
	mkdir -p var && rm -f var/test-run.log
	LOG_FILE=$(CURDIR)/var/test-run.log $(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal --durations=20
	$(PY) scripts/check_logs.py var/test-run.log

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

migrations-check: install
	DEBUG=1 $(PY) manage.py makemigrations --check --dry-run
