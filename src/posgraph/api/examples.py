"""Example bodies shown in the OpenAPI document for the linked-data routes (documentation only)."""

from __future__ import annotations

__all__ = [
    "EXAMPLE_POSITION",
    "EXAMPLE_PARTY",
    "EXAMPLE_EVENT",
    "EXAMPLE_COLLECTION",
    "EXAMPLE_CHANGES",
    "EXAMPLE_DUMPS",
]

_CTX = "http://127.0.0.1:8000/ns/context.jsonld"
EXAMPLE_POSITION = {
    "@context": _CTX,
    "id": "https://w3id.org/posgraph/id/position/ru-2025-07-army-cap",
    "type": "Demand",
    "heldBy": "https://w3id.org/posgraph/id/party/russia",
    "addressedTo": "https://w3id.org/posgraph/id/party/ukraine",
    "concerns": "https://w3id.org/posgraph/issue/armed-forces-size",
    "statedOnMonth": "2025-07",
    "hasTerm": {
        "type": "ArmedForcesTerm",
        "action": "pg:cap",
        "quantityKind": "pg:personnel",
        "obligatedParty": "https://w3id.org/posgraph/id/party/ukraine",
        "wording": {"en": "limits on the future size of Ukraine's army"},
    },
    "source": {
        "id": "https://w3id.org/posgraph/id/source/st-2025-07-istanbul-offer",
        "type": ["Source", "NewsArticle"],
        "headline": {"en": "Faint signs of life appear in effort to halt Ukraine war"},
        "publisher": "https://w3id.org/posgraph/id/org/straits-times",
        "datePublishedMonth": "2025-07",
    },
    "summary": {"en": "Russia wants a ceiling on the size of Ukraine's future army; the source gives no figure."},
}
EXAMPLE_PARTY = {
    "@context": _CTX,
    "id": "https://w3id.org/posgraph/id/party/russia",
    "type": ["Party", "State"],
    "prefLabel": {"en": "Russia", "ru": "Россия"},
    "wikidata": "http://www.wikidata.org/entity/Q159",
    "positions": [
        "https://w3id.org/posgraph/id/position/ru-2025-07-army-cap",
        "https://w3id.org/posgraph/id/position/ru-2025-07-territory",
    ],
}
EXAMPLE_EVENT = {
    "@context": _CTX,
    "id": "https://w3id.org/posgraph/id/event/2025-06-istanbul-round-2",
    "type": ["Event", "NegotiationRound"],
    "prefLabel": {"en": "Istanbul talks, second round"},
    "startDateMonth": "2025-06",
    "place": "http://www.wikidata.org/entity/Q406",
    "participant": ["https://w3id.org/posgraph/id/party/russia", "https://w3id.org/posgraph/id/party/ukraine"],
    "mediator": "https://w3id.org/posgraph/id/party/united-states",
    "resultedIn": "https://w3id.org/posgraph/id/position/ru-ua-2025-06-exchange-of-bodies",
}
EXAMPLE_COLLECTION = {
    "@context": _CTX,
    "id": "http://127.0.0.1:8000/positions?party=pgid:party/russia&limit=2",
    "type": "Collection",
    "items": [
        {
            "id": "https://w3id.org/posgraph/id/position/ru-2025-05-rejects-leaders-meeting",
            "type": "Rejection",
            "statedOnMonth": "2025-05",
            "summary": {"en": "After days of silence, Putin turns down Zelensky's offer of a direct meeting."},
        },
        {
            "id": "https://w3id.org/posgraph/id/position/ru-ua-2025-06-exchange-of-bodies",
            "type": "Agreement",
            "statedOnMonth": "2025-06",
            "summary": {"en": "At the June round in Istanbul the two sides agree to exchange the bodies of the dead."},
        },
    ],
    "next": "http://127.0.0.1:8000/positions?party=pgid%3Aparty%2Frussia&limit=2&cursor=WyIyMDI1LTA2Ii…",
}
EXAMPLE_CHANGES = {
    "@context": _CTX,
    "version": "20261128T071056974567Z-5ccc",
    "changes": [
        {
            "version": "20261128T071056974567Z-5ccc",
            "id": "https://w3id.org/posgraph/id/change/20261128T071056974567Z-5ccc",
            "kind": "accepted",
            "atTime": "2026-11-28T07:10:56.974567+00:00",
            "by": "rita",
            "batch": "https://w3id.org/posgraph/id/batch/20261128T070311252781Z-7aaeee92",
            "links": {
                "batch": "http://127.0.0.1:8000/id/batch/20261128T070311252781Z-7aaeee92",
                "graph": "/store?graph=https%3A%2F%2Fw3id.org%2Fposgraph%2Fid%2Fbatch%2F"
                "20261128T070311252781Z-7aaeee92",
            },
        }
    ],
}
EXAMPLE_DUMPS = {
    "id": "http://127.0.0.1:8000/dumps",
    "type": ["dcat:Dataset", "void:Dataset"],
    "dcterms:hasVersion": "20261128T071056974567Z-5ccc",
    "void:triples": 1370,
    "dcat:distribution": [
        {
            "type": "dcat:Distribution",
            "dcat:mediaType": "application/n-quads",
            "dcat:downloadURL": {"id": "http://127.0.0.1:8000/dumps/posgraph.nq"},
            "dcat:byteSize": 412873,
            "spdx:checksum": {"spdx:checksumValue": "9f2c…"},
        }
    ],
}
