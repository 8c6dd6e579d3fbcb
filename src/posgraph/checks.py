"""Consistency checks across the ontology, the shapes, the saved queries and the example data (``posgraph check``).

Each check returns human-readable problems; an empty list means consistent.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import rdflib
from rdflib.collection import Collection
from rdflib.namespace import OWL, RDF, RDFS, SH, SKOS

from posgraph import formats
from posgraph.catalog import PAGE_PARAMS, Catalog
from posgraph.config import PROJECT_FILES
from posgraph.errors import PosgraphError
from posgraph.namespaces import PG, PROPERTY_TYPES
from posgraph.validation import Validator

__all__ = [
    "check_ontology",
    "check_shapes",
    "check_context",
    "check_queries",
    "check_examples",
    "expected_results",
    "check_all",
    "tripped_shapes",
    "shapes_that_must_be_tripped",
]

_TRIPS = re.compile(r"^#\s*trips:\s*(\S+)\s+(.+?)\s*$")


def _local(term: rdflib.term.Node) -> str:
    return str(term).replace(str(PG), "pg:")


def check_ontology(ontology: rdflib.Graph) -> list[str]:
    """Every pg: class and property has a label and a definition; every concept a label, definition and scheme."""
    problems = []
    declared = set(ontology.subjects(RDF.type, OWL.Class))
    for kind in PROPERTY_TYPES:
        declared |= set(ontology.subjects(RDF.type, kind))
    for term in sorted(t for t in declared if str(t).startswith(str(PG))):
        if ontology.value(term, RDFS.label) is None:
            problems.append(f"ontology: {_local(term)} has no rdfs:label")
        if ontology.value(term, SKOS.definition) is None:
            problems.append(f"ontology: {_local(term)} has no skos:definition")
    for concept in sorted(ontology.subjects(RDF.type, SKOS.Concept)):
        for prop in (SKOS.prefLabel, SKOS.definition, SKOS.inScheme):
            if ontology.value(concept, prop) is None:
                problems.append(f"vocabulary: {_local(concept)} has no {prop.n3(ontology.namespace_manager)}")
    return problems


def _paths(shapes: rdflib.Graph, path: rdflib.term.Node) -> Iterable[rdflib.term.Node]:
    if isinstance(path, rdflib.URIRef):
        yield path
        return
    for key in (SH.alternativePath, SH.inversePath, SH.zeroOrMorePath, SH.oneOrMorePath, SH.zeroOrOnePath):
        inner = shapes.value(path, key)
        if inner is not None:
            members = Collection(shapes, inner) if key == SH.alternativePath else [inner]
            for member in members:
                yield from _paths(shapes, member)
            return
    if shapes.value(path, RDF.first) is not None:  # a sequence path
        for member in Collection(shapes, path):
            yield from _paths(shapes, member)


def _named_shapes(shapes: rdflib.Graph) -> set[rdflib.term.Node]:
    return set(shapes.subjects(RDF.type, SH.NodeShape)) | set(shapes.subjects(RDF.type, SH.PropertyShape))


def check_shapes(shapes: rdflib.Graph, ontology: rdflib.Graph) -> list[str]:
    """Every class has a shape, every sh:path exists in the ontology, every shape is named with severity and message."""
    problems = []
    targeted = set(shapes.objects(None, SH.targetClass))
    for cls in sorted(c for c in ontology.subjects(RDF.type, OWL.Class) if str(c).startswith(str(PG))):
        if cls not in targeted:
            problems.append(f"shapes: class {_local(cls)} has no node shape (sh:targetClass)")
    declared = set()
    for kind in PROPERTY_TYPES:
        declared |= set(ontology.subjects(RDF.type, kind))
    for shape, path in shapes.subject_objects(SH.path):
        for prop in _paths(shapes, path):
            if prop not in declared and prop != RDF.type:
                problems.append(
                    f"shapes: {shape.n3(shapes.namespace_manager)} constrains {prop}, "
                    "which the ontology does not declare"
                )
    for shape in sorted(_named_shapes(shapes)):
        name = shape.n3(shapes.namespace_manager)
        if isinstance(shape, rdflib.BNode):
            problems.append(f"shapes: a shape has no IRI: {list(shapes.predicate_objects(shape))[:3]}")
            continue
        if shapes.value(shape, SH.severity) is None:
            problems.append(f"shapes: {name} has no explicit sh:severity")
        if shapes.value(shape, SH.message) is None:
            problems.append(f"shapes: {name} has no sh:message")
    for name in sorted(shapes_that_must_be_tripped(shapes)):
        shape = shapes.namespace_manager.expand_curie(name) if ":" in name and not name.startswith("<") else None
        if shape is not None and shapes.value(shape, SH.description) is None:
            problems.append(f"shapes: {name} has no sh:description (the fix hint curators see)")
    for owner, member in shapes.subject_objects(SH.property):
        if isinstance(member, rdflib.BNode):
            problems.append(f"shapes: {owner.n3(shapes.namespace_manager)} has an unnamed property shape")
    known = set(ontology.subjects(RDF.type, SKOS.Concept))
    for holder in shapes.objects(None, SH["in"]):
        for value in Collection(shapes, holder):
            if isinstance(value, rdflib.URIRef) and value not in known:
                problems.append(f"shapes: sh:in lists {_local(value)}, which no vocabulary defines")
    return problems


def check_context(ontology: rdflib.Graph, context: dict) -> list[str]:
    """The published JSON-LD context names every pg: class and property of the ontology."""
    terms = context.get("@context", {})
    mapped = set()
    for value in terms.values():
        iri = value.get("@id") if isinstance(value, dict) else value
        if isinstance(iri, str) and iri.startswith("pg:"):
            mapped.add(str(PG) + iri[3:])
    declared = set(ontology.subjects(RDF.type, OWL.Class))
    for kind in PROPERTY_TYPES:
        declared |= set(ontology.subjects(RDF.type, kind))
    return [
        f"context: no term for {_local(term)}"
        for term in sorted(declared)
        if str(term).startswith(str(PG)) and str(term) not in mapped
    ]


def check_queries(catalog: Catalog) -> list[str]:
    """Every saved query has an example (if it takes parameters) whose bound text parses as its declared kind."""
    from rdflib.plugins.sparql import prepareQuery

    problems = []
    for saved in catalog:
        # Paging parameters (limit, offset, cursor) are optional and the same for every query: no example needed.
        declared = [p for p in saved.params if not (saved.paging is not None and p.name in PAGE_PARAMS)]
        if declared and not saved.examples:
            problems.append(f"queries: {saved.name} takes parameters but has no '#+ example:'")
        for example in saved.examples or ({},):
            try:
                parsed = prepareQuery(saved.bind(example))
            except PosgraphError as exc:
                problems.append(f"queries: {saved.name} example {example}: {exc.message}")
                continue
            except Exception as exc:  # rdflib's parser raises pyparsing errors
                problems.append(f"queries: {saved.name} does not parse: {exc}")
                continue
            form = parsed.algebra.name.replace("Query", "").lower()
            if form != saved.kind:
                problems.append(f"queries: {saved.name} is declared '{saved.kind}' but is a {form} query")
    return problems


def expected_results(path: Path) -> set[tuple[str, str]]:
    """Return the (shape, focus node) pairs an example file's ``# trips:`` header lines declare."""
    found = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _TRIPS.match(line)
        if match:
            found.add((match.group(1), match.group(2)))
    return found


