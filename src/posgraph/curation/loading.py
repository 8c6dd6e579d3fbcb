"""Loading trusted files as accepted batches, without review: ``posgraph load`` (one Graph Store request, which the
engine applies as one transaction: the store holds all of the batch or none of it), a bulk load that builds a new
store with the engine's own loader, and the ontology and seed every new store starts with.

A load streams: files are parsed a chunk at a time, hashed incrementally (``formats.ContentHasher``) and written to
a spool file as N-Triples, all before anything is sent (so a syntax error anywhere writes nothing); the request
body is then read from the spool, each chunk twice (the default graph and the batch's graph). Memory holds the
statements with blank nodes (canonicalised together for the hash), the batch's typing statements (for the
superclass types) and its subject IRIs (counted), as N-Quads text, never the whole batch.

Past parsing, a batch is handled as the N-Quads lines pyoxigraph writes (``S P O .``: a subject is an IRI or a
blank node label, a predicate an IRI, neither holds a space), not as pyoxigraph terms: a million terms cost
seconds to make and compare, and kept alive they made every garbage collection walk them.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import operator
import secrets
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, AsyncIterator, Awaitable, Callable, ContextManager, Iterable, Iterator, Sequence

import pyoxigraph as ox

from posgraph import formats, supervisor
from posgraph.audit import AuditLog
from posgraph.curation.amendments import is_amendment_quad, may_amend
from posgraph.curation.entailment import missing_supertypes, supertype_lines, supertype_update
from posgraph.curation.intake import ParsedFile, json_ld_context, open_file, read_files, validate_files
from posgraph.curation.provenance import batch_quads, batch_record, change_triples, change_update
from posgraph.curation.records import find_batch_by_hash
from posgraph.engine import Engine
from posgraph.errors import BadInput, NotConformant
from posgraph.namespaces import ONTOLOGY_GRAPH, PG, RDF, batch_iri
from posgraph.validation import ValidationReport, Validator

__all__ = [
    "LoadResult",
    "SEED_BATCH_ID",
    "load_batch",
    "load_files",
    "bulk_build_store",
    "record_bulk_batch",
    "bulk_load",
    "ensure_bootstrapped",
]

log = logging.getLogger("posgraph.curation")

SEED_BATCH_ID = "seed"
_CHUNK = 1 << 20
# Statements are spooled in memory up to this size, then in a temporary file.
_SPOOL_IN_MEMORY = 16 << 20
_TYPE = f"<{RDF.type}>".encode()
_SOURCE = f"<{PG.source}>".encode()


@dataclass(frozen=True)
class LoadResult:
    """What ``load_batch`` did: the batch, how many triples, and whether identical content was already loaded."""

    batch_id: str
    batch_iri: str
    triples: int
    already_loaded: bool
    report: ValidationReport | None


@dataclass
class _Staged:
    """A batch read to its end: its statements spooled as N-Triples, and what its record says about them."""

    spool: IO[bytes]
    digest: str = ""
    triples: int = 0
    resources: int = 0
    sources: set = field(default_factory=set)
    # Its typing statements as "subject class" (N-Triples terms; a subject holds no space): the superclass types
    # follow from them (entailment.supertype_lines).
    typing: set[bytes] = field(default_factory=set)


def _stage(chunks: Iterable[tuple[str, formats.QuadChunk]]) -> _Staged:
    """Read every chunk (each with the name of the file it comes from): hash, count and spool its statements.

    Raises what reading raises (RdfSyntaxError, BadInput) and BadInput for files carrying amendments (pg:Retraction,
    pg:Merge: they change published data, so they go through review), once every file has been read.
    """
    staged = _Staged(tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY))
    try:
        hasher = formats.ContentHasher()
        subjects: set[bytes] = set()
        source_lines: set[bytes] = set()
        amending: set[str] = set()
        space = itertools.repeat(b" ")
        for source, chunk in chunks:
            text = chunk.nquads
            if may_amend(text) and any(is_amendment_quad(q) for q in chunk.quads):
                amending.add(source)
            lines = text.split(b"\n")
            lines.pop()  # after the last newline
            hasher.add_lines(lines, text)
            staged.spool.write(text)
            staged.triples += len(lines)
            # Each statement's first term, in C (map and partition): IRIs, and blank node labels left out below.
            subjects.update(map(operator.itemgetter(0), map(bytes.partition, lines, space)))
            if _TYPE in text:
                for line in itertools.compress(lines, map(operator.contains, lines, itertools.repeat(_TYPE))):
                    subject, predicate, rest = line.split(b" ", 2)
                    if predicate == _TYPE:
                        staged.typing.add(subject + b" " + rest[:-2])  # rest ends " ."
            if _SOURCE in text:
                for line in itertools.compress(lines, map(operator.contains, lines, itertools.repeat(_SOURCE))):
                    if line.split(b" ", 2)[1] == _SOURCE:
                        source_lines.add(line)
        if amending:
            raise BadInput(
                f"{', '.join(sorted(amending))}: carries amendments (pg:Retraction, pg:Merge), which change "
                "published data and are applied only through review: submit it (posgraph submit, or POST /batches)"
            )
        staged.digest = hasher.hexdigest()
        staged.resources = sum(1 for subject in subjects if subject.startswith(b"<"))
        statements = ox.parse(b"\n".join(source_lines) + b"\n", format=ox.RdfFormat.N_TRIPLES)
        staged.sources = {q.object for q in statements}
        return staged
    except BaseException:
        staged.spool.close()
        raise


def _parsed_chunks(files: Sequence[ParsedFile]) -> Iterator[tuple[str, formats.QuadChunk]]:
    """Parsed files' statements as triples (graph names dropped), a chunk at a time."""
    size = formats.CHUNK_STATEMENTS
    for parsed in files:
        for start in range(0, len(parsed.quads), size):
            quads = [ox.Quad(q.subject, q.predicate, q.object) for q in parsed.quads[start : start + size]]
            yield parsed.source, formats.QuadChunk(quads, ox.serialize(quads, format=ox.RdfFormat.N_QUADS))


