"""`make serve` installs only what serving needs; `make test` adds the test tools (issue #17).

The Makefile is dry-run (`make -n`) in a temporary copy of the files it reads, with no .venv and no node_modules,
so that every rule is out of date and every install command it would run is printed. The checks are run on
mutated copies of the Makefile too, so they are shown to fail when `make serve` starts installing test tools.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from conftest import ROOT

# What the Makefile reads: its prerequisites must exist for `make -n` to plan the rules.
_FILES = ("Makefile", "pyproject.toml", "package.json", "package-lock.json")
# The JavaScript clients the tests drive (tests/test_clients.py, tests/test_api_linked_data.py).
_NPM_TEST_ONLY = ("@comunica/query-sparql", "jsonld")
# Python test tools: the `test` extra, never what `pip install -e .` brings.
_PY_TEST_ONLY = ("pytest", "ruff", "schemathesis", "playwright", "hypothesis", "sparqlwrapper")
_NPM_INSTALL = re.compile(r"npm install[^;&|\n]*")
_PIP_INSTALL = re.compile(r"pip install[^;&|\n]*")


def _copy(tmp_path: Path, makefile: str | None = None) -> Path:
    for name in _FILES:
        shutil.copy(ROOT / name, tmp_path / name)
    if makefile is not None:
        (tmp_path / "Makefile").write_text(makefile)
    return tmp_path


def _dry_run(directory: Path, target: str) -> str:
    """The commands `make -n TARGET` would run in ``directory`` (every rule: nothing there is up to date)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSGRAPH_", "MAKE"))}
    result = subprocess.run(
        ["make", "-n", "-C", str(directory), target], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _project_installs(commands: str) -> list[str]:
    """The `pip install` commands that install the project itself (not the one that upgrades pip)."""
    return [c.strip() for c in _PIP_INSTALL.findall(commands) if "--upgrade pip" not in c]


def serve_problems(directory: Path) -> list[str]:
    """What `make serve` in ``directory`` would install beyond what serving needs; [] when nothing."""
    commands = _dry_run(directory, "serve")
    problems = []
    installs = _project_installs(commands)
    if not installs:
        problems.append("make serve installs no posgraph")
    for install in installs:
        if not re.search(r"-e\s+\.(\s|$)", install):
            problems.append(f"make serve installs more than the package itself: {install}")
    npm = [c.strip() for c in _NPM_INSTALL.findall(commands)]
    if not npm:
        problems.append("make serve runs no npm install (the front end would be missing)")
    problems += [f"make serve installs npm devDependencies: {c}" for c in npm if "--omit=dev" not in c]
    return problems


def test_make_serve_installs_the_package_without_its_test_extra_and_npm_without_dev_packages(tmp_path):
    directory = _copy(tmp_path)
    assert serve_problems(directory) == []
    commands = _dry_run(directory, "serve")
    assert "posgraph serve" in commands  # the dry run reached the serve command: every rule was planned
    assert "[test]" not in commands


def test_make_test_installs_the_test_extra_and_every_npm_package(tmp_path):
    commands = _dry_run(_copy(tmp_path), "test")
    assert any("'.[test]'" in c or ".[test]" in c for c in _project_installs(commands)), commands
    assert any("--omit=dev" not in c for c in _NPM_INSTALL.findall(commands)), commands
    assert "pytest" in commands


def test_test_only_packages_are_kept_out_of_what_serving_installs():
    package = json.loads((ROOT / "package.json").read_text())
    runtime, dev = package.get("dependencies", {}), package.get("devDependencies", {})
    for name in _NPM_TEST_ONLY:
        assert name in dev and name not in runtime, f"{name}: a test-only client must be a devDependency"
    # Every runtime package is one that serving copies into the static folder, so nothing test-only hides there.
    makefile = (ROOT / "Makefile").read_text()
    for name in runtime:
        assert f"node_modules/{name}/" in makefile, f"{name} is a dependency but `make serve` never uses it"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    serving = {re.split(r"[<>=!~\[ ;]", d, maxsplit=1)[0].lower() for d in project["dependencies"]}
    test_extra = {re.split(r"[<>=!~\[ ;]", d, maxsplit=1)[0].lower() for d in project["optional-dependencies"]["test"]}
    for name in _PY_TEST_ONLY:
        assert name in test_extra and name not in serving, f"{name}: a test tool must be in the test extra only"


# Mutations of the Makefile that make `make serve` install test tools: the check must catch each one.
_MUTATIONS = {
    "npm without --omit=dev": ("$(NPM_INSTALL) --omit=dev && touch $@", "$(NPM_INSTALL) && touch $@"),
    "the test extra": ("$(BIN)/pip install --quiet -e .\n", "$(BIN)/pip install --quiet -e '.[test]'\n"),
    "serve depends on the test stamp": ("serve: $(STAMP) ui", "serve: $(TESTED) ui"),
    "serve installs every npm package": ("serve: $(STAMP) ui", "serve: $(STAMP) node_modules/.all ui"),
}


@pytest.mark.parametrize("mutation", sorted(_MUTATIONS))
def test_the_check_fails_when_make_serve_installs_test_tools(tmp_path, mutation):
    old, new = _MUTATIONS[mutation]
    makefile = (ROOT / "Makefile").read_text()
    assert old in makefile, f"the Makefile changed: update the mutation {mutation!r}"
    assert serve_problems(_copy(tmp_path, makefile.replace(old, new))), mutation
