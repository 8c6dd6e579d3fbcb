"""posgraph's HTML pages, rendered in one place from Jinja2 templates (autoescaping on): the query page, resource
and issue pages (readable prose for positions, parties, people, issues, events, sources and documents, with the raw
triples below), and the ontology page. Callers pass data; what becomes a link, how values read as words and how
text is escaped is decided here and in the templates."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import rdflib
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from posgraph.linked_data import LIST_CAP, PageView, local_url
from posgraph.linked_data.views import Lit, QuantityView, Ref
from posgraph.namespaces import ONTOLOGY_IRI, PG, SCHEMA, XSD, compact_iri

__all__ = ["query_page", "resource_page", "ontology_page", "CONTENT_SECURITY_POLICY"]

# The resource pages run no script and load nothing from elsewhere: only their own inline style and same-origin
# images; no frames, no plugins, forms only to this server.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)

_ENV = Environment(
    loader=PackageLoader("posgraph.api.pages", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
)
SKOS = rdflib.SKOS
_TITLES = (SKOS.prefLabel, PG.summary, SCHEMA.headline)
_KINDS = (
    ("Classes", rdflib.OWL.Class),
    ("Object properties", rdflib.OWL.ObjectProperty),
    ("Datatype properties", rdflib.OWL.DatatypeProperty),
)


@dataclass(frozen=True)
class _Term:
    """One RDF term as a page shows it: ``kind`` iri, literal or blank; ``href`` only for web IRIs."""

    kind: str
    text: str = ""
    href: str | None = None
    language: str | None = None


def query_page(config: dict) -> str:
    """Return the query page (YASGUI, or a plain form without it) carrying ``config`` as JSON for its script."""
    # Inside <script> the JSON is raw text, not HTML: it must not be entity-escaped, only kept from closing the tag.
    config_json = Markup(json.dumps(config, ensure_ascii=False).replace("</", "<\\/"))
    return _ENV.get_template("query.html").render(config_json=config_json)


def _term(base_url: str, term: rdflib.term.Node) -> _Term:
    if isinstance(term, rdflib.URIRef):
        target = local_url(base_url, str(term))
        # Only web IRIs become links: javascript:, data: and the like would run or render in the reader's page.
        href = target if urlsplit(target).scheme.lower() in ("http", "https") else None
        return _Term("iri", compact_iri(str(term)), href)
    if isinstance(term, rdflib.Literal):
        return _Term("literal", str(term), language=term.language)
    return _Term("blank")


def _rows(graph: rdflib.Graph, subject: rdflib.term.Node, base_url: str) -> list[dict]:
    """The subject's statements as table rows, sorted; a blank node's own statements nest as a table."""
    rows = []
    for p, o in sorted(graph.predicate_objects(subject), key=lambda po: (str(po[0]), str(po[1]))):
        nested = _rows(graph, o, base_url) if isinstance(o, rdflib.BNode) else None
        rows.append({"predicate": _term(base_url, p), "object": _term(base_url, o), "nested": nested})
    return rows


def resource_page(graph: rdflib.Graph, iri: str, *, base_url: str, page_url: str, view: PageView | None = None) -> str:
    """Return the HTML page of resource ``iri`` described by ``graph``: the readable ``view`` (when given) in
    prose, then a Data section with its statements and what refers to it, and links to ``page_url`` (where to ask
    for the other formats); instance and issue IRIs link to this server (``base_url``)."""
    root = rdflib.URIRef(iri)
    title = next((str(o) for p in _TITLES for o in graph.objects(root, p)), compact_iri(iri))
    incoming = sorted({s for s in graph.subjects(None, root) if isinstance(s, rdflib.URIRef)}, key=str)
    return _ENV.get_template("resource.html").render(
        title=view.title if view is not None else title,
        iri=iri,
        rows=_rows(graph, root, base_url),
        incoming=[_term(base_url, s) for s in incoming],
        url=page_url,
        alternates=_ALTERNATES,
        view=view,
        cap=LIST_CAP,
        link=lambda ref: _link(base_url, ref),
        iri_link=lambda iri, label: _link(base_url, Ref(iri, label)),
        value=lambda v: _link(base_url, v) if isinstance(v, Ref) else _Term("literal", _words(v), language=None),
        when=_when,
        words=_words,
        figure=_figure,
        verb=_verb,
    )


_ALTERNATES = (
    ("JSON-LD", "application/ld+json"),
    ("Turtle", "text/turtle"),
    ("N-Triples", "application/n-triples"),
    ("RDF/XML", "application/rdf+xml"),
)


def _link(base_url: str, ref: Ref) -> _Term:
    """A named resource as a link with its label (the same link rule as ``_term``: only web IRIs)."""
    if not ref.iri:
        return _Term("literal", ref.label)
    target = local_url(base_url, ref.iri)
    href = target if urlsplit(target).scheme.lower() in ("http", "https") else None
    return _Term("iri", ref.label, href)


_MONTHS = "January February March April May June July August September October November December".split()
_DATE = re.compile(r"(-?\d{4})(?:-(\d{2}))?(?:-(\d{2}))?(?:T([0-9:.]+)(Z|[+-]\d{2}:\d{2})?)?$")
_DURATION = re.compile(r"P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")
_DURATION_UNITS = ("year", "month", "week", "day", "hour", "minute", "second")
_PRECISION = {
    str(XSD.gYearMonth): "month",
    str(XSD.gYear): "year",
    str(XSD.date): "day",
    str(XSD.dateTime): "time",
}


def _date_text(lit: Lit) -> str:
    """A date, month, year or date-time in words ("19 July 2025", "July 2025", "2025"); other text as it is."""
    match = _DATE.match(lit.text)
    if not match or lit.datatype not in _PRECISION:
        return lit.text
    year, month, day, time, zone = match.groups()
    if month and not 1 <= int(month) <= 12:
        return lit.text
    words = " ".join(p for p in (str(int(day)) if day else "", _MONTHS[int(month) - 1] if month else "", year) if p)
    if time:
        words += f", {time[:5]}" + (" UTC" if zone == "Z" else f" (UTC{zone})" if zone else "")
    return words


def _when(lit: Lit | None) -> str:
    """A statement date with its precision said honestly: "July 2025 (known to the month)"."""
    if lit is None:
        return "on a date the source does not give"
    precision = _PRECISION.get(lit.datatype or "")
    text = _date_text(lit)
    if precision in ("month", "year"):
        return f"{text} (known only to the {precision})"
    return text


def _words(lit: Lit) -> str:
    """A literal read as words: dates, durations and booleans spelled out, other values as stored."""
    if lit.datatype in _PRECISION:
        return _date_text(lit)
    if lit.datatype == str(XSD.duration):
        match = _DURATION.match(lit.text)
        if match and any(match.groups()):
            parts = [
                f"{int(n)} {unit}{'' if int(n) == 1 else 's'}"
                for n, unit in zip(match.groups(), _DURATION_UNITS, strict=True)
                if n is not None
            ]
            return ", ".join(parts)
    if lit.datatype == str(XSD.boolean):
        return {"true": "yes", "1": "yes", "false": "no", "0": "no"}.get(lit.text, lit.text)
    return lit.text


def _number(lit: Lit) -> str:
    """A whole number with thousands separators ("50,000"); other numbers as stored."""
    return f"{int(lit.text):,}" if re.fullmatch(r"[+-]?\d+", lit.text.strip()) else lit.text


def _unit(label: str, number: str) -> str:
    """A unit's label as it reads after a number: "72 hours", "1 day", "5 per cent", "100 US dollars"."""
    if len(label) > 1 and label[1].islower():
        label = label[0].lower() + label[1:]
    return label if number == "1" or label.endswith("cent") else label + "s"


