"""Commands on files and on a data directory: validate, load, migrate, query, queries, export, check.

A command on a data directory reaches its engine through ``common.engine_url`` and then calls one use case, as
the HTTP routes do; only reading arguments and printing results (tables, reports) happen here.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import click
import rdflib

from posgraph import curation, formats, linked_data, research
from posgraph.audit import AuditLog
from posgraph.catalog import Catalog
from posgraph.checks import check_all
from posgraph.cli.client import call, nquads
from posgraph.cli.common import (
    EXIT_NOT_CONFORMANT,
    EXIT_OK,
    cli,
    data_dir_option,
    engine_url,
    handled,
    validator,
)
from posgraph.config import PROJECT_FILES, Settings, load_settings
from posgraph.curation.migration import MigrationResult
from posgraph.curation.migration import migrate as migrate_store
from posgraph.engine import Engine, term_from_json
from posgraph.errors import BadInput
from posgraph.namespaces import compact_iri
from posgraph.validation import ValidationReport

__all__ = ["validate", "load", "migrate", "query", "queries", "export", "check"]

_SH_CONFORMS = rdflib.URIRef("http://www.w3.org/ns/shacl#conforms")


# ---------------------------------------------------------------------------------------------- validate
def _print_report(report: ValidationReport, fmt: str, source: str) -> None:
    click.echo({"text": lambda: report.to_text(source), "json": report.to_json, "turtle": report.to_turtle}[fmt]())


def _validate_against(server: str, files: tuple[Path, ...], fmt: str) -> ValidationReport:
    """Validate on a running posgraph; return its report, or (Turtle) print the server's report and exit."""
    accept = "text/turtle" if fmt == "turtle" else "application/json"
    response = call(
        "POST",
        server,
        "/validate",
        content=nquads(files),
        headers={"Content-Type": "application/n-quads", "Accept": accept},
    )
    if fmt != "turtle":
        return ValidationReport.from_dict(response.json())
    click.echo(response.text)
    graph = rdflib.Graph().parse(data=response.text, format="turtle")
    conforms = "true" in {str(o) for o in graph.objects(None, _SH_CONFORMS)}
    sys.exit(EXIT_OK if conforms else EXIT_NOT_CONFORMANT)


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
@handled
def validate(files: tuple[Path, ...], fmt: str, against: str | None) -> None:
    """Validate FILES (together) against the posgraph shapes: offline, or in the context of a server's data.

    Exit 0 if they conform (warnings allowed), 1 if not, 2 if a file does not parse.
    """
    if against:
        report = _validate_against(against, files, fmt)
    else:
        report = curation.validate_files(validator(), curation.read_files(list(files)), offline=True)
    _print_report(report, fmt, ", ".join(str(f) for f in files))
    sys.exit(EXIT_OK if report.conforms else EXIT_NOT_CONFORMANT)


# ---------------------------------------------------------------------------------------------- load
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
@data_dir_option
@handled
def load(
    files: tuple[Path, ...], curator: str, label: str | None, no_validate: bool, bulk: bool, data_dir: Path | None
) -> None:
    """Load FILES into the store as one accepted batch, atomically: all of it or none of it.

    Files are parsed and validated first; a syntax error (exit 2) or a violation (exit 1) loads nothing.
    """
    settings = load_settings(data_dir=data_dir)
    if bulk:
        _bulk_load(settings, files, curator=curator, label=label, validate=not no_validate)
        return
    result = _load(settings, files, curator=curator, label=label, validate=not no_validate)
    if result.already_loaded:
        click.echo(f"already loaded: identical content is batch {result.batch_id}; nothing changed")
    else:
        AuditLog(settings.audit_log).record(
            curator, "load", batch=result.batch_id, triples=result.triples, files=[str(f) for f in files]
        )
        click.echo(f"loaded batch {result.batch_id}: {result.triples} triples ({result.batch_iri})")


