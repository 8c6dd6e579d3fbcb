"""Superclass types, materialised: data states the most specific class (``pg:Demand``), and every write path adds
the posgraph superclasses it implies (``pg:Position``), so ``?p a pg:Position`` finds every position without
inference at query time.

Only superclasses in posgraph's own namespace are added: the ontology's other superclasses are PROV-O, ORG and
schema.org terms (``prov:Agent`` types posgraph's provenance records, which direct writes may not touch), and
keeping to ``pg:`` keeps the set small and the update that adds them cheap.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Iterable

import pyoxigraph as ox
import rdflib

from posgraph.config import PROJECT_FILES
from posgraph.namespaces import MANAGED_TYPES, ONTOLOGY_GRAPH, PG, PGID, RDF, RDFS, STAGING

__all__ = ["superclasses", "supertype_triples", "supertype_lines", "supertype_update", "missing_supertypes"]

_TYPE = ox.NamedNode(str(RDF.type))


@lru_cache(maxsize=1)
def superclasses() -> dict[str, tuple[str, ...]]:
    """Each posgraph class with posgraph superclasses, mapped to all of them (rdfs:subClassOf, transitively, as
    the ontology files state it), leaving out the classes of posgraph's provenance (batches, changes)."""
    ontology = rdflib.Graph()
    for path in PROJECT_FILES.ontology_files:
        ontology.parse(path, format="turtle")
    closure = {}
    for sub in sorted(set(ontology.subjects(RDFS.subClassOf, None))):  # sorted: the same order every run
        if not str(sub).startswith(str(PG)) or str(sub) in MANAGED_TYPES:
            continue
        found = {str(s) for s in ontology.transitive_objects(sub, RDFS.subClassOf)} - {str(sub)}
        mine = sorted(s for s in found if s.startswith(str(PG)))
        if mine:
            closure[str(sub)] = tuple(mine)
    return closure


def supertype_triples(triples: Iterable[ox.Triple]) -> list[ox.Triple]:
    """The superclass types ``triples`` imply and do not state themselves (no duplicates)."""
    triples = list(triples)
    stated = {(t.subject, t.object) for t in triples if t.predicate == _TYPE}
    supers = superclasses()
    added: dict[tuple, None] = {}  # ordered, so a batch's quads come out the same every time
    for subject, cls in stated:
        for sup in supers.get(cls.value, ()) if isinstance(cls, ox.NamedNode) else ():
            key = (subject, ox.NamedNode(sup))
            if key not in stated:
                added[key] = None
    return sorted((ox.Triple(s, _TYPE, o) for s, o in added), key=str)


def supertype_lines(typing: Iterable[bytes]) -> list[bytes]:
    """What ``supertype_triples`` answers, for typing statements given as N-Triples text, each ``b"SUBJECT CLASS"``
    (a subject holds no space): the implied statements as N-Triples lines without their " .", sorted. A load
    handles a batch as text: making a million terms to compare cost it seconds."""
    typing = set(typing)
    rdf_type = f"<{RDF.type}>".encode()
    implied = {f"<{cls}>".encode(): [f"<{sup}>".encode() for sup in sups] for cls, sups in superclasses().items()}
    added = set()
    for pair in typing:
        subject, cls = pair.split(b" ", 1)
        for sup in implied.get(cls, ()):
            if subject + b" " + sup not in typing:
                added.add(b"%s %s %s" % (subject, rdf_type, sup))
    return sorted(added)


def _values() -> str:
    pairs = " ".join(f"(<{sub}> <{sup}>)" for sub, sups in sorted(superclasses().items()) for sup in sups)
    return f"VALUES (?sub ?super) {{ {pairs} }}"


def missing_supertypes() -> str:
    """An ASK query: is a superclass type missing from the default graph (data stored before they were added)?"""
    return f"ASK {{ {_values()} ?x a ?sub FILTER NOT EXISTS {{ ?x a ?super }} }}"


def supertype_update(*, batch_graphs: bool = False) -> str:
    """A SPARQL update adding the superclass types the stored types imply, in the default graph and in each named
    graph (batch graphs too only with ``batch_graphs``: bootstrap's one-time pass over data stored before this;
    never staging or the ontology graph). Cheap: it looks only at instances of posgraph's own subclasses."""
    values = _values()
    skipped = [f'STRSTARTS(STR(?g), "{STAGING}")', f"?g = <{ONTOLOGY_GRAPH}>"]
    if not batch_graphs:
        skipped.append(f'STRSTARTS(STR(?g), "{PGID}batch/")')
    return (
        f"INSERT {{ ?x a ?super }} WHERE {{ {values} ?x a ?sub FILTER NOT EXISTS {{ ?x a ?super }} }} ;\n"
        f"INSERT {{ GRAPH ?g {{ ?x a ?super }} }} WHERE {{ {values} GRAPH ?g {{ ?x a ?sub "
        f"FILTER NOT EXISTS {{ ?x a ?super }} }} FILTER (!({' || '.join(skipped)})) }}"
    )
