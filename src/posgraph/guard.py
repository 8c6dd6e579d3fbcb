"""What the public endpoint refuses, decided by parsing: every query and update is parsed by a SPARQL 1.1 parser
(rdflib's) and judged from its algebra, whatever its spelling (escapes, prefixes, BASE, comments, strings).

Queries may not use SERVICE or name a staging graph. Updates may not use LOAD or SERVICE, name a staging graph,
write control characters XML cannot carry, or touch what only the curation workflow writes (batch graphs, the
ontology graph, and in the default graph the provenance of batches and the change records). The checks are plain
functions meant to run in a worker process (``posgraph.workers``): rdflib's parser costs milliseconds per kilobyte,
and that must never be paid on the event loop.
"""

from __future__ import annotations

import re
from typing import Iterable, Iterator, Sequence

from pyparsing import ParseBaseException
from rdflib.plugins.sparql.algebra import translateQuery, translateUpdate
from rdflib.plugins.sparql.parser import expandUnicodeEscapes, parseQuery, parseUpdate
from rdflib.plugins.sparql.parserutils import CompValue
from rdflib.term import BNode, Literal, URIRef, Variable

from posgraph.errors import QueryRefused, QuerySyntaxError
from posgraph.formats import NOT_XML
from posgraph.namespaces import MANAGED_TYPES, PREFIXES, RDF, RDFS, STAGING, is_managed_graph, is_managed_resource
from posgraph.workers import with_deep_stack

__all__ = [
    "check_query",
    "check_update",
    "nesting_depth",
    "refuse_staging_graphs",
    "refuse_managed_triples",
    "MAX_NESTING",
]

_FORMS = {"SelectQuery": "select", "AskQuery": "ask", "ConstructQuery": "construct", "DescribeQuery": "describe"}
_SERVICE = "SERVICE (federated query) is not allowed on this endpoint"
_LOAD = "LOAD is not allowed: send the data in the request body instead"


def _syntax_error(exc: Exception, what: str) -> QuerySyntaxError | QueryRefused:
    if isinstance(exc, ParseBaseException):
        # rdflib fails on some valid SERVICE patterns (it re-scans the text for them): refused either way, say why.
        if exc.pstr[exc.loc : exc.loc + 7].upper() == "SERVICE":
            return QueryRefused(_SERVICE)
        return QuerySyntaxError(f"{what} does not parse: line {exc.lineno}, column {exc.col}: {exc.msg}")
    if isinstance(exc, RecursionError):
        return QuerySyntaxError(f"the {what} nests too deeply")
    return QuerySyntaxError(f"{what} does not parse: {str(exc)[:300]}")


# Oxigraph's recursive-descent parser overflows its stack on a few thousand nested groups, lists or brackets (the
# engine dies): refuse far sooner. Ordinary queries nest a handful of levels.
MAX_NESTING = 256
_INTERESTING = re.compile(r"""['"<#{}()\[\]]""")
_IRI_REF = re.compile(r"""<[^<>"{}|^`\\\x00-\x20]*>""")
_OPENERS, _CLOSERS = "{([", "})]"


def nesting_depth(text: str) -> int:
    """How deeply brackets (``{``, ``(``, ``[``) nest in SPARQL ``text``, outside strings, IRIs and comments.

    One pass over the text, each character looked at a bounded number of times, whatever the input.
    """
    text = expandUnicodeEscapes(text)
    depth = deepest = 0
    at = 0
    while True:
        found = _INTERESTING.search(text, at)
        if found is None:
            return deepest
        char, at = found.group(), found.end()
        if char in _OPENERS:
            depth += 1
            deepest = max(deepest, depth)
        elif char in _CLOSERS:
            depth = max(0, depth - 1)
        elif char == "#":
            end = text.find("\n", at)
            at = len(text) if end < 0 else end
        elif char == "<":
            iri = _IRI_REF.match(text, at - 1)
            if iri:
                at = iri.end()
        else:  # a string: long (three quotes) or short (ends at its quote, or at the line's end if unterminated)
            long = text.startswith(char * 3, at - 1)
            at = _string_end(text, at + 2 if long else at, char * 3 if long else char, long)


_STRING_STOPS = {q: re.compile("[\\\\\n" + q + "]") for q in "'\""}


def _string_end(text: str, at: int, quote: str, long: bool) -> int:
    stops = _STRING_STOPS[quote[0]]
    while True:
        found = stops.search(text, at)  # the nearest backslash, quote or line end: one scan, never repeated
        if found is None:
            return len(text)
        char, at = found.group(), found.start()
        if char == "\\":
            at += 2
        elif char == "\n":
            if not long:
                return at
            at += 1
        elif text.startswith(quote, at):
            return at + len(quote)
        else:
            at += 1  # a lone quote inside a long string


