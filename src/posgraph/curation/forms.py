"""Entry forms for the curator workbench, read from the SHACL shapes and the ontology.

``form_spec`` turns the shapes the server validates with into a JSON description of one form per kind of thing a
curator creates (each kind of position, party, person, source, document, event, place) and one per kind of node
written inside another (report, term, quantity, condition, role ...). A change to the shapes is a change to the
forms: nothing here lists fields. The IRIs new resources get are minted in ``posgraph.curation.minting``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import rdflib
from rdflib.collection import Collection as RDFList
from rdflib.plugins.sparql import prepareQuery
from rdflib.term import Variable

from posgraph.curation.minting import iri_kind
from posgraph.linked_data.collection import COLLECTIONS
from posgraph.namespaces import OWL, PG, PGI, RDF, RDFS, SH, SHAPES_IRI, SKOS, XSD

__all__ = ["form_spec"]

# ------------------------------------------------------------------------------------------ what the forms are
# The roots of the top-level forms, with their menu group; subclasses the ontology gives them become forms too.
# ``True``: the root itself is a form (a party may be only a pg:Party); ``False``: only its subclasses are.
_ROOTS: tuple[tuple[rdflib.URIRef, str, bool], ...] = (
    (PG.Position, "Positions", False),
    (PG.Party, "Actors", True),
    (PG.GovernmentBody, "Actors", True),
    (PG.Person, "Actors", True),
    (PG.Source, "Sources", True),
    (PG.MediaOrganization, "Sources", True),
    (PG.Document, "Sources", True),
    (PG.Event, "Events", True),
    (PG.Place, "Places", True),
)
_DATES = (XSD.date, XSD.gYearMonth, XSD.gYear, XSD.dateTime)
_INTEGERS = (XSD.integer, XSD.nonNegativeInteger, XSD.positiveInteger, XSD.int, XSD.long)
_WIDGET_OF_DATATYPE = {
    XSD.decimal: "decimal",
    XSD.double: "decimal",
    XSD.boolean: "boolean",
    RDF.langString: "langString",
}
# Fields a form leaves out because another field's widget already says them: the date widget always types the date
# it writes (xsd:date, gYearMonth, gYear or dateTime: the precision select), and pg:datePrecision only restates that
# datatype; a second control could only disagree with it (pgsh:Position-precisionMatchesDate). Dropped where the
# form has that date field; the shapes still check pasted data that carries it.
_IMPLIED_BY_DATE = {PG.datePrecision: PG.statedOn}
# Fields of shapes without sh:order come after every ordered one, in the shapes' own order; unconstrained
# ("advanced") fields after those.
_UNORDERED, _ADVANCED = 1000, 2000


def _local(iri: rdflib.term.Node) -> str:
    text = str(iri)
    return re.split(r"[#/]", text)[-1] or text


def _text(graph: rdflib.Graph, node: rdflib.term.Node, *predicates: rdflib.URIRef) -> str | None:
    """The English (else untagged, else any) value of the first of ``predicates`` that ``node`` has."""
    for predicate in predicates:
        values = [v for v in graph.objects(node, predicate) if isinstance(v, rdflib.Literal)]
        for wanted in ("en", None):
            for value in values:
                if value.language == wanted:
                    return str(value)
        if values:
            return str(values[0])
    return None


def _number(graph: rdflib.Graph, node: rdflib.term.Node, predicate: rdflib.URIRef) -> float | int | None:
    value = graph.value(node, predicate)
    return value.toPython() if isinstance(value, rdflib.Literal) else None


# ------------------------------------------------------------------------------------------ merged property shapes
@dataclass
class _Field:
    """What every property shape on one path says, for one class (merged: strictest counts, Violation first)."""

    path: rdflib.URIRef
    shapes: list[rdflib.term.Node] = field(default_factory=list)
    min: int = 0
    min_by: list[rdflib.term.Node] = field(default_factory=list)  # the shapes that ask for ``min``
    max: int | None = None
    alternative: dict | None = None  # from an sh:alternativePath shape: one of these paths is needed
    order_hint: float | None = None  # for a path known only from an alternative
    group_hint: rdflib.term.Node | None = None


class _Reader:
    """Reads the shapes and ontology graphs once: classes, their node shapes and their merged fields."""

    def __init__(self, shapes: rdflib.Graph, ontology: rdflib.Graph) -> None:
        self.shapes, self.ontology = shapes, ontology
        self.collection_of = {rdflib.URIRef(c.cls): c.name for c in COLLECTIONS.values()}
        # Paths whose values must be nodes that already exist elsewhere (a term of the answered position, a report of
        # the same position): a SPARQL constraint checks the subjects of the path. Such a value is picked, not made;
        # where the constraint's query says from where (see ``_refers``), the path maps to that, else to None.
        self.references: dict[rdflib.URIRef, dict | None] = {}
        for shape in shapes.subjects(SH.sparql, None):
            refers = next(filter(None, (self._refers(c) for c in shapes.objects(shape, SH.sparql))), None)
            for p in shapes.objects(shape, SH.targetSubjectsOf):
                if isinstance(p, rdflib.URIRef):
                    self.references[p] = self.references.get(p) or refers
        # Paths whose values are concepts of the issue scheme (sh:targetObjectsOf + skos:inScheme sh:hasValue).
        self.issue_paths = set()
        for shape in shapes.subjects(SH.targetObjectsOf, None):
            for prop in shapes.objects(shape, SH.property):
                if shapes.value(prop, SH.path) == SKOS.inScheme and shapes.value(prop, SH.hasValue) == PGI.scheme:
                    self.issue_paths |= set(shapes.objects(shape, SH.targetObjectsOf))
        self.nested: dict[str, dict] = {}
        self.owner_of: dict[rdflib.term.Node, rdflib.term.Node] = {}  # property shape -> its node shape

    def _refers(self, constraint: rdflib.term.Node) -> dict | None:
        """Where the values of a SPARQL-constrained path come from, read from the constraint's own query: a pattern
        ``?owner <through> ?value`` (the value must be a ``through`` of some owner) tied to ``$this`` either by
        ``$this <via> ?owner`` (the owner is what this node's ``via`` field picks: "<noun>-of-answered", as
        pgsh:Answer-termsOfAnswered says of pg:respondsTo … pg:hasTerm) or by ``?owner <path> $this`` (the owner is
        what this node belongs to: "<noun>-of-this", as pgsh:AccordingTo-ownReport says of pg:report). The noun is
        the local name of ``through``'s range. None when the query says neither (or does not parse here)."""
        text = self.shapes.value(constraint, SH.select)
        if text is None:
            return None
        prefixes = {
            str(self.shapes.value(d, SH.prefix)): str(self.shapes.value(d, SH.namespace))
            for holder in self.shapes.objects(constraint, SH.prefixes)
            for d in self.shapes.objects(holder, SH.declare)
        }
        try:
            algebra = prepareQuery(str(text), initNs=prefixes).algebra
        except Exception:  # noqa: BLE001 (pyparsing's and rdflib's errors alike): a query rdflib cannot read
            return None
        triples: list[tuple] = []

        def collect(node: object) -> None:
            if isinstance(node, dict):  # rdflib's algebra nodes (CompValue) are dicts; patterns sit under "triples"
                for key, value in node.items():
                    if key == "triples" and isinstance(value, list):
                        triples.extend(tuple(t) for t in value if len(t) == 3)
                    else:
                        collect(value)
            elif isinstance(node, (list, tuple)):
                for item in node:
                    collect(item)

        collect(algebra)
        this, value = Variable("this"), Variable("value")
        for owner, through, target in triples:
            if target != value or not isinstance(through, rdflib.URIRef) or not isinstance(owner, Variable):
                continue
            if owner == this:
                continue
            rng = self.ontology.value(through, RDFS.range)
            noun = _local(rng if isinstance(rng, rdflib.URIRef) else through).lower()
            for s, p, o in triples:
                if s == this and o == owner and isinstance(p, rdflib.URIRef):
                    return {"refers": f"{noun}-of-answered", "via": str(p), "through": str(through)}
            if any(s == owner and o == this for s, _, o in triples):
                return {"refers": f"{noun}-of-this", "through": str(through)}
        return None

    # -------------------------------------------------------------------------------- class hierarchy
    def superclasses(self, cls: rdflib.URIRef) -> list[rdflib.URIRef]:
        """``cls`` and its superclasses, the most general first (so a subclass's shapes merge in last)."""
        seen, queue = [cls], [cls]
        while queue:
            for parent in self.ontology.objects(queue.pop(0), RDFS.subClassOf):
                if isinstance(parent, rdflib.URIRef) and parent not in seen:
                    seen.append(parent)
                    queue.append(parent)
        return list(reversed(seen))

    def subclasses(self, cls: rdflib.URIRef) -> list[rdflib.URIRef]:
        """The (transitive) subclasses of ``cls`` in the ontology, in label order."""
        found, queue = set(), [cls]
        while queue:
            for child in self.ontology.subjects(RDFS.subClassOf, queue.pop(0)):
                if isinstance(child, rdflib.URIRef) and child not in found:
                    found.add(child)
                    queue.append(child)
        return sorted(found, key=lambda c: (_text(self.ontology, c, RDFS.label) or _local(c)).lower())

    def collection(self, cls: rdflib.URIRef) -> str | None:
        """The collection that lists instances of ``cls`` (through a superclass), or None."""
        for parent in reversed(self.superclasses(cls)):
            if parent in self.collection_of:
                return self.collection_of[parent]
        return None

    # -------------------------------------------------------------------------------- fields
    def fields(self, cls: rdflib.URIRef) -> tuple[dict[rdflib.URIRef, _Field], set[rdflib.URIRef]]:
        """The merged fields of every node shape that targets ``cls`` or a superclass, by path; and the paths
        that a shape closes (sh:maxCount 0: moved elsewhere, never entered here)."""
        merged: dict[rdflib.URIRef, _Field] = {}
        excluded: set[rdflib.URIRef] = set()
        lineage = self.superclasses(cls)
        node_shapes = [s for target in lineage for s in sorted(self.shapes.subjects(SH.targetClass, target))]
        for node_shape in node_shapes:
            for prop in sorted(self.shapes.objects(node_shape, SH.property)):
                self._merge(merged, excluded, prop, node_shape)
        for node_shape in node_shapes:
            self._node_alternatives(merged, node_shape, lineage)
        for path in excluded:
            merged.pop(path, None)
        return merged, excluded

    def _merge(self, merged: dict, excluded: set, prop: rdflib.term.Node, owner: rdflib.term.Node) -> None:
        path = self.shapes.value(prop, SH.path)
        alternatives = self.shapes.value(path, SH.alternativePath) if path is not None else None
        if alternatives is not None:
            paths = [p for p in RDFList(self.shapes, alternatives) if isinstance(p, rdflib.URIRef)]
            note = {
                "paths": [str(p) for p in paths],
                "min": int(_number(self.shapes, prop, SH.minCount) or 0),
                "severity": self._severity(prop, owner),
                "message": _text(self.shapes, prop, SH.message),
            }
            for p in paths:
                entry = merged.setdefault(p, _Field(p))
                entry.alternative = entry.alternative or note
                entry.order_hint = entry.order_hint if entry.order_hint is not None else self._order(prop)
                entry.group_hint = entry.group_hint or self.shapes.value(prop, SH.group)
            return
        if not isinstance(path, rdflib.URIRef):
            return
        if _number(self.shapes, prop, SH.maxCount) == 0:
            excluded.add(path)
            return
        entry = merged.setdefault(path, _Field(path))
        entry.shapes.append(prop)
        low, high = _number(self.shapes, prop, SH.minCount), _number(self.shapes, prop, SH.maxCount)
        if low is not None and low > entry.min:
            entry.min, entry.min_by = int(low), [prop]
        elif low is not None and low == entry.min and low > 0:
            entry.min_by.append(prop)
        if high is not None and (entry.max is None or high < entry.max):
            entry.max = int(high)
        self.owner_of[prop] = owner

    def _node_alternatives(self, merged: dict, node_shape: rdflib.term.Node, lineage: list) -> None:
        """A node-level sh:or whose class branch this class does not meet leaves its other branch's counts in force
        (a source that is not a document version needs a publisher and a date)."""
        for holder in self.shapes.objects(node_shape, SH["or"]):
            branches = list(RDFList(self.shapes, holder))
            if any(self.shapes.value(b, SH["class"]) in lineage for b in branches):
                continue
            rest = [b for b in branches if self.shapes.value(b, SH["class"]) is None]
            if len(rest) != 1:
                continue
            parts = [rest[0], *(p for h in self.shapes.objects(rest[0], SH["and"]) for p in RDFList(self.shapes, h))]
            for part in parts:
                path, low = self.shapes.value(part, SH.path), _number(self.shapes, part, SH.minCount)
                if isinstance(path, rdflib.URIRef) and low and path in merged and low > merged[path].min:
                    merged[path].min, merged[path].min_by = int(low), [node_shape]

    def _severity(self, shape: rdflib.term.Node, owner: rdflib.term.Node | None = None) -> str:
        value = self.shapes.value(shape, SH.severity) or (owner and self.shapes.value(owner, SH.severity))
        return _local(value) if value is not None else "Violation"

    def _order(self, shape: rdflib.term.Node) -> float | None:
        return _number(self.shapes, shape, SH.order)

    def _first(self, shapes: Iterable[rdflib.term.Node], predicate: rdflib.URIRef) -> rdflib.term.Node | None:
        for shape in shapes:
            value = self.shapes.value(shape, predicate)
            if value is not None:
                return value
        return None

    def _constraint(self, entry: _Field, predicate: rdflib.URIRef) -> rdflib.term.Node | None:
        return self._first(entry.shapes, predicate)

    # -------------------------------------------------------------------------------- widgets
    def widget(self, entry: _Field) -> dict:
        """How the field is entered: widget and its parameters, from the constraints, else the ontology's range."""
        if (choices := self._constraint(entry, SH["in"])) is not None:
            return {"widget": "choice", "choices": [self._choice(v) for v in RDFList(self.shapes, choices)]}
        if (alternatives := self._constraint(entry, SH["or"])) is not None:
            members = list(RDFList(self.shapes, alternatives))
            datatypes = [d for m in members if (d := self.shapes.value(m, SH.datatype)) is not None]
            classes = [c for m in members if isinstance(c := self.shapes.value(m, SH["class"]), rdflib.URIRef)]
            if datatypes:
                return self._datatypes(datatypes)
            if classes:
                return self._classes(entry.path, classes)
        if isinstance(cls := self._constraint(entry, SH["class"]), rdflib.URIRef):
            return self._classes(entry.path, [cls])
        if (datatype := self._constraint(entry, SH.datatype)) is not None:
            return self._datatypes([datatype])
        if entry.path in self.issue_paths:
            return {"widget": "entity", "collection": "issues", "classes": [str(SKOS.Concept)]}
        if self._constraint(entry, SH.uniqueLang) is not None or self._constraint(entry, SH.qualifiedValueShape):
            return {"widget": "langString"}
        if self._constraint(entry, SH.nodeKind) == SH.IRI:
            return {"widget": "iri"}
        if self._constraint(entry, SH.pattern) is not None:  # a code or a tag, not prose: plain text
            typed = self._from_ontology(entry.path)
            return typed if typed.get("datatypes") else {"widget": "text"}
        return self._from_ontology(entry.path)

    def _from_ontology(self, path: rdflib.URIRef) -> dict:
        rng = self.ontology.value(path, RDFS.range)
        if isinstance(rng, rdflib.URIRef) and str(rng).startswith(str(XSD)):
            return self._datatypes([rng])
        if isinstance(rng, rdflib.URIRef) and rng != SKOS.Concept and (rng, RDF.type, OWL.Class) in self.ontology:
            return self._classes(path, [rng])
        kinds = set(self.ontology.objects(path, RDF.type))
        if kinds & {OWL.DatatypeProperty, OWL.AnnotationProperty}:
            return {"widget": "langString"}  # posgraph's free-text properties are written language-tagged
        return {"widget": "iri"}

    def _datatypes(self, datatypes: list[rdflib.term.Node]) -> dict:
        chosen = [str(d) for d in datatypes]
        if all(d in _DATES for d in datatypes):
            return {"widget": "date", "datatypes": [str(d) for d in _DATES if str(d) in chosen]}
        if all(d in _INTEGERS or d == XSD.decimal for d in datatypes):
            kind = "decimal" if XSD.decimal in datatypes else "integer"
            return {"widget": kind, "datatypes": chosen}
        if len(datatypes) == 1 and datatypes[0] in _WIDGET_OF_DATATYPE:
            widget = _WIDGET_OF_DATATYPE[datatypes[0]]
            return (
                {"widget": widget} if widget in ("boolean", "langString") else {"widget": widget, "datatypes": chosen}
            )
        return {"widget": "text", "datatypes": chosen}

    def _classes(self, path: rdflib.URIRef, classes: list[rdflib.URIRef]) -> dict:
        iris = [str(c) for c in classes]
        collections = [c for c in (self.collection(cls) for cls in classes) if c]
        if collections:
            return {"widget": "entity", "collection": collections[0], "classes": iris}
        if path in self.references:
            refers = self.references[path]
            return {"widget": "ref", "classes": iris, **refers} if refers else {"widget": "iri", "classes": iris}
        if any(self._is_top_level(c) for c in classes):  # a media organisation, a ministry: listed nowhere yet
            return {"widget": "entity", "collection": None, "classes": iris}
        if len(classes) == 1 and any(self.shapes.subjects(SH.targetClass, classes[0])):
            return {"widget": "nested", "nested": self.nested_form(classes[0])}
        return {"widget": "iri", "classes": iris}

    def _is_top_level(self, cls: rdflib.URIRef) -> bool:
        lineage = self.superclasses(cls)
        return any(root in lineage for root, _, _ in _ROOTS)

    def _choice(self, value: rdflib.term.Node) -> dict:
        if not isinstance(value, rdflib.URIRef):  # sh:in of literals
            return {"value": str(value), "label": str(value), "literal": True}
        choice = {
            "value": str(value),
            "label": _text(self.ontology, value, SKOS.prefLabel, RDFS.label) or _local(value),
        }
        if definition := _text(self.ontology, value, SKOS.definition):
            choice["description"] = definition
        return choice

    # -------------------------------------------------------------------------------- forms
    def nested_form(self, cls: rdflib.URIRef) -> str:
        """The id of the nested form of ``cls``, built (with its subtypes) the first time it is asked for."""
        key = _local(cls)
        if key not in self.nested:
            self.nested[key] = {}  # placeholder: a node may nest its own kind (a condition's condition)
            form = self.form(cls, None)
            subtypes = [self.form(sub, None) for sub in self.subclasses(cls)]
            if subtypes:
                form["subtypes"] = subtypes
            self.nested[key] = form
        return key

    def form(self, cls: rdflib.URIRef, group: str | None) -> dict:
        """The form of one class: its fields from the shapes, then the ontology's unconstrained ones."""
        merged, excluded = self.fields(cls)
        fields = [self._field(entry, i) for i, entry in enumerate(merged.values())]
        unconstrained = {
            p
            for domain in self.superclasses(cls)
            for p in self.ontology.subjects(RDFS.domain, domain)
            if isinstance(p, rdflib.URIRef) and p not in merged
        }
        for i, path in enumerate(sorted(unconstrained - excluded)):
            fields.append(self._field(_Field(path), _ADVANCED + i, advanced=True))
        dates = {f["path"] for f in fields if f["widget"] == "date"}
        fields = [f for f in fields if str(_IMPLIED_BY_DATE.get(rdflib.URIRef(f["path"]), "")) not in dates]
        fields.sort(key=lambda f: (f["order"], f["name"].lower()))
        groups = {}
        for f in fields:
            if f["group"] and f["group"] not in groups:
                groups[f["group"]] = f.pop("_group_order")
            f.pop("_group_order", None)
        node_shape = next(iter(self.shapes.subjects(SH.targetClass, cls)), None)
        form = {
            "id": _local(cls),
            "class": str(cls),
            "label": _text(self.ontology, cls, RDFS.label) or _local(cls),
            "group": group,
            "description": _text(self.ontology, cls, RDFS.comment, SKOS.definition),
            "collection": self.collection(cls),
            "kind": iri_kind(_local(cls), self.superclasses(cls)),
            "groups": [{"label": label, "order": order} for label, order in sorted(groups.items(), key=lambda g: g[1])],
            "fields": fields,
        }
        pattern = node_shape is not None and self.shapes.value(node_shape, SH.pattern)
        if pattern:  # a place is named by its Wikidata IRI, not minted
            form["iri_pattern"] = str(pattern)
            form["kind"] = None
        return form

    def _field(self, entry: _Field, index: int, advanced: bool = False) -> dict:
        shapes = entry.shapes
        ask = entry.min_by or shapes  # the message and severity that go with the strictest count
        label = _text(self.ontology, entry.path, RDFS.label) or _local(entry.path)
        order = self._first(shapes, SH.order)
        order = order.toPython() if isinstance(order, rdflib.Literal) else entry.order_hint
        group = self._first(shapes, SH.group) or entry.group_hint
        severities = {self._severity(s, self.owner_of.get(s)) for s in ask} if ask else set()
        if entry.min == 0 and entry.alternative:
            severities = {entry.alternative["severity"]}
        name = self._first(shapes, SH.name)
        description = self._first(ask, SH.description) or self._first(shapes, SH.description)
        message = self._first(ask, SH.message) or self._first(shapes, SH.message)
        result = {
            "path": str(entry.path),
            "name": str(name) if name is not None else label[:1].upper() + label[1:],
            "description": str(description) if description is not None else None,
            "message": str(message) if message is not None else None,
            "order": order if order is not None else (_UNORDERED + index if not advanced else index),
            "group": _text(self.shapes, group, RDFS.label) if group is not None else None,
            "_group_order": _number(self.shapes, group, SH.order) if group is not None else None,
            "min": entry.min,
            "max": entry.max,
            "severity": "Violation" if "Violation" in severities or not severities else sorted(severities)[0],
            "advanced": advanced,
        }
        if definition := _text(self.ontology, entry.path, SKOS.definition, RDFS.comment):
            result["definition"] = definition
        if entry.alternative:
            result["alternative"] = entry.alternative
        result.update(self.widget(entry))
        if (pattern := self._first(shapes, SH.pattern)) is not None and result["widget"] in ("iri", "text"):
            result["pattern"] = str(pattern)
        if self._first(shapes, SH.uniqueLang) is not None:
            result["uniqueLang"] = True
        return result


