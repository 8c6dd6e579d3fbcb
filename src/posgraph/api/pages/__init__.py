"""posgraph's HTML pages, rendered in one place from Jinja2 templates (autoescaping on): the query page, resource
and issue pages (readable prose for positions, parties, people, issues, events, sources and documents, with the raw
triples below), and the ontology page. Callers pass data; what becomes a link, how values read as words and how
text is escaped is decided here and in the templates."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import rdflib
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from posgraph.linked_data import LIST_CAP, PageView, local_url
from posgraph.linked_data.views import Lit, QuantityView, Ref
from posgraph.namespaces import ONTOLOGY_IRI, PG, SCHEMA, XSD, compact_iri

__all__ = [
    "query_page",
    "resource_page",
    "ontology_page",
    "api_docs_page",
    "STATIC_DIR",
    "CONTENT_SECURITY_POLICY",
    "QUERY_PAGE_POLICY",
    "SWAGGER_UI_POLICY",
    "REDOC_POLICY",
    "workbench_page",
    "WORKBENCH_POLICY",
]

# Served at /static: the pages' own scripts, and the third-party ones the Makefile copies from npm into vendor/.
STATIC_DIR = Path(__file__).resolve().parents[1] / "static"

# The resource pages run no script and load nothing from elsewhere: only their own inline style and same-origin
# images; no frames, no plugins, forms only to this server.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# The query page: YASGUI and the page's script are same-origin files (no inline script, no eval); YASGUI styles
# its editor and tables inline and draws icons as data: images; its queries go to this server only.
QUERY_PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# /docs: Swagger UI and its starter script from this server; it reads /openapi.json and sends "Try it out"
# requests here; its stylesheet draws icons as data: images and React sets inline styles.
SWAGGER_UI_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
# /redoc: ReDoc from this server; it injects its styles as <style> elements and runs its search index in a worker
# it builds from a blob: URL.
REDOC_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; worker-src blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
# /workbench: its own scripts and stylesheet only (no inline script or style: labels a curator types are data, never
# markup); it talks to this server only, with the token as a bearer header, and is never framed.
WORKBENCH_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
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
    return _ENV.get_template("query.html").render(config_json=config_json, config=config)


# The API viewers: their page title, the vendored file that must exist, and their policy.
_VIEWERS = {
    "swagger-ui": ("Swagger UI", "vendor/swagger-ui/swagger-ui-bundle.js", SWAGGER_UI_POLICY),
    "redoc": ("ReDoc", "vendor/redoc/redoc.standalone.js", REDOC_POLICY),
}


def api_docs_page(viewer: str, openapi_url: str) -> tuple[str, str]:
    """Return the page of API viewer ``viewer`` ("swagger-ui" or "redoc") reading ``openapi_url``, and the
    Content-Security-Policy it needs. Without the viewer's vendored files (no npm at set-up) the page says so and
    links the OpenAPI document instead. Raises KeyError for another viewer."""
    name, script, policy = _VIEWERS[viewer]
    installed = (STATIC_DIR / script).is_file()
    page = _ENV.get_template("api_docs.html").render(
        viewer=viewer if installed else None, name=name, openapi_url=openapi_url
    )
    return page, policy if installed else CONTENT_SECURITY_POLICY


def workbench_page(docs_url: str = "/docs") -> str:
    """Return the curator workbench page: the sign-in form and the sections its scripts (static/js/workbench.js,
    workbench-review.js) fill; without JavaScript it says so and points at the HTTP API documented at ``docs_url``."""
    return _ENV.get_template("workbench.html").render(docs_url=docs_url)


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


# ------------------------------------------------------------------------------ the timeline and the gap matrix
# The overview pages run one same-origin script (static/charts.js, with Vega from static/vendor/vega/) that draws
# the chart from the spec the page carries as JSON; Vega's CSP-safe interpreter evaluates its expressions, so no
# eval. Vega-Embed and Vega's tooltips set inline styles; the SVG fallback is a same-origin image.
VIEWS_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_VIEW_SCRIPTS = (
    "/static/vendor/vega/vega.min.js",
    "/static/vendor/vega/vega-lite.min.js",
    "/static/vendor/vega/vega-embed.min.js",
    "/static/vendor/vega/vega-interpreter.min.js",
    "/static/charts.js",
)
_PRECISION_BY_LENGTH = {4: str(XSD.gYear), 7: str(XSD.gYearMonth), 10: str(XSD.date)}


def _spec_json(spec: dict) -> Markup:
    # Raw text inside <script>: not entity-escaped, only kept from closing the element (or opening a comment).
    return Markup(json.dumps(spec, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e"))


def _stated(text: str) -> str:
    """A date as stated, in words, with its precision said: "July 2025 (known only to the month)"."""
    return _when(Lit(text, _PRECISION_BY_LENGTH.get(len(text), str(XSD.dateTime) if "T" in text else None)))


def _query_url(name: str, pairs: list[tuple[str, str]]) -> str:
    return f"/queries/{name}" + ("?" + urlencode([(k, v) for k, v in pairs if v]) if any(v for _, v in pairs) else "")


def _picture_urls(view: str, query: str) -> dict[str, str]:
    """The view's SVG and PNG addresses with the page's own filters (``query``)."""
    suffix = f"?{query}" if query else ""
    return {"svg_url": f"{view}.svg{suffix}", "png_url": f"{view}.png{suffix}"}


def timeline_page(
    timeline,
    filters,
    spec: dict,
    *,
    parties: tuple[tuple[str, str], ...],
    issues: tuple[tuple[str, str], ...],
    base_url: str,
    version: str,
    query: str = "",
) -> str:
    """Return the timeline page: the filter form, the chart (an SVG image without JavaScript, drawn from ``spec``
    with it), a full table of the positions (one row per position) and of the events, and links to the same data
    as SVG, PNG and the saved queries' CSV/JSON. ``timeline`` is an overview.Timeline, ``filters`` its Filters."""
    from posgraph.overview import PAGE, TIMELINE_PAGE  # here: the views are this module's last part

    by_position: dict[str, dict] = {}
    labels = {lane.issue: lane.label for lane in timeline.lanes}
    for mark in timeline.marks:
        row = by_position.setdefault(
            mark.position,
            {"mark": mark, "parties": {}, "issues": {}, "supersedes": mark.supersedes},
        )
        row["parties"][mark.party] = mark.party_label
        row["issues"][mark.issue] = labels.get(mark.issue, mark.issue)
    rows = [
        {
            "mark": r["mark"],
            "link": _link(base_url, Ref(r["mark"].position, r["mark"].summary or compact_iri(r["mark"].position))),
            "parties": [_link(base_url, Ref(p, label)) for p, label in r["parties"].items()],
            "issues": [_link(base_url, Ref(i, label)) for i, label in r["issues"].items()],
            "supersedes": [_link(base_url, Ref(s, compact_iri(s))) for s in r["supersedes"]],
        }
        for r in by_position.values()
    ]
    pairs = [("party", p) for p in filters.parties] + [("issue", i) for i in filters.issues]
    pairs += [("from", filters.start), ("to", filters.end)]
    return _ENV.get_template("timeline.html").render(
        timeline=timeline,
        filters=filters,
        rows=rows,
        events=[(e, _link(base_url, Ref(e.event, e.label))) for e in timeline.events],
        parties=parties,
        issues=issues,
        spec_json=_spec_json(spec),
        scripts=_VIEW_SCRIPTS,
        **_picture_urls("/timeline", query),
        data_links=[
            # The same page of the same saved query: the most recent positions.
            ("positions", _query_url("timeline", pairs + list(TIMELINE_PAGE.items()) + [("limit", str(PAGE))])),
            (
                "events",
                _query_url(
                    "timeline-events",
                    [("party", p) for p in filters.parties] + [("from", filters.start), ("to", filters.end)],
                ),
            ),
        ]
        + (
            [("in force on the date", _query_url("gap-matrix", [("date", filters.as_of)] + pairs[:-2]))]
            if filters.as_of
            else []
        ),
        version=version,
        stated=_stated,
    )


