"""The ``posgraph`` command line. Exit codes: 0 ok, 1 not conformant, 2 bad input, 3 internal or engine error."""

from __future__ import annotations

import asyncio
import functools
import io
import json
import logging
import math
import os
import socket
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import click
import httpx
import rdflib

from posgraph import __version__, curation, guard, metrics, research
from posgraph.audit import AuditLog
from posgraph.catalog import Catalog
from posgraph.checks import check_all
from posgraph.config import PROJECT_FILES, Settings, load_settings
from posgraph.engine import Engine, term_from_json
from posgraph.errors import BadInput, ConfigError, EngineError, EngineStartError, NotConformant, NotFound, PosgraphError
from posgraph.namespaces import compact_iri
from posgraph.supervisor import RUNTIME_FILE, ManagedEngine
from posgraph.tokens import ROLES, TokenStore
from posgraph.validation import ValidationReport, Validator

__all__ = ["main", "cli"]

log = logging.getLogger("posgraph.cli")

EXIT_OK, EXIT_NOT_CONFORMANT, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3


def _handled(func: Callable) -> Callable:
    """Turn posgraph's exceptions into a one-line message on stderr and the documented exit code."""

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


def _validator() -> Validator:
    return Validator.from_files(PROJECT_FILES.shapes_files, PROJECT_FILES.ontology_files)


@contextmanager
def _engine_url(settings: Settings) -> Iterator[str]:
    """Yield the URL of an engine holding the data: the configured one, the one a running ``posgraph serve``
    manages on the data directory, or a temporary one started on the data directory for this command."""
    if settings.engine_url:
        yield settings.engine_url
        return
    if (settings.data_dir / RUNTIME_FILE).exists():
        url = _runtime_url(settings)
        if url and asyncio.run(_ping(url)):
            yield url
            return
    managed = ManagedEngine(
        settings.data_dir,
        binary=settings.engine_binary,
        start_timeout=settings.engine_start_timeout,
        sandbox=settings.engine_sandbox,
    )
    managed.start()
    try:
        if settings.seed:
            asyncio.run(_bootstrap(managed.url, settings))
        yield managed.url
    finally:
        managed.stop()


def _runtime_url(settings: Settings) -> str | None:
    """The URL a running ``posgraph serve`` recorded for its engine on the data directory, if it did."""
    try:
        return json.loads((settings.data_dir / RUNTIME_FILE).read_text())["url"]
    except (ValueError, KeyError, OSError):
        return None


async def _ping(url: str | None) -> bool:
    if not url:
        return False
    async with Engine(url) as engine:
        return await engine.ping()


async def _bootstrap(url: str, settings: Settings) -> list[str]:
    async with Engine(url, timeout=settings.query_timeout) as engine:
        return await curation.ensure_bootstrapped(
            engine, _validator(), PROJECT_FILES.ontology_files, PROJECT_FILES.seed_files, seed=settings.seed
        )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="posgraph")
@click.option("-v", "--verbose", is_flag=True, help="Log more.")
def cli(verbose: bool) -> None:
    """posgraph: a knowledge graph of negotiation positions.

    Settings come from POSGRAPH_* environment variables (see the README); options override them.
    """
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


# ---------------------------------------------------------------------------------------------- serve
def _check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise EngineStartError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc} "
                "(is another server running? choose another --port)"
            ) from None


def _structured_logs() -> None:
    """Log posgraph's records (access lines, engine events, errors) as JSON lines on stderr."""
    from posgraph.api.observability import JsonLogFormatter

    handler = logging.StreamHandler()
    handler.setFormatter(JsonLogFormatter())
    logger = logging.getLogger("posgraph")
    logger.handlers = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False


