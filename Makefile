# Two commands do all the set-up on a fresh machine: `make serve` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: serve test install check clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Starts the bundled Oxigraph engine on var/store (loading the seed data on first start) and serves on 127.0.0.1:8000.
serve: $(STAMP)
	$(BIN)/posgraph serve --host 127.0.0.1 --port 8000

test: $(STAMP)
	$(BIN)/posgraph check
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) var build *.egg-info
