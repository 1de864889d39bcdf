# Xinyong: `make demo` and `make test` work from a fresh clone with only Python 3.11.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
LANDING ?= landing
export XINYONG_LANDING ?= $(abspath $(LANDING))

.PHONY: install setup demo airflow test test-fast lint bench clean stop bi bi-install

install: $(INSTALLED)

$(INSTALLED): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' 2>/dev/null || \
	  { echo "Xinyong needs Python 3.11 (found: $$($(PYTHON) --version 2>&1 || echo none)); install it or run make PYTHON=/path/to/python3.11"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@

setup: install
	$(BIN)/xinyong setup

# Generates the sample district once, with a second day's files kept aside; runs day one
# (the first publication: the baseline, no warnings), moves day two into the landing folder
# and runs again (the second publication warns the departments); a second `make demo` finds
# nothing new to load.
DAY2 := .xinyong/demo-day2
demo: setup
	@if [ ! -e .xinyong/demo-generated ]; then \
	  $(BIN)/xinyong generate --scale sample --seed 20261120 --out $(XINYONG_LANDING) --second-day $(DAY2) && \
	  touch .xinyong/demo-generated; \
	fi
	$(BIN)/xinyong run
	@if [ -d $(DAY2) ]; then \
	  echo "--- day two: the tax bureau's re-rated file ---"; \
	  cp -r $(DAY2)/. $(XINYONG_LANDING)/ && rm -rf $(DAY2) && $(BIN)/xinyong run; \
	fi
	$(BIN)/xinyong status

# Airflow's UI (API server, scheduler, DAG processor, triggerer) on http://127.0.0.1:8080/ with
# the demo's runs; prints the login; Ctrl-C stops it. AIRFLOW_PORT=... for another port.
airflow: setup
	$(BIN)/xinyong airflow --port $${AIRFLOW_PORT:-8080}
# Apache Superset in its own venv: its pins (SQLAlchemy 1.4, Flask 3, pandas 2.1) clash with the core's.
BI_VENV := .venv-bi
BI_INSTALLED := $(BI_VENV)/.installed
bi-install: $(BI_INSTALLED)

$(BI_INSTALLED): deploy/superset/requirements.txt
	@test -x $(BI_VENV)/bin/python || $(PYTHON) -m venv $(BI_VENV)
	$(BI_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BI_VENV)/bin/python -m pip install --quiet -r deploy/superset/requirements.txt
	@touch $@

# The dashboards over the demo's live publication, as bi_reader; serves until Ctrl-C.
bi: demo bi-install
	$(BIN)/xinyong bi --port $${BI_PORT:-8088}

# Chromium (Debian package) for the publication-report test; quick when already installed.
test: install
	scripts/install_chromium.sh
	$(BIN)/python -m pytest -q -p no:cacheprovider

# Python: ruff lint and format check (configured in pyproject.toml); SQL: sqlfluff with the
# dbt templater (configured in .sqlfluff; the script starts the warehouse dbt compiles against).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python scripts/lint_sql.py lint

test-fast: install
	$(BIN)/python -m pytest -q -m "not e2e" -p no:cacheprovider

# The production topology without Docker: Redis, Airflow's services and two Celery workers
# as separate processes run the pipeline (tests/distributed; installs Debian's redis-server).
.PHONY: test-distributed
test-distributed: install
	bash scripts/install_redis.sh
	$(BIN)/python -m pytest -q -p no:cacheprovider -m distributed tests/distributed

# make bench ARGS="--scale city --only city_first_load" (README: Benchmarks)
bench: install
	$(BIN)/python -m bench.run $(ARGS)

stop:
	-$(BIN)/xinyong db stop

clean: stop
	rm -rf .xinyong $(BI_VENV) $(LANDING) dbt_project/target dbt_project/logs dbt_project/models/staging/_contracts__sources.yml