def _refuse_deep(text: str, what: str) -> None:
    if nesting_depth(text) > MAX_NESTING:
        raise QueryRefused(f"the {what} nests brackets more than {MAX_NESTING} levels deep")


def _parse(parse, translate, text: str, what: str):
    _refuse_deep(text, what)
    try:
        return with_deep_stack(lambda: translate(parse(text)))
    except (QuerySyntaxError, QueryRefused):
        raise
    except Exception as exc:  # rdflib raises plain Exceptions for unknown prefixes and the like
        raise _syntax_error(exc, what) from None


def _nodes(root: object) -> Iterator[object]:
    """Every node of an rdflib algebra tree: operators (CompValue), terms, and the containers between them."""
    stack, seen = [root], set()
    while stack:
        node = stack.pop()
        if isinstance(node, (str, int, float)) and not isinstance(node, (URIRef, Literal, BNode, Variable)):
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        yield node
        if isinstance(node, dict):  # CompValue is a dict, so are the quads of update templates
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, (list, tuple, set, frozenset)):
            stack.extend(node)


# rdflib keeps the escapes of prefixed names' local parts (pgid:staging\/b1) where SPARQL means the bare character.
_LOCAL_ESCAPE = re.compile(r"\\([_~.\-!$&'()*+,;=/?#@%])")


def _plain(term: object) -> str:
    """The IRI a term names, as the engine reads it (local-name escapes undone)."""
    return _LOCAL_ESCAPE.sub(r"\1", str(term))


def refuse_staging_graphs(iris: Iterable[str]) -> None:
    """Raise QueryRefused if any of ``iris`` is a staging graph: they hold unreviewed batches and are never public."""
    for iri in iris:
        iri = _plain(iri)
        if iri.startswith(str(STAGING)):
            raise QueryRefused(f"<{iri}> is a staging graph of an unreviewed batch and is not public")


def _refuse_in_tree(tree: object) -> None:
    iris = []
    for node in _nodes(tree):
        if isinstance(node, CompValue) and node.name == "ServiceGraphPattern":
            raise QueryRefused(_SERVICE)
        if isinstance(node, URIRef):
            iris.append(node)
    refuse_staging_graphs(iris)


def check_query(text: str, dataset_iris: Sequence[str] = ()) -> str:
    """Parse ``text`` as a SPARQL 1.1 query and return its form: "select", "ask", "construct" or "describe".

    Raises QuerySyntaxError (it does not parse: line, column and what was expected; an undeclared prefix named with
    the PREFIX line that fixes it; an update pointed at the update endpoint) or QueryRefused (SERVICE, a staging
    graph in the query or among ``dataset_iris``, brackets nested too deeply).
    """
    refuse_staging_graphs(dataset_iris)
    try:
        query = _parse(parseQuery, translateQuery, text, "query")
    except QuerySyntaxError as exc:
        raise _explained(exc, text) from None
    _refuse_in_tree(query.algebra)
    return _FORMS.get(query.algebra.name, "select")


_UNKNOWN_PREFIX = re.compile(r"Unknown namespace prefix : ?([^\s:]*)")


def _explained(exc: QuerySyntaxError, text: str) -> QuerySyntaxError:
    """The parser's error, said so that it names the fix: an undeclared prefix, or an update sent as a query."""
    unknown = _UNKNOWN_PREFIX.search(exc.message)
    if unknown:
        prefix = unknown.group(1)
        used = re.search(r"(?<![\w.:<-])" + re.escape(prefix) + ":", text)
        where = f" (line {text.count(chr(10), 0, used.start()) + 1})" if used else ""
        fix = f"<{PREFIXES[prefix]}>" if prefix in PREFIXES else "<…>"
        return QuerySyntaxError(f"the prefix {prefix}: is not declared{where}: add PREFIX {prefix}: {fix}")
    if _is_update(text):
        return QuerySyntaxError(
            "this is a SPARQL update, which the query endpoint does not run: POST it to /sparql/update (admin token)"
        )
    return exc


def _is_update(text: str) -> bool:
    """True when ``text`` parses as a SPARQL update holding at least one operation (a bare prologue or comment
    parses as an empty update, which is no update sent by mistake)."""
    try:
        update = with_deep_stack(parseUpdate, text)
    except Exception:  # it is no update either: the query's own error stands
        return False
    return bool(_field(update, "request"))


