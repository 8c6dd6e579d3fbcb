"""posgraph's HTML pages, rendered in one place from Jinja2 templates (autoescaping on): the query page, resource
and issue pages, and the ontology page. Callers pass data; what becomes a link and how text is escaped is decided
here and in the templates."""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlsplit

import rdflib
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from posgraph.linked_data import local_url
from posgraph.namespaces import ONTOLOGY_IRI, PG, SCHEMA, compact_iri

__all__ = ["query_page", "resource_page", "ontology_page"]

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


def resource_page(graph: rdflib.Graph, iri: str, *, base_url: str, page_url: str) -> str:
    """Return the HTML page of resource ``iri`` described by ``graph``: its statements, what refers to it, and
    ``page_url`` (where to ask for the other formats); instance and issue IRIs link to this server (``base_url``)."""
    root = rdflib.URIRef(iri)
    title = next((str(o) for p in _TITLES for o in graph.objects(root, p)), compact_iri(iri))
    incoming = sorted({s for s in graph.subjects(None, root) if isinstance(s, rdflib.URIRef)}, key=str)
    return _ENV.get_template("resource.html").render(
        title=title,
        iri=iri,
        rows=_rows(graph, root, base_url),
        incoming=[_term(base_url, s) for s in incoming],
        url=page_url,
    )


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
