# Two commands do all the set-up on a fresh machine: `make serve` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
UI     := src/posgraph/api/static/vendor/yasgui
# Where `make serve` listens and keeps its data: `make serve PORT=8080 HOST=0.0.0.0 DATA=/srv/posgraph`, or the
# POSGRAPH_* variables. Plain := (not ?=) so that unrelated HOST/PORT variables in the environment are not taken.
HOST   := $(or $(POSGRAPH_HOST),127.0.0.1)
PORT   := $(or $(POSGRAPH_PORT),8000)
DATA   := $(or $(POSGRAPH_DATA_DIR),var)

.PHONY: serve test install ui check clean bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# The query page's editor (YASGUI) and the non-Python test client (Comunica) come from npm into node_modules/;
# YASGUI's built files are copied into a git-ignored static folder that posgraph serves. Without npm the query
# page falls back to a plain form and the Comunica test is skipped.
node_modules/.installed: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  npm install --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm not found: the query page will be a plain form"; fi

$(UI)/yasgui.min.js: node_modules/.installed
	@if [ -f node_modules/@zazuko/yasgui/build/yasgui.min.js ]; then \
	  mkdir -p $(UI) && cp node_modules/@zazuko/yasgui/build/yasgui.min.js node_modules/@zazuko/yasgui/build/yasgui.min.css $(UI)/; fi

ui: $(UI)/yasgui.min.js

# Starts the bundled Oxigraph engines on $(DATA)/store and $(DATA)/staging (loading the seed data on first start)
# and serves on $(HOST):$(PORT); tokens, the audit log and dumps are kept in $(DATA) too.
serve: $(STAMP) ui
	$(BIN)/posgraph serve --host '$(HOST)' --port '$(PORT)' --data-dir '$(DATA)'

test: $(STAMP) ui
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/posgraph check
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) var build *.egg-info node_modules $(UI)

# Benchmarks are not part of `make test`: they build large synthetic stores under bench/.data/.
bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,bench]'
	$(BIN)/python -m bench.compare
	$(BIN)/python -m bench.validation_in_context
