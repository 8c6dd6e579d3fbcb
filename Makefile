# Two commands do all the set-up on a fresh machine: `make serve` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TESTED := $(VENV)/.installed-test
UI     := src/posgraph/api/static/vendor/yasgui
# Where `make serve` listens and keeps its data: `make serve PORT=8080 HOST=0.0.0.0 DATA=/srv/posgraph`, or the
# POSGRAPH_* variables. Plain := (not ?=) so that unrelated HOST/PORT variables in the environment are not taken.
HOST   := $(or $(POSGRAPH_HOST),127.0.0.1)
PORT   := $(or $(POSGRAPH_PORT),8000)
DATA   := $(or $(POSGRAPH_DATA_DIR),var)

.PHONY: serve test install ui check clean bench

# Serving needs posgraph and its dependencies only; the test tools (pytest, ruff, schemathesis, …: the `test`
# extra) are added by `make test`.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $(STAMP)

$(TESTED): $(STAMP)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(TESTED)

install: $(STAMP)

# From npm into node_modules/ (git-ignored): the query page's editor, YASGUI (package.json "dependencies"), and the
# test-only JavaScript clients, Comunica and jsonld.js ("devDependencies"). `make serve` installs only the former,
# `make test` everything. YASGUI's built files are copied into a git-ignored static folder that posgraph serves.
# Without npm the query page falls back to a plain form and the JavaScript client tests are skipped.
# Two stamps: .runtime (what serving needs) and .all (everything). A full install satisfies serve too, so that
# `make serve` after `make test` does not prune the test packages (npm install --omit=dev removes them).
NPM_INSTALL := npm install --no-audit --no-fund --loglevel=error

node_modules/.runtime: package.json package-lock.json
	@if ! command -v npm >/dev/null 2>&1; then echo "npm not found: the query page will be a plain form"; \
	elif [ node_modules/.all -nt package.json ] && [ node_modules/.all -nt package-lock.json ]; then touch $@; \
	else $(NPM_INSTALL) --omit=dev && touch $@; fi

node_modules/.all: package.json package-lock.json
	@if ! command -v npm >/dev/null 2>&1; then echo "npm not found: the JavaScript client tests will be skipped"; \
	else $(NPM_INSTALL) && touch $@ node_modules/.runtime; fi

$(UI)/yasgui.min.js: node_modules/.runtime
	@if [ -f node_modules/@zazuko/yasgui/build/yasgui.min.js ]; then \
	  mkdir -p $(UI) && cp node_modules/@zazuko/yasgui/build/yasgui.min.js node_modules/@zazuko/yasgui/build/yasgui.min.css $(UI)/; fi

ui: $(UI)/yasgui.min.js

# Starts the bundled Oxigraph engines on $(DATA)/store and $(DATA)/staging (loading the seed data on first start)
# and serves on $(HOST):$(PORT); tokens, the audit log and dumps are kept in $(DATA) too.
serve: $(STAMP) ui
	$(BIN)/posgraph serve --host '$(HOST)' --port '$(PORT)' --data-dir '$(DATA)'

test: $(TESTED) node_modules/.all ui
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/posgraph check
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) var build *.egg-info node_modules $(UI)

# Benchmarks are not part of `make test`: they build large synthetic stores under bench/.data/.
bench: $(TESTED)
	$(BIN)/pip install --quiet -e '.[test,bench]'
	$(BIN)/python -m bench.compare
	$(BIN)/python -m bench.validation_in_context
