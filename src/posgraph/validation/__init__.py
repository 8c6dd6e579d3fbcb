"""SHACL validation with pyshacl against posgraph's own shapes, and reports a curator can act on.

Only server-owned shapes are used; pyshacl's JS and owl:imports are off. The ontology and vocabularies are
merged into the data graph so subclass targets and scheme membership resolve. The consistency rules that must look
at every triple of a batch (unknown posgraph terms, date lexical forms, future dates, dangling references, language
tag against script) run here in Python rather than in pyshacl, where each would cost a SPARQL scan of the batch
and the ontology; their results join pyshacl's in the same report graph, under the shapes named in
shapes/posgraph-rules.ttl.
"""

from __future__ import annotations

import datetime
import difflib
import html
import json
import logging
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable

import pyshacl
import rdflib
from rdflib.namespace import OWL, RDF, RDFS, SH

from posgraph.namespaces import PG, PGI, PREFIXES, PROPERTY_TYPES, SKOS, WD, compact_iri
from posgraph.validation.rules import (
    DATE_FORMS,
    FUTURE_ALLOWED,
    TRUE,
    YEARS_AHEAD,
    add_results,
    did_you_mean,
    first_day,
    is_posgraph_term,
    script_misfits,
    show_term,
)

# rdflib logs a traceback for every ill-typed literal it parses ("day is out of range for month"); the Date-lexical
# rule reports such a date to the curator, by node and property, so the traceback is only noise.
logging.getLogger("rdflib.term").setLevel(logging.ERROR)

__all__ = ["REPORT_JSON", "ValidationResult", "ValidationReport", "Validator"]

REPORT_JSON = "application/json"  # posgraph's flat report (``ValidationReport.to_dict``), as ``render`` names it

# An IRI in a message, bare or already in <...> (the rules' own messages show an uncompactable IRI so): group 1 is
# the bracketed one, whose brackets are dropped before compacting so that compact_iri's own <...> is not doubled.
_IRI_IN_TEXT = re.compile(r"<(https?://[^\s<>\"]+)>|https?://[^\s,;()<>\"']+")
_SEVERITY_NAMES = {SH.Violation: "Violation", SH.Warning: "Warning", SH.Info: "Info"}
# Results whose undescribed value is the finding itself, not a reference the published data might resolve: an
# unknown posgraph term (the ontology is complete offline too) and a Wikidata item shared by two parties.
_ABSENCE_IS_THE_FINDING = {
    "pgsh:Vocabulary-knownProperty",
    "pgsh:Vocabulary-knownTerm",
    "pgsh:Identity-oneIriPerWikidataItem",
}


def _split_posgraph(term: rdflib.URIRef) -> tuple[str, str]:
    """(namespace, local name) of a posgraph term (``is_posgraph_term``): pg: or pgi:."""
    namespace = str(PG) if str(term).startswith(str(PG)) else str(PGI)
    return namespace, str(term)[len(namespace) :]


@dataclass(frozen=True)
class ValidationResult:
    """One SHACL result, flattened: IRIs are compacted with posgraph's prefixes, blank nodes shown as ``_:id``.

    ``focus_node`` is for people (a blank node named by what points at it: ``[pg:hasTerm of pgid:…]``);
    ``focus_id`` is the focus node exactly as the data names it, for programs: the full IRI, or ``_:label`` for a
    blank node with the label the request body gave it (the parser keeps labels), so a form can map the result
    back to its field."""

    severity: str
    focus_node: str
    path: str | None
    value: str | None
    shape: str
    message: str
    hint: str | None = None
    focus_id: str | None = None

    def line(self) -> str:
        """Return the result as one human-readable line."""
        parts = [f"{self.severity}: {self.focus_node}"]
        if self.path:
            parts.append(f"property {self.path}")
        if self.value is not None:
            parts.append(f"value {self.value}")
        text = " ".join(parts) + f" — {self.message} [{self.shape}]"
        return text + (f" Fix: {self.hint}" if self.hint else "")