def _figure(q: QuantityView) -> str:
    """A quantity in words: "at least 36–72 hours (time span) per side for Ukraine"."""
    low, high = (_number(q.minimum) if q.minimum else None), (_number(q.maximum) if q.maximum else None)
    number = (
        " and ".join(_number(v) for v in q.values)
        or (f"{low}–{high}" if low and high else f"from {low}" if low else f"up to {high}" if high else "")
        or " or ".join(_number(v) for v in q.alternatives)
        or "an unstated number"
    )
    parts = [q.qualifier.label.lower() if q.qualifier else "", number, _unit(q.unit.label, number) if q.unit else ""]
    parts += [f"({q.kind.label.lower()})" if q.kind else "", q.distribution.label.lower() if q.distribution else ""]
    parts += [f"for {q.party.label}" if q.party else ""]
    return " ".join(p for p in parts if p)


# The verb for each kind of move (singular, plural) and the word before its addressees.
_VERBS = {
    "Demand": ("demands", "demand", "of"),
    "Offer": ("offers", "offer", "to"),
    "Proposal": ("proposes", "propose", "to"),
    "Concession": ("concedes", "concede", "to"),
    "Acceptance": ("accepts a position of", "accept a position of", ""),
    "Rejection": ("rejects a position of", "reject a position of", ""),
    "Threat": ("threatens", "threaten", ""),
    "Agreement": ("agrees", "agree", "with"),
    "Statement": ("makes a statement", "make a statement", "to"),
}


def _verb(kinds: tuple[Ref, ...], holders: int) -> tuple[str, str]:
    """The verb of a position's sentence and the word before its addressees."""
    for kind in kinds:
        name = kind.iri.rsplit("#", 1)[-1]
        if kind.iri.startswith(str(PG)) and name in _VERBS:
            singular, plural, before = _VERBS[name]
            return (plural if holders > 1 else singular), before
    return ("take" if holders > 1 else "takes") + " a position", "towards"


def ontology_page(graph: rdflib.Graph) -> str:
    """Return the HTML page of the ontology in ``graph``: its classes and properties with their definitions."""
    sections = []
    for title, kind in _KINDS:
        items = [
            {
                "anchor": str(t).rsplit("#", 1)[-1],
                "name": compact_iri(str(t)),
                "definition": str(graph.value(t, SKOS.definition) or ""),
            }
            for t in sorted(graph.subjects(rdflib.RDF.type, kind), key=str)
            if str(t).startswith(ONTOLOGY_IRI)
        ]
        sections.append({"title": title, "entries": items})
    return _ENV.get_template("ontology.html").render(namespace=ONTOLOGY_IRI, sections=sections)
