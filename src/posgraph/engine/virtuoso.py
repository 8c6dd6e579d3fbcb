"""The Virtuoso profile and the SPARQL text posgraph writes for it: the dataset as ``define``s, updates split into
their operations, inserts that carry blank nodes across graphs. Text only, no I/O (the client is
:class:`posgraph.engine.client.Engine`)."""

from __future__ import annotations

import re
import secrets
from typing import Callable, Iterable, Iterator, Mapping

import pyoxigraph as ox

from posgraph.engine.profile import EngineProfile

__all__ = ["VIRTUOSO", "insert_update"]

#: OpenLink Virtuoso 7.2 (Debian's virtuoso-opensource 7.2.5). Its /sparql endpoint answers queries sent as a form
#: (a direct ``application/sparql-query`` POST hangs) and updates once SPARQL_UPDATE is granted to its SPARQL user;
#: it has no default graph of its own and no usable Graph Store Protocol (HEAD 501, ``GET ?default`` 500); its TSV
#: and CSV quote IRIs as strings and its booleans read "1"; an INSERT or DELETE whose template names graphs through
#: a variable, or several graphs, is carried out and then answered with error SR002 from its status message; it
#: cannot keep an xsd:duration literal.
VIRTUOSO = EngineProfile(
    "virtuoso",
    query_path="/sparql",
    update_path="/sparql",
    store_path="/sparql-graph-crud",
    store_protocol=False,
    default_graph="urn:x-posgraph:default-graph",
    system_graphs=(
        "http://www.openlinksw.com/schemas/virtrdf#",
        "http://www.w3.org/ns/ldp#",
        "http://localuriqaserver/",
        "http://www.w3.org/2002/07/owl#",
    ),
    rewrite_results=True,
    form_update=True,
    applied_despite="Function string_output_string needs a string output as argument 1",
    # Virtuoso 7.2 stores an xsd:duration as a number of seconds ("P50D" reads "4.32e+06") or refuses it.
    opaque_datatypes=(("http://www.w3.org/2001/XMLSchema#duration", "urn:x-posgraph:datatype:xsd-duration"),),
    max_rows_parameter="maxrows",
    data_blank_nodes=False,
    bound_aggregates=False,
)

# A dataset named in the query text (FROM / FROM NAMED): then the text's dataset is the query's, as the standard says.
_FROM = re.compile(r"\bFROM\s+(?:NAMED\s+)?(?:<|[A-Za-z_][\w.-]*:)", re.IGNORECASE)
_GRAPH_WORD = re.compile(r"\bGRAPH\b", re.IGNORECASE)
# The graphs a text names after GRAPH, by IRI or by prefixed name (resolved with the text's PREFIX declarations).
_GRAPH_IRI = re.compile(r"\bGRAPH\s*<([^<>\"{}|^`\\\s]*)>", re.IGNORECASE)
_GRAPH_PNAME = re.compile(r"\bGRAPH\s+([A-Za-z][\w.-]*)?:([\w.-]*)", re.IGNORECASE)
_PREFIX_DECL = re.compile(r"\bPREFIX\s+([A-Za-z][\w.-]*)?:\s*<([^<>\"{}|^`\\\s]*)>", re.IGNORECASE)
_IRI_AT = re.compile(r"<[^<>\"{}|^`\\\s]*>")
_PROLOGUE_DECL = re.compile(r"\b(?:PREFIX\s+(?:[A-Za-z][\w.-]*)?:\s*|BASE\s+)<[^<>\"{}|^`\\\s]*>", re.IGNORECASE)
_WORD = re.compile(r"(?:WHERE|USING|WITH|DELETE)\b", re.IGNORECASE)
_NAME_CHAR = re.compile(r"[\w?$:]")  # before a keyword, it makes the word part of a name or variable
# The predicate of the one-off marks that carry blank nodes from one graph to another within an insert.
_MARK = "urn:x-posgraph:blank-node-mark"
_INSERT_DATA = re.compile(r"INSERT\s+DATA\b", re.IGNORECASE)


