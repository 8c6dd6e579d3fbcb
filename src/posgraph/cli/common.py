"""What every command shares: the ``posgraph`` click group, the exit codes and the wrapper that turns posgraph's
errors into them, and the engine a command on a data directory talks to."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import click

from posgraph import __version__, curation
from posgraph.config import PROJECT_FILES, Settings, load_settings
from posgraph.engine import Engine
from posgraph.errors import BadInput, ConfigError, EngineError, EngineStartError, NotConformant, NotFound, PosgraphError
from posgraph.supervisor import RUNTIME_FILE, ManagedEngine
from posgraph.validation import Validator

__all__ = [
    "EXIT_OK",
    "EXIT_NOT_CONFORMANT",
    "EXIT_BAD_INPUT",
    "EXIT_INTERNAL",
    "cli",
    "handled",
    "data_dir_option",
    "check_layout",
    "validator",
    "engine_url",
    "runtime_url",
    "ping",
    "bootstrap",
]

EXIT_OK, EXIT_NOT_CONFORMANT, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3


def handled(func: Callable) -> Callable:
    """Return ``func`` wrapped to turn posgraph's exceptions into a one-line message on stderr and the documented
    exit code (never a traceback, unless POSGRAPH_DEBUG is set)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except NotConformant as exc:
            click.echo(exc.report.to_text(exc.source), err=True)
            sys.exit(EXIT_NOT_CONFORMANT)
        except (BadInput, NotFound) as exc:
            click.echo(f"posgraph: error: {exc.message}", err=True)
            sys.exit(EXIT_BAD_INPUT)
        except (EngineStartError, EngineError, ConfigError, PosgraphError) as exc:
            click.echo(f"posgraph: error: {exc.message}", err=True)
            sys.exit(EXIT_INTERNAL)
        except KeyboardInterrupt:
            sys.exit(130)
        except BrokenPipeError:  # output piped into `head` and the like: stop quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(EXIT_OK)
        except Exception as exc:  # never a traceback for users; POSGRAPH_DEBUG=1 shows it
            if os.environ.get("POSGRAPH_DEBUG"):
                raise
            click.echo(f"posgraph: internal error: {exc.__class__.__name__}: {exc}", err=True)
            sys.exit(EXIT_INTERNAL)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="posgraph")
@click.option("-v", "--verbose", is_flag=True, help="Log more.")
def cli(verbose: bool) -> None:
    """posgraph: a knowledge graph of negotiation positions.

    Settings come from POSGRAPH_* environment variables (see docs/configuration.md); options override them.
    """
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


data_dir_option = click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="The instance's directory: store/, staging/, tokens.json, audit.jsonl, dumps/ "
    "(default var, or POSGRAPH_DATA_DIR; POSGRAPH_STORE_DIR, POSGRAPH_TOKENS_FILE … set one on its own).",
)


def check_layout(settings: Settings) -> None:
    """Refuse (ConfigError) a data directory that is itself a store, as POSGRAPH_DATA_DIR named before it held the
    whole instance: a new empty store would silently be made beside the old one."""
    if (settings.data_dir / "CURRENT").exists() and not settings.store_dir.exists():
        raise ConfigError(
            f"{settings.data_dir} is a store, but the data directory now holds one instance's store/, staging/, "
            f"tokens…: set POSGRAPH_STORE_DIR={settings.data_dir}, or move it to {settings.store_dir}"
        )


def validator(settings: Settings | None = None, *, extra: bool = True) -> Validator:
    """Return a validator for posgraph's shapes and ontology, with the POSGRAPH_EXTRA_SHAPES of ``settings`` (else
    of the environment) unless ``extra`` is False. Raises ConfigError when an extra shapes file is missing or does
    not parse."""
    if not extra:
        return Validator.from_files(PROJECT_FILES.shapes_files, PROJECT_FILES.ontology_files)
    return Validator.from_files((settings or load_settings()).shapes_files(), PROJECT_FILES.ontology_files)


@contextmanager
def engine_url(settings: Settings) -> Iterator[str]:
    """Yield the URL of an engine holding the data: the configured one, the one a running ``posgraph serve``
    manages on the data directory, or a temporary one started on the data directory for this command.

    Raises EngineStartError (the temporary engine does not start) or an engine error (seeding it fails).
    """
    if settings.engine_url:
        yield settings.engine_url
        return
    check_layout(settings)
    if (settings.store_dir / RUNTIME_FILE).exists():
        url = runtime_url(settings)
        if url and asyncio.run(ping(url, settings)):
            yield url
            return
    managed = ManagedEngine(
        settings.store_dir,
        binary=settings.engine_binary,
        start_timeout=settings.engine_start_timeout,
        sandbox=settings.engine_sandbox,
    )
    managed.start()
    try:
        if settings.seed:
            asyncio.run(bootstrap(managed.url, settings))
        yield managed.url
    finally:
        managed.stop()


def runtime_url(settings: Settings) -> str | None:
    """Return the URL a running ``posgraph serve`` recorded for its engine on the store directory, or None."""
    try:
        return json.loads((settings.store_dir / RUNTIME_FILE).read_text())["url"]
    except (ValueError, KeyError, OSError):
        return None


async def ping(url: str | None, settings: Settings | None = None) -> bool:
    """Return whether an engine answers at ``url`` (False for no URL), spoken to as ``settings`` (else the
    environment's) say."""
    if not url:
        return False
    async with Engine(url, **(settings or load_settings()).engine_options(url)) as engine:
        return await engine.ping()


async def bootstrap(url: str, settings: Settings) -> list[str]:
    """Load the ontology and (if configured) the seed into the engine at ``url`` unless there; return what was
    loaded. Raises an engine error."""
    async with Engine(url, **settings.engine_options(url)) as engine:
        # The seed is posgraph's own data, checked against posgraph's shapes; an institution's house rules
        # (POSGRAPH_EXTRA_SHAPES) apply to what its curators add.
        return await curation.ensure_bootstrapped(
            engine, validator(extra=False), PROJECT_FILES.ontology_files, PROJECT_FILES.seed_files, seed=settings.seed
        )
