# ConsultPay. `make run` serves the demo; `make test` runs the suite.
# Both set themselves up on first use (a virtualenv, Python packages, and from
# npm the browser Socket.IO client and axe-core for the browser tests).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
VENDOR := static/vendor/socket.io.min.js
# axe-core, which the browser tests run on every page they visit (never committed).
AXE := tests/web/vendor/axe.min.js
NPM_STAMP := node_modules/.installed

.PHONY: setup run worker test test-scale lint bench bench-smoke clean

setup: $(STAMP) $(VENDOR) $(AXE)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

$(NPM_STAMP): package.json
	npm install --include=dev --no-audit --no-fund --no-package-lock --silent
	touch $(NPM_STAMP)

$(VENDOR): $(NPM_STAMP)
	mkdir -p static/vendor
	cp node_modules/socket.io-client/dist/socket.io.min.js node_modules/socket.io-client/dist/socket.io.min.js.map static/vendor/

$(AXE): $(NPM_STAMP)
	mkdir -p tests/web/vendor
	cp node_modules/axe-core/axe.min.js node_modules/axe-core/LICENSE $(dir $(AXE))

run: setup
	$(PY) -m app

worker: setup
	$(PY) -m app worker

test: setup
	$(PY) -m pytest -q

# The database and realtime tests again, on PostgreSQL and with Socket.IO
# through Redis (both must answer: CI=true turns a skip into a failure).
SCALE_TESTS := tests/consults tests/ledger tests/storage tests/billing tests/backoffice \
	tests/realtime tests/connect tests/receipts tests/holds tests/policies tests/cards_on_file \
	tests/web/test_api.py tests/web/test_health.py tests/deploy
test-scale: setup
	CI=$${CI:-true} TEST_DATABASE=postgresql TEST_REDIS=1 $(PY) -m pytest -q $(SCALE_TESTS)

# One command per target in docs/targets.md; each prints one JSON object.
# Full sizes take minutes each; bench-smoke runs every command tiny.
BENCH := p1_push_latency p1_request_inprocess p2_sockets_memory p3_webhooks p3_settle_inprocess \
	p4_medipay_export p5_settlement_report p6_push_two_processes overload reconnect_storm p8_connect_inprocess
bench: setup
	@for b in $(BENCH); do $(PY) -m bench.$$b || exit 1; done

bench-smoke: setup
	$(PY) -m bench.p1_push_latency --consults 5 --rates 10 --seconds 1
	$(PY) -m bench.p1_request_inprocess --requests 5
	$(PY) -m bench.plot bench/results/p1.json $$(mktemp --suffix=.svg)
	$(PY) -m bench.p2_sockets_memory --sockets 20 --churn 10 --cycles 1 --consults 5
	$(PY) -m bench.p3_webhooks --webhooks 20 --concurrency 4
	$(PY) -m bench.p3_settle_inprocess --webhooks 20 --concurrency 4
	$(PY) -m bench.p4_medipay_export --cards 10
	$(PY) -m bench.p5_settlement_report --cards 10
	$(PY) -m bench.p6_push_two_processes --consults 5 --rates 10 --seconds 1
	$(PY) -m bench.overload --consults 5 --sustained 2 --seconds 1
	$(PY) -m bench.plot_overload bench/results/overload.json $$(mktemp --suffix=.svg)
	$(PY) -m bench.reconnect_storm --sockets 20
	$(PY) -m bench.p8_connect_inprocess --consults 5 --rounds 1

# ruff, then the import contracts in pyproject.toml (one way down, no cycles).
lint: setup
	$(VENV)/bin/ruff check app integrations tests bench
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) node_modules static/vendor tests/web/vendor var consultpay.db consultpay.db-*
