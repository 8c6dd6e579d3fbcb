"""A batch in words, for its reviewer: one sentence per thing it adds ("adds a Demand by Russia on Territory, stated
2025-07, citing “Faint signs of life…”"), retracts or merges, each with the links a reviewer checks (what it
supersedes or responds to, its holders, issues and sources), labelled, and saying whether each is published or in
the same batch.

Labels come from the batch's own triples first, then from the published graph, in one query for all of them (per
400 IRIs): the IRIs are the batch's parsed terms, bound as serialised RDF terms, never pasted text. Parsing runs in a
worker process (``read_batch`` takes and returns plain data).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyoxigraph as ox
import rdflib
from rdflib.namespace import OWL

from posgraph import formats, workers
from posgraph.catalog import Param
from posgraph.curation.amendments import may_amend, split_amendments
from posgraph.curation.intake import NT
from posgraph.curation.records import batch_triples, get_batch
from posgraph.engine import Engine
from posgraph.namespaces import PG, PGI, RDF, RDFS, SCHEMA, SKOS, compact_iri

__all__ = ["Vocabulary", "vocabulary", "read_batch", "batch_summary", "MAX_SENTENCES"]

MAX_SENTENCES = 500  # a reviewer reads a few dozen; a bulk batch's summary says how many more there are
_CHUNK = 400
_TYPE = str(RDF.type)
# Where a label is found, best first; a position's label is its summary.
_LABELS = tuple(
    str(p) for p in (SKOS.prefLabel, RDFS.label, SCHEMA.headline, PG.versionLabel, PG.roleTitle, PG.summary)
)
# The kinds a sentence is about, in the order sentences come; a kind belongs to the first group it descends from.
_GROUPS = (
    ("position", str(PG.Position)),
    ("party", str(PG.Party)),
    ("person", str(PG.Person)),
    ("organisation", str(PG.GovernmentBody)),
    ("organisation", str(PG.MediaOrganization)),
    ("source", str(PG.Source)),
    ("document", str(PG.Document)),
    ("event", str(PG.Event)),
    ("place", str(PG.Place)),
)
_GROUP_ORDER = ("position", "party", "person", "organisation", "source", "document", "event", "place", "other")
_QUOTED = {"position", "source", "document", "event"}  # titles, shown in quotes; names are not
# Objects that are not links a reviewer follows: external identifiers and pages.
_NOT_LINKS = {_TYPE, str(PG.wikidata), str(SCHEMA.url), str(SKOS.exactMatch), str(PG.unit)}
_POSITION_LINKS = (
    str(PG.heldBy),
    str(PG.concerns),
    str(PG.supersedes),
    str(PG.respondsTo),
    str(PG.source),
)

Term = tuple  # ("i", iri) | ("b", label) | ("l", value, datatype, language)


@dataclass(frozen=True)
class Vocabulary:
    """What the ontology says that sentences need: class labels and superclasses, property labels (plain data, so
    it pickles cheaply to a worker)."""

    class_labels: dict[str, str]
    ancestors: dict[str, frozenset[str]]
    property_labels: dict[str, str]

    def kind(self, types: list[str] | set[str]) -> str | None:
        """The most specific of ``types`` the ontology defines (a class none of the others descends from)."""
        known = sorted(t for t in set(types) if t in self.class_labels)
        specific = [t for t in known if not any(t in self.ancestors.get(o, ()) for o in known if o != t)]
        return specific[0] if specific else None

    def group(self, kind: str | None) -> str:
        """The sentence group of the class ``kind`` (position, party, …, other)."""
        if kind is None:
            return "other"
        lineage = {kind} | self.ancestors.get(kind, frozenset())
        return next((name for name, root in _GROUPS if root in lineage), "other")


_VOCABULARIES: dict[int, tuple[rdflib.Graph, Vocabulary]] = {}


def _english(graph: rdflib.Graph, subject: rdflib.term.Node) -> str | None:
    labels = list(graph.objects(subject, RDFS.label))
    for label in sorted(labels, key=lambda x: (getattr(x, "language", None) not in ("en", None), str(x))):
        return str(label)
    return None


def vocabulary(ontology: rdflib.Graph) -> Vocabulary:
    """The Vocabulary of ``ontology`` (a Validator's), worked out once per graph."""
    cached = _VOCABULARIES.get(id(ontology))
    if cached is not None and cached[0] is ontology:
        return cached[1]
    parents: dict[str, set[str]] = {}
    for child, parent in ontology.subject_objects(RDFS.subClassOf):
        if isinstance(child, rdflib.URIRef) and isinstance(parent, rdflib.URIRef):
            parents.setdefault(str(child), set()).add(str(parent))
    ancestors = {}
    for start in parents:
        seen, todo = set(), list(parents[start])
        while todo:
            node = todo.pop()
            if node not in seen:
                seen.add(node)
                todo += parents.get(node, ())
        ancestors[start] = frozenset(seen)
    class_labels = {
        str(c): label
        for c in ontology.subjects(RDF.type, OWL.Class)
        if isinstance(c, rdflib.URIRef) and (label := _english(ontology, c))
    }
    property_labels = {
        str(p): label
        for kind in (OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty, RDF.Property)
        for p in ontology.subjects(RDF.type, kind)
        if isinstance(p, rdflib.URIRef) and (label := _english(ontology, p))
    }
    result = Vocabulary(class_labels, ancestors, property_labels)
    _VOCABULARIES[id(ontology)] = (ontology, result)
    return result


# ------------------------------------------------------------------------------------------ reading (in a worker)
def _term(node) -> Term:
    if isinstance(node, ox.NamedNode):
        return ("i", node.value)
    if isinstance(node, ox.BlankNode):
        return ("b", node.value)
    return ("l", node.value, node.datatype.value if node.datatype else None, node.language)


def _label_of(props: dict[str, list[Term]]) -> str | None:
    """The best label among a node's statements: by property (``_LABELS``), then English, then untagged."""
    for predicate in _LABELS:
        values = [v for v in props.get(predicate, []) if v[0] == "l"]
        if values:
            return sorted(values, key=lambda v: (v[3] not in ("en", None), v[3] is not None, v[1]))[0][1]
    return None


def _parse_object(ntriples_term: str) -> Term:
    """A retraction's object as amendments record it (N-Triples syntax) back as a term."""
    quads = formats.read_quads(f"<urn:x:s> <urn:x:p> {ntriples_term} .\n".encode(), NT, "amendment")
    return _term(quads[0].object)


def read_batch(ntriples: bytes, vocab: Vocabulary, limit: int = MAX_SENTENCES) -> dict:
    """Read a batch's N-Triples into what its sentences need (plain data): the IRI subjects (the first ``limit``
    in sentence order) with their statements, the blank nodes they point at, its labels, its retractions and
    merges, and counts. Runs in a worker process; raises RdfSyntaxError."""
    retractions, merges = [], []
    if may_amend(ntriples):
        amendments = split_amendments(ntriples)
        ntriples = amendments.additions
        for r in amendments.retractions:
            retractions.append(
                {
                    "subject": r.subject[1:-1],
                    "predicate": r.predicate[1:-1],
                    "object": _parse_object(r.object),
                    "reason": r.reason,
                }
            )
        merges = [m.describe() for m in amendments.merges]
    quads = formats.read_quads(ntriples, NT, "batch", allow_control_chars=True)
    nodes: dict[Term, dict[str, list[Term]]] = {}
    for q in quads:
        nodes.setdefault(_term(q.subject), {}).setdefault(q.predicate.value, []).append(_term(q.object))
    subjects = []
    kinds: dict[str, int] = {}
    for node, props in nodes.items():
        if node[0] != "i":
            continue
        kind = vocab.kind([t[1] for t in props.get(_TYPE, []) if t[0] == "i"])
        group = vocab.group(kind) if kind else "existing"
        if kind:
            kinds[vocab.class_labels[kind]] = kinds.get(vocab.class_labels[kind], 0) + 1
        subjects.append((_GROUP_ORDER.index(group) if group in _GROUP_ORDER else len(_GROUP_ORDER), node[1], kind))
    subjects.sort()
    shown = subjects[:limit]
    children = {}
    for _, iri, _ in shown:
        for values in nodes[("i", iri)].values():
            for value in values:
                if value[0] == "b" and value in nodes:
                    children[value[1]] = nodes[value]
    read = {
        "triples": len(quads),
        "subjects": [{"iri": iri, "kind": kind, "props": nodes[("i", iri)]} for _, iri, kind in shown],
        "subject_count": len(subjects),
        "blank": children,
        "retractions": retractions,
        "merges": merges,
        "kinds": kinds,
    }
    # Labels and types of what the sentences name, as the batch gives them (only those: a large batch's would be
    # costly to send back); "types" also says which of them the batch describes.
    described = [("i", iri) for iri in _named(read) if ("i", iri) in nodes]
    read["labels"] = {n[1]: label for n in described if (label := _label_of(nodes[n]))}
    read["types"] = {n[1]: [t[1] for t in nodes[n].get(_TYPE, []) if t[0] == "i"] for n in described}
    return read


# ------------------------------------------------------------------------------------------ labels (one query)
async def _published(engine: Engine, iris: list[str]) -> dict[str, dict]:
    """For each IRI: whether the published graph describes it, its labels and its types there."""
    out: dict[str, dict] = {}
    predicates = " ".join(f"<{p}>" for p in (*_LABELS, _TYPE))
    as_iri = Param("iri", "iri", True)
    for start in range(0, len(iris), _CHUNK):
        # Each IRI as a checked, serialised term (catalog.Param), as saved queries bind them.
        values = " ".join(as_iri.to_term(i).n3() for i in iris[start : start + _CHUNK])
        rows = await engine.select(
            f"""SELECT ?x ?what ?value WHERE {{
                {{ VALUES ?x {{ {values} }} VALUES ?what {{ {predicates} }} ?x ?what ?value }}
                UNION {{ VALUES ?x {{ {values} }} FILTER EXISTS {{ ?x ?p ?o }} }} }}"""
        )
        for row in rows:
            entry = out.setdefault(str(row["x"]), {"published": False, "props": {}})
            if row.get("what") is None:
                entry["published"] = True
            else:
                value = row["value"]
                term = (
                    ("i", str(value))
                    if isinstance(value, rdflib.URIRef)
                    else ("l", str(value), None, getattr(value, "language", None))
                )
                entry["props"].setdefault(str(row["what"]), []).append(term)
    return out


# ------------------------------------------------------------------------------------------ sentences
def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(",;:.")
    return cut + "…"


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _and(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


class _Namer:
    """Labels, kinds and whereabouts of the IRIs a summary names: the batch's own first, then the published graph's."""

    def __init__(self, read: dict, published: dict[str, dict], vocab: Vocabulary) -> None:
        self.read, self.published, self.vocab = read, published, vocab

    def in_batch(self, iri: str) -> bool:
        return iri in self.read["types"]

    def kind(self, iri: str) -> str | None:
        types = set(self.read["types"].get(iri, []))
        types |= {t[1] for t in self.published.get(iri, {}).get("props", {}).get(_TYPE, []) if t[0] == "i"}
        return self.vocab.kind(types)

    def kind_label(self, iri: str) -> str | None:
        kind = self.kind(iri)
        if kind is None and iri.startswith(str(PGI)):
            return "Issue"  # a concept of the issue scheme (skos:Concept is no class of the ontology)
        return self.vocab.class_labels[kind] if kind else None

    def label(self, iri: str) -> str:
        label = self.read["labels"].get(iri) or _label_of(self.published.get(iri, {}).get("props", {}))
        return _short(label) if label else compact_iri(iri)

    def shown(self, iri: str) -> str:
        """The IRI's label, in quotes when it is a title (a position's summary, a source's headline …)."""
        label = self.label(iri)
        return f"“{label}”" if self.vocab.group(self.kind(iri)) in _QUOTED else label

    def link(self, relation: str, iri: str) -> dict:
        return {
            "relation": relation,
            "iri": iri,
            "label": self.label(iri),
            "kind": self.kind_label(iri),
            "published": self.published.get(iri, {}).get("published", False),
            "in_batch": self.in_batch(iri),
        }

    def value(self, term: Term) -> str:
        if term[0] == "i":
            return self.shown(term[1])
        if term[0] == "b":
            return "[…]"
        return _short(term[1], 60)

    def property(self, iri: str) -> str:
        return self.vocab.property_labels.get(iri) or compact_iri(iri).rsplit(":", 1)[-1]


def _relation(predicate: str) -> str:
    """A link's relation: the property's local name (heldBy, source, publisher …)."""
    return predicate.rsplit("#", 1)[-1].rsplit("/", 1)[-1]


def _links(props: dict[str, list[Term]], blank: dict[str, dict], namer: _Namer) -> list[dict]:
    """The IRIs a node points at (and its blank nodes do, one level down), vocabulary terms and identifiers aside."""
    pairs: list[tuple[str, str]] = []

    def add(predicate: str, values: list[Term]) -> None:
        for value in values:
            if value[0] == "i" and predicate not in _NOT_LINKS and not value[1].startswith(str(PG)):
                pairs.append((_relation(predicate), value[1]))

    first = [p for p in _POSITION_LINKS if p in props] + sorted(p for p in props if p not in _POSITION_LINKS)
    for predicate in first:
        add(predicate, props[predicate])
        for value in props[predicate]:
            if value[0] == "b" and value[1] in blank:
                for inner, values in sorted(blank[value[1]].items()):
                    add(inner, values)
    return [namer.link(relation, iri) for relation, iri in dict.fromkeys(pairs)]


def _iris(props: dict[str, list[Term]], predicate: str) -> list[str]:
    return [v[1] for v in props.get(str(predicate), []) if v[0] == "i"]


def _literals(props: dict[str, list[Term]], predicate: str) -> list[str]:
    return [v[1] for v in props.get(str(predicate), []) if v[0] == "l"]


def _names(props: dict, predicate, namer: _Namer) -> list[str]:
    """The shown labels of the IRIs ``props`` gives for ``predicate``."""
    return [namer.shown(i) for i in _iris(props, predicate)]


def _details(group: str, iri: str, props: dict, blank: dict, namer: _Namer) -> tuple[str, list[str]]:
    """What follows "adds a Kind" for a group: the words right after the kind, and the clauses after a comma."""

    def names(predicate) -> list[str]:
        return _names(props, predicate, namer)

    clauses: list[str] = []
    if group == "position":
        head = ""
        if names(PG.heldBy):
            head += f" by {_and(names(PG.heldBy))}"
        if names(PG.concerns):
            head += f" on {_and(names(PG.concerns))}"
        if _literals(props, PG.statedOn):
            clauses.append(f"stated {_and(_literals(props, PG.statedOn))}")
        if names(PG.supersedes):
            clauses.append(f"superseding {_and(names(PG.supersedes))}")
        if names(PG.respondsTo):
            clauses.append(f"responding to {_and(names(PG.respondsTo))}")
        if names(PG.source):
            clauses.append(f"citing {_and(names(PG.source))}")
        return head, clauses
    head = f" {namer.shown(iri)}"
    if group == "person":
        for role in (blank.get(v[1], {}) for v in props.get(str(PG.holdsRole), []) if v[0] == "b"):
            title = _literals(role, PG.roleTitle)
            parties = _names(role, PG.roleFor, namer)
            if title or parties:
                clauses.append(" ".join(filter(None, [_and(title), f"for {_and(parties)}" if parties else ""])))
    elif group == "source":
        published = _literals(props, SCHEMA.datePublished)
        if published:
            clauses.append(f"published {_and(published)}")
        if names(SCHEMA.publisher):
            clauses.append(f"by {_and(names(SCHEMA.publisher))}")
    elif group == "event":
        dates = _literals(props, PG.startDate) + _literals(props, PG.endDate)
        if dates:
            clauses.append("–".join(dates[:2]))
        if names(PG.participant):
            clauses.append(f"with {_and(names(PG.participant))}")
        if names(PG.place):
            clauses.append(f"at {_and(names(PG.place))}")
    elif group in ("party", "organisation"):
        if names(PG.partOf):
            clauses.append(f"part of {_and(names(PG.partOf))}")
    elif group == "place":
        if names(PG.within):
            clauses.append(f"within {_and(names(PG.within))}")
    elif group == "document" and names(PG.draftedBy):
        clauses.append(f"drafted by {_and(names(PG.draftedBy))}")
    return head, clauses


def _addition(subject: dict, blank: dict, namer: _Namer) -> dict:
    iri, props = subject["iri"], subject["props"]
    links = _links(props, blank, namer)
    if subject["kind"] is None:
        # Statements about something the batch does not type: most often published already (a date sharpened).
        kind = namer.kind_label(iri)
        what = f"the {kind} {namer.shown(iri)}" if kind else namer.label(iri)
        said = [
            f"{namer.property(p)} {_and([namer.value(v) for v in values])}"
            for p, values in sorted(props.items())
            if p != _TYPE
        ]
        text = f"adds to {what}: " + "; ".join(said[:5]) + ("; …" if len(said) > 5 else "")
        return {"action": "adds", "subject": iri, "kind": kind, "text": text, "links": links}
    kind = namer.vocab.class_labels[subject["kind"]]
    group = namer.vocab.group(subject["kind"])
    head, clauses = _details(group, iri, props, blank, namer)
    text = f"adds {_article(kind)} {kind}{head}" + "".join(f", {c}" for c in clauses)
    return {"action": "adds", "subject": iri, "kind": kind, "text": text, "links": links}


def _retraction(r: dict, namer: _Namer) -> dict:
    obj = r["object"]
    kind = namer.kind_label(r["subject"])
    what = f"the {kind} {namer.shown(r['subject'])}" if kind else namer.label(r["subject"])
    text = f"retracts from {what}: {namer.property(r['predicate'])} {namer.value(obj)}"
    if r.get("reason"):
        text += f" (why: {_short(r['reason'], 200)})"
    links = [namer.link("retractsSubject", r["subject"])]
    if obj[0] == "i" and not obj[1].startswith(str(PG)):
        links.append(namer.link("retractsObject", obj[1]))
    return {"action": "retracts", "subject": r["subject"], "kind": kind, "text": text, "links": links}


def _merge(m: dict, namer: _Namer) -> dict:
    source, target = m["mergedFrom"], m["mergedInto"]
    text = f"merges {namer.shown(source)} ({compact_iri(source)}) into {namer.shown(target)} ({compact_iri(target)})"
    if m.get("reason"):
        text += f" (why: {_short(m['reason'], 200)})"
    links = [namer.link("mergedFrom", source), namer.link("mergedInto", target)]
    return {"action": "merges", "subject": source, "kind": namer.kind_label(target), "text": text, "links": links}


def _named(read: dict) -> list[str]:
    """Every IRI the sentences may name: subjects, their objects and their blank nodes' objects, amendments'."""
    iris = set()
    for subject in read["subjects"]:
        iris.add(subject["iri"])
        for values in subject["props"].values():
            iris |= {v[1] for v in values if v[0] == "i"}
    for props in read["blank"].values():
        for values in props.values():
            iris |= {v[1] for v in values if v[0] == "i"}
    for r in read["retractions"]:
        iris.add(r["subject"])
        if r["object"][0] == "i":
            iris.add(r["object"][1])
    for m in read["merges"]:
        iris |= {m["mergedFrom"], m["mergedInto"]}
    return sorted(iris)


async def batch_summary(
    public: Engine,
    staging: Engine,
    ontology: rdflib.Graph,
    batch_id: str,
    *,
    pool: workers.WorkerPool | None = None,
    limit: int = MAX_SENTENCES,
) -> dict:
    """The batch in words: {"batch", "state", "sentences": [{"action": "adds"|"retracts"|"merges", "subject",
    "kind", "text", "links": [{"relation", "iri", "label", "kind", "published", "in_batch"}]}], "counts",
    "truncated"}; additions first (positions, then parties, people, organisations, sources, documents, events,
    places, then statements about what the batch does not type), then retractions and merges. At most ``limit``
    additions are put in words (``truncated`` says when more were left out; the counts cover them all).

    Raises NotFound, Conflict (a bulk-loaded batch keeps no copy of its triples), RdfSyntaxError, an engine or
    worker error."""
    batch = await get_batch(public, staging, batch_id)
    content = await batch_triples(public, staging, batch_id)
    vocab = vocabulary(ontology)
    read = await workers.run(pool, read_batch, content, vocab, limit)
    published = await _published(public, _named(read))
    namer = _Namer(read, published, vocab)
    sentences = [_addition(s, read["blank"], namer) for s in read["subjects"]]
    sentences += [_retraction(r, namer) for r in read["retractions"]]
    sentences += [_merge(m, namer) for m in read["merges"]]
    return {
        "batch": batch["id"],
        "state": batch["state"],
        "label": batch.get("label"),
        "sentences": sentences,
        "counts": {
            "triples": read["triples"],
            "adds": read["subject_count"],
            "retracts": len(read["retractions"]),
            "merges": len(read["merges"]),
            "kinds": read["kinds"],
        },
        "truncated": read["subject_count"] > len(read["subjects"]),
    }
