"""An async client for any SPARQL 1.1 engine (Protocol for query and update, Graph Store Protocol for bulk writes).

Every call has a deadline; transport failures become EngineUnavailable/EngineTimeout, an engine's 400 becomes
QuerySyntaxError carrying the engine's message (paths taken out). Other engine errors reach callers as generic
messages: their text, which can name the store's files, is logged instead. Answers can be read through a limiter
(posgraph.answer_limits) that caps them while they stream. Nothing here knows posgraph's data model.

Engines differ; an :class:`EngineProfile` says how to speak to one (``POSGRAPH_ENGINE_PROFILE``), so that only this
package knows: ``oxigraph`` (the bundled engine), ``generic`` (any SPARQL 1.1 Protocol + Graph Store Protocol server
on the configured paths) and ``virtuoso`` (OpenLink Virtuoso 7.2, see :data:`VIRTUOSO`).

The package: :mod:`~posgraph.engine.client` (the :class:`Engine` client), :mod:`~posgraph.engine.profile` (what a
profile says), :mod:`~posgraph.engine.virtuoso` (the Virtuoso profile and the SPARQL text written for it),
:mod:`~posgraph.engine.answers` (answers posgraph writes itself from an engine's).
"""

from posgraph.engine.answers import SPARQL_JSON
from posgraph.engine.client import PROFILES, Engine, EngineResponse, term_from_json
from posgraph.engine.profile import EngineProfile
from posgraph.engine.virtuoso import VIRTUOSO

__all__ = ["Engine", "EngineProfile", "EngineResponse", "PROFILES", "SPARQL_JSON", "VIRTUOSO", "term_from_json"]