@cli.command()
@click.option("--host", default=None, help="Address to bind (default 127.0.0.1, or POSGRAPH_HOST).")
@click.option("--port", type=int, default=None, help="Port to bind (default 8000, or POSGRAPH_PORT).")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Store directory of the managed engine (default var/store, or POSGRAPH_DATA_DIR).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Web worker processes, all stateless, sharing the engines.",
)
@_handled
def serve(host: str | None, port: int | None, data_dir: Path | None, workers: int) -> None:
    """Start the engine (unless POSGRAPH_ENGINE_URL names one), load the seed data into an empty store, and
    serve the HTTP API until interrupted."""
    import uvicorn

    from posgraph.api.app import create_app

    settings = load_settings(host=host, port=port, data_dir=data_dir)
    _check_port_free(settings.host, settings.port)
    _structured_logs()
    managed: dict[str, ManagedEngine] = {}

    def start(name: str, directory: Path) -> str:
        # The engine's own timeout stops most queries posgraph has already given up on (the client got a 504); the
        # abandon grace ends the rest, the memory cap a runaway one. The sandbox denies SERVICE/LOAD any egress.
        engine = ManagedEngine(
            directory,
            binary=settings.engine_binary,
            start_timeout=settings.engine_start_timeout,
            query_timeout_s=math.ceil(settings.query_timeout),
            memory_limit_mb=settings.engine_memory_limit_mb,
            abandon_grace=settings.engine_abandon_grace,
            restart_backoff_max=settings.engine_restart_backoff_max,
            sandbox=settings.engine_sandbox,
            on_event=metrics.engine_event,
        )
        url = engine.start()
        managed[name] = engine
        return url

    try:
        url = settings.engine_url or start("public", settings.data_dir)
        staging_url = settings.staging_engine_url or start("staging", settings.staging_dir)
        try:
            loaded = asyncio.run(_bootstrap(url, settings))
            if loaded:
                click.echo(f"posgraph: loaded {', '.join(loaded)}", err=True)
        except EngineError as exc:  # an external engine not up yet: /health says 503 until it is
            click.echo(
                f"posgraph: warning: engine at {url} not ready ({exc.message}); the seed is loaded on the next start",
                err=True,
            )
        click.echo(
            f"posgraph: serving on http://{settings.host}:{settings.port} (engine {url}, staging {staging_url})",
            err=True,
        )
        if workers == 1:
            app = create_app(settings, engine_url=url, staging_url=staging_url, managed_engines=managed)
            uvicorn.run(
                app,
                host=settings.host,
                port=settings.port,
                log_level="info",
                access_log=False,
                # uvicorn believes X-Forwarded-For from 127.0.0.1 by default: a client could name its own address.
                proxy_headers=bool(settings.trusted_proxies.strip()),
                forwarded_allow_ips=[p.strip() for p in settings.trusted_proxies.split(",") if p.strip()],
            )
        else:
            # Each worker is its own process and builds its app from the environment: point it at the engines.
            os.environ["POSGRAPH_ENGINE_URL"], os.environ["POSGRAPH_STAGING_ENGINE_URL"] = url, staging_url
            uvicorn.run(
                "posgraph.api.app:app_from_env",
                factory=True,
                workers=workers,
                host=settings.host,
                port=settings.port,
                log_level="info",
                access_log=False,
                proxy_headers=bool(settings.trusted_proxies.strip()),  # as above: only configured proxies
                forwarded_allow_ips=[p.strip() for p in settings.trusted_proxies.split(",") if p.strip()],
            )
    finally:
        for engine in managed.values():
            engine.stop()


# ---------------------------------------------------------------------------------------------- validate / load
# ---------------------------------------------------------------------------------------------- talking to a server
_SERVER = click.option(
    "--server",
    envvar="POSGRAPH_SERVER",
    default="http://127.0.0.1:8000",
    show_default=True,
    help="Base URL of a running posgraph (or POSGRAPH_SERVER).",
)
_TOKEN = click.option(
    "--token",
    envvar="POSGRAPH_TOKEN",
    default=None,
    help="Bearer token (or POSGRAPH_TOKEN); see `posgraph token create`.",
)


def _call(method: str, server: str, path: str, token: str | None = None, **kwargs) -> httpx.Response:
    """Send one request to a posgraph server; turn its problem+json answers into posgraph errors.

    Raises NotConformant (422), BadInput (other 4xx), EngineError (5xx or no answer).
    """
    headers = dict(kwargs.pop("headers", {}))
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        response = httpx.request(
            method, server.rstrip("/") + path, headers=headers, timeout=600, trust_env=False, **kwargs
        )
    except httpx.HTTPError as exc:
        raise EngineError(f"no answer from {server}: {exc.__class__.__name__}") from None
    if response.status_code < 400:
        return response
    try:
        problem = response.json()
    except ValueError:
        problem = {"title": response.reason_phrase, "detail": response.text[:500]}
    if response.status_code == 422 and "report" in problem:
        raise NotConformant(ValidationReport.from_dict(problem["report"]), source=problem.get("detail", "batch"))
    message = f"{problem.get('title', response.status_code)}: {problem.get('detail', '')}".rstrip(": ")
    if response.status_code < 500:
        raise BadInput(f"{server} answered {response.status_code} {message}")
    raise EngineError(f"{server} answered {response.status_code} {message}")


