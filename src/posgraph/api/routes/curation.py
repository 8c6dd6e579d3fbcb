"""Routes for curators: who am I (and what may I do), dry-run validation, batches (submit, review, accept, reject,
revert; a batch in words; an entity's batches), and for admins SPARQL Update and Graph Store Protocol writes (bearer
token required)."""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from posgraph import curation, formats, metrics, workers
from posgraph.api.problems import problem_responses
from posgraph.api.requests import FORM as _FORM
from posgraph.api.requests import (
    client_address,
    content_type,
    decode_utf8,
    graph_parameter,
    read_body,
    require_media_type,
)
from posgraph.api.security import is_anonymous, require_role
from posgraph.api.state import app_state
from posgraph.catalog import Param
from posgraph.curation.writes import create_graph
from posgraph.engine import Engine
from posgraph.errors import (
    BadInput,
    EngineUnavailable,
    InvalidParameter,
    QuerySyntaxError,
    RdfSyntaxError,
    TooManyRequests,
    UnsupportedMediaType,
)
from posgraph.namespaces import served_context_urls

__all__ = ["router"]

router = APIRouter(tags=["curation"])

_SPARQL_UPDATE = "application/sparql-update"
_AUTH_RESPONSES = problem_responses(401, 403)
_NOTE_LIMIT = 2000


@router.get("/whoami", summary="The caller's token: name, role, what it may do (any token)", responses=_AUTH_RESPONSES)
async def whoami(request: Request) -> dict:
    """The token's name and role, and what it may do with batches (``may``: submit, review others' batches,
    accept its own, revert, update published data directly), as the review rules decide: a page shows only
    what the caller may do."""
    token = require_role(request, "reader")
    allow_self = app_state(request).settings.allow_self_accept
    return {
        "name": token.name,
        "role": token.role,
        "may": curation.permissions(token.name, token.role, allow_self_accept=allow_self),
    }


@router.post(
    "/sparql/update",
    status_code=204,
    summary="SPARQL 1.1 Update (admin token)",
    responses=_AUTH_RESPONSES | problem_responses(400, descriptions={400: "Malformed or refused update"}),
    openapi_extra={
        "requestBody": {
            "content": {
                _FORM: {"schema": {"type": "object", "properties": {"update": {"type": "string"}}}},
                _SPARQL_UPDATE: {"schema": {"type": "string"}},
            }
        }
    },
)
async def sparql_update(request: Request) -> Response:
    """Apply one update request atomically (all of it or none of it), for admins: published data otherwise changes
    only through reviewed batches. LOAD, SERVICE, staging and managed graphs, and posgraph's provenance records are
    refused, decided from the parsed update."""
    token = require_role(request, "admin")
    media_type = content_type(request)
    fields = parse_qsl(request.url.query, keep_blank_values=True)
    body = await read_body(request)
    if media_type == _FORM:
        fields += parse_qsl(decode_utf8(body, "form body"), keep_blank_values=True)
    elif media_type == _SPARQL_UPDATE:
        fields.append(("update", decode_utf8(body, "update")))
    else:
        raise UnsupportedMediaType(f"POST an update as {_FORM} or {_SPARQL_UPDATE}, not {media_type or 'no type'}")
    updates = [v for k, v in fields if k == "update"]
    if len(updates) != 1:
        raise QuerySyntaxError("the request must carry exactly one 'update'")
    await curation.run_update(
        app_state(request).engine,
        updates[0],
        actor=token.name,
        using_graphs=[v for k, v in fields if k == "using-graph-uri"],
        using_named_graphs=[v for k, v in fields if k == "using-named-graph-uri"],
        pool=app_state(request).guard_pool,
    )
    app_state(request).audit.record(token.name, "sparql-update", role=token.role, update=updates[0][:10_000])
    return Response(status_code=204)


async def _write(request: Request, method: str) -> Response:
    token = require_role(request, "admin")
    state = app_state(request)
    # Turtle and N-Triples only: one graph, in a syntax without entity expansion (RDF/XML) or graph names.
    media_type = require_media_type(request, (formats.TURTLE, formats.N_TRIPLES))
    body = await read_body(request)
    if method == "POST" and not {"graph", "default"} & set(request.query_params):
        # A POST to the store itself creates a graph and names it (Graph Store Protocol, section 5.5).
        graph, triples = await create_graph(state.engine, state.settings.base_url(), body, media_type, actor=token.name)
        state.audit.record(token.name, "gsp-create", role=token.role, graph=graph, triples=triples)
        return Response(status_code=201, headers={"Location": graph})
    graph = graph_parameter(request)
    status, triples = await curation.write_graph(state.engine, method, graph, body, media_type, actor=token.name)
    state.audit.record(token.name, f"gsp-{method.lower()}", role=token.role, graph=graph or "default", triples=triples)
    return Response(status_code=201 if status == 201 else 204)