@dataclass
class ValidationReport:
    """The outcome of validating one batch: ``conforms`` is False only when a Violation was found."""

    conforms: bool
    results: list[ValidationResult] = field(default_factory=list)
    graph: rdflib.Graph | None = field(default=None, repr=False, compare=False)
    # Set when the results were left out (see ``rendered_summary``): how many were violations.
    counted_violations: int | None = field(default=None, repr=False, compare=False)

    @property
    def violation_count(self) -> int:
        """How many results have severity Violation."""
        if self.counted_violations is not None:
            return self.counted_violations
        return sum(1 for r in self.results if r.severity == "Violation")

    def rendered_summary(self) -> "ValidationReport":
        """This report as a worker sends it back after rendering it: without its graph and, when it does not
        conform, without its results (their count kept), since the answer to a refusal is the rendering. Unpickling
        thousands of results on the way back holds the GIL, and with it every request, for a tenth of a second."""
        if self.conforms:
            return replace(self, graph=None)
        return ValidationReport(conforms=False, counted_violations=self.violation_count)

    def to_dict(self) -> dict:
        """Return the report as plain JSON-ready data."""
        return {
            "conforms": self.conforms,
            "violations": self.violation_count,
            "results": [dict(r.__dict__) for r in self.results],  # asdict's deep copies cost 10x here
        }

    @classmethod
    def from_dict(cls, data: dict) -> "ValidationReport":
        """Rebuild a report from ``to_dict``'s output (as a server sends it)."""
        return cls(conforms=bool(data["conforms"]), results=[ValidationResult(**r) for r in data.get("results", [])])

    def to_json(self) -> str:
        """Return the report as a JSON document."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def to_text(self, source: str = "data") -> str:
        """Return a human report: one line per result, then a summary line."""
        lines = [f"{source}: {r.line()}" for r in self.results]
        counts = {s: sum(1 for r in self.results if r.severity == s) for s in ("Violation", "Warning", "Info")}
        verdict = "conforms" if self.conforms else "does NOT conform"
        lines.append(
            f"{source}: {verdict} ({counts['Violation']} violation(s), {counts['Warning']} warning(s), "
            f"{counts['Info']} info)"
        )
        return "\n".join(lines)

    def to_html(self) -> str:
        """Return the report as a standalone HTML page (every value escaped)."""
        rows = "".join(
            f"<tr class='{html.escape(r.severity.lower())}'><td>{html.escape(r.severity)}</td>"
            f"<td><code>{html.escape(r.focus_node)}</code></td><td><code>{html.escape(r.path or '')}</code></td>"
            f"<td><code>{html.escape(r.value or '')}</code></td><td>{html.escape(r.message)}</td>"
            f"<td>{html.escape(r.hint or '')}</td><td><code>{html.escape(r.shape)}</code></td></tr>"
            for r in self.results
        )
        verdict = "conforms" if self.conforms else f"does not conform: {self.violation_count} violation(s)"
        return (
            "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>posgraph validation report</title>"
            "<style>body{font-family:system-ui,sans-serif;margin:1.5rem}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:.3rem .5rem;vertical-align:top}.violation td:first-child{color:#b00}"
            ".warning td:first-child{color:#a60}</style></head><body>"
            f"<h1>Validation report</h1><p>The data {html.escape(verdict)}.</p>"
            "<table><tr><th>severity</th><th>focus node</th><th>property</th><th>value</th><th>message</th>"
            f"<th>how to fix</th><th>shape</th></tr>{rows}</table></body></html>"
        )

    def to_jsonld(self) -> str:
        """Return the standard sh:ValidationReport as JSON-LD."""
        return self.graph.serialize(format="json-ld") if self.graph is not None else "[]"

    def render(self, media_type: str) -> bytes:
        """Return the report in ``media_type``: text/html, text/turtle, application/ld+json, or (anything else)
        posgraph's flat JSON."""
        renderers = {"text/html": self.to_html, "text/turtle": self.to_turtle, "application/ld+json": self.to_jsonld}
        return renderers.get(media_type, lambda: json.dumps(self.to_dict(), ensure_ascii=False))().encode("utf-8")

    def to_turtle(self) -> str:
        """Return the standard sh:ValidationReport as Turtle."""
        graph = self.graph if self.graph is not None else rdflib.Graph()
        for prefix, iri in PREFIXES.items():
            graph.bind(prefix, iri)
        return graph.serialize(format="turtle")


_BY_SOURCES: dict[tuple[tuple[str, ...], ...], "Validator"] = {}