def _nquads(files: tuple[Path, ...]) -> bytes:
    """Parse the files locally (syntax errors name file, line and column) and return them as one N-Quads body."""
    import pyoxigraph as ox

    return ox.serialize([q for f in curation.read_files(list(files)) for q in f.quads], format=ox.RdfFormat.N_QUADS)


def _print_report(report: ValidationReport, fmt: str, source: str) -> None:
    click.echo({"text": lambda: report.to_text(source), "json": report.to_json, "turtle": report.to_turtle}[fmt]())


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "turtle"]),
    default="text",
    help="Report format: one line per result (text), flat JSON, or a sh:ValidationReport in Turtle.",
)
@click.option(
    "--against",
    metavar="URL",
    default=None,
    help="A running posgraph: validate there, so references to its published data resolve.",
)
@_handled
def validate(files: tuple[Path, ...], fmt: str, against: str | None) -> None:
    """Validate FILES (together) against the posgraph shapes: offline, or in the context of a server's data.

    Exit 0 if they conform (warnings allowed), 1 if not, 2 if a file does not parse.
    """
    source = ", ".join(str(f) for f in files)
    if against:
        body = _nquads(files)
        accept = "text/turtle" if fmt == "turtle" else "application/json"
        response = _call(
            "POST",
            against,
            "/validate",
            content=body,
            headers={"Content-Type": "application/n-quads", "Accept": accept},
        )
        if fmt == "turtle":
            click.echo(response.text)
            conforms = "true" in {
                str(o)
                for o in rdflib.Graph()
                .parse(data=response.text, format="turtle")
                .objects(None, rdflib.URIRef("http://www.w3.org/ns/shacl#conforms"))
            }
            sys.exit(EXIT_OK if conforms else EXIT_NOT_CONFORMANT)
        report = ValidationReport.from_dict(response.json())
    else:
        report = curation.validate_files(_validator(), curation.read_files(list(files)))
    _print_report(report, fmt, source)
    sys.exit(EXIT_OK if report.conforms else EXIT_NOT_CONFORMANT)


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--label", default=None, help="A label for the batch.")
@_SERVER
@_TOKEN
@_handled
def submit(files: tuple[Path, ...], label: str | None, server: str, token: str | None) -> None:
    """Submit FILES as one batch for review (a curator token). Exit 1 with the report if it does not conform."""
    response = _call(
        "POST",
        server,
        "/batches",
        token,
        content=_nquads(files),
        params={"label": label} if label else None,
        headers={"Content-Type": "application/n-quads"},
    )
    batch = response.json()
    click.echo(f"submitted batch {batch['id']}: {batch['triples']} triples, awaiting review")


@cli.group()
def batches() -> None:
    """Review batches on a running posgraph: list, show, accept, reject, revert."""


def _show(batch: dict) -> str:
    lines = [
        f"batch {batch['id']}: {batch['state']}",
        f"  label     {batch.get('label')}",
        f"  curator   {batch.get('curator')}   submitted {batch.get('submitted')}",
        f"  triples   {batch.get('triples')}",
    ]
    if batch.get("reviewer"):
        lines.append(f"  reviewer  {batch['reviewer']}")
    lines += [
        f"  {h['time']}  {h['action']:<9} by {h['actor']}" + (f": {h['note']}" if h.get("note") else "")
        for h in batch.get("history", [])
    ]
    return "\n".join(lines)


@batches.command("list")
@click.option("--state", type=click.Choice(["submitted", "accepted", "rejected", "reverted"]), default=None)
@_SERVER
@_TOKEN
@_handled
def batches_list(state: str | None, server: str, token: str | None) -> None:
    """List batches, newest first."""
    items = _call("GET", server, "/batches", token, params={"state": state} if state else None).json()["batches"]
    for batch in items:
        click.echo(f"{batch['id']:<34} {batch['state']:<9} {str(batch.get('curator')):<16} {batch.get('triples')}")