_GSP_BODY = {
    "requestBody": {
        "content": {
            "text/turtle": {"schema": {"type": "string"}},
            "application/n-triples": {"schema": {"type": "string"}},
        }
    },
    "parameters": [
        {"name": "graph", "in": "query", "schema": {"type": "string"}},
        {"name": "default", "in": "query", "schema": {"type": "string"}},
    ],
}


@router.put(
    "/store",
    status_code=204,
    summary="Graph Store: replace a graph (admin token)",
    responses=_AUTH_RESPONSES | {201: {"description": "Graph created"}},
    openapi_extra=_GSP_BODY,
)
async def store_put(request: Request) -> Response:
    """Replace ``?graph=IRI`` (or ``?default``) with the Turtle or N-Triples body, atomically."""
    return await _write(request, "PUT")


@router.post(
    "/store",
    status_code=204,
    summary="Graph Store: add to a graph, or create a new one (admin token)",
    responses=_AUTH_RESPONSES | {201: {"description": "Graph created (a new one: Location names it)"}},
    openapi_extra=_GSP_BODY,
)
async def store_post(request: Request) -> Response:
    """Add the Turtle or N-Triples body to ``?graph=IRI`` (or ``?default``), atomically. Without either, create
    a new graph holding the body, named under the public base (201, its IRI in ``Location``)."""
    return await _write(request, "POST")


@router.delete(
    "/store",
    status_code=204,
    summary="Graph Store: delete a graph (admin token)",
    responses=_AUTH_RESPONSES | {404: {"description": "No such graph"}},
    openapi_extra={"parameters": _GSP_BODY["parameters"]},
)
async def store_delete(request: Request) -> Response:
    """Delete ``?graph=IRI`` (the default graph holds posgraph's provenance and cannot be deleted)."""
    token = require_role(request, "admin")
    graph = graph_parameter(request)
    await curation.delete_graph(app_state(request).engine, graph, actor=token.name)
    app_state(request).audit.record(token.name, "gsp-delete", role=token.role, graph=graph or "default")
    return Response(status_code=204)


# ------------------------------------------------------------------------------------------ validation and batches
_RDF_BODY = {
    "requestBody": {
        "content": {
            t: {"schema": {"type": "string"}}
            for t in (
                "text/turtle",
                "application/trig",
                "application/n-triples",
                "application/n-quads",
                "application/ld+json",
            )
        }
    }
}
_REPORT_TYPES = ("text/html", "text/turtle", "application/ld+json", "application/json")


def _staging(request: Request) -> Engine:
    staging = app_state(request).staging
    if staging is None:
        raise EngineUnavailable("no staging engine is configured (POSGRAPH_STAGING_ENGINE_URL)")
    return staging


async def _prepared_body(request: Request, limit: int | None = None) -> curation.PreparedBatch:
    """The request's RDF body, read within ``limit`` bytes and parsed in a worker process."""
    body = await read_body(request, limit, required="RDF as Turtle, TriG, N-Triples, N-Quads or JSON-LD")
    state = app_state(request)
    return await workers.run(
        state.work_pool,
        curation.prepare_body,
        body,
        request.headers.get("content-type", ""),
        served_context_urls(state.settings.base_url()),
    )


# Addresses with an anonymous validation running (per worker): one each, so one client cannot fill the pool.
_VALIDATING: set[str] = set()


@router.post(
    "/validate",
    summary="Dry-run validation of RDF against the shapes, in the context of the live graph",
    responses={
        200: {"description": "The SHACL report (conforms true or false)", "content": {t: {} for t in _REPORT_TYPES}}
    }
    | problem_responses(400, 401, 406, 413, 415, 422, 429, 503, 504),
    openapi_extra=_RDF_BODY,
)
async def validate(request: Request) -> Response:
    """Validate the body together with what it references in the published graph; nothing is stored. The report
    comes as flat JSON (default), a standard sh:ValidationReport (Turtle or JSON-LD), or an HTML page.

    Bodies are capped at POSGRAPH_MAX_VALIDATE_BYTES (413); without a token an address validates one body at a
    time (429); parsing and validating run in worker processes with a time limit (422 too-costly beyond)."""
    state = app_state(request)
    media_type = formats.negotiate(request.headers.get("accept"), _REPORT_TYPES)
    client = client_address(request)
    anonymous = is_anonymous(request)  # token holders hold no place in _VALIDATING
    if anonymous:
        if client in _VALIDATING:
            raise TooManyRequests("this address already has a validation running; send a token to run more at once")
        _VALIDATING.add(client)
    try:
        prepared = await _prepared_body(request, state.settings.max_validate_bytes)
        # The same validation as a submission: a batch carrying amendments is checked as the published graph
        # will be once they are applied.
        _, body, _ = await curation.validate_batch(
            state.engine, state.validator, prepared, pool=state.work_pool, render=media_type
        )
    finally:
        if anonymous:
            _VALIDATING.discard(client)
    return Response(body, media_type=media_type)