def gaps_page(
    matrix,
    filters,
    spec: dict,
    *,
    parties: tuple[tuple[str, str], ...],
    base_url: str,
    version: str,
    query: str = "",
) -> str:
    """Return the gap matrix page: the filter form, the chart (an SVG image without JavaScript), the matrix as a
    table (one row per issue with its relation, a cell per party, the gap between figures, a link to the issue's
    history for these parties) and links to SVG, PNG and the saved queries' CSV/JSON. ``matrix`` is an
    overview.GapMatrix, ``filters`` its Filters."""
    chosen = [p for p, _ in matrix.parties]
    rows = []
    for row in matrix.rows:
        history = "/timeline?" + urlencode([("issue", row.issue), *(("party", p) for p in chosen)])
        cells = [
            {
                "party": cell.party,
                "positions": [
                    {"link": _link(base_url, Ref(pos.position, f"{pos.kind}: {pos.words}")), "pos": pos}
                    for pos in cell.positions
                ],
            }
            for cell in row.cells
        ]
        rows.append(
            {"row": row, "issue": _link(base_url, Ref(row.issue, row.label)), "cells": cells, "history": history}
        )
    pair_links = [
        (
            f"{a_label} and {b_label}",
            _query_url(
                "meet-or-collide",
                [("a", a), ("b", b)] + ([("issue", filters.issues[0])] if len(filters.issues) == 1 else []),
            ),
        )
        for i, (a, a_label) in enumerate(matrix.parties)
        for b, b_label in matrix.parties[i + 1 :]
    ]
    gap_pairs = [("date", matrix.as_of)] + [("party", p) for p in chosen] + [("issue", i) for i in filters.issues]
    return _ENV.get_template("gaps.html").render(
        matrix=matrix,
        filters=filters,
        rows=rows,
        parties=parties,
        chosen=chosen,
        spec_json=_spec_json(spec),
        scripts=_VIEW_SCRIPTS,
        **_picture_urls("/gaps", query),
        data_links=[("positions in force", _query_url("gap-matrix", gap_pairs))]
        + [(f"how {label} relate", url) for label, url in pair_links],
        version=version,
        stated=_stated,
        number=lambda text: _number(Lit(text)),
    )


__all__ += ["timeline_page", "gaps_page", "VIEWS_CONTENT_SECURITY_POLICY"]