@batches.command("show")
@click.argument("batch_id")
@_SERVER
@_TOKEN
@_handled
def batches_show(batch_id: str, server: str, token: str | None) -> None:
    """Show a batch: state, curator, reviewer, history."""
    click.echo(_show(_call("GET", server, f"/batches/{batch_id}", token).json()))


@batches.command("accept")
@click.argument("batch_id")
@_SERVER
@_TOKEN
@_handled
def batches_accept(batch_id: str, server: str, token: str | None) -> None:
    """Accept and publish a batch (a reviewer token)."""
    click.echo(_show(_call("POST", server, f"/batches/{batch_id}/accept", token).json()))


@batches.command("reject")
@click.argument("batch_id")
@click.option("--note", default=None, help="Why it was rejected.")
@_SERVER
@_TOKEN
@_handled
def batches_reject(batch_id: str, note: str | None, server: str, token: str | None) -> None:
    """Reject a batch (a reviewer token)."""
    click.echo(
        _show(_call("POST", server, f"/batches/{batch_id}/reject", token, json={"note": note} if note else None).json())
    )


@batches.command("revert")
@click.argument("batch_id")
@click.option("--dry-run", is_flag=True, help="Only show what would be removed and what depends on it.")
@_SERVER
@_TOKEN
@_handled
def batches_revert(batch_id: str, dry_run: bool, server: str, token: str | None) -> None:
    """Revert an accepted batch (a reviewer token), after showing what depends on it."""
    answer = _call(
        "POST", server, f"/batches/{batch_id}/revert", token, params={"dry_run": "true"} if dry_run else None
    ).json()
    preview = answer if dry_run else answer["preview"]
    click.echo(
        f"{preview['triples_removed']} triple(s) leave the public graph; "
        f"{len(preview['dependents'])} statement(s) in other batches refer to it"
    )
    for dep in preview["dependents"]:
        click.echo(
            f"  {compact_iri(dep['resource'])} {compact_iri(dep['property'])} "
            f"{compact_iri(dep['depends_on'])}  (batch {dep['batch']})"
        )
    if not dry_run:
        click.echo(_show(answer))


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--curator",
    default=lambda: os.environ.get("USER", "cli"),
    show_default="$USER",
    help="Who is loading the data (recorded as the batch's prov:wasAttributedTo).",
)
@click.option("--label", default=None, help="A label for the batch.")
@click.option("--no-validate", is_flag=True, help="Skip SHACL validation (bulk loads of trusted data).")
@click.option(
    "--bulk",
    is_flag=True,
    help="Build a new store with the engine's bulk loader (several times faster on millions of triples). "
    "The batch keeps no copy of its triples and cannot be reverted; the store must not exist yet.",
)
@click.option("--data-dir", type=click.Path(path_type=Path), default=None, help="Store directory.")
@_handled
def load(
    files: tuple[Path, ...], curator: str, label: str | None, no_validate: bool, bulk: bool, data_dir: Path | None
) -> None:
    """Load FILES into the store as one accepted batch, atomically: all of it or none of it.

    Files are parsed and validated first; a syntax error (exit 2) or a violation (exit 1) loads nothing.
    """
    from tqdm import tqdm

    settings = load_settings(data_dir=data_dir)
    if bulk:
        _bulk_load(settings, files, curator=curator, label=label, validate=not no_validate)
        return
    total = sum(f.stat().st_size for f in files if f.is_file())
    show = total > 1_000_000 or None  # None: tqdm shows a bar only on a terminal
    with tqdm(total=total, unit="B", unit_scale=True, desc="parse", disable=not show, leave=False) as bar:
        parsed = curation.read_files(list(files), on_bytes=bar.update)
    validator = _validator()

    async def run(url: str) -> curation.LoadResult:
        async with Engine(url, timeout=settings.query_timeout) as engine:
            with tqdm(unit="B", unit_scale=True, desc="upload", disable=not show, leave=False) as bar:
                return await curation.load_batch(
                    engine,
                    validator,
                    parsed,
                    curator=curator,
                    label=label,
                    validate=not no_validate,
                    on_upload=bar.update,
                )

    with _engine_url(settings) as url:
        result = asyncio.run(run(url))
    if result.already_loaded:
        click.echo(f"already loaded: identical content is batch {result.batch_id}; nothing changed")
    else:
        AuditLog(settings.audit_log).record(
            curator, "load", batch=result.batch_id, triples=result.triples, files=[str(f) for f in files]
        )
        click.echo(f"loaded batch {result.batch_id}: {result.triples} triples ({result.batch_iri})")