def _load(
    settings: Settings, files: tuple[Path, ...], *, curator: str, label: str | None, validate: bool
) -> curation.LoadResult:
    """Read, validate and load ``files`` as one batch (with progress bars for large files); return the result."""
    from tqdm import tqdm

    total = sum(f.stat().st_size for f in files if f.is_file())
    show = total > 1_000_000 or None  # None: tqdm shows a bar only on a terminal
    checker = validator()

    async def run(url: str) -> curation.LoadResult:
        options = settings.engine_options(url)
        if not settings.engine_url:  # then ``url`` is the bundled engine's
            # The bundled engine (Oxigraph 0.5) loads a POST to /store?no_transaction with its bulk loader, which
            # still commits atomically (its sorted files are ingested in one step, or dropped on a failure), two
            # to three times as fast as its transaction and in much less of its memory.
            options["store_path"] = "/store?no_transaction"
        async with Engine(url, **options) as engine:
            with (
                tqdm(total=total, unit="B", unit_scale=True, desc="parse", disable=not show, leave=False) as read,
                tqdm(unit="B", unit_scale=True, desc="upload", disable=not show, leave=False) as upload,
            ):
                return await curation.load_files(
                    engine,
                    checker,
                    list(files),
                    curator=curator,
                    label=label,
                    validate=validate,
                    on_read=read.update,
                    on_upload=upload.update,
                )

    with engine_url(settings) as url:
        return asyncio.run(run(url))


def _bulk_load(settings: Settings, files: tuple[Path, ...], *, curator: str, label: str | None, validate: bool) -> None:
    result = curation.bulk_load(
        settings.store_dir,
        list(files),
        validator=validator(),
        engine_url=lambda: engine_url(settings),
        curator=curator,
        label=label,
        validate=validate,
        binary=settings.engine_binary,
        timeout=settings.query_timeout,
        external_engine=bool(settings.engine_url),
        audit=AuditLog(settings.audit_log),
    )
    click.echo(f"bulk-loaded batch {result.batch_id}: {result.triples} triples ({result.batch_iri})")


# ---------------------------------------------------------------------------------------------- migrate
@cli.command()
@data_dir_option
@handled
def migrate(data_dir: Path | None) -> None:
    """Move the store to this posgraph's model when it was made by an older one (`serve` does this on start).

    One transaction: the data the new model says differently is rewritten (in the published graph and in every
    batch's graph; staging is untouched), the ontology is replaced, and a "migrated" change is recorded (a new
    dataset version, listed in /changes). Exit 0 when migrated or already current, 3 on failure (nothing changed).
    """
    settings = load_settings(data_dir=data_dir)
    if not settings.engine_url and not settings.store_dir.exists():
        raise BadInput(f"no store at {settings.store_dir}: nothing to migrate (check --data-dir)")
    # Not bootstrapped first: bootstrapping migrates too, silently; this command says what it did.
    plain = settings.model_copy(update={"seed": False})

    async def run(url: str) -> MigrationResult:
        async with Engine(url, **settings.engine_options(url)) as engine:
            return await migrate_store(engine, PROJECT_FILES.ontology_files, actor="posgraph migrate")

    with engine_url(plain) as url:
        result = asyncio.run(run(url))
    if result.migrated:
        AuditLog(settings.audit_log).record(
            os.environ.get("USER", "cli"),
            "migrate",
            from_version=result.from_version,
            to_version=result.to_version,
            change=result.change,
        )
        click.echo(
            f"migrated the store from model {result.from_version} to {result.to_version}: "
            f"{result.reports} report(s) made from 0.1 confidence / reported-via; "
            f"recorded as change {result.change} (the dataset's new version)"
        )
    elif result.from_version is None:
        click.echo(
            f"the store is empty: nothing to migrate (`posgraph serve` or `posgraph load` sets it up at model "
            f"{result.to_version})"
        )
    else:
        click.echo(f"the store is already at model {result.to_version}: nothing to migrate")


# ---------------------------------------------------------------------------------------------- query / queries
_RESULT_TYPES = {"table": formats.SPARQL_JSON, "csv": formats.CSV, "json": formats.SPARQL_JSON}


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


