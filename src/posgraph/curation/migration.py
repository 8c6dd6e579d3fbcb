"""Moving a store made by an older posgraph to the package's model: ``posgraph migrate``, and ``serve`` on start.

A store's model version is the ``owl:versionInfo`` of the ontology in its ontology graph. When the package's
ontology files are newer, ``migrate`` rewrites the data the newer model expresses differently (each step below
names the version that introduced it), replaces the ontology (its graph, and its triples in the default graph),
and records a change ("migrated"), so the dataset's version moves and integrators see it in ``/changes``.

Everything is one SPARQL update request, which the engine applies as one transaction: a crash or an error leaves
the store as it was, never half migrated. The rewrite covers the default graph and every batch graph (so reverting
a batch later takes away exactly what it contributed, in its new form); staging is never touched.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import pyoxigraph as ox

from posgraph.curation.entailment import supertype_update
from posgraph.curation.intake import read_files
from posgraph.curation.provenance import agent, change_triples
from posgraph.engine import Engine
from posgraph.errors import ConfigError
from posgraph.namespaces import ONTOLOGY_GRAPH, ONTOLOGY_IRI, OWL, PG, PGID, PROV, RDFS, sparql_prologue

__all__ = [
    "MIGRATION_KIND",
    "MigrationResult",
    "files_version",
    "store_version",
    "needs_migration",
    "migration_update",
    "migrate",
]

log = logging.getLogger("posgraph.curation")

# The change kind /changes shows for a migration (beside "loaded", "accepted", "reverted", "updated", "ontology").
MIGRATION_KIND = "migrated"

_VERSION = re.compile(r"^\d+(\.\d+)*$")
# A transient link from each report the migration makes to its position: it lets the later operations of the same
# request find exactly those reports (a store may hold others), and is deleted by the last of them.
_MARK = "urn:x-posgraph:migration:reportOf"
_BATCH_GRAPH = f'STRSTARTS(STR(?g), "{PGID}batch/")'


@dataclass(frozen=True)
class MigrationResult:
    """What ``migrate`` found and did: the store's version before (None: no ontology in the store), the package's
    version, whether anything was written, the reports made from 0.1 forms (default graph), and the change id."""

    from_version: str | None
    to_version: str
    migrated: bool
    reports: int = 0
    change: str | None = None


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def files_version(ontology_files: Sequence[Path]) -> str:
    """The owl:versionInfo of the ontology (``ONTOLOGY_IRI``) in ``ontology_files``.

    Raises ConfigError when the files state none, or one that is not dotted numbers."""
    subject, predicate = ox.NamedNode(ONTOLOGY_IRI), ox.NamedNode(str(OWL.versionInfo))
    found = {
        q.object.value
        for f in read_files(list(ontology_files))
        for q in f.quads
        if q.subject == subject and q.predicate == predicate
    }
    if len(found) != 1 or not _VERSION.match(next(iter(found))):
        raise ConfigError(f"the ontology files state no single owl:versionInfo of <{ONTOLOGY_IRI}>: {sorted(found)}")
    return found.pop()


async def store_version(engine: Engine) -> str | None:
    """The owl:versionInfo of the ontology in the store's ontology graph; None when that graph is empty (a new
    store), "0" when the ontology there states no version (older than every versioned one)."""
    rows = await engine.select(
        f"SELECT ?v ?any WHERE {{ GRAPH <{ONTOLOGY_GRAPH}> {{ "
        f"{{ SELECT ?any WHERE {{ ?any ?p ?o }} LIMIT 1 }} "
        f"OPTIONAL {{ <{ONTOLOGY_IRI}> <{OWL.versionInfo}> ?v }} }} }}"
    )
    if not rows:
        return None
    versions = sorted((str(r["v"]) for r in rows if "v" in r and _VERSION.match(str(r["v"]))), key=_key)
    return versions[-1] if versions else "0"


def needs_migration(current: str | None, target: str) -> bool:
    """Whether a store at ``current`` (see ``store_version``) must be migrated to ``target``.

    Raises ConfigError when the store is newer than ``target`` (made by a newer posgraph: this one would
    misread it)."""
    if current is None:
        return False
    if _key(current) > _key(target):
        raise ConfigError(
            f"the store's model is {current}, newer than this posgraph's {target}: upgrade posgraph to serve it"
        )
    return _key(current) < _key(target)


# ------------------------------------------------------------------------------------------ data rewrites
def _reports_from_0_1() -> list[str]:
    """0.1 -> 0.2: pg:confidence and pg:reportedVia on a position become a pg:Report per source of the position
    (pg:sourcing pg:unspecifiedSourcing: 0.1 did not record how the source knew), and the 0.1 triples go.

    In a batch graph holding a 0.1 triple of the position, the same report nodes (the same blank nodes) are
    stated with the values that graph held, so a revert of that batch removes what it contributed."""
    old = "VALUES ?q { pg:confidence pg:reportedVia }"
    return [
        # The default graph: one report per (position, source); a position without a source (which 0.1's shapes
        # refused, but a direct update could make) still gets one report, so no value is lost.
        f"""INSERT {{ ?p pg:report _:r . _:r a pg:Report ; pg:sourcing pg:unspecifiedSourcing ; pg:source ?s ;
                pg:confidence ?c ; pg:reportedVia ?m ; <{_MARK}> ?p }}
            WHERE {{ {{ SELECT DISTINCT ?p WHERE {{ {old} ?p ?q ?any . ?p a/rdfs:subClassOf* pg:Position }} }}
                OPTIONAL {{ ?p pg:source ?s }} OPTIONAL {{ ?p pg:confidence ?c }} OPTIONAL {{ ?p pg:reportedVia ?m }}
            }}""",
        f"""INSERT {{ GRAPH ?g {{ ?p pg:report ?r . ?r a pg:Report ; pg:sourcing pg:unspecifiedSourcing ;
                pg:source ?s }} }}
            WHERE {{ {{ SELECT DISTINCT ?g ?p WHERE {{ {old} GRAPH ?g {{ ?p ?q ?any }} FILTER ({_BATCH_GRAPH}) }} }}
                ?r <{_MARK}> ?p . OPTIONAL {{ ?r pg:source ?s }} }}""",
        f"""INSERT {{ GRAPH ?g {{ ?r ?q ?v }} }}
            WHERE {{ {old} ?r <{_MARK}> ?p ; ?q ?v . GRAPH ?g {{ ?p ?q ?v }} FILTER ({_BATCH_GRAPH}) }}""",
        f"""DELETE {{ GRAPH ?g {{ ?p ?q ?v }} }}
            WHERE {{ {old} ?r <{_MARK}> ?p . GRAPH ?g {{ ?p ?q ?v }} FILTER ({_BATCH_GRAPH}) }}""",
        f"DELETE {{ ?p ?q ?v }} WHERE {{ {old} ?r <{_MARK}> ?p . ?p ?q ?v }}",
        f"DELETE WHERE {{ ?r <{_MARK}> ?p }}",
    ]


# Each step: the version whose model it produces, and the update operations that rewrite the data to it.
_STEPS = (("0.2.0", _reports_from_0_1),)


def _steps_between(current: str, target: str) -> list[str]:
    return [op for version, step in _STEPS if _key(current) < _key(version) <= _key(target) for op in step()]


# ------------------------------------------------------------------------------------------ the one update
def _ontology_replacement(ontology_files: Sequence[Path]) -> list[str]:
    """Operations that swap the store's ontology for ``ontology_files``: its graph, and its triples in the default
    graph (those no batch graph states too)."""
    graph = f"<{ONTOLOGY_GRAPH}>"
    triples = {ox.Triple(q.subject, q.predicate, q.object) for f in read_files(list(ontology_files)) for q in f.quads}
    body = " ".join(f"{t.subject} {t.predicate} {t.object} ." for t in sorted(triples, key=str))
    return [
        f"""DELETE {{ ?s ?p ?o }} WHERE {{ GRAPH {graph} {{ ?s ?p ?o }}
            FILTER NOT EXISTS {{ GRAPH ?g {{ ?s ?p ?o }} FILTER (?g != {graph}) }} }}""",
        f"DROP SILENT GRAPH {graph}",
        f"INSERT DATA {{ {body} GRAPH {graph} {{ {body} }} }}",
    ]


def migration_update(ontology_files: Sequence[Path], current: str, target: str, actor: str) -> tuple[str, str]:
    """The one SPARQL update migrating a store at ``current`` to ``target`` (the version of ``ontology_files``):
    the data rewrites, the ontology's replacement, the superclass types the new ontology implies, and a change
    record (kind ``MIGRATION_KIND``, by the agent ``actor``, with a comment naming both versions). Returns the
    update and the change's id (the dataset's version once it is applied)."""
    change = change_triples(MIGRATION_KIND, actor)
    iri, who = change[0][0], agent(actor)
    note = ox.Literal(f"model {current} migrated to {target}")
    record = " ".join(f"{s} {p} {o} ." for s, p, o in change)
    record += f" {iri} <{RDFS.comment}> {note} . {who} a <{PROV.Agent}> ; <{RDFS.label}> {ox.Literal(actor)} ."
    operations = [
        # First, and only while the store is not at the target yet: a second migration racing this one records
        # nothing (its other operations then find nothing left to rewrite and put back the same ontology).
        f"""INSERT {{ {record} }} WHERE {{ FILTER NOT EXISTS {{ GRAPH <{ONTOLOGY_GRAPH}> {{
                <{ONTOLOGY_IRI}> <{OWL.versionInfo}> {ox.Literal(target)} }} }} }}""",
        *_steps_between(current, target),
        *_ontology_replacement(ontology_files),
        supertype_update(batch_graphs=True),
    ]
    return sparql_prologue(("pg", "rdfs")) + " ;\n".join(operations), iri.value.rsplit("/", 1)[-1]


async def _count_reports(engine: Engine) -> int:
    rows = await engine.select(f"SELECT (COUNT(*) AS ?n) WHERE {{ ?r a <{PG.Report}> }}")
    return int(rows[0]["n"])


async def migrate(
    engine: Engine, ontology_files: Sequence[Path], *, actor: str = "posgraph migrate"
) -> MigrationResult:
    """Migrate the store to the model of ``ontology_files`` when it is older (one update, one transaction);
    return what was found and done. Idempotent: a current store, or an empty one, is left as it is.

    Raises ConfigError when the files state no version or the store is newer than them, or an engine error (the
    engine's transaction then wrote nothing)."""
    target = files_version(ontology_files)
    current = await store_version(engine)
    if not needs_migration(current, target):
        return MigrationResult(current, target, False)
    assert current is not None  # needs_migration is False for a store without an ontology
    before = await _count_reports(engine)
    update, change = migration_update(ontology_files, current, target, actor)
    await engine.update(update, timeout=max(engine.timeout, 600.0))
    reports = await _count_reports(engine) - before
    log.info("store migrated from model %s to %s by %s: %d report(s) made", current, target, actor, reports)
    return MigrationResult(current, target, True, reports, change)