def check_update(text: str, using_iris: Sequence[str] = ()) -> None:
    """Parse ``text`` as a SPARQL 1.1 update and refuse what only posgraph may do; return None if it may run.

    Raises QuerySyntaxError (it does not parse) or QueryRefused (LOAD, SERVICE, a staging graph, a control
    character in a literal, or a write that could touch a managed graph or the provenance in the default graph).
    """
    refuse_staging_graphs(using_iris)
    update = _parse(parseUpdate, translateUpdate, text, "update")
    operations = getattr(update, "algebra", None)
    if not operations:
        raise QuerySyntaxError("the update holds no operation")
    for operation in operations:
        if operation.name == "Load":
            raise QueryRefused(_LOAD)
        _refuse_in_tree(operation)
        for node in _nodes(operation):
            if isinstance(node, Literal) and NOT_XML.search(str(node)):
                raise QueryRefused(_control_character(str(node)))
        _refuse_managed_writes(operation)


def _control_character(value: str) -> str:
    char = NOT_XML.search(value).group(0)
    return f"a literal holds the control character U+{ord(char):04X}, which XML answers cannot carry: remove it"


_GRAPH_OPERATIONS = ("Clear", "Drop", "Create")
_COPYING = ("Add", "Move", "Copy")


def _refuse_managed_writes(operation: CompValue) -> None:
    name = operation.name
    if name in _GRAPH_OPERATIONS:
        _refuse_graph_target(operation.graphiri, name.upper())
    elif name in _COPYING:
        source, target = operation.graph
        for graph in (source, target):
            if graph not in ("DEFAULT",) and is_managed_graph(_plain(graph)):
                raise QueryRefused(_managed_graph(graph))
        if target == "DEFAULT" or (name == "Move" and source == "DEFAULT"):
            raise QueryRefused(
                f"{name.upper()} into or out of the default graph would rewrite posgraph's provenance: "
                "write the triples with INSERT DATA, or submit a batch"
            )
    elif name in ("InsertData", "DeleteData", "DeleteWhere"):
        _refuse_template(operation, None)
    elif name == "Modify":
        target = _field(operation, "withClause")
        for clause in (_field(operation, "delete"), _field(operation, "insert")):
            if clause is not None:
                _refuse_template(clause, target)


def _field(node: CompValue, key: str) -> object:
    # CompValue.get answers the key itself for a missing key: look up plainly.
    return dict.get(node, key)


def _managed_graph(graph: object) -> str:
    return f"graph <{graph}> is managed by posgraph (batches, staging, ontology): change it through a curation batch"


def _refuse_graph_target(graph: object, verb: str) -> None:
    if graph in ("ALL", "NAMED"):
        raise QueryRefused(f"{verb} {graph} would remove the batch graphs: name the graph to {verb.lower()}")
    if graph == "DEFAULT":
        raise QueryRefused(f"{verb} DEFAULT would remove posgraph's provenance and change records")
    if is_managed_graph(_plain(graph)):
        raise QueryRefused(_managed_graph(graph))


def _refuse_template(clause: CompValue, default_target: object) -> None:
    """Refuse template (or data) triples that could write into a managed graph or a managed statement."""
    for graph in _field(clause, "quads") or {}:
        if isinstance(graph, Variable):
            raise QueryRefused(f"GRAPH ?{graph} in a template could write into a batch graph: name the graph")
        if is_managed_graph(_plain(graph)):
            raise QueryRefused(_managed_graph(graph))
    if default_target is not None:
        if is_managed_graph(_plain(default_target)):
            raise QueryRefused(_managed_graph(default_target))
        return  # WITH <g>: the template writes into <g>, a graph posgraph does not manage
    refuse_managed_triples(_field(clause, "triples") or [])


def refuse_managed_triples(triples: Iterable[tuple[object, object, object]]) -> None:
    """Raise QueryRefused if a triple (or a template triple, with variables) for the default graph could be — or
    match — a statement of posgraph's own provenance: about a batch, change or agent, with a PROV-O or batch
    property, or typing something as one of those; return None otherwise. Terms are rdflib terms or strings."""
    for s, p, o in triples:
        for term in (s, p):
            if isinstance(term, (URIRef, str)) and not isinstance(term, (Variable, BNode, Literal)):
                if is_managed_resource(_plain(term)):
                    raise QueryRefused(
                        f"<{term}> belongs to posgraph's provenance records, which only the curation workflow writes"
                    )
        subject_open = isinstance(s, Variable)
        if subject_open and isinstance(p, Variable):
            raise QueryRefused(
                "a template with a variable subject and property could rewrite posgraph's provenance records: "
                "name the property"
            )
        if _plain(p) == str(RDF.type) and (isinstance(o, Variable) or _plain(o) in MANAGED_TYPES):
            if subject_open or _plain(o) in MANAGED_TYPES:
                raise QueryRefused("typing resources as batches, changes or agents is the curation workflow's job")
        if subject_open and _plain(p) == str(RDFS.label):
            raise QueryRefused(
                "rdfs:label on a variable subject could rewrite the labels of batches and agents: bind the "
                "subject to the resources you mean with a class (e.g. ?s a pg:Demand) — or submit a batch"
            )