def _bulk_load(settings: Settings, files: tuple[Path, ...], *, curator: str, label: str | None, validate: bool) -> None:
    if settings.engine_url:
        raise BadInput("a bulk load builds the bundled engine's store; it cannot write to POSGRAPH_ENGINE_URL")
    if (settings.data_dir / RUNTIME_FILE).exists() and asyncio.run(_ping(_runtime_url(settings))):
        raise BadInput(f"{settings.data_dir} is being served: stop `posgraph serve` before a bulk load")
    validator = _validator()
    if validate:
        report = curation.validate_files(validator, curation.read_files(list(files)))
        if not report.conforms:
            raise NotConformant(report, source=", ".join(map(str, files)))
    count = curation.bulk_build_store(settings.data_dir, list(files), binary=settings.engine_binary)

    async def record(url: str) -> curation.LoadResult:
        async with Engine(url, timeout=settings.query_timeout) as engine:
            return await curation.record_bulk_batch(engine, validator, files, count, curator=curator, label=label)

    with _engine_url(settings) as url:
        result = asyncio.run(record(url))
    AuditLog(settings.audit_log).record(
        curator, "bulk load", batch=result.batch_id, triples=result.triples, files=[str(f) for f in files]
    )
    click.echo(f"bulk-loaded batch {result.batch_id}: {result.triples} triples ({result.batch_iri})")


# ---------------------------------------------------------------------------------------------- query / export
def _cell(binding: dict) -> str:
    return compact_iri(binding["value"]) if binding["type"] == "uri" else str(term_from_json(binding))


def _table(doc: dict) -> str:
    columns = doc["head"]["vars"]
    rows = [[_cell(row[c]) if c in row else "" for c in columns] for row in doc["results"]["bindings"]]
    widths = [min(60, max([len(c)] + [len(r[i]) for r in rows])) for i, c in enumerate(columns)]
    clip = lambda text, w: text if len(text) <= w else text[: w - 1] + "…"  # noqa: E731
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(clip(v, w).ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    lines.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(line.rstrip() for line in lines)


@cli.command()
@click.argument("query")
@click.option(
    "-p", "--param", "params", multiple=True, metavar="NAME=VALUE", help="A parameter of a saved query (repeatable)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    help="Output for SELECT/ASK results (CONSTRUCT and DESCRIBE print Turtle).",
)
@click.option("--data-dir", type=click.Path(path_type=Path), default=None, help="Store directory.")
@_handled
def query(query: str, params: tuple[str, ...], fmt: str, data_dir: Path | None) -> None:
    """Run QUERY: a saved query's name (see `posgraph queries`), SPARQL text, or - to read SPARQL from stdin."""
    settings = load_settings(data_dir=data_dir)
    catalog = Catalog.from_dir(PROJECT_FILES.queries_dir)
    bindings = {}
    for pair in params:
        name, sep, value = pair.partition("=")
        if not sep:
            raise BadInput(f"--param {pair!r}: write NAME=VALUE")
        bindings[name] = value
    text = sys.stdin.read() if query == "-" else query
    if query != "-" and " " not in query.strip() and "{" not in query:
        text = catalog.get(query).bind(bindings)  # a saved query's name
    elif bindings:
        raise BadInput("--param applies to saved queries only")
    form = guard.check_query(text)  # the command line's user is trusted, but the checks are the same
    accept = (
        {"table": "application/sparql-results+json", "json": "application/sparql-results+json", "csv": "text/csv"}[fmt]
        if form in ("select", "ask")
        else "text/turtle"
    )

    async def run(url: str) -> bytes:
        async with Engine(url, timeout=settings.query_timeout) as engine:
            return (await research.run_query(engine, text, accept=accept)).content

    with _engine_url(settings) as url:
        content = asyncio.run(run(url))
    if form in ("construct", "describe") or fmt in ("csv", "json"):
        click.echo(content.decode("utf-8").rstrip("\n"))
        return
    doc = json.loads(content)
    click.echo(str(doc["boolean"]).lower() if "boolean" in doc else _table(doc))


@cli.command()
@_handled
def queries() -> None:
    """List the saved queries and their parameters."""
    for saved in Catalog.from_dir(PROJECT_FILES.queries_dir):
        params = " ".join(f"{p.name}:{p.type}{'' if p.required else '?'}" for p in saved.params)
        click.echo(f"{saved.name:<24} {saved.kind:<9} {params}\n{'':<24} {saved.summary}")


_EXPORT_TYPES = {
    "nquads": ("application/n-quads", False),
    "trig": ("application/trig", False),
    "turtle": ("text/turtle", True),
}


@cli.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(list(_EXPORT_TYPES)),
    default="nquads",
    help="N-Quads or TriG (every graph: the published default graph and each batch's graph), "
    "or Turtle (the default graph only).",
)
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None, help="File to write (default stdout).")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None, help="Store directory.")
@_handled
def export(fmt: str, output: Path | None, data_dir: Path | None) -> None:
    """Dump the published data."""
    settings = load_settings(data_dir=data_dir)
    media_type, default_only = _EXPORT_TYPES[fmt]

    async def run(url: str, sink: io.BufferedIOBase) -> None:
        async with Engine(url, timeout=settings.query_timeout) as engine:
            async for chunk in engine.dump(media_type=media_type, default_graph_only=default_only):
                sink.write(chunk)

    with _engine_url(settings) as url:
        if output is None:
            asyncio.run(run(url, sys.stdout.buffer))
            return
        partial = output.with_name(output.name + ".partial")  # never leave half a dump under the real name
        try:
            with open(partial, "wb") as sink:
                asyncio.run(run(url, sink))
            partial.replace(output)
        except OSError as exc:
            raise BadInput(f"{output}: cannot write: {exc.strerror or exc}") from None
        finally:
            partial.unlink(missing_ok=True)
    click.echo(f"wrote {output}", err=True)


