"""What posgraph needs to know to speak to one kind of SPARQL engine (see :mod:`posgraph.engine`)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EngineProfile"]


@dataclass(frozen=True)
class EngineProfile:
    """How posgraph speaks to one kind of engine.

    ``store_protocol``: the engine serves the Graph Store Protocol (with a POST of N-Quads to the dataset applied as
    one transaction); without it, posgraph carries out each Graph Store request as SPARQL queries and one SPARQL
    update. ``default_graph``: for an engine whose default graph is not a graph of its own (Virtuoso's is the union
    of every graph, its own system graphs included), the named graph that holds posgraph's default graph; every
    query and update then gets a dataset naming it as the default graph and the other graphs (less
    ``system_graphs``, IRI prefixes of the engine's own graphs) as named graphs. ``rewrite_results``: SELECT and ASK
    answers are read from the engine as SPARQL JSON and written by posgraph in the format asked for (the engine's
    own CSV, TSV or booleans are not conformant). ``form_update``: updates are sent form-encoded.
    """

    name: str
    query_path: str = "/query"
    update_path: str = "/update"
    store_path: str = "/store"
    store_protocol: bool = True
    default_graph: str | None = None
    system_graphs: tuple[str, ...] = ()
    rewrite_results: bool = False
    form_update: bool = False
    # An error text the engine answers after it has carried out an update (a known fault of its status message).
    applied_despite: str | None = None
    # Datatypes the engine cannot keep (it converts their literals), stored under an opaque stand-in IRI and read
    # back under their own: posgraph's writes and every answer go through the mapping.
    opaque_datatypes: tuple[tuple[str, str], ...] = ()
    # A request parameter that caps the rows of a SELECT answer in the engine (with ``rewrite_results``).
    max_rows_parameter: str | None = None
    # Whether a query over the engine's own dataset is sent as an ``application/sparql-query`` body (the protocol's
    # "POST directly": nothing to form-encode) rather than form-encoded; bare Virtuoso 7.2 hangs on it.
    query_body: bool = False
    # Whether the engine takes blank nodes in ``INSERT DATA``; if not, such an operation is sent as the
    # ``INSERT … WHERE {}`` that means the same.
    data_blank_nodes: bool = True
    # Whether the engine answers a saved query whose aggregate's rows are bound in as a VALUES block (``#+ facts:``,
    # read from the collections' index) as it answers the subquery they stand for. Virtuoso 7.2 does not: FILTERs
    # on those variables inside NOT EXISTS let rows through, and rows are dropped or multiplied; there the engine
    # works the aggregate out itself.
    bound_aggregates: bool = True
