"""Direct writes for admins (SPARQL Update and Graph Store Protocol), outside the review workflow: checked, refused
where they would touch what only the workflow writes, and recorded as changes."""

from __future__ import annotations

import uuid
from typing import Sequence

import pyoxigraph as ox

from posgraph import formats, guard, workers
from posgraph.curation.entailment import supertype_triples, supertype_update
from posgraph.curation.intake import NT, refuse_simple_body
from posgraph.curation.provenance import change_update
from posgraph.engine import Engine
from posgraph.errors import BadInput, QueryRefused, QuerySyntaxError, UnsupportedMediaType, WorkerFailed, WorkTimeout
from posgraph.namespaces import is_managed_graph

__all__ = ["run_update", "write_graph", "delete_graph", "create_graph", "NEW_GRAPH_PATH"]


def _refuse_managed_graph(graph: str | None, method: str) -> None:
    if graph is None:
        if method in ("PUT", "DELETE"):  # replacing or emptying the default graph erases the provenance in it
            raise BadInput(
                f"{method} of the default graph would erase posgraph's provenance and change records: "
                "POST to add triples, or submit a batch"
            )
        return
    if is_managed_graph(graph):
        raise BadInput(
            f"graph <{graph}> is managed by posgraph (batches, staging, ontology); "
            "change it through a curation batch instead"
        )


async def run_update(
    engine: Engine,
    text: str,
    *,
    actor: str,
    using_graphs: Sequence[str] = (),
    using_named_graphs: Sequence[str] = (),
    timeout: float | None = None,
    pool: workers.WorkerPool | None = None,
) -> None:
    """Check a SPARQL update (parsed in ``pool``: see ``guard.check_update``) and run it as one transaction.

    The superclass types of what it types (see ``entailment``) are added, and the change is recorded (for the
    dataset version and the change feed), in the same request.
    Raises QueryRefused (LOAD, SERVICE, staging or managed graphs, provenance, control characters, or too costly
    to check), QuerySyntaxError or an engine error; on any error the engine has changed nothing.
    """
    if not text.strip():
        raise QuerySyntaxError("empty update")
    try:
        await workers.run(pool, guard.check_update, text, list(using_graphs) + list(using_named_graphs))
    except WorkTimeout:
        raise QueryRefused("the update is too costly to check within the time allowed: split it") from None
    except WorkerFailed:
        raise QuerySyntaxError("the update could not be checked (too large or too deeply nested)") from None
    # A request's USING dataset (using-graph-uri) scopes every operation in it: the superclass update then follows
    # on its own, so it reads the whole store rather than the client's chosen graphs.
    scoped = bool(using_graphs or using_named_graphs)
    await engine.update(
        text + ("" if scoped else " ;\n" + supertype_update()) + " ;\n" + change_update("updated", actor),
        using_graphs=using_graphs,
        using_named_graphs=using_named_graphs,
        timeout=timeout,
    )
    if scoped:
        await engine.update(supertype_update(), timeout=timeout)


async def write_graph(
    engine: Engine,
    method: str,
    graph: str | None,
    body: bytes,
    media_type: str,
    *,
    actor: str,
    timeout: float | None = None,
) -> tuple[int, int]:
    """Replace (PUT) or add to (POST) one graph with a client's RDF body, with the superclass types it implies;
    return (engine status, triples in the body).

    The body is parsed completely first (RdfSyntaxError with line and column; RDF/XML and quad formats are
    refused with UnsupportedMediaType), so the engine only ever receives well-formed N-Triples. Raises BadInput
    for a managed graph, or PUT of the default graph.
    """
    _refuse_managed_graph(graph, method)
    refuse_simple_body(media_type)
    fmt = formats.format_for_media_type(media_type)
    if not fmt.untrusted_ok or fmt.quads:
        raise UnsupportedMediaType(f"send a graph as Turtle or N-Triples, not {fmt.media_type}")
    quads = formats.read_quads(body, fmt, "request body")
    if graph is None:  # the default graph holds the provenance: no statement of it may come this way
        guard.refuse_managed_triples(
            (q.subject.value if isinstance(q.subject, ox.NamedNode) else None, q.predicate.value, q.object.value)
            for q in quads
        )
    # The superclass types the body implies go in the same request, to the same graph (see ``entailment``).
    implied = [ox.Quad(t.subject, t.predicate, t.object, ox.DefaultGraph()) for t in supertype_triples(quads)]
    payload = formats.serialize_quads([*quads, *implied], NT)
    status = await engine.graph_write(method, graph, payload, timeout=timeout)
    # A Graph Store request cannot carry the change record too: it follows in a second, tiny transaction.
    await engine.update(change_update("updated", actor), timeout=timeout)
    return status, len(quads)


async def delete_graph(engine: Engine, graph: str | None, *, actor: str, timeout: float | None = None) -> None:
    """Delete one graph; raises NotFound, or BadInput for a managed graph or the default graph."""
    _refuse_managed_graph(graph, "DELETE")
    await engine.graph_delete(graph, timeout=timeout)
    await engine.update(change_update("updated", actor), timeout=timeout)


# Where graphs created by a Graph Store POST to the store itself are named (under the server's public base).
NEW_GRAPH_PATH = "/store/graphs/"


async def create_graph(
    engine: Engine, base_url: str, body: bytes, media_type: str, *, actor: str, timeout: float | None = None
) -> tuple[str, int]:
    """Create a new graph, named ``base_url`` + NEW_GRAPH_PATH + a random id, holding a client's RDF body; return
    (its IRI, triples). The body is checked as by ``write_graph`` (POST), which raises the same errors."""
    graph = f"{base_url.rstrip('/')}{NEW_GRAPH_PATH}{uuid.uuid4().hex}"
    _, triples = await write_graph(engine, "POST", graph, body, media_type, actor=actor, timeout=timeout)
    return graph, triples
