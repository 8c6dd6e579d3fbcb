"""README.md's shell blocks (and those of the docs/ tours), run in order in one bash session against a real
server: the README twice, the docs' tours once.

Every ```bash/```sh block of the README is run, in order, in ONE `bash` process (`set -euo pipefail`), so variables
set in one block (BASE, tokens, batch ids) are seen by the next, as when a reader pastes them one after another
into one terminal. A block is skipped only when the line just before its fence is SKIP_MARKER, and only blocks that
start the server or run the test suite may carry it. The whole README runs twice: the second run proves every
block is idempotent (unique token names, ids captured rather than hard-coded, a batch reverted after acceptance).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ROOT, Server, start_server

README = ROOT / "README.md"
# docs/ pages whose shell blocks are tours, held to the README's rules (each run in a session of its own).
DOCS_TOURS = ("docs/api.md", "docs/cli.md", "docs/modelling.md", "docs/testing.md")
DOCS_PAGES = (
    "docs/api.md",
    "docs/architecture.md",
    "docs/benchmarks.md",
    "docs/cli.md",
    "docs/configuration.md",
    "docs/data-model.md",
    "docs/modelling.md",
    "docs/operating.md",
    "docs/scaling.md",
    "docs/testing.md",
)
SKIP_MARKER = "<!-- readme-test: skip -->"
# What a skipped block may do, and the only reason to skip one: start the server or run the test suite.
SKIPPABLE = re.compile(r"^\s*make (serve|test)\b", re.MULTILINE)
_FENCE = re.compile(r"^```(\S*)\s*$")
_SHELLS = {"bash", "sh"}
# Printed between blocks so the output of one bash process can be split per block.
_SEPARATOR = "@@readme-block {}@@"


@dataclass(frozen=True)
class Block:
    """One fenced shell block: the README line its code starts on, the code, and whether it is marked skipped."""

    line: int
    code: str
    skipped: bool


@dataclass(frozen=True)
class Failure:
    """The block a run stopped at, bash's exit status and everything the block printed."""

    block: Block
    status: int
    output: str

    def __str__(self) -> str:
        return (
            f"README block at line {self.block.line} exited {self.status}:\n"
            f"--- block ---\n{self.block.code}\n--- output ---\n{self.output}"
        )


def shell_blocks(text: str) -> list[Block]:
    """Return the ```bash and ```sh blocks of markdown ``text`` in order (other fences are passed over).

    Raises ValueError for a fence that is never closed.
    """
    lines = text.splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == "```"), None)
        if end is None:
            raise ValueError(f"the fence on line {i + 1} is never closed")
        if match.group(1) in _SHELLS:
            skipped = i > 0 and lines[i - 1].strip() == SKIP_MARKER
            blocks.append(Block(line=i + 2, code="\n".join(lines[i + 1 : end]), skipped=skipped))
        i = end + 1
    return blocks


