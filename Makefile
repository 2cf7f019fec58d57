# pos_offline_sync: every target installs what it needs into the project (.venv, node_modules)
# and Debian's chromium when /usr/bin/chromium is absent. Odoo is never downloaded or built here.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
ADDON := pos_offline_sync
# test-odoo: an Odoo 19 that is already installed (see README "Testing in a real Odoo 19")
ODOO_BIN ?= odoo-bin
ODOO_PYTHON ?= python3
ODOO_CONFIG ?=
ODOO_DB ?= pos_offline_sync_test

.PHONY: all demo test test-py test-js lint bench bench-odoo bench-odoo-workers bench-odoo-browser bench-odoo-concurrent \
	test-odoo \
	test-odoo-without-stripe test-cold-boot soak deps chromium clean

all: test

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -c requirements.lock '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  echo "Installing Debian's chromium (needed by the browser tests)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi

deps: $(VENV)/.installed node_modules/.installed

# make demo PORT=8100 STRIPE_PORT=8101: fixed ports (default: free ones, printed at start).
demo: deps
	$(PY) -m sandbox.demo $(if $(PORT),--port $(PORT)) $(if $(STRIPE_PORT),--stripe-port $(STRIPE_PORT))

lint: deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/pylint --rcfile=.pylintrc $(ADDON)
	$(VENV)/bin/oca-checks-odoo-module $(ADDON)

# Quiet: failures in full, then node's summary and "N passed, N failed, N skipped".
test-js: deps
	node --test --test-reporter=./tools/node_test_reporter.mjs tests/js/

test-py: deps chromium
	$(PY) -m pytest -q tests

# The sandbox cold boot test alone (it is in test-py as well).
test-cold-boot: deps chromium
	$(PY) -m pytest -q tests/e2e/test_cold_boot_e2e.py

test: lint test-js test-py

bench: deps chromium
	$(PY) -m bench.run

# The fault suite's long run (tests/fault): SOAK_RUNS runs (default 1000); SOAK_SEED replays a
# seed, SOAK_RUN one run of it. Ends with the soak_* summary lines.
SOAK_RUNS ?= 1000
soak: deps
	SOAK_RUNS=$(SOAK_RUNS) $(PY) -m tests.fault.soak

# Runs the addon's Odoo tests (TransactionCase + HttpCase tour) in an Odoo 19 you installed:
#   make test-odoo ODOO_BIN=/path/to/odoo-bin ODOO_PYTHON=/path/to/venv/bin/python ODOO_CONFIG=/path/odoo.cfg
# The addons_path of that config must include this folder; the tour needs websocket-client in
# that Odoo's Python and a chromium on PATH. The database $(ODOO_DB) is dropped and made afresh;
# payment_stripe is installed beside the addon so the card tests charge localstripe (from .venv,
# or Odoo's own Python when it has localstripe). test-odoo-without-stripe runs the same tests in
# a database without payment_stripe: the card tests skip, each naming why.
# ODOO_ADDONS_PATH, when set, replaces the config's addons_path (a worktree of this project).
ODOO_CMD = $(ODOO_PYTHON) $(ODOO_BIN) $(if $(ODOO_CONFIG),-c $(ODOO_CONFIG)) \
	$(if $(ODOO_ADDONS_PATH),--addons-path=$(ODOO_ADDONS_PATH))
ODOO_HTTP_PORT ?= 8069
# bench-odoo-workers: its own database and ports (http, and the next one for Odoo's gevent)
ODOO_WORKERS_PORT ?= 8074
WORKERS_ORDERS ?= 1000
ODOO_MODULES = $(ADDON),payment_stripe

define odoo_fresh_run
	@command -v $(ODOO_PYTHON) >/dev/null && [ -e "$(ODOO_BIN)" ] || { echo "Set ODOO_BIN and ODOO_PYTHON to an installed Odoo 19 (this target never installs Odoo)"; exit 2; }
	@mkdir -p var
	@$(ODOO_PYTHON) $(ODOO_BIN) db $(if $(ODOO_CONFIG),-c $(ODOO_CONFIG)) drop $(ODOO_DB) >/dev/null 2>&1 || true  # fresh each run
	LOCALSTRIPE_PYTHON=$(abspath $(PY)) $(ODOO_CMD) -d $(ODOO_DB) -i $(ODOO_MODULES) --with-demo \
	  --http-port=$(ODOO_HTTP_PORT) --test-tags $(1) --stop-after-init --log-level=test \
	  --logfile= 2>&1 | tee var/$(2).log | grep -E '( bench [a-z0-9_]+: |odoo.tests.result|FAIL: | ERROR )'; \
	  test $${PIPESTATUS[0]} -eq 0
endef

# The cold boot browser test (tests/odoo_browser, issue 11) starts its own Odoo on the test
# database, port ODOO_BROWSER_PORT, and stops it to have the register start with no server.
ODOO_BROWSER_PORT ?= 8079

