# Two commands do all the set-up on a fresh machine: `make serve` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TESTED := $(VENV)/.installed-test
VENDOR := src/posgraph/api/static/vendor
UI     := $(VENDOR)/yasgui
# Where `make serve` listens and keeps its data: `make serve PORT=8080 HOST=0.0.0.0 DATA=/srv/posgraph`, or the
# POSGRAPH_* variables. Plain := (not ?=) so that unrelated HOST/PORT variables in the environment are not taken.
HOST   := $(or $(POSGRAPH_HOST),127.0.0.1)
PORT   := $(or $(POSGRAPH_PORT),8000)
DATA   := $(or $(POSGRAPH_DATA_DIR),var)

.PHONY: serve test test-browser test-virtuoso install ui check clean bench

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

# From npm into node_modules/ (git-ignored): the pages' front-end libraries, YASGUI for the query page, Vega for the
# charts, Swagger UI and ReDoc for /docs and /redoc (package.json "dependencies"), and the test-only JavaScript
# clients, Comunica and jsonld.js ("devDependencies"). `make serve` installs only the former, `make test` everything.
# Their built files are copied into a git-ignored static folder that posgraph serves (never a CDN). Without npm the
# query page is a plain form, /docs and /redoc link /openapi.json, and the JavaScript client tests are skipped.
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

# The chart pages' Vega, Vega-Lite and vega-embed (their UMD builds, which set the globals vega, vegaLite and
# vegaEmbed). vega-interpreter evaluates Vega expressions without eval, so charts run under a script-src that forbids
# 'unsafe-eval'; npm ships it only as an ES module importing vega-util, so it is rewritten into a classic script that
# takes vega-util from the vega global (vega re-exports it) and sets the global vegaInterpreter.
$(VENDOR)/vega/vega.min.js: node_modules/.runtime
	@if [ -f node_modules/vega-embed/build/vega-embed.min.js ]; then \
	  mkdir -p $(VENDOR)/vega && cp node_modules/vega/build/vega.min.js node_modules/vega-lite/build/vega-lite.min.js \
	    node_modules/vega-embed/build/vega-embed.min.js $(VENDOR)/vega/ && \
	  { echo '(function (vegaUtil) {'; \
	    sed -e "s/^import {\(.*\)} from 'vega-util';\$$/const {\1} = vegaUtil;/" \
	        -e 's/^export { expression as expressionInterpreter };$$/globalThis.vegaInterpreter = { expressionInterpreter: expression };/' \
	        -e '/sourceMappingURL/d' node_modules/vega-interpreter/build/vega-interpreter.js; \
	    echo '})(globalThis.vega);'; } > $(VENDOR)/vega/vega-interpreter.min.js && \
	  if grep -q -E '^(import|export) ' $(VENDOR)/vega/vega-interpreter.min.js; then \
	    echo "vega-interpreter changed its imports: see the Makefile"; rm $(VENDOR)/vega/vega-interpreter.min.js; exit 1; fi; fi

# /docs (Swagger UI) and /redoc (ReDoc) load their viewers from here, never from a CDN: they work offline.
$(VENDOR)/swagger-ui/swagger-ui-bundle.js: node_modules/.runtime
	@if [ -f node_modules/swagger-ui-dist/swagger-ui-bundle.js ]; then \
	  mkdir -p $(VENDOR)/swagger-ui && cp node_modules/swagger-ui-dist/swagger-ui-bundle.js \
	    node_modules/swagger-ui-dist/swagger-ui.css node_modules/swagger-ui-dist/favicon-32x32.png \
	    node_modules/swagger-ui-dist/LICENSE $(VENDOR)/swagger-ui/; fi