def _file_chunks(
    paths: Sequence[Path], on_bytes: Callable[[int], None] | None
) -> Iterator[tuple[str, formats.QuadChunk]]:
    """The files' statements as triples, a chunk at a time, parsed as they are read (JSON-LD whole: its context
    is pinned first). Raises RdfSyntaxError, UnsupportedMediaType or BadInput as ``read_files`` does."""
    for path in paths:
        fmt = formats.format_for_path(path)
        with open_file(path) as handle:
            if fmt.name == "json-ld":
                context, urls = json_ld_context()
                quads = formats.read_jsonld(handle.read(), str(path), context, urls)
                chunks = (chunk for _, chunk in _parsed_chunks([ParsedFile(str(path), quads)]))
            else:
                chunks = formats.read_chunks(handle, fmt, str(path), base_iri=Path(path).resolve().as_uri())
            read = 0
            for chunk in chunks:
                if on_bytes:
                    # Where the parser has read to (it reads ahead of the statements it gave): progress enough.
                    position = handle.tell()
                    on_bytes(position - read)
                    read = position
                yield str(path), chunk
            if on_bytes:
                on_bytes(Path(path).stat().st_size - read)


async def _body(
    staged: _Staged,
    graph: ox.NamedNode,
    record: list[ox.Quad],
    supertypes: Awaitable[list[bytes]],
    on_bytes: Callable[[int], None] | None,
) -> AsyncIterator[bytes]:
    """The N-Quads publishing a staged batch, a chunk at a time: each spooled chunk in the default graph and again
    in the batch's graph, then the superclass types they imply (``supertypes``: entailment.supertype_lines'
    answer, in both) and the batch's record."""
    tail = b" " + str(graph).encode() + b" .\n"
    spool = staged.spool
    spool.seek(0)
    rest = b""
    while True:
        block = spool.read(_CHUNK)
        if not block:
            break
        cut = block.rfind(b"\n") + 1
        lines, rest = rest + block[:cut], block[cut:]
        # pyoxigraph writes a newline in a literal as \n: " .\n" ends a statement and nothing else.
        for part in (lines, lines.replace(b" .\n", tail)):
            yield part
            if on_bytes:
                on_bytes(len(part))
    supers = await supertypes
    last = b"".join(line + b" .\n" for line in supers) + b"".join(line + tail for line in supers)
    last += ox.serialize(record, format=ox.RdfFormat.N_QUADS)
    yield last
    if on_bytes:
        on_bytes(len(last))


