# ConsultPay. `make run` serves the demo; `make test` runs the suite.
# Both set themselves up on first use (a virtualenv, Python packages, and the
# browser Socket.IO client from npm).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
VENDOR := static/vendor/socket.io.min.js

.PHONY: setup run worker test test-scale lint bench bench-smoke clean

setup: $(STAMP) $(VENDOR)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

$(VENDOR): package.json
	npm install --no-audit --no-fund --no-package-lock --silent
	mkdir -p static/vendor
	cp node_modules/socket.io-client/dist/socket.io.min.js node_modules/socket.io-client/dist/socket.io.min.js.map static/vendor/

run: setup
	$(PY) -m app

worker: setup
	$(PY) -m app worker

test: setup
	$(PY) -m pytest -q

# The database and realtime tests again, on PostgreSQL and with Socket.IO
# through Redis (both must answer: CI=true turns a skip into a failure).
SCALE_TESTS := tests/consults tests/ledger tests/storage tests/billing tests/backoffice \
	tests/realtime tests/connect tests/web/test_api.py tests/web/test_health.py tests/deploy
test-scale: setup
	CI=$${CI:-true} TEST_DATABASE=postgresql TEST_REDIS=1 $(PY) -m pytest -q $(SCALE_TESTS)

# One command per target in docs/targets.md; each prints one JSON object.
# Full sizes take minutes each; bench-smoke runs every command tiny.
BENCH := p1_push_latency p1_request_inprocess p2_sockets_memory p3_webhooks p3_settle_inprocess \
	p4_medipay_export p5_settlement_report p6_push_two_processes
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

# ruff, then the import contracts in pyproject.toml (one way down, no cycles).
lint: setup
	$(VENV)/bin/ruff check app integrations tests bench
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) node_modules static/vendor var consultpay.db consultpay.db-*