def insert_update(quads: list, default_graph: str, stored: Callable[[str], str]) -> str:
    """One SPARQL update (operations joined by ';', one request) adding ``quads`` (the default graph's
    quads to ``default_graph``, each triple's text written through ``stored``): INSERT DATA with a GRAPH
    block per graph for the quads without blank nodes. Virtuoso refuses blank nodes there, fails on large
    templates, and drops the rest of a request after a template naming several graphs; so the quads linked by
    blank nodes go as one small ``INSERT … WHERE {}`` per group into one graph (within one, a label is one
    fresh node), its nodes marked there with one-off tokens, then as one ``INSERT … WHERE`` per other graph
    that finds the same nodes by their marks; the marks are deleted last."""
    plain: dict[str, list[str]] = {}
    parent: dict[str, str] = {}  # union-find over blank node labels: quads linked by a blank node stay together

    def root(label: str) -> str:
        while parent.setdefault(label, label) != label:
            label = parent[label]
        return label

    blank_quads = []
    for quad in quads:
        graph = quad.graph_name
        name = default_graph if isinstance(graph, ox.DefaultGraph) else graph.value
        labels = [t.value for t in (quad.subject, quad.object) if isinstance(t, ox.BlankNode)]
        if not labels:
            plain.setdefault(name, []).append(stored(f"{quad.subject} {quad.predicate} {quad.object} ."))
            continue
        for other in labels[1:]:
            parent[root(other)] = root(labels[0])
        blank_quads.append((labels[0], name, quad))
    operations = []
    if plain:
        operations.append("INSERT DATA {\n" + _graph_blocks(plain) + "\n}")
    groups: dict[str, dict[str, list]] = {}
    for label, name, quad in blank_quads:
        groups.setdefault(root(label), {}).setdefault(name, []).append(quad)
    request = secrets.token_hex(8)
    marked: set[str] = set()
    variables: dict[str, str] = {}
    for group in groups.values():
        (first, first_quads), *others = group.items()
        lines = [stored(f"{q.subject} {q.predicate} {q.object} .") for q in first_quads]
        labels = sorted(
            {
                t.value
                for _, quads_ in group.items()
                for q in quads_
                for t in (q.subject, q.object)
                if isinstance(t, ox.BlankNode)
            }
        )
        if others:
            for label in labels:
                variables.setdefault(label, f"?b{len(variables)}")
            marks = [f'_:{label} <{_MARK}> "{request}-{variables[label][2:]}" .' for label in labels]
            lines += marks
            marked.add(first)
        operations.append(f"INSERT {{\n{_graph_blocks({first: lines})}\n}} WHERE {{}}")
        for name, other_quads in others:
            template = [
                stored(" ".join(_pattern_term(t, variables) for t in (q.subject, q.predicate, q.object))) + " ."
                for q in other_quads
            ]
            found = [f'{variables[label]} <{_MARK}> "{request}-{variables[label][2:]}" .' for label in labels]
            operations.append(
                f"INSERT {{\n{_graph_blocks({name: template})}\n}} WHERE {{\n{_graph_blocks({first: found})}\n}}"
            )
    operations += [
        f"DELETE {{ GRAPH <{name}> {{ ?node <{_MARK}> ?mark }} }} WHERE {{ GRAPH <{name}> {{ ?node <{_MARK}> ?mark "
        f'FILTER (STRSTARTS(?mark, "{request}-")) }} }}'
        for name in sorted(marked)
    ]
    return " ;\n".join(operations)


def _graph_blocks(by_graph: Mapping[str, list[str]]) -> str:
    return "\n".join(f"GRAPH <{g}> {{\n" + "\n".join(lines) + "\n}" for g, lines in by_graph.items())


def _pattern_term(term, variables: Mapping[str, str]) -> str:
    """A term of a triple pattern: a blank node as its variable, anything else in N-Triples syntax."""
    return variables[term.value] if isinstance(term, ox.BlankNode) else str(term)


def _code(text: str) -> Iterator[tuple[int, int]]:
    """The positions of a SPARQL text outside strings, IRIs and comments, each with its depth in braces (before
    the character at it)."""
    depth, i, n = 0, 0, len(text)
    while i < n:
        c = text[i]
        if c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end + 1
            continue
        if c in "\"'":
            quote = c * 3 if text.startswith(c * 3, i) else c
            i += len(quote)
            while i < n and not text.startswith(quote, i):
                i += 2 if text[i] == "\\" else 1
            i += len(quote)
            continue
        if c == "<" and (m := _IRI_AT.match(text, i)):
            i = m.end()
            continue
        yield i, depth
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        i += 1