class Validator:
    """Validates rdflib graphs against a fixed shapes graph and ontology (both parsed once)."""

    def __init__(
        self, shapes: rdflib.Graph, ontology: rdflib.Graph, sources: tuple[tuple[str, ...], ...] | None = None
    ) -> None:
        self.shapes = shapes
        self.ontology = ontology
        # The files it was read from: a worker process rebuilds the same Validator from them (see ``cached``).
        self.sources = sources
        # Defined posgraph terms by namespace, then by lower-case local name: see nearest_term.
        self._spellings: dict[bool, dict[str, dict[str, rdflib.URIRef]]] = {}
        # Derived once from the fixed ontology: a term is defined when the ontology or a vocabulary gives it a type.
        self._defined = set(ontology.subjects(RDF.type, None))
        self._object_properties = set(ontology.subjects(RDF.type, OWL.ObjectProperty))

    @classmethod
    def from_files(cls, shapes_files: Iterable[Path], ontology_files: Iterable[Path]) -> "Validator":
        """Parse the (trusted, server-owned) shapes and ontology files and return a Validator."""
        shapes_files, ontology_files = [str(p) for p in shapes_files], [str(p) for p in ontology_files]
        shapes, ontology = rdflib.Graph(), rdflib.Graph()
        for path in shapes_files:
            shapes.parse(path, format="turtle")
        for path in ontology_files:
            ontology.parse(path, format="turtle")
        return cls(shapes, ontology, (tuple(shapes_files), tuple(ontology_files)))

    @classmethod
    def cached(cls, sources: tuple[tuple[str, ...], ...]) -> "Validator":
        """The Validator for these (shapes files, ontology files), parsed once per process."""
        validator = _BY_SOURCES.get(sources)
        if validator is None:
            validator = _BY_SOURCES[sources] = cls.from_files(*sources)
        return validator

    @property
    def shapes_version(self) -> str:
        """The owl:versionInfo of the shapes graph ("unversioned" if it has none)."""
        for version in self.shapes.objects(None, OWL.versionInfo):
            return str(version)
        return "unversioned"

    def validate(
        self, data: rdflib.Graph, context: rdflib.Graph | None = None, *, absent_hint: str | None = None
    ) -> ValidationReport:
        """Validate ``data`` (left unchanged) and return the report; warnings and infos do not break conformance.

        ``context`` holds what the data refers to in the live graph (types and key properties of existing
        resources): references into it resolve, and results about its own, partly fetched, nodes are dropped —
        only the data's nodes (its subjects, and objects the context does not describe) are reported on.
        With ``absent_hint`` (validating without the live graph), a result about an IRI the data and ontology do
        not describe says so, once per reference, with ``absent_hint`` as its fix: the shape's own fix would have
        the curator describe again what may already be published.
        """
        merged = rdflib.Graph()
        for graph in (data, self.ontology) if context is None else (data, context, self.ontology):
            for triple in graph:
                merged.add(triple)
        keep = None
        if context is not None:
            described = set(context.subjects())
            keep = set(data.subjects()) | {
                o for o in data.objects() if not isinstance(o, rdflib.Literal) and o not in described
            }
        _, report_graph, _ = pyshacl.validate(
            merged,
            shacl_graph=self.shapes,
            inference="none",
            abort_on_first=False,
            allow_infos=True,
            allow_warnings=True,
            advanced=True,
            js=False,
            do_owl_imports=False,
        )
        add_results(report_graph, self.shapes, self._scan(data, merged))
        if keep is not None:
            for node in list(report_graph.subjects(RDF.type, SH.ValidationResult)):
                if report_graph.value(node, SH.focusNode) not in keep:
                    for triple in list(report_graph.triples((node, None, None))):
                        report_graph.remove(triple)
                    report_graph.remove((None, SH.result, node))
        # One result per distinct finding: pyshacl reports a value once per failing component (nodeKind, pattern …).
        found = list(self._results(report_graph, merged))
        if absent_hint is not None and context is None:
            found = _absent_once(
                (f for f in found if f[0].shape not in _ABSENCE_IS_THE_FINDING),
                {s for s in merged.subjects() if isinstance(s, rdflib.URIRef)},
                absent_hint,
            ) + [f for f in found if f[0].shape in _ABSENCE_IS_THE_FINDING]
        results = sorted(
            {result for result, _, _ in found},
            key=lambda r: (r.severity != "Violation", r.focus_node, r.path or "", r.shape),
        )
        conforms = not any(r.severity == "Violation" for r in results)
        for report in report_graph.subjects(RDF.type, SH.ValidationReport):
            report_graph.set((report, SH.conforms, rdflib.Literal(conforms)))
        return ValidationReport(conforms=conforms, results=results, graph=report_graph)

    def nearest_term(self, unknown: rdflib.URIRef, as_property: bool) -> rdflib.URIRef | None:
        """The defined posgraph property (``as_property``) or class/concept of ``unknown``'s namespace (pg: or pgi:)
        whose local name is closest in spelling to ``unknown``'s, or None when none is close (or ``unknown`` is no
        posgraph term). Raises nothing."""
        if as_property not in self._spellings:
            types = PROPERTY_TYPES if as_property else (OWL.Class, RDFS.Class, SKOS.Concept, SKOS.ConceptScheme)
            spellings: dict[str, dict[str, rdflib.URIRef]] = {}
            for t in types:
                for term in self.ontology.subjects(RDF.type, t):
                    if is_posgraph_term(term):
                        namespace, local = _split_posgraph(term)
                        spellings.setdefault(namespace, {})[local.lower()] = term
            self._spellings[as_property] = spellings
        if not is_posgraph_term(unknown):
            return None
        namespace, local = _split_posgraph(unknown)
        by_lower = self._spellings[as_property].get(namespace, {})
        # Local names only: compared as whole IRIs, the long shared namespace lifted any two terms past the cutoff
        # (pg:troops came out close to pg:Proposal). Case-blind, so pg:heldby finds pg:heldBy.
        match = difflib.get_close_matches(local.lower(), list(by_lower), n=1, cutoff=0.8)
        return by_lower[match[0]] if match else None

    def _scan(self, data: rdflib.Graph, merged: rdflib.Graph) -> list[tuple]:
        """The consistency rules that look at every triple of ``data`` (see shapes/posgraph-rules.ttl for why they
        run here): one (shape, focus, path, value, message) per finding; ``merged`` (data, context, ontology) says
        what is described."""
        defined, object_properties = self._defined, self._object_properties
        tomorrow = datetime.datetime.now(datetime.timezone.utc).date() + datetime.timedelta(days=1)
        found = []
        for s, p, o in data:
            shown = f"{compact_iri(str(p))} {show_term(o)}"
            if is_posgraph_term(p) and p not in defined:
                near = self.nearest_term(p, as_property=True)
                message = f"{show_term(s)} uses {compact_iri(str(p))}, which the posgraph ontology does not define."
                found.append(("Vocabulary-knownProperty", s, p, o, message + did_you_mean(near)))
            if isinstance(o, rdflib.URIRef) and is_posgraph_term(o) and o not in defined:
                near = self.nearest_term(o, as_property=False)
                message = f"{shown}: the posgraph vocabularies define no {compact_iri(str(o))}."
                found.append(("Vocabulary-knownTerm", s, p, o, message + did_you_mean(near)))
            if (
                p in object_properties
                and p != PG.wikidata
                and str(p).startswith(str(PG))
                and isinstance(o, rdflib.URIRef)
                and not str(o).startswith((str(WD), str(PG), str(PGI)))
                and (o, None, None) not in merged
            ):
                message = f"{shown}, but {show_term(o)} is described nowhere (a typo, or a node left out of the batch)."
                found.append(("Reference-described", s, p, o, message))
            if isinstance(o, rdflib.Literal) and o.datatype in DATE_FORMS:
                first = first_day(str(o), o.datatype)
                if first is None:
                    message = f"{shown} is not a real date: check the month (01-12) and the day of the month."
                    found.append(("Date-lexical", s, p, o, message))
                elif first > tomorrow:
                    may_lie_ahead = p in FUTURE_ALLOWED or (
                        p in (PG.startDate, PG.endDate) and (s, PG.scheduled, TRUE) in merged
                    )
                    today = tomorrow - datetime.timedelta(days=1)
                    if not may_lie_ahead:
                        message = f"{shown} lies in the future (today is {today})."
                        found.append(("Date-notFuture", s, p, o, message))
                    elif first.year > today.year + YEARS_AHEAD:
                        # Even a deadline or a planned round in 2999 is a mistyped year, not a plan.
                        message = f"{shown} lies more than {YEARS_AHEAD} years ahead: check the year."
                        found.append(("Date-notFuture", s, p, o, message))
            if isinstance(o, rdflib.Literal) and o.language and script_misfits(str(o), o.language):
                message = f"{shown}: the text is not written in the script of its language tag @{o.language}."
                found.append(("Text-scriptFitsLanguage", s, p, o, message))
        return found

    def _results(
        self, report: rdflib.Graph, data: rdflib.Graph
    ) -> Iterable[tuple[ValidationResult, rdflib.term.Node | None, rdflib.term.Node | None]]:
        """Each result, with its focus node and value as terms."""
        for node in report.subjects(RDF.type, SH.ValidationResult):
            shape = report.value(node, SH.sourceShape)
            path = report.value(node, SH.resultPath)
            value = report.value(node, SH.value)
            message = report.value(node, SH.resultMessage)
            hint = self.shapes.value(shape, SH.description) if shape is not None else None
            result = ValidationResult(
                severity=_SEVERITY_NAMES.get(report.value(node, SH.resultSeverity), "Violation"),
                focus_node=self._show_focus(report.value(node, SH.focusNode), data),
                path=self._show(path)
                if path is not None and not isinstance(path, rdflib.BNode)
                else (self._show_path(report, path) if path is not None else None),
                value=self._show(value) if value is not None else None,
                shape=self._show(shape) if shape is not None else "?",
                message=_IRI_IN_TEXT.sub(lambda m: compact_iri(m.group(1) or m.group(0)), str(message))
                if message is not None
                else "constraint not met",
                hint=str(hint) if hint is not None else None,
                focus_id=_focus_id(report.value(node, SH.focusNode)),
            )
            yield result, report.value(node, SH.focusNode), value

    def _show_focus(self, term: rdflib.term.Node | None, data: rdflib.Graph) -> str:
        # A blank node's label means nothing to a curator: name it by the node and property that point at it.
        if isinstance(term, rdflib.BNode):
            for subject, predicate in data.subject_predicates(term):
                return f"[{self._show(predicate)} of {self._show_focus(subject, data)}]"
        return self._show(term)

    def _show(self, term: rdflib.term.Node | None) -> str:
        if term is None:
            return "?"
        if isinstance(term, rdflib.BNode):
            return f"_:{term}"
        if isinstance(term, rdflib.URIRef):
            return compact_iri(str(term))
        if isinstance(term, rdflib.Literal) and term.datatype is not None:
            return f'"{term}"^^{compact_iri(str(term.datatype))}'
        return term.n3()

    def _show_path(self, report: rdflib.Graph, path: rdflib.BNode) -> str:
        alternatives = report.value(path, SH.alternativePath) or self.shapes.value(path, SH.alternativePath)
        if alternatives is not None:
            graph = report if report.value(path, SH.alternativePath) is not None else self.shapes
            items = list(rdflib.collection.Collection(graph, alternatives))
            return " | ".join(self._show(i) for i in items)
        return "(complex path)"