async def _publish(
    engine: Engine,
    validator: Validator,
    staged: _Staged,
    *,
    report: ValidationReport | None,
    sources: Sequence[str],
    curator: str,
    label: str | None,
    batch_id: str | None,
    on_upload: Callable[[int], None] | None,
) -> LoadResult:
    """Add a staged batch to the store, in one request, unless identical content is an accepted batch already."""
    existing = await find_batch_by_hash(engine, staged.digest)
    if existing is not None:
        return LoadResult(existing.rsplit("/", 1)[-1], existing, staged.triples, True, report)
    now = datetime.now(timezone.utc)
    batch_id = batch_id or f"{now:%Y%m%dT%H%M%SZ}-{staged.digest[:8]}"
    record = batch_record(
        batch_id,
        triples=staged.triples,
        resources=staged.resources,
        sources=staged.sources,
        curator=curator,
        digest=staged.digest,
        label=label or "Loaded from " + ", ".join(Path(s).name for s in sources),
        shapes_version=validator.shapes_version,
        now=now,
    )
    graph = ox.NamedNode(batch_iri(batch_id))
    # Worked out in a thread while the body streams: the engine reading it leaves this process waiting.
    supertypes = asyncio.get_running_loop().run_in_executor(None, supertype_lines, staged.typing)
    await engine.add_quads(
        _body(staged, graph, record, supertypes, on_upload),
        media_type="application/n-quads",
        timeout=max(engine.timeout, 600.0),
    )
    log.info("batch %s loaded by %s: %d triples", batch_id, curator, staged.triples)
    return LoadResult(batch_id, batch_iri(batch_id), staged.triples, False, report)


async def load_batch(
    engine: Engine,
    validator: Validator,
    files: Sequence[ParsedFile],
    *,
    curator: str,
    label: str | None = None,
    batch_id: str | None = None,
    validate: bool = True,
    on_upload: Callable[[int], None] | None = None,
) -> LoadResult:
    """Validate ``files`` and add them to the store as one accepted batch; return what was done.

    Content identical to an accepted batch is not loaded twice (``already_loaded`` is then True).
    Raises BadInput for files carrying amendments (pg:Retraction, pg:Merge: they change published data, so they
    go through review), NotConformant (nothing is written) or an engine error (the engine's transaction wrote
    nothing).
    """
    staged = _stage(_parsed_chunks(files))
    with staged.spool:
        report = None
        if validate:
            report = validate_files(validator, files)
            if not report.conforms:
                raise NotConformant(report, source=", ".join(f.source for f in files))
        return await _publish(
            engine,
            validator,
            staged,
            report=report,
            sources=[f.source for f in files],
            curator=curator,
            label=label,
            batch_id=batch_id,
            on_upload=on_upload,
        )


async def load_files(
    engine: Engine,
    validator: Validator,
    paths: Sequence[Path],
    *,
    curator: str,
    label: str | None = None,
    batch_id: str | None = None,
    validate: bool = True,
    on_read: Callable[[int], None] | None = None,
    on_upload: Callable[[int], None] | None = None,
) -> LoadResult:
    """Read the files at ``paths`` and add them to the store as one accepted batch, as ``load_batch`` does, in
    memory that does not grow with the files (see the module's description); return what was done.

    Every file is read to its end before anything is written. ``on_read`` and ``on_upload`` are told how many
    bytes were read and sent. Raises RdfSyntaxError, UnsupportedMediaType or BadInput (unreadable file, a JSON-LD
    context other than posgraph's) as ``read_files`` does, and as ``load_batch`` does. ``validate`` validates as
    ``load_batch`` does, with every file in memory (pyshacl needs the graph).
    """
    staged = _stage(_file_chunks(paths, on_read))
    with staged.spool:
        report = None
        if validate:
            report = validate_files(validator, read_files(list(paths)))
            if not report.conforms:
                raise NotConformant(report, source=", ".join(map(str, paths)))
        return await _publish(
            engine,
            validator,
            staged,
            report=report,
            sources=[str(p) for p in paths],
            curator=curator,
            label=label,
            batch_id=batch_id,
            on_upload=on_upload,
        )


