# LiveSettle: `make demo` runs the one-process demo, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench bench-quick up install clean

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit("LiveSettle needs Python >= 3.11" if sys.version_info < (3, 11) else 0)'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) manage.py demo $(ARGS)

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m bench $(ARGS)

bench-quick: $(STAMP)
	$(PY) -m bench --quick $(ARGS)

# `make up`: the Procfile (two Daphne processes on 8001/8002, two workers) on the local
# PostgreSQL and Redis; DATABASE_URL / REDIS_URL in the environment override the defaults.
UP_ENV = DATABASE_URL=$${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/livesettle} \
	REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/0}

up: $(STAMP)
	@$(UP_ENV) $(PY) deploy/ensure_database.py
	@$(UP_ENV) $(PY) manage.py migrate --noinput -v0
	@$(UP_ENV) $(PY) manage.py shell -c "from payments.services import operator_ensure; print('operator password:', operator_ensure()[0])"
	@echo "checkout: http://127.0.0.1:8001/ and http://127.0.0.1:8002/  dashboard: http://127.0.0.1:8001/dashboard/"
	$(UP_ENV) $(VENV)/bin/honcho start

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-* staticfiles test-artifacts