def _batch_view(batch: dict) -> dict:
    links = {"self": f"/batches/{batch['id']}", "triples": f"/batches/{batch['id']}/triples"}
    return batch | {"links": links}


@router.post(
    "/batches",
    status_code=201,
    summary="Submit a batch for review (curator token)",
    responses=_AUTH_RESPONSES
    | {
        409: {"description": "The same content was already submitted"},
        422: {"description": "Not conformant: the report, nothing stored"},
    },
    openapi_extra=_RDF_BODY,
)
async def submit(request: Request) -> JSONResponse:
    """Validate in context and store the batch in staging (invisible to public reads) as "submitted". ``label``
    names it; ``note`` (up to 2000 characters) says what it is or where it comes from: both are kept in its
    record, the audit log and, once accepted, its PROV description."""
    token = require_role(request, "curator")
    curation.may_submit(token.name, token.role)
    state = app_state(request)
    label = request.query_params.get("label")
    note = request.query_params.get("note") or None
    if note is not None and len(note) > _NOTE_LIMIT:
        raise InvalidParameter("note", f"is longer than {_NOTE_LIMIT} characters")
    prepared = await _prepared_body(request)
    batch = await curation.submit_batch(
        state.engine,
        _staging(request),
        state.validator,
        prepared,
        curator=token.name,
        label=label,
        note=note,
        pool=state.work_pool,
    )
    metrics.batches.labels(action="submit").inc()
    detail = {"label": batch["label"]} | ({"note": note} if note else {})
    state.audit.record(token.name, "batch-submit", batch=batch["id"], triples=batch["triples"], **detail)
    return JSONResponse(_batch_view(batch), status_code=201, headers={"Location": f"/batches/{batch['id']}"})


@router.get("/batches", summary="List batches, or an entity's batches (curator token)", responses=_AUTH_RESPONSES)
async def list_batches(request: Request, state: str | None = None, about: str | None = None) -> dict:
    """Every batch, newest first; ``state`` filters (submitted, accepted, rejected, reverted). With ``about``
    (an IRI, or a prefixed name such as pgid:party/russia): only the batches, in any state, whose triples describe
    it or whose amendments retract from it or merge it — the entity's history, each batch with its own."""
    require_role(request, "curator")
    if state is not None and state not in ("submitted", "accepted", "rejected", "reverted"):
        raise InvalidParameter("state", "use submitted, accepted, rejected or reverted")
    app = app_state(request)
    if about is not None:
        iri = str(Param("about", "iri", True).to_term(about))  # InvalidParameter naming "about" unless an IRI
        batches = await curation.batches_about(app.engine, _staging(request), iri, state=state)
    else:
        batches = await curation.list_batches(app.engine, _staging(request), state=state)
    return {"batches": [_batch_view(_listed(b)) for b in batches]}


def _listed(batch: dict) -> dict:
    """A batch as a list shows it: its report reduced to its counts (a queue shows them, not thousands of results)."""
    report = batch.get("report") or {}
    results = report.get("results") or []
    counts = {
        "violations": report.get("violations", sum(1 for r in results if r.get("severity") == "Violation")),
        "warnings": sum(1 for r in results if r.get("severity") == "Warning"),
    }
    return {k: v for k, v in batch.items() if k != "report"} | {"report_counts": counts}


@router.get(
    "/batches/{batch_id}",
    summary="A batch: state, report, history (curator token)",
    responses=_AUTH_RESPONSES | {404: {"description": "No such batch"}},
)
async def show_batch(batch_id: str, request: Request) -> JSONResponse:
    """The batch's record: state, curator, reviewer, counts, validation report and history."""
    require_role(request, "curator")
    app = app_state(request)
    return JSONResponse(_batch_view(await curation.get_batch(app.engine, _staging(request), batch_id)))


@router.get(
    "/batches/{batch_id}/triples",
    summary="A batch's triples (curator token)",
    responses=_AUTH_RESPONSES | {404: {"description": "No such batch"}},
)
async def batch_triples(batch_id: str, request: Request) -> Response:
    """The batch's triples as N-Triples or Turtle."""
    require_role(request, "curator")
    app = app_state(request)
    content = await curation.batch_triples(app.engine, _staging(request), batch_id)
    media_type = formats.negotiate(request.headers.get("accept"), (formats.TURTLE, formats.N_TRIPLES))
    if media_type == formats.TURTLE:
        content = await workers.run(app.work_pool, curation.turtle_from_ntriples, content)
    return Response(content, media_type=media_type)