def form_spec(shapes: rdflib.Graph, ontology: rdflib.Graph) -> dict:
    """Describe the workbench's entry forms, read from ``shapes`` and ``ontology`` (the Validator's two graphs).

    Returns a JSON-ready dict: ``{"version": <the shapes' owl:versionInfo>, "forms": [Form, ...], "nested":
    {id: Form}}``. A class's fields are the property shapes of every node shape targeting it or a superclass,
    merged per path (the strictest counts; the severity of the shape that asks for them, Violation first); the
    paths of an sh:alternativePath shape are fields that carry that shape as their ``alternative``; a shape with
    sh:maxCount 0 hides its path. Properties the ontology gives the class (rdfs:domain) that no shape constrains
    follow as ``advanced`` fields. A path whose values a SHACL-SPARQL constraint ties to nodes that exist elsewhere
    is a ``"ref"`` field: ``refers`` ("term-of-answered": the ``through`` values of what the ``via`` field picks;
    "report-of-this": the ``through`` values of the position the node belongs to), read from the constraint's
    query. pg:datePrecision is left out where the form has pg:statedOn (the date widget's datatype says it).
    Fields are sorted by sh:order; each names its sh:group's label. Raises nothing
    for well-formed graphs (a class without shapes just has no constrained fields).
    """
    reader = _Reader(shapes, ontology)
    forms = []
    for root, group, with_root in _ROOTS:
        if (root, RDF.type, OWL.Class) not in ontology:
            continue
        classes = ([root] if with_root else []) + reader.subclasses(root)
        forms += [reader.form(cls, group) for cls in classes if not any(f["class"] == str(cls) for f in forms)]
    version = shapes.value(rdflib.URIRef(SHAPES_IRI), OWL.versionInfo)
    return {"version": str(version) if version is not None else "unversioned", "forms": forms, "nested": reader.nested}