# ReDoc's sidebar footer shows a logo from cdn.redoc.ly: that image is cut out, so that /redoc asks nothing of
# another origin (its policy would block it, with an error in the console); the check fails if the pattern is gone.
$(VENDOR)/redoc/redoc.standalone.js: node_modules/.runtime
	@if [ -f node_modules/redoc/bundles/redoc.standalone.js ]; then \
	  mkdir -p $(VENDOR)/redoc && cp node_modules/redoc/bundles/redoc.standalone.js.LICENSE.txt $(VENDOR)/redoc/ && \
	  sed -E 's#[a-zA-Z_$$]+\.createElement\("img",\{alt:"redocly logo",[^}]*\}\)#null#' \
	    node_modules/redoc/bundles/redoc.standalone.js > $(VENDOR)/redoc/redoc.standalone.js.tmp && \
	  if grep -q 'cdn\.redoc\.ly' $(VENDOR)/redoc/redoc.standalone.js.tmp; then \
	    echo "ReDoc's logo moved: see the Makefile"; rm $(VENDOR)/redoc/redoc.standalone.js.tmp; exit 1; fi; \
	  mv $(VENDOR)/redoc/redoc.standalone.js.tmp $(VENDOR)/redoc/redoc.standalone.js; fi

ui: $(UI)/yasgui.min.js $(VENDOR)/vega/vega.min.js $(VENDOR)/swagger-ui/swagger-ui-bundle.js \
  $(VENDOR)/redoc/redoc.standalone.js

# Starts the bundled Oxigraph engines on $(DATA)/store and $(DATA)/staging (loading the seed data on first start)
# and serves on $(HOST):$(PORT); tokens, the audit log and dumps are kept in $(DATA) too.
serve: $(STAMP) ui
	$(BIN)/posgraph serve --host '$(HOST)' --port '$(PORT)' --data-dir '$(DATA)'

test: $(TESTED) node_modules/.all ui
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/posgraph check
	@# Two processes (the tests mostly wait on the engines and servers they start), then the tests that measure
	@# time or memory (marked serial) alone, so that a neighbour's load cannot make them fail.
	$(BIN)/python -m pytest -q -n 2 -m "not browser and not serial" --durations=15
	$(BIN)/python -m pytest -q -m "serial and not browser" --durations=5

# The tests in a real browser (Debian's chromium driven by Playwright; .ci/run installs it): the pages, the charts,
# the query page, /docs and the curator workbench, with axe-core. They skip without chromium, except under CI=true.
test-browser: $(TESTED) node_modules/.all ui
	$(BIN)/python -m pytest -q -m browser

# The end-to-end suites of researchers, integrators and curators against OpenLink Virtuoso 7.2 (Debian's
# virtuoso-opensource) instead of the bundled Oxigraph: each server gets a public and a staging Virtuoso of its own on
# a scratch directory (tests/virtuoso_support.py), reached with POSGRAPH_ENGINE_PROFILE=virtuoso. Tests marked
# managed_engine (memory cap, bulk load, engine restarts) are skipped there. Without the package and no way to
# install it, the run says so loudly and is not counted as passed.
VIRTUOSO_SUITES := tests/test_api_research.py tests/test_api_linked_data.py tests/test_api_curation.py \
  tests/test_api_validation.py tests/test_api_views.py

test-virtuoso: $(TESTED) node_modules/.all ui
	@if ! command -v virtuoso-t >/dev/null 2>&1; then \
	  sudo=""; if [ "$$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then sudo="sudo -n"; fi; \
	  command -v apt-get >/dev/null 2>&1 \
	    && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q \
	    && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=300 virtuoso-opensource \
	    || true; fi
	@if ! command -v virtuoso-t >/dev/null 2>&1; then \
	  echo "################################################################################"; \
	  echo "# Virtuoso suite SKIPPED, not passed: virtuoso-t could not be installed"; \
	  echo "# (apt-get install virtuoso-opensource)"; \
	  echo "################################################################################"; \
	  exit 0; fi; \
	POSGRAPH_TEST_ENGINE=virtuoso $(BIN)/python -m pytest -q -m "not browser" $(VIRTUOSO_SUITES)

clean:
	rm -rf $(VENV) var build *.egg-info node_modules $(VENDOR)

# Benchmarks are not part of `make test`: they build large synthetic stores under bench/.data/.
bench: $(TESTED)
	$(BIN)/pip install --quiet -e '.[test,bench]'
	$(BIN)/python -m bench.saved_queries
	$(BIN)/python -m bench.collection_pages
	$(BIN)/python -m bench.compare
	$(BIN)/python -m bench.virtuoso
	$(BIN)/python -m bench.validation_in_context
	$(BIN)/python -m bench.views