def _focus_id(term: rdflib.term.Node | None) -> str | None:
    """The focus node as the data names it: ``_:label`` for a blank node, the full IRI for an IRI."""
    if isinstance(term, rdflib.BNode):
        return f"_:{term}"
    if isinstance(term, rdflib.URIRef):
        return str(term)
    return None


def _absent_once(
    found: Iterable[tuple[ValidationResult, rdflib.term.Node | None, rdflib.term.Node | None]],
    described: set[rdflib.term.Node],
    hint: str,
) -> list[tuple[ValidationResult, rdflib.term.Node | None, rdflib.term.Node | None]]:
    """The results, those about an IRI ``described`` lacks (as value or focus) replaced by one result per
    reference that says the node is not in the data, with ``hint`` as the fix."""
    kept, seen = [], set()
    for result, focus, value in found:
        # posgraph's own terms are all in the ontology, offline too: one it lacks is unknown, not unpublished.
        missing = next(
            (
                t
                for t in (value, focus)
                if isinstance(t, rdflib.URIRef) and t not in described and not str(t).startswith((str(PG), str(PGI)))
            ),
            None,
        )
        if missing is None:
            kept.append((result, focus, value))
            continue
        key = (result.severity, result.focus_node, result.path, result.value)
        if key in seen:
            continue
        seen.add(key)
        shown = compact_iri(str(missing))
        message = f"{shown} is not in the file(s), so this reference cannot be checked without the published data"
        kept.append((replace(result, message=message, hint=hint), focus, value))
    return kept
