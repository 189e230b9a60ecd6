# ConsultPay. `make run` serves the demo; `make test` runs the suite.
# Both set themselves up on first use (a virtualenv, Python packages, and the
# browser Socket.IO client from npm).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
VENDOR := static/vendor/socket.io.min.js

.PHONY: setup run worker test lint bench clean

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

lint: setup
	$(VENV)/bin/ruff check app integrations tests

clean:
	rm -rf $(VENV) node_modules static/vendor var consultpay.db consultpay.db-*