@dataclass(frozen=True)
class ExampleOutcome:
    """What validating one example file gave, against what its header declared."""

    path: Path
    conforms: bool
    expected: set[tuple[str, str]]
    actual: set[tuple[str, str]]


def run_example(validator: Validator, path: Path) -> ExampleOutcome:
    """Validate one example file and return its outcome."""
    quads = formats.read_quads(path.read_bytes(), formats.format_for_path(path), path.name)
    report = validator.validate(formats.to_rdflib_graph(quads))
    actual = {(r.shape, r.focus_node) for r in report.results}
    return ExampleOutcome(path, report.conforms, expected_results(path), actual)


_TARGETS = (SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf, SH.target)


def shapes_that_must_be_tripped(shapes: rdflib.Graph) -> set[str]:
    """Shapes that report results under their own name: property shapes, node shapes with SPARQL constraints, and
    node shapes that posgraph's validation runs itself (no target and used by no other shape; see
    shapes/posgraph-rules.ttl)."""
    names = set()
    for shape in _named_shapes(shapes):
        is_property = (shape, RDF.type, SH.PropertyShape) in shapes
        run_by_posgraph = not any(shapes.value(shape, t) is not None for t in _TARGETS) and not any(
            shapes.subjects(None, shape)
        )
        if is_property or shapes.value(shape, SH.sparql) is not None or run_by_posgraph:
            names.add(shape.n3(shapes.namespace_manager))
    return names


def tripped_shapes(outcomes: Iterable[ExampleOutcome]) -> set[str]:
    """The shapes that at least one example's validation reported."""
    return {shape for outcome in outcomes for shape, _ in outcome.actual}


def check_examples(validator: Validator, examples_dir: Path) -> list[str]:
    """Valid examples conform; invalid ones trip exactly what they declare; every shape is tripped at least once."""
    problems, outcomes = [], []
    for kind in ("valid", "invalid"):
        for path in sorted((examples_dir / kind).glob("*")):
            try:
                formats.format_for_path(path)
            except PosgraphError:
                continue
            outcome = run_example(validator, path)
            outcomes.append(outcome)
            if kind == "valid" and not outcome.conforms:
                problems.append(f"examples: {path.name} should conform but does not")
            if kind == "invalid" and outcome.conforms:
                problems.append(f"examples: {path.name} should not conform but does")
            if kind == "invalid" and not outcome.expected:
                problems.append(f"examples: {path.name} declares no '# trips:' lines")
            for missing in sorted(outcome.expected - outcome.actual):
                problems.append(f"examples: {path.name} should trip {missing[0]} on {missing[1]} but does not")
            for extra in sorted(outcome.actual - outcome.expected):
                problems.append(f"examples: {path.name} trips {extra[0]} on {extra[1]}, which it does not declare")
    for shape in sorted(shapes_that_must_be_tripped(validator.shapes) - tripped_shapes(outcomes)):
        problems.append(f"examples: no invalid example trips {shape}")
    return problems


def check_all(validator: Validator, catalog: Catalog, examples_dir: Path | None) -> list[str]:
    """Run every check and return all problems found."""
    problems = check_ontology(validator.ontology) + check_shapes(validator.shapes, validator.ontology)
    problems += check_context(validator.ontology, json.loads(PROJECT_FILES.context_file.read_text(encoding="utf-8")))
    problems += check_queries(catalog)
    if examples_dir is not None and examples_dir.is_dir():
        problems += check_examples(validator, examples_dir)
    return problems
