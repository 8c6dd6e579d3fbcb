"""The ``posgraph`` command line. Exit codes: 0 ok, 1 not conformant, 2 bad input, 3 internal or engine error.

One module per command group, each registering its commands on the group in ``common``: ``serve`` (the HTTP
API and its engines), ``local`` (files and a data directory: validate, load, query, queries, export, check,
migrate), ``remote`` (a running server over HTTP: submit, batches), ``tokens`` (token create/list/revoke).
"""

from __future__ import annotations

from posgraph import workers
from posgraph.cli import local, remote, serve, tokens  # noqa: F401  (importing them registers their commands)
from posgraph.cli.common import cli

# The command line is the main module of `posgraph serve`, which every new worker process imports again: held by
# the forkserver they are forked from, it costs them nothing (see workers.preload_in_workers).
workers.preload_in_workers(__name__)

__all__ = ["main", "cli"]


def main() -> None:
    """Entry point of the ``posgraph`` script."""
    cli(prog_name="posgraph")