def _check_bulk_target(data_dir: Path) -> list[Path]:
    """Refuse (BadInput) a ``data_dir`` holding a store or anything but a stopped engine's files; return those."""
    if (data_dir / "CURRENT").exists():  # RocksDB's marker: a store is there
        raise BadInput(f"{data_dir} already holds a store: a bulk load builds a new one (use `posgraph load`)")
    # What a stopped managed engine leaves beside a store; anything else is not ours to delete.
    leftovers = list(data_dir.iterdir()) if data_dir.is_dir() else []
    strangers = [p.name for p in leftovers if p.name not in (supervisor.RUNTIME_FILE, supervisor.LOG_FILE)]
    if strangers or (data_dir.exists() and not data_dir.is_dir()):
        raise BadInput(
            f"{data_dir} is not empty ({', '.join(strangers[:3]) or 'a file'}): a bulk load needs a new directory"
        )
    return leftovers


def _bulk_inputs(files: Sequence[Path]) -> list[tuple[Path, str]]:
    """Each file with its media type; BadInput for a quad format or a missing file."""
    typed = []
    for path in files:
        fmt = formats.format_for_path(path)
        if fmt.quads:
            raise BadInput(f"{path}: a bulk load takes N-Triples, Turtle or RDF/XML, not {fmt.name}")
        if not path.is_file():
            raise BadInput(f"{path}: cannot read: no such file")
        typed.append((path, fmt.media_type))
    return typed


def bulk_build_store(data_dir: Path, files: Sequence[Path], *, binary: str | None = None) -> int:
    """Build a new store at ``data_dir`` from ``files`` with the engine's bulk loader; return its triple count.

    All or nothing: the loader writes into a scratch directory beside ``data_dir``, which replaces ``data_dir``
    (by one rename) only once every file has loaded. Raises BadInput when ``data_dir`` already holds a store or
    anything but a stopped engine's log, when a file is not a triple format (N-Triples, Turtle, RDF/XML), or
    when a file does not parse.
    """
    leftovers = _check_bulk_target(data_dir)
    typed = _bulk_inputs(files)
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    scratch = data_dir.parent / f".{data_dir.name}.bulk-{secrets.token_hex(4)}"
    try:
        supervisor.bulk_load(scratch, typed, binary=binary)
        count = len(ox.Store.read_only(str(scratch)))
        for leftover in leftovers:
            leftover.unlink()
        if data_dir.exists():
            data_dir.rmdir()
        scratch.rename(data_dir)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return count


async def record_bulk_batch(
    engine: Engine, validator: Validator, files: Sequence[Path], count: int, *, curator: str, label: str | None = None
) -> LoadResult:
    """Describe a bulk-loaded store's content as one accepted, non-revertible batch (PROV, counts, a change
    event); its triples are not copied into the batch's graph. Returns what was recorded."""
    now = datetime.now(timezone.utc)
    batch_id = f"{now:%Y%m%dT%H%M%SZ}-bulk-{secrets.token_hex(4)}"
    quads = batch_quads(
        [],
        batch_id=batch_id,
        curator=curator,
        digest="",
        label=label or "Bulk-loaded from " + ", ".join(Path(f).name for f in files),
        shapes_version=validator.shapes_version,
        now=now,
        bulk_count=count,
    )
    await engine.add_quads(ox.serialize(quads, format=ox.RdfFormat.N_QUADS))
    log.info("batch %s bulk-loaded by %s: %d triples", batch_id, curator, count)
    return LoadResult(batch_id, batch_iri(batch_id), count, False, None)


def _being_served(data_dir: Path) -> bool:
    """True if an engine recorded as serving ``data_dir`` (by ``posgraph serve``) answers."""
    try:
        url = json.loads((data_dir / supervisor.RUNTIME_FILE).read_text())["url"]
    except (ValueError, KeyError, TypeError, OSError):
        return False

    async def ping() -> bool:
        async with Engine(url) as engine:
            return await engine.ping()

    return bool(url) and asyncio.run(ping())


