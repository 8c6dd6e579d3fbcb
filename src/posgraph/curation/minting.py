"""IRIs the curator workbench mints for new resources, from their labels, by one documented rule (``MINT_RULE``):
``mint_iri`` says what a label becomes, ``unique_iri`` appends -2, -3 … while the store (or staging) has it."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence

import rdflib

from posgraph.engine import Engine
from posgraph.errors import InvalidParameter
from posgraph.namespaces import PGID, POSITION_TYPES

__all__ = ["mint_iri", "unique_iri", "iri_kind", "MINT_RULE"]


def _local(iri: rdflib.term.Node) -> str:
    return str(iri).rsplit("#", 1)[-1].rsplit("/", 1)[-1]


MINT_RULE = (
    "https://w3id.org/posgraph/id/<kind>/<slug>: the kind names what it is (position, party, person, org, source, "
    "document, event, term, report); the slug is the label in lower case, accents dropped, Cyrillic "
    "transliterated, every run of other characters one '-', cut at a '-' to at most 60 characters; a date, "
    "when given (always for a position), comes first: position/2025-07-23-<slug>; a label with no letter or "
    "digit left becomes x-<8 hex digits of its SHA-256>. If the IRI is taken, -2, -3 … is appended."
)
_KINDS = {
    "Party": "party",
    "State": "party",
    "Alliance": "party",
    "InternationalOrganization": "party",
    "Person": "person",
    "MediaOrganization": "org",
    "GovernmentBody": "org",
    "Source": "source",
    "Document": "document",
    "DocumentVersion": "document",
    "Event": "event",
    "NegotiationRound": "event",
    "Implementation": "event",
    "Term": "term",
    "Report": "report",
    "Position": "position",
}
_MAX_SLUG = 60
# Russian and Ukrainian letters, after lower-casing (a simplified BGN/PCGN romanisation).
_CYRILLIC = dict(
    zip(
        "абвгґдеёєжзиіїйклмнопрстуфхцчшщъыьэюя",
        "a b v g g d e e ye zh z i i yi y k l m n o p r s t u f kh ts ch sh shch - y - e yu ya".split(),
        strict=True,
    )
)
_CYRILLIC.update({"ъ": "", "ь": ""})  # the hard and soft signs are dropped
_DATE = re.compile(r"^(\d{4})(-\d{2})?(-\d{2})?(T.*)?$")


def iri_kind(form_id: str, lineage: Sequence[rdflib.URIRef] = ()) -> str | None:
    """Return the IRI kind (party, position, …) of a form id, or of the nearest superclass in ``lineage`` that has
    one; None when none has (a place is named by its Wikidata item). Raises nothing."""
    if form_id in _KINDS:
        return _KINDS[form_id]
    if form_id in _KINDS.values():  # the kind itself ("party"), as a form's "kind" gives it
        return form_id
    if form_id in POSITION_TYPES:
        return "position"
    for cls in reversed(lineage):
        if _local(cls) in _KINDS:
            return _KINDS[_local(cls)]
    if form_id.endswith("Term"):
        return "term"
    return None


def _slug(label: str) -> str:
    text = "".join(_CYRILLIC.get(ch, ch) for ch in label.lower())
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def _cut(slug: str, limit: int) -> str:
    """``slug`` at most ``limit`` characters long, cut at a '-' where one falls in the second half."""
    if len(slug) <= limit:
        return slug
    head = slug[: limit + 1]
    cut = head.rfind("-")
    return (head[:cut] if cut >= limit // 2 else slug[:limit]).strip("-")


def mint_iri(form_id: str, label: str, date: str | None = None) -> str:
    """Return the IRI the workbench gives a new ``form_id`` (a form's id, such as "Demand" or "Party") named
    ``label``, stated on ``date`` (xsd:date, gYearMonth, gYear or a dateTime, whose day is used).

    The rule (also ``MINT_RULE`` and docs/data-model.md): ``https://w3id.org/posgraph/id/<kind>/<slug>``, kind
    as the seed uses them (position, party, person, org, source, document, event, term, report); the slug is the
    label lower-cased, Cyrillic transliterated, accents folded to ASCII (Unicode NFKD), every run of other
    characters turned into one '-', at most 60 characters cut at a '-'; the date, when given, comes first
    (``position/2025-07-23-russia-demands-donbas``). A label that leaves no ASCII letter or digit (another
    script) becomes ``x-`` and 8 hex digits of its SHA-256. The rule is deterministic; ``unique_iri`` adds -2, -3 …

    >>> mint_iri("Party", "Côte d'Ivoire")
    'https://w3id.org/posgraph/id/party/cote-d-ivoire'
    >>> mint_iri("Demand", "Russia demands Donbas", "2025-07-23")
    'https://w3id.org/posgraph/id/position/2025-07-23-russia-demands-donbas'

    Raises InvalidParameter naming ``form`` (no IRI kind: a place is its Wikidata IRI, a role or quantity is a
    blank node), ``label`` (empty) or ``date`` (not a date).
    """
    kind = iri_kind(form_id)
    if kind is None:
        raise InvalidParameter(
            "form",
            f"{form_id!r} gets no minted IRI (a place is named by its Wikidata IRI; roles, quantities, "
            "conditions and the like are written inside their owner)",
        )
    if not label or not label.strip():
        raise InvalidParameter("label", "give the label the IRI is made from")
    prefix = ""
    if date:
        match = _DATE.match(date.strip())
        if match is None:
            raise InvalidParameter("date", "use 2025-07-23, 2025-07 or 2025 (or a dateTime)")
        prefix = "".join(g for g in match.groups()[:3] if g) + "-"
    slug = _slug(label) or "x-" + hashlib.sha256(label.encode("utf-8")).hexdigest()[:8]
    return f"{PGID}{kind}/{prefix}{_cut(slug, _MAX_SLUG - len(prefix))}"


async def unique_iri(
    engine: Engine, form_id: str, label: str, date: str | None = None, *, also: Sequence[Engine] = ()
) -> str:
    """Return ``mint_iri(form_id, label, date)``, with -2, -3 … appended while that IRI is the subject of a triple
    in ``engine`` (default graph or any named graph) or in one of ``also`` (the staging engine: batches awaiting
    review). Each check is a fixed ASK with the IRI bound in VALUES as an RDF term, never pasted text.

    Raises InvalidParameter as ``mint_iri`` does, or an engine error.
    """
    base = mint_iri(form_id, label, date)
    for n in range(1, 1000):
        candidate = base if n == 1 else f"{base}-{n}"
        term = rdflib.URIRef(candidate).n3()
        query = f"ASK {{ VALUES ?s {{ {term} }} {{ ?s ?p ?o }} UNION {{ GRAPH ?g {{ ?s ?p ?o }} }} }}"
        taken = False
        for store in (engine, *also):
            if await store.ask(query):
                taken = True
                break
        if not taken:
            return candidate
    raise InvalidParameter("label", "a thousand resources already have IRIs from this label; give a longer one")