# ---------------------------------------------------------------------------------------------- tokens
@cli.group()
def token() -> None:
    """Create, list and revoke API tokens (stored hashed in POSGRAPH_TOKENS_FILE)."""


@token.command("create")
@click.option("--role", type=click.Choice(list(ROLES)), required=True, help="What the token may do.")
@click.option("--name", required=True, help="Who or what holds the token (unique among active tokens).")
@_handled
def token_create(role: str, name: str) -> None:
    """Create a token and print it once: it is stored only as a hash."""
    settings = load_settings()
    record, secret = TokenStore(settings.tokens_file).create(name, role)
    AuditLog(settings.audit_log).record("cli", "token-create", token=record.id, name=name, role=role)
    click.echo(secret)
    click.echo(f"token {record.id} for {name!r} ({role}); store it now, it cannot be shown again", err=True)


@token.command("list")
@_handled
def token_list() -> None:
    """List tokens (never their secrets)."""
    for record in TokenStore(load_settings().tokens_file).list():
        state = f"revoked {record.revoked}" if record.revoked else "active"
        click.echo(f"{record.id}  {record.role:<8}  {record.name:<24}  created {record.created}  {state}")


@token.command("revoke")
@click.argument("name_or_id")
@_handled
def token_revoke(name_or_id: str) -> None:
    """Revoke the active token with this name or id."""
    settings = load_settings()
    record = TokenStore(settings.tokens_file).revoke(name_or_id)
    AuditLog(settings.audit_log).record("cli", "token-revoke", token=record.id, name=record.name)
    click.echo(f"revoked token {record.id} ({record.name})")


# ---------------------------------------------------------------------------------------------- check
@cli.command()
@click.option(
    "--examples",
    type=click.Path(path_type=Path),
    default=None,
    help="Example data directory with valid/ and invalid/ (default tests/examples if present).",
)
@_handled
def check(examples: Path | None) -> None:
    """Check that the ontology, shapes, saved queries and examples are consistent (exit 1 if not)."""
    examples = examples or PROJECT_FILES.root / "tests" / "examples"
    problems = check_all(_validator(), Catalog.from_dir(PROJECT_FILES.queries_dir), examples)
    for problem in problems:
        click.echo(problem)
    click.echo(f"check: {len(problems)} problem(s)" if problems else "check: consistent")
    sys.exit(EXIT_NOT_CONFORMANT if problems else EXIT_OK)


def main() -> None:
    """Entry point of the ``posgraph`` script."""
    cli(prog_name="posgraph")