def _bindings(params: tuple[str, ...]) -> dict[str, str]:
    bindings = {}
    for pair in params:
        name, sep, value = pair.partition("=")
        if not sep:
            raise BadInput(f"--param {pair!r}: write NAME=VALUE")
        bindings[name] = value
    return bindings


@cli.command()
@click.argument("query")
@click.option(
    "-p", "--param", "params", multiple=True, metavar="NAME=VALUE", help="A parameter of a saved query (repeatable)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(list(_RESULT_TYPES)),
    default="table",
    help="Output for SELECT/ASK results (CONSTRUCT and DESCRIBE print Turtle).",
)
@data_dir_option
@handled
def query(query: str, params: tuple[str, ...], fmt: str, data_dir: Path | None) -> None:
    """Run QUERY: a saved query's name (see `posgraph queries`), SPARQL text, or - to read SPARQL from stdin."""
    settings = load_settings(data_dir=data_dir)
    catalog = Catalog.from_dir(PROJECT_FILES.queries_dir)
    bindings = _bindings(params)
    argument = sys.stdin.read() if query == "-" else query
    text = asyncio.run(research.prepare_query(catalog, argument, bindings, is_text=query == "-"))

    async def run(url: str) -> research.QueryAnswer:
        async with Engine(url, **settings.engine_options(url)) as engine:
            return await research.run_for_output(engine, text, _RESULT_TYPES[fmt])

    with engine_url(settings) as url:
        answer = asyncio.run(run(url))
    if answer.media_type != formats.SPARQL_JSON or fmt == "json":
        click.echo(answer.content.decode("utf-8").rstrip("\n"))
        return
    doc = json.loads(answer.content)
    click.echo(str(doc["boolean"]).lower() if "boolean" in doc else _table(doc))


@cli.command()
@handled
def queries() -> None:
    """List the saved queries and their parameters."""
    for saved in Catalog.from_dir(PROJECT_FILES.queries_dir):
        params = " ".join(f"{p.name}:{p.type}{'' if p.required else '?'}" for p in saved.params)
        click.echo(f"{saved.name:<24} {saved.kind:<9} {params}\n{'':<24} {saved.summary}")


# ---------------------------------------------------------------------------------------------- export / check
_EXPORT_FORMATS = {"nquads": "nq", "trig": "trig", "turtle": "ttl"}  # option value -> linked_data.DUMP_FORMATS


@cli.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(list(_EXPORT_FORMATS)),
    default="nquads",
    help="N-Quads or TriG (every graph: the published default graph and each batch's graph), "
    "or Turtle (the default graph only).",
)
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None, help="File to write (default stdout).")
@data_dir_option
@handled
def export(fmt: str, output: Path | None, data_dir: Path | None) -> None:
    """Dump the published data."""
    settings = load_settings(data_dir=data_dir)
    extension = _EXPORT_FORMATS[fmt]

    async def run(url: str) -> None:
        async with Engine(url, **settings.engine_options(url)) as engine:
            if output is None:
                await linked_data.export(engine, extension, sys.stdout.buffer)
            else:
                await linked_data.export_to_file(engine, extension, output)

    with engine_url(settings) as url:
        asyncio.run(run(url))
    if output is not None:
        click.echo(f"wrote {output}", err=True)


@cli.command()
@click.option(
    "--examples",
    type=click.Path(path_type=Path),
    default=None,
    help="Example data directory with valid/ and invalid/ (default tests/examples if present).",
)
@handled
def check(examples: Path | None) -> None:
    """Check that the ontology, shapes, saved queries and examples are consistent (exit 1 if not)."""
    examples = examples or PROJECT_FILES.examples_dir
    problems = check_all(validator(), Catalog.from_dir(PROJECT_FILES.queries_dir), examples)
    for problem in problems:
        click.echo(problem)
    click.echo(f"check: {len(problems)} problem(s)" if problems else "check: consistent")
    sys.exit(EXIT_NOT_CONFORMANT if problems else EXIT_OK)
