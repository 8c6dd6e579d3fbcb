# Two commands do all the set-up on a fresh machine: `make serve` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
UI     := src/posgraph/api/static/vendor/yasgui

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

# Starts the bundled Oxigraph engine on var/store (loading the seed data on first start) and serves on 127.0.0.1:8000.
serve: $(STAMP) ui
	$(BIN)/posgraph serve --host 127.0.0.1 --port 8000

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
