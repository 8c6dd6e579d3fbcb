"""The validation rules posgraph runs itself over every triple of a batch (closed vocabulary, lexical and
plausible dates, dangling references, script against language tag), and how their findings join pyshacl's report.

They scan every triple: as SHACL-SPARQL each was a scan of the batch plus the merged ontology (a tiny batch took
11 s instead of 0.5 s); here they take milliseconds, and report under the rule shapes' names in posgraph-rules.ttl.
"""

from __future__ import annotations

import datetime
import re
from typing import Iterable

import rdflib
from rdflib.namespace import RDF, SH

from posgraph.namespaces import PG, PGI, PGSH, XSD, compact_iri

__all__ = [
    "TZ",
    "DATE_FORMS",
    "FUTURE_ALLOWED",
    "TRUE",
    "YEARS_AHEAD",
    "CYRILLIC",
    "LATIN",
    "first_day",
    "script_misfits",
    "is_posgraph_term",
    "did_you_mean",
    "show_term",
    "add_results",
    "reported",
]

TZ = r"(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9]|[+-]14:00)?"
DATE_FORMS = {
    XSD.gYear: re.compile(rf"^([0-9]{{4}}){TZ}$"),
    XSD.gYearMonth: re.compile(rf"^([0-9]{{4}})-([0-9]{{2}}){TZ}$"),
    XSD.date: re.compile(rf"^([0-9]{{4}})-([0-9]{{2}})-([0-9]{{2}}){TZ}$"),
    XSD.dateTime: re.compile(
        rf"^([0-9]{{4}})-([0-9]{{2}})-([0-9]{{2}})T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?{TZ}$"
    ),
}
# Deadlines and windows may lie ahead (the model says so); so may a scheduled event's dates (checked separately).
FUTURE_ALLOWED = {PG.deadline, PG.windowStart, PG.windowEnd}
TRUE = rdflib.Literal(True)
YEARS_AHEAD = 50  # how far ahead a deadline, window or scheduled event may plausibly lie
CYRILLIC = re.compile("[\u0400-\u04ff]")
LATIN = re.compile("[A-Za-z]")


def first_day(lexical: str, datatype: rdflib.URIRef) -> datetime.date | None:
    """The first day of a date value's period, or None if the lexical form is not a real date of its datatype."""
    match = DATE_FORMS[datatype].match(lexical)
    if match is None:
        return None
    parts = [int(g) for g in match.groups()[: {XSD.gYear: 1, XSD.gYearMonth: 2}.get(datatype, 3)]]
    try:
        return datetime.date(parts[0], *(parts[1:] + [1, 1])[:2])
    except ValueError:  # month 13, 30 February, 29 February of a common year, year 0
        return None


def script_misfits(text: str, language: str) -> bool:
    """Whether ``text`` is Cyrillic tagged English, or Latin-only tagged Russian or Ukrainian."""
    subtags = language.lower().split("-")
    if any(len(t) == 4 and t.isalpha() for t in subtags[1:]):  # a script subtag (uk-Latn) says the script itself
        return False
    primary = subtags[0]
    if primary == "en":
        return bool(CYRILLIC.search(text))
    return primary in ("ru", "uk") and bool(LATIN.search(text)) and not CYRILLIC.search(text)


def is_posgraph_term(term: rdflib.term.Node) -> bool:
    return isinstance(term, rdflib.URIRef) and str(term).startswith((str(PG), str(PGI)))


def did_you_mean(near: rdflib.URIRef | None) -> str:
    return f" Did you mean {compact_iri(str(near))}?" if near is not None else ""


def show_term(term: rdflib.term.Node) -> str:
    if isinstance(term, rdflib.URIRef):
        return compact_iri(str(term))
    if isinstance(term, rdflib.Literal):
        return f'"{term}"' + (f"@{term.language}" if term.language else "")
    return "[a blank node]"


def add_results(report: rdflib.Graph, shapes: rdflib.Graph, found: Iterable[tuple]) -> None:
    """Add each (shape name, focus, path, value, message) to the sh:ValidationReport ``report`` as a standard
    sh:ValidationResult, with the shape's severity."""
    owner = next(report.subjects(RDF.type, SH.ValidationReport), None)
    for name, focus, path, value, message in found:
        if name == "Reference-described" and reported(report, focus, path, value):
            continue  # a shape of that property already says the node is missing (sh:class): once is enough
        shape = PGSH[name]
        node = rdflib.BNode()
        for predicate, obj in (
            (RDF.type, SH.ValidationResult),
            (SH.focusNode, focus),
            (SH.resultPath, path),
            (SH.value, value),
            (SH.sourceShape, shape),
            (SH.resultSeverity, shapes.value(shape, SH.severity) or SH.Violation),
            (SH.resultMessage, rdflib.Literal(message)),
        ):
            report.add((node, predicate, obj))
        if owner is not None:
            report.add((owner, SH.result, node))


def reported(report: rdflib.Graph, focus: rdflib.term.Node, path: rdflib.term.Node, value: rdflib.term.Node) -> bool:
    """Whether ``report`` already has a result on this focus node, path and value."""
    return any(
        (result, SH.resultPath, path) in report and (result, SH.value, value) in report
        for result in report.subjects(SH.focusNode, focus)
    )