def _operations(update: str) -> list[str]:
    """The operations of a SPARQL update, each with the prologue (PREFIX, BASE) of the text before it. Split at the
    semicolons outside braces, strings, IRIs and comments."""
    n = len(update)
    cuts = [i for i, depth in _code(update) if depth == 0 and update[i] == ";"]
    if not cuts:
        return [update]
    parts = [update[a + 1 : b] for a, b in zip([-1, *cuts], [*cuts, n], strict=True)]
    operations, prologue = [], ""
    for part in parts:
        if not part.strip():
            continue
        operations.append(prologue + part)
        prologue += "".join(m.group(0) + "\n" for m in _PROLOGUE_DECL.finditer(part))
    return operations


def _without_blank_data(operation: str) -> str:
    """An ``INSERT DATA`` operation whose data has blank nodes (``_:b`` or ``[]``) as the ``INSERT … WHERE {}`` that
    means the same (one solution: each label one fresh node across the template's graphs); any other operation as it
    is. Virtuoso refuses blank nodes in ``INSERT DATA`` ("not allowed in a constant clause")."""
    code = list(_code(operation))
    starts = [
        i
        for i, depth in code
        if depth == 0 and _INSERT_DATA.match(operation, i) and (i == 0 or not _NAME_CHAR.match(operation, i - 1))
    ]
    if not starts:
        return operation
    keyword = _INSERT_DATA.match(operation, starts[0])
    assert keyword is not None
    after = [(i, depth) for i, depth in code if i >= keyword.end()]
    close = next((i for i, depth in after if depth == 1 and operation[i] == "}"), None)
    blank = any(
        depth > 0
        and (operation[i] == "[" or (operation.startswith("_:", i) and not _NAME_CHAR.match(operation, i - 1)))
        for i, depth in after
        if close is None or i < close
    )
    if close is None or not blank:
        return operation
    return (
        operation[: keyword.start()]
        + "INSERT"
        + operation[keyword.end() : close + 1]
        + " WHERE {}"
        + operation[close + 1 :]
    )


def _with_using(operation: str, graphs: Iterable[str], named: Iterable[str]) -> str:
    """An update operation with ``USING <g>`` / ``USING NAMED <g>`` before its WHERE (the Protocol's
    ``using-graph-uri`` and ``using-named-graph-uri``, which Virtuoso takes as the graph to write into). An operation
    without a WHERE of its own, a ``DELETE WHERE``, or one that names its dataset (USING, WITH) is left as it is."""
    clauses = [f"USING <{g}>" for g in graphs] + [f"USING NAMED <{g}>" for g in named]
    words = [
        (i, m.group(0).upper())
        for i, depth in _code(operation)
        if depth == 0 and (m := _WORD.match(operation, i)) and (i == 0 or not _NAME_CHAR.match(operation, i - 1))
    ]
    names = [w for _, w in words]
    if not clauses or "USING" in names or "WITH" in names or "WHERE" not in names:
        return operation
    at = names.index("WHERE")
    if at > 0 and names[at - 1] == "DELETE":
        return operation
    where = words[at][0]
    return operation[:where] + " ".join(clauses) + "\n" + operation[where:]


def _graphs_named_in(text: str) -> list[str]:
    """The IRIs a SPARQL text writes after GRAPH (prefixed names resolved with its PREFIX declarations)."""
    found = _GRAPH_IRI.findall(text)
    if ":" in text:
        prefixes = {name or "": iri for name, iri in _PREFIX_DECL.findall(text)}
        found += [prefixes[p or ""] + local for p, local in _GRAPH_PNAME.findall(text) if (p or "") in prefixes]
    return [iri for iri in found if _plain_iri(iri) and ":" in iri]


def _plain_iri(value: str) -> bool:
    """Whether an IRI can go between angle brackets as it is (an engine's graph list is not trusted)."""
    return not any(c in value for c in '<>"{}|^`\\ \n\r\t')
