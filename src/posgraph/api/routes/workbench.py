"""Routes for the curator workbench: its page, the forms it draws (described from the SHACL shapes, so a shape
change changes the form) and IRIs minted from labels. Everything else the page does goes through the public HTTP
API (/whoami, /validate, /batches, the collections), so whatever it can do is also possible with curl."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from posgraph.api import pages
from posgraph.api.admission import limited
from posgraph.api.caching import check_if_none_match
from posgraph.api.problems import problem_responses
from posgraph.api.state import app_state
from posgraph.curation.forms import form_spec
from posgraph.curation.minting import MINT_RULE, unique_iri
from posgraph.errors import InvalidParameter
from posgraph.namespaces import PREFIXES
from posgraph.validation import Validator

__all__ = ["router", "FormsDocument", "forms_document"]

router = APIRouter(tags=["workbench"])

_MINT_PARAMS = ("form", "label", "date")


@router.api_route("/workbench", methods=["GET", "HEAD"], include_in_schema=False)
async def workbench(request: Request) -> HTMLResponse:
    """The workbench page: the same HTML for everyone; what a token may do is asked of /whoami by its script."""
    return HTMLResponse(
        pages.workbench_page(), headers={"Content-Security-Policy": pages.WORKBENCH_POLICY, "Cache-Control": "no-cache"}
    )


@dataclass(frozen=True)
class FormsDocument:
    """The forms JSON of a validator's shapes, its ETag and the ids of its top-level forms."""

    body: bytes
    etag: str
    ids: tuple[str, ...]


def forms_document(validator: Validator) -> FormsDocument:
    """Describe ``validator``'s shapes as the workbench's forms (about 0.2 s: done once, when the app is made, never
    on the event loop; the shapes change only with a restart). Returns the FormsDocument."""
    spec = form_spec(validator.shapes, validator.ontology) | {"prefixes": dict(PREFIXES)}
    body = json.dumps(spec, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return FormsDocument(body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"', tuple(f["id"] for f in spec["forms"]))


@router.get(
    "/workbench/forms",
    summary="The entry forms, described from the SHACL shapes (JSON)",
    responses={304: {"description": "Not modified"}},
)
async def workbench_forms(request: Request) -> Response:
    """What a curator can create (each position kind, parties, people, sources, documents, events, places) and the
    nested parts (reports, terms, quantities, conditions, roles): their fields in the shapes' order with names,
    descriptions, cardinality, severity and widget, as the workbench draws them; ``prefixes`` maps the compact
    names of validation reports back to IRIs. ETag'd: it changes only when the server's shapes do."""
    forms = app_state(request).forms
    headers = {"ETag": forms.etag, "Cache-Control": "no-cache"}
    check_if_none_match(request, headers)
    return Response(forms.body, media_type="application/json", headers=headers)


@router.get(
    "/workbench/mint",
    summary="An IRI for a new entity, minted from its label",
    responses=problem_responses(400, 429, 503, 504),
    openapi_extra={
        "parameters": [
            {"name": "form", "in": "query", "required": True, "schema": {"type": "string"}, "example": "Party"},
            {"name": "label", "in": "query", "required": True, "schema": {"type": "string"}, "example": "Russia"},
            {"name": "date", "in": "query", "schema": {"type": "string"}, "example": "2025-07"},
        ]
    },
)
async def workbench_mint(request: Request) -> JSONResponse:
    """{"iri": …, "rule": …}: the IRI a new entity of form ``form`` (an id of /workbench/forms) labelled ``label``
    (with ``date`` for positions and sources) gets, not yet taken in the store (-2, -3 … appended while it is).
    Nothing is reserved: two drafts minting at once may get the same IRI, which review shows."""
    fields = parse_qsl(request.url.query, keep_blank_values=True)
    for key, _ in fields:
        if key not in _MINT_PARAMS:
            raise InvalidParameter(key, f"not a parameter of /workbench/mint; it takes {', '.join(_MINT_PARAMS)}")
    values = {}
    for key in _MINT_PARAMS:
        given = [v for k, v in fields if k == key]
        if len(given) > 1:
            raise InvalidParameter(key, "give it once")
        values[key] = given[0].strip() if given else ""
    state = app_state(request)
    known = state.forms.ids
    if not values["form"]:
        raise InvalidParameter("form", f"say what to mint an IRI for: one of {', '.join(known)}")
    if values["form"] not in known:
        raise InvalidParameter("form", f"{values['form'][:40]!r} is not a form; use one of {', '.join(known)}")
    if not values["label"]:
        raise InvalidParameter("label", "give the label (name, headline or summary) the IRI is made from")
    if len(values["label"]) > 500:
        raise InvalidParameter("label", "at most 500 characters")

    # Batches awaiting review count as taken too: two curators naming the same new party get two IRIs.
    also = (state.staging,) if state.staging is not None else ()

    async def mint() -> str:
        return await unique_iri(state.engine, values["form"], values["label"], values["date"] or None, also=also)

    iri = await limited(request, mint, state.settings.query_timeout)
    # The rule is said with every IRI, so that the curator sees why it reads as it does.
    return JSONResponse({"iri": iri, "rule": MINT_RULE}, headers={"Cache-Control": "no-store"})
