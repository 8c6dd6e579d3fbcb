"""The worker pools' forkserver: what it imports once for every worker (workers.preload_in_workers)."""

import json
import os
import subprocess
import sys
import textwrap

from conftest import ROOT

_PROBE = """
import sys


def loaded(name):
    return name in sys.modules
"""

# The program under test. Its main module imports nothing of posgraph at the top: each worker imports the main module
# again, so a module found in a worker got there from the forkserver, not from that.
_MAIN = """
import asyncio
import json
import sys


async def go():
    import probe
    from posgraph.workers import WorkerPool

    if "--cli" in sys.argv:
        import posgraph.cli  # noqa: F401  (as the posgraph script does)
    first = WorkerPool(1, timeout=60)  # the default preload: guard, validation, formats
    later = WorkerPool(1, timeout=60, preload=("posgraph.overview.charts",))
    names = ("posgraph.validation", "posgraph.overview.charts", "posgraph.cli", "posgraph.api.app")
    try:
        found = {f"{pool}:{name}": await p.run(probe.loaded, name) for pool, p in (("first", first), ("later", later))
                 for name in names}
    finally:
        first.close()
        later.close()
    print(json.dumps(found))


if __name__ == "__main__":
    asyncio.run(go())
"""


def _run(tmp_path, *args: str) -> dict:
    (tmp_path / "probe.py").write_text(_PROBE)
    (tmp_path / "main.py").write_text(textwrap.dedent(_MAIN))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT / "src")])}
    done = subprocess.run(
        [sys.executable, str(tmp_path / "main.py"), *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_every_worker_holds_what_every_pool_asked_the_forkserver_to_import(tmp_path):
    """The forkserver is one per process and reads its list once: a pool made later adds to the list, it does not
    replace it (it did: the last pool's list, the charts module alone, was the only one preloaded)."""
    found = _run(tmp_path)
    for pool in ("first", "later"):
        assert found[f"{pool}:posgraph.validation"] and found[f"{pool}:posgraph.overview.charts"], found
        assert not found[f"{pool}:posgraph.api.app"], found  # not imported by anyone: the probe can say no
        assert not found[f"{pool}:posgraph.cli"], found


def test_the_command_line_has_its_workers_forked_with_it_imported(tmp_path):
    """posgraph's command line is the main module of `posgraph serve`, which every worker imports again: importing
    it puts it in the forkserver's list, so a worker finds it there instead of importing it (a second or so each
    on 2 busy cores, at start-up and whenever a pool replaces a worker)."""
    found = _run(tmp_path, "--cli")
    assert found["first:posgraph.cli"] and found["later:posgraph.cli"], found
    assert not found["first:posgraph.api.app"], found