def run_blocks(
    blocks: list[Block], *, env: dict[str, str], cwd: Path, timeout: float = 600
) -> tuple[Failure | None, str]:
    """Run the blocks not marked skipped, in order, in one ``bash`` with ``set -euo pipefail``.

    Returns (None, output) when every block exits 0, else (the failing block with its output, all output).
    Raises subprocess.TimeoutExpired when the whole run takes longer than ``timeout`` seconds.
    """
    to_run = [b for b in blocks if not b.skipped]
    parts = ["set -euo pipefail"]
    for index, block in enumerate(to_run):
        # printf on its own line so that a block ending without a newline still leaves the marker on a line.
        parts += [f"printf '\\n{_SEPARATOR.format(index)}\\n'", block.code]
    parts.append(f"printf '\\n{_SEPARATOR.format('end')}\\n'")
    result = subprocess.run(
        ["bash", "-c", "\n".join(parts) + "\n"],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    output = result.stdout
    if result.returncode == 0 and _SEPARATOR.format("end") in output:
        return None, output
    reached = [int(n) for n in re.findall(r"@@readme-block (\d+)@@", output)]
    if not reached:
        # Failed before the first block (cannot happen with a sane bash): report it against the first block.
        return Failure(to_run[0] if to_run else Block(0, "", False), result.returncode, output), output
    last = reached[-1]
    own = output.rsplit(_SEPARATOR.format(last), 1)[1].lstrip("\n")
    return Failure(to_run[last], result.returncode, own), output


def _session_env(base: str, data_dir: Path) -> dict[str, str]:
    # Only the data directory: the explicit store, staging, tokens and audit paths the test session sets (see
    # conftest) would override it, and a reader's shell has none of them.
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSGRAPH_")}
    env["BASE"] = base
    env["POSGRAPH_DATA_DIR"] = str(data_dir)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


# --- the runner itself: it must be able to fail ---------------------------------------------------------------

TINY = """\
# A README

```sh
GREETING=hello
```

Not shell:

```json
{"not": "run"}
```

{marker}
```sh
make serve
```

```bash
echo "$GREETING world"
{broken}
```

```sh
echo LAST-BLOCK-RAN
```
"""


def _tiny(broken: str = "true", marker: str = SKIP_MARKER) -> str:
    return TINY.replace("{broken}", broken).replace("{marker}", marker)


def test_parser_finds_shell_blocks_and_the_skip_marker():
    blocks = shell_blocks(_tiny())
    assert [b.code for b in blocks] == [
        "GREETING=hello",
        "make serve",
        'echo "$GREETING world"\ntrue',
        "echo LAST-BLOCK-RAN",
    ]
    assert [b.skipped for b in blocks] == [False, True, False, False]
    assert blocks[0].line == 4
    assert [b.skipped for b in shell_blocks(_tiny(marker=""))] == [False, False, False, False]


def test_parser_refuses_an_unclosed_fence():
    with pytest.raises(ValueError, match="line 1"):
        shell_blocks("```sh\necho never closed\n")


def test_runner_passes_variables_between_blocks_and_skips_marked_ones(tmp_path):
    failure, output = run_blocks(shell_blocks(_tiny()), env=dict(os.environ), cwd=tmp_path)
    assert failure is None, failure
    assert "hello world" in output and "LAST-BLOCK-RAN" in output
    # The skipped `make serve` never ran: make would have complained about the missing Makefile.
    assert "Makefile" not in output and "make:" not in output


@pytest.mark.parametrize(
    "broken",
    [
        "false",  # a plain failing command
        "echo half; exit 3",  # an explicit exit status
        'echo "$NOT_SET_ANYWHERE"',  # set -u
        "false | cat",  # set -o pipefail
        "curl -fsS http://127.0.0.1:9/nothing-listens-here",  # a failed request
    ],
)
def test_runner_fails_on_a_broken_block_and_names_it(tmp_path, broken):
    blocks = shell_blocks(_tiny(broken))
    failure, output = run_blocks(blocks, env=dict(os.environ), cwd=tmp_path)
    assert failure is not None
    assert failure.block == blocks[2] and failure.status != 0
    assert "hello world" in failure.output  # what the failing block printed before it failed
    assert "LAST-BLOCK-RAN" not in output  # nothing after the failing block ran
    assert f"line {blocks[2].line}" in str(failure) and broken in str(failure)


def test_runner_fails_when_an_unmarked_block_would_start_the_server(tmp_path):
    # Without the marker, `make serve` runs (and fails here: no Makefile), so the marker is what skips it.
    blocks = shell_blocks(_tiny(marker=""))
    failure, _ = run_blocks(blocks, env=dict(os.environ), cwd=tmp_path)
    assert failure is not None and failure.block == blocks[1]


# --- the README itself ---------------------------------------------------------------------------------------


def test_only_server_and_test_suite_blocks_are_skipped():
    blocks = shell_blocks(README.read_text())
    assert len(blocks) >= 8, "the README tour has lost its shell blocks"
    # Each audience's part of the tour is still run: a request or command that shows it.
    run = "\n".join(b.code for b in blocks if not b.skipped)
    for shown in (
        "/queries/",
        "/sparql",
        "/id/position/",
        "/positions?",
        "/changes",
        "posgraph token create",
        "posgraph validate",
        "batches accept",
        "batches revert",
    ):
        assert shown in run, f"the README tour no longer runs {shown!r}"
    for block in blocks:
        assert block.skipped == bool(SKIPPABLE.search(block.code)), (
            f"README block at line {block.line}: skip it exactly when it starts the server or runs the tests"
        )
    assert sum(b.skipped for b in blocks) >= 1


def test_readme_has_no_placeholders_or_outside_links():
    text = README.read_text()
    # Issue #17: a newcomer's page of about 150 lines; detail belongs in docs/.
    assert len(text.splitlines()) <= 150
    for block in shell_blocks(text):
        for line in block.code.splitlines():
            command = re.split(r"\s#\s", line)[0]  # placeholders in comments (sample output) are fine
            assert "<id>" not in command and "…" not in command, f"README line {block.line}: {line}"


@pytest.mark.parametrize("page", ["README.md", *DOCS_PAGES])
def test_relative_links_stay_in_the_repository_and_resolve(page):
    path = ROOT / page
    for target in re.findall(r"\]\(([^)#\s]+)", path.read_text()):
        if re.match(r"[a-z]+:", target):
            continue  # an absolute URL (the README's own server address)
        resolved = (path.parent / target).resolve()
        assert resolved.is_relative_to(ROOT.resolve()), f"{page} links outside the repository: {target}"
        assert resolved.exists(), f"{page} links to a missing {target}"


@pytest.fixture(scope="module")
def readme_server(tmp_path_factory) -> tuple[Server, Path]:
    """A server of the README's own, with its own data directory (store, staging, tokens, audit log)."""
    base = tmp_path_factory.mktemp("readme")
    srv = start_server(base / "store", base / "serve.log")
    yield srv, base
    srv.stop()


def test_readme_runs_twice_against_a_live_server(readme_server):
    server, data_dir = readme_server
    blocks = shell_blocks(README.read_text())
    env = _session_env(server.url, data_dir)
    for attempt in ("first", "second"):
        failure, _ = run_blocks(blocks, env=env, cwd=ROOT)
        assert failure is None, f"{attempt} run: {failure}"


@pytest.mark.parametrize("page", DOCS_TOURS)
def test_docs_tours_run_against_a_live_server(readme_server, page):
    # Once each (the README, which a newcomer pastes first, runs twice to prove pasting again works): the docs'
    # tours follow the same rules, and running them after the README shows they do not depend on a fresh server.
    server, data_dir = readme_server
    blocks = shell_blocks((ROOT / page).read_text())
    assert blocks and not any(b.skipped for b in blocks), f"{page}: its tour blocks are all run, none skipped"
    failure, _ = run_blocks(blocks, env=_session_env(server.url, data_dir), cwd=ROOT)
    assert failure is None, f"{page}: {failure}"
