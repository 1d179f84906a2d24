# Tanhui — `make help` lists the targets.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
# Test processes: the tests wait on PostgreSQL, Redis and SQLite more than they compute, so
# more workers than cores should pay (3 and 4 measured alike on a quiet machine: README, Tests).
TEST_WORKERS ?= 4
PYTEST_ARGS ?=
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# Some images set PYTHONDONTWRITEBYTECODE; then every test process (and every server or
# command a test starts) compiles the project and rewrites the test modules' asserts again:
# several seconds per xdist worker. The caches go to git-ignored __pycache__ folders.
unexport PYTHONDONTWRITEBYTECODE

.DEFAULT_GOAL := help
.PHONY: help install tools browser lint-openapi openapi client-ts run test test-serial test-sqlite test-floors lint format typecheck migrate bench chaos clean

help: ## Show the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install the package with dev tools

# Node tools that read the OpenAPI document (Redocly's linter, openapi-typescript, tsc), at
# the versions pinned in tools/node/package-lock.json, into the git-ignored node_modules.
NODE_TOOLS := tools/node/node_modules/.installed
$(NODE_TOOLS): tools/node/package.json tools/node/package-lock.json
	npm ci --prefix tools/node --no-audit --no-fund --loglevel=error
	touch $(NODE_TOOLS)

tools: $(NODE_TOOLS) ## Install the Node tools the suite runs on the OpenAPI document (npm)

openapi: $(STAMP) ## Write the OpenAPI document to openapi.json
	$(BIN)/tanhui openapi --indent > openapi.json

client-ts: openapi $(NODE_TOOLS) ## Regenerate the TypeScript client's types from the document
	tools/node/node_modules/.bin/openapi-typescript openapi.json -o clients/typescript/src/schema.d.ts
	tools/node/node_modules/.bin/tsc -p clients/typescript --noEmit

lint-openapi: openapi $(NODE_TOOLS) ## Lint the OpenAPI document with Redocly and openapi-spec-validator
	$(BIN)/openapi-spec-validator openapi.json
	tools/node/node_modules/.bin/redocly lint --config redocly.yaml openapi.json
# The console's browser tests drive Debian's Chromium; Chinese text needs a CJK font.
BROWSER_PACKAGES := chromium fonts-wqy-microhei
browser: ## Install Chromium and CJK fonts for the console's browser tests (apt-get, when missing)
	@if command -v chromium >/dev/null && dpkg -s fonts-wqy-microhei >/dev/null 2>&1; then \
	  echo "chromium and fonts-wqy-microhei are installed"; \
	elif [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BROWSER_PACKAGES); \
	else \
	  echo "run 'sudo apt-get update && sudo apt-get install -y $(BROWSER_PACKAGES)'"; exit 1; \
	fi

run: $(STAMP) ## Serve on SQLite (no Redis) at http://$(HOST):$(PORT)/docs
	TANHUI_ENV=$${TANHUI_ENV:-development} $(BIN)/tanhui migrate
	TANHUI_ENV=$${TANHUI_ENV:-development} $(BIN)/tanhui serve --host $(HOST) --port $(PORT)

# Under CI=true the browser tests must run, so Chromium is installed first.
test: $(STAMP) $(NODE_TOOLS) $(if $(filter true 1 yes,$(CI)),browser) ## Run the whole suite in parallel (SQLite, and PostgreSQL + Redis; required under CI=true)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

test-serial: $(STAMP) ## The whole suite in one process (to debug a test)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-sqlite: $(STAMP) ## Run the suite on SQLite only
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup -k 'not postgres' $(PYTEST_ARGS)

FLOORS_VENV ?= .venv-floors

test-floors: ## The SQLite half of the suite on the oldest versions pyproject.toml allows
	rm -rf $(FLOORS_VENV)
	$(PYTHON) -m venv $(FLOORS_VENV)
	$(PYTHON) .ci/floors.py > $(FLOORS_VENV)/constraints.txt
	$(FLOORS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(FLOORS_VENV)/bin/python -m pip install --quiet -c $(FLOORS_VENV)/constraints.txt -e '.[dev]'
	$(FLOORS_VENV)/bin/python -m pip list --format=freeze > $(FLOORS_VENV)/installed.txt
	$(FLOORS_VENV)/bin/python -m pytest -n $(TEST_WORKERS) --dist loadgroup -k 'not postgres' $(PYTEST_ARGS)

lint: $(STAMP) ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP) ## Format and autofix
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: $(STAMP) ## mypy on app/
	$(BIN)/mypy

migrate: $(STAMP) ## Upgrade the database named by TANHUI_DATABASE_URL
	$(BIN)/tanhui migrate

bench: $(STAMP) ## Throughput and latency with wrk on PostgreSQL + Redis (see bench/README.md)
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y wrk; } || \
	  { echo "wrk is missing: run 'sudo apt-get install -y wrk' and try again"; exit 1; }
	$(BIN)/python -m bench.run $(BENCH_ARGS)

chaos: $(STAMP) ## Kill a worker, restart PostgreSQL, stop Redis under load; check nothing is lost
	$(BIN)/python -m bench.chaos $(CHAOS_ARGS)

clean: ## Remove the virtual environment and local databases
	rm -rf $(VENV) $(FLOORS_VENV) tanhui.db tanhui.db-wal tanhui.db-shm .pytest_cache .ruff_cache .mypy_cache
