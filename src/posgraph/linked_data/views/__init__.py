"""What the readable HTML pages show: one function per kind of resource (position, party, person, issue, event,
source, document, anything else), each gathering the page's data in a few queries and returning plain data classes.

Every query here is built from fixed text plus RDF terms that rdflib serialises (``.n3()``); no request value is
pasted in. Lists that can grow without bound (a party's positions, an issue's, a source's citations) are capped at
``LIST_CAP`` items, and the view says when it was capped.
"""

from __future__ import annotations

import rdflib

from posgraph.engine import Engine
from posgraph.linked_data.views.kinds import (
    document_view,
    event_view,
    generic_view,
    issue_view,
    party_view,
    person_view,
    position_view,
    source_view,
)
from posgraph.linked_data.views.model import (
    ConditionView,
    Detail,
    Lit,
    PageView,
    PositionItem,
    QuantityView,
    Ref,
    ReportView,
    SourceItem,
    Step,
    TermView,
    VersionItem,
)
from posgraph.linked_data.views.reading import (
    LIST_CAP,
    POSITION_CLASSES,
)
from posgraph.namespaces import PG, PGI, RDF, SKOS

__all__ = [
    "LIST_CAP",
    "Ref",
    "Lit",
    "Detail",
    "QuantityView",
    "ConditionView",
    "TermView",
    "ReportView",
    "SourceItem",
    "PositionItem",
    "Step",
    "VersionItem",
    "PageView",
    "page_view",
    "position_view",
    "party_view",
    "person_view",
    "issue_view",
    "event_view",
    "source_view",
    "document_view",
    "generic_view",
]


# ------------------------------------------------------------------------------------------ views
async def page_view(engine: Engine, iri: str, described: rdflib.Graph) -> PageView:
    """Return the readable page's data for ``iri``, whose description (``linked_data.describe``) is ``described``:
    the page kind follows its types. Raises an engine error."""
    root = rdflib.URIRef(iri)
    types = set(described.objects(root, RDF.type))
    if PG.Position in types or types & set(POSITION_CLASSES):
        return await position_view(engine, iri, described)
    if PG.Party in types:
        return await party_view(engine, iri, described)
    if PG.Person in types:
        return await person_view(engine, iri, described)
    if PG.Document in types:
        return await document_view(engine, iri, described)
    if PG.Source in types or PG.DocumentVersion in types:
        return await source_view(engine, iri, described)
    if PG.Event in types:
        return await event_view(engine, iri, described)
    if iri.startswith(str(PGI)) and SKOS.Concept in types:
        return await issue_view(engine, iri, described)
    return await generic_view(engine, iri, described)