test-odoo: deps chromium
	$(call odoo_fresh_run,/$(ADDON),test-odoo)
	@$(PYTHON) tools/odoo_test_summary.py var/test-odoo.log
	ODOO_BIN=$(ODOO_BIN) ODOO_PYTHON=$(ODOO_PYTHON) ODOO_CONFIG=$(ODOO_CONFIG) \
	  ODOO_ADDONS_PATH=$(ODOO_ADDONS_PATH) ODOO_DB=$(ODOO_DB) ODOO_BROWSER_PORT=$(ODOO_BROWSER_PORT) \
	  ODOO_BROWSER_LOG=$(abspath var/test-odoo-browser.log) $(PY) -m pytest -q tests/odoo_browser
	@# No card number in what the database and the log keep after the card tests.
	@$(PYTHON) tools/pan_scan.py --db $(ODOO_DB) $(if $(ODOO_CONFIG),--odoo-config $(ODOO_CONFIG)) --log var/test-odoo.log

test-odoo-without-stripe: ODOO_MODULES = $(ADDON)
# override: ODOO_DB given on the command line must not make both runs share (and drop) one database.
test-odoo-without-stripe: override ODOO_DB := $(ODOO_DB)_without_stripe
test-odoo-without-stripe: deps
	$(call odoo_fresh_run,/$(ADDON),test-odoo-without-stripe)
	@$(PYTHON) tools/odoo_test_summary.py var/test-odoo-without-stripe.log --allow-skips

# Server time per order, addon path vs Odoo's own sync_from_ui (tag pos_offline_sync_bench),
# then bench-odoo-workers, bench-odoo-browser and bench-odoo-concurrent.
bench-odoo: deps
	$(call odoo_fresh_run,pos_offline_sync_bench,bench-odoo)
	@$(MAKE) --no-print-directory bench-odoo-workers
	@$(MAKE) --no-print-directory bench-odoo-browser
	@$(MAKE) --no-print-directory bench-odoo-concurrent

# WORKERS_ORDERS offline orders landing from headless Chromium in an Odoo started with
# --workers 2 --limit-time-cpu 20 --limit-time-real 40 (bench/odoo_workers.py): every order
# once, no request killed (read from Odoo's log), the batch sizes printed.
bench-odoo-workers: deps chromium
	@command -v $(ODOO_PYTHON) >/dev/null && [ -e "$(ODOO_BIN)" ] || { echo "Set ODOO_BIN and ODOO_PYTHON to an installed Odoo 19 (this target never installs Odoo)"; exit 2; }
	$(PY) -m bench.odoo_workers --odoo-bin $(ODOO_BIN) --odoo-python $(ODOO_PYTHON) \
	  $(if $(ODOO_CONFIG),--odoo-config $(ODOO_CONFIG)) \
	  $(if $(ODOO_ADDONS_PATH),--addons-path $(ODOO_ADDONS_PATH)) \
	  --db $(ODOO_DB)_workers --port $(ODOO_WORKERS_PORT) --orders $(WORKERS_ORDERS)

# The register's screens in headless Chromium on a threaded Odoo (bench/odoo_browser_bench.py):
# offline orders landing through Odoo's own reconnect and through the addon's dialog, and the
# Validate -> "New Order" time offline with the addon off and on, side by side, BROWSER_REPS
# repetitions (medians).
ODOO_BROWSER_PORT ?= 8078
BROWSER_REPS ?= 3
bench-odoo-browser: deps chromium
	@command -v $(ODOO_PYTHON) >/dev/null && [ -e "$(ODOO_BIN)" ] || { echo "Set ODOO_BIN and ODOO_PYTHON to an installed Odoo 19 (this target never installs Odoo)"; exit 2; }
	$(PY) -m bench.odoo_browser_bench --odoo-bin $(ODOO_BIN) --odoo-python $(ODOO_PYTHON) \
	  $(if $(ODOO_CONFIG),--odoo-config $(ODOO_CONFIG)) \
	  $(if $(ODOO_ADDONS_PATH),--addons-path $(ODOO_ADDONS_PATH)) \
	  --db $(ODOO_DB)_browser --port $(ODOO_BROWSER_PORT) --reps $(BROWSER_REPS)

# 4 registers x 250 offline orders at the same moment into an Odoo with --workers 4
# (bench/odoo_concurrent.py): every order once, none refused or failed, concurrent_4x250_s.
ODOO_CONCURRENT_PORT ?= 8080
bench-odoo-concurrent: deps chromium
	@command -v $(ODOO_PYTHON) >/dev/null && [ -e "$(ODOO_BIN)" ] || { echo "Set ODOO_BIN and ODOO_PYTHON to an installed Odoo 19 (this target never installs Odoo)"; exit 2; }
	$(PY) -m bench.odoo_concurrent --odoo-bin $(ODOO_BIN) --odoo-python $(ODOO_PYTHON) \
	  $(if $(ODOO_CONFIG),--odoo-config $(ODOO_CONFIG)) \
	  $(if $(ODOO_ADDONS_PATH),--addons-path $(ODOO_ADDONS_PATH)) \
	  --db $(ODOO_DB)_concurrent --port $(ODOO_CONCURRENT_PORT)

clean:
	rm -rf $(VENV) node_modules var