def bulk_load(
    data_dir: Path,
    files: Sequence[Path],
    *,
    validator: Validator,
    engine_url: Callable[[], ContextManager[str]],
    curator: str,
    label: str | None = None,
    validate: bool = True,
    binary: str | None = None,
    timeout: float = 30.0,
    external_engine: bool = False,
    audit: AuditLog | None = None,
) -> LoadResult:
    """Build a new store at ``data_dir`` from ``files`` with the engine's bulk loader (``bulk_build_store``), then
    record it as one accepted, non-revertible batch (``record_bulk_batch``) through the engine ``engine_url()``
    opens on the new store (a context manager yielding its URL), each engine call limited to ``timeout`` seconds.
    With ``audit``, the load is logged ("bulk load"). Returns what was recorded.

    Synchronous (it runs its own event loops): not for use inside a running one. Raises BadInput when
    ``external_engine`` (the data lives in an engine posgraph does not manage), when ``data_dir`` is being served
    or is not new, or as ``bulk_build_store`` does; NotConformant (with ``validate``: nothing is built).
    """
    if external_engine:
        raise BadInput("a bulk load builds the bundled engine's store; it cannot write to POSGRAPH_ENGINE_URL")
    if (data_dir / supervisor.RUNTIME_FILE).exists() and _being_served(data_dir):
        raise BadInput(f"{data_dir} is being served: stop `posgraph serve` before a bulk load")
    if validate:
        report = validate_files(validator, read_files(list(files)))
        if not report.conforms:
            raise NotConformant(report, source=", ".join(map(str, files)))
    count = bulk_build_store(data_dir, list(files), binary=binary)

    async def record(url: str) -> LoadResult:
        async with Engine(url, timeout=timeout) as engine:
            return await record_bulk_batch(engine, validator, files, count, curator=curator, label=label)

    with engine_url() as url:
        result = asyncio.run(record(url))
    if audit is not None:
        audit.record(curator, "bulk load", batch=result.batch_id, triples=result.triples, files=[str(f) for f in files])
    return result


async def ensure_bootstrapped(
    engine: Engine,
    validator: Validator,
    ontology_files: Sequence[Path],
    seed_files: Sequence[Path],
    *,
    seed: bool = True,
) -> list[str]:
    """Load the ontology (once, into its own graph and the default graph) and the seed batch into an empty store,
    migrate a store whose ontology is older than ``ontology_files`` to their model (see ``migration.migrate``),
    and add the superclass types (see ``entailment``) that data stored before they were materialised lacks.

    Returns what was loaded or migrated (empty when the store was already set up). Safe to call on every start.
    Raises ConfigError when the store's model is newer than ``ontology_files``, or an engine error.
    """
    from posgraph.curation.migration import migrate  # here: this function is the only part of loading that needs it

    loaded = []
    if not await engine.ask(f"ASK {{ GRAPH <{ONTOLOGY_GRAPH}> {{ ?s ?p ?o }} }}"):
        triples = [ox.Triple(q.subject, q.predicate, q.object) for f in read_files(ontology_files) for q in f.quads]
        graph = ox.NamedNode(str(ONTOLOGY_GRAPH))
        quads = [ox.Quad(t.subject, t.predicate, t.object, g) for t in triples for g in (ox.DefaultGraph(), graph)]
        quads += [ox.Quad(s, p, o, ox.DefaultGraph()) for s, p, o in change_triples("ontology", "posgraph")]
        await engine.add_quads(ox.serialize(quads, format=ox.RdfFormat.N_QUADS))
        loaded.append("ontology")
    else:
        # Before the seed: a 0.1 store's seed batch is there already and is migrated with the rest of its data.
        migrated = await migrate(engine, ontology_files, actor="posgraph")
        if migrated.migrated:
            loaded.append(
                f"model migration {migrated.from_version} -> {migrated.to_version} ({migrated.reports} report(s) made)"
            )
    if seed and not await engine.ask(f"ASK {{ <{batch_iri(SEED_BATCH_ID)}> ?p ?o }}"):
        result = await load_batch(
            engine,
            validator,
            read_files(seed_files),
            curator="posgraph seed",
            label="Seed data: the July 2025 Istanbul offer article",
            batch_id=SEED_BATCH_ID,
        )
        loaded.append(f"seed ({result.triples} triples)")
    if await engine.ask(missing_supertypes()):
        # Batch graphs too, so that reverting a batch stored before this takes its superclass types away.
        await engine.update(
            supertype_update(batch_graphs=True) + " ;\n" + change_update("updated", "posgraph"),
            timeout=max(engine.timeout, 600.0),
        )
        loaded.append("superclass types")
    return loaded