@router.get(
    "/batches/{batch_id}/summary",
    summary="A batch in words, with what it links to (curator token)",
    responses=_AUTH_RESPONSES | problem_responses(404, 409, descriptions={409: "A bulk-loaded batch keeps no triples"}),
)
async def batch_summary(batch_id: str, request: Request) -> JSONResponse:
    """One sentence per thing the batch adds ("adds a Demand by Russia on Territory, stated 2025-07, citing …"),
    retracts or merges, each with its links (holders, issues, sources, what it supersedes or responds to …):
    labelled from the batch and the published graph, each saying whether it is published or in the batch."""
    require_role(request, "curator")
    app = app_state(request)
    summary = await curation.batch_summary(
        app.engine, _staging(request), app.validator.ontology, batch_id, pool=app.work_pool
    )
    return JSONResponse(summary | {"links": {"batch": f"/batches/{batch_id}"}})


async def _note(request: Request) -> str | None:
    """The optional note (a rejection's, a revert's reason) in the body: JSON {"note": …} or a form field."""
    body = await read_body(request)
    if not body:
        return None
    media_type = content_type(request)
    if media_type == "application/json":
        try:  # bounded nesting: 200,000 nested arrays would exhaust the parser's stack (a 500)
            data = formats.load_json(body, "the note")
        except RdfSyntaxError as exc:
            raise BadInput(f"the body is not JSON: {exc.message}") from None
        note = data.get("note") if isinstance(data, dict) else None
        return (str(note)[:_NOTE_LIMIT] or None) if note is not None else None
    if media_type == _FORM:
        return dict(parse_qsl(decode_utf8(body, "form body"))).get("note", "")[:_NOTE_LIMIT] or None
    raise UnsupportedMediaType('send an optional note as JSON {"note": …} or form-encoded')


@router.post(
    "/batches/{batch_id}/accept",
    summary="Accept and publish a batch (reviewer token)",
    responses=_AUTH_RESPONSES
    | {
        404: {},
        409: {"description": "Not in state submitted"},
        422: {"description": "No longer conformant against the live graph"},
    },
)
async def accept(batch_id: str, request: Request) -> JSONResponse:
    """Publish the batch atomically: its graph, its triples in the default graph, and its PROV-O description."""
    token = require_role(request, "curator")
    app = app_state(request)
    batch = await curation.accept_batch(
        app.engine,
        _staging(request),
        app.validator,
        batch_id,
        reviewer=token.name,
        role=token.role,
        allow_self_accept=app.settings.allow_self_accept,
        audit=app.audit,  # logged before the publishing write: a crash right after it leaves the line
        pool=app.work_pool,
    )
    metrics.batches.labels(action="accept").inc()
    return JSONResponse(_batch_view(batch))


@router.post(
    "/batches/{batch_id}/reject",
    summary="Reject a batch (reviewer token)",
    responses=_AUTH_RESPONSES | {404: {}, 409: {"description": "Not in state submitted"}},
)
async def reject(batch_id: str, request: Request) -> JSONResponse:
    """Mark the batch rejected, with an optional note; it never becomes public."""
    token = require_role(request, "curator")
    app = app_state(request)
    note = await _note(request)
    batch = await curation.reject_batch(
        app.engine, _staging(request), batch_id, reviewer=token.name, role=token.role, note=note
    )
    metrics.batches.labels(action="reject").inc()
    app.audit.record(token.name, "batch-reject", batch=batch_id, **({"note": note} if note else {}))
    return JSONResponse(_batch_view(batch))


@router.post(
    "/batches/{batch_id}/revert",
    summary="Revert an accepted batch, or preview it (reviewer token)",
    responses=_AUTH_RESPONSES | problem_responses(400, 404, 409, 429),
)
async def revert(batch_id: str, request: Request, dry_run: bool = False) -> JSONResponse:
    """With ``dry_run=true``: what would be removed and what in other batches depends on it. Otherwise withdraw
    the batch from the public graph in one transaction and return the record with that preview; an optional
    reason (JSON {"note": …} or a form field, as a rejection's) is kept in its history, the audit log and PROV."""
    token = require_role(request, "curator")  # curators may preview; curation decides who may revert
    if not dry_run:
        curation.may_revert(token.name, token.role)
    reason = None if dry_run else await _note(request)
    app = app_state(request)
    preview = await curation.revert_preview(app.engine, _staging(request), batch_id)
    if dry_run:
        return JSONResponse(preview)
    batch = await curation.revert_batch(
        app.engine,
        _staging(request),
        batch_id,
        actor=token.name,
        role=token.role,
        reason=reason,
        audit=app.audit,  # logged before the withdrawing write, as accept is
        audit_detail={"dependents": len(preview["dependents"])},
    )
    metrics.batches.labels(action="revert").inc()
    return JSONResponse(_batch_view(batch) | {"preview": preview})
