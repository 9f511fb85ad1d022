# 台州市区社保一体化 — one command to run, one to test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run install migrate demo serve test test-slow lint bench worker beat clean

$(VENV)/.installed: requirements.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements.txt
	touch $@

install: $(VENV)/.installed

migrate: install
	$(PY) manage.py migrate --no-input

demo: migrate
	$(PY) manage.py load_demo

serve:
	$(PY) manage.py runserver $(HOST):$(PORT)

run: demo serve

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/lint-imports
	$(VENV)/bin/pytest -n 2 --durations=15

# Fault injection (own Redis, Celery workers killed by PID), backup/restore and point-in-time recovery, what
# needs a replica or big data, and `make run` on SQLite in a child process: excluded from `make test` (pytest.ini),
# run here one at a time.
test-slow: install
	$(VENV)/bin/pytest -n 0 -m "faults or replica or bigdata or migrations or setup"

bench: install
	$(PY) bench/run_all.py

worker: install
	$(VENV)/bin/celery -A taizhou_si worker -l info

beat: install
	$(VENV)/bin/celery -A taizhou_si beat -l info

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles
