"""RDF media types, parsing with exact error positions, and conversion between pyoxigraph and rdflib terms.

pyoxigraph parses (fast, and its errors give line and column); rdflib holds graphs for pyshacl and serialising.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import json
import operator
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterable, Iterator, Sequence

import mimeparse
import pyoxigraph as ox
import rdflib
from rdflib.namespace import XSD
from rdflib.plugins.serializers import jsonld as jsonld_writer

from posgraph.errors import BadInput, NotAcceptable, RdfSyntaxError, UnsupportedMediaType

__all__ = [
    "RdfFormat",
    "RDF_FORMATS",
    "format_for_media_type",
    "format_for_path",
    "read_quads",
    "QuadChunk",
    "read_chunks",
    "read_jsonld",
    "load_json",
    "MAX_JSON_DEPTH",
    "refuse_control_chars",
    "NOT_XML",
    "to_rdflib_graph",
    "serialize_quads",
    "serialize_graph",
    "ox_term_to_rdflib",
    "content_hash",
    "ContentHasher",
    "negotiate",
    "result_media_type",
    "ntriples_to_jsonld",
    "jsonld_bytes",
    "RESULT_MEDIA_TYPES",
    "GRAPH_MEDIA_TYPES",
]

_RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"


@dataclass(frozen=True)
class RdfFormat:
    """One RDF syntax: its media type, file extensions, whether it holds quads, and the two libraries' names for it."""

    name: str
    media_type: str
    extensions: tuple[str, ...]
    quads: bool
    ox_format: ox.RdfFormat
    rdflib_format: str
    # RDF/XML is refused from untrusted clients: entity expansion and quadratic blow-ups were reproduced in parsers.
    untrusted_ok: bool = True


RDF_FORMATS: tuple[RdfFormat, ...] = (
    RdfFormat("turtle", "text/turtle", (".ttl",), False, ox.RdfFormat.TURTLE, "turtle"),
    RdfFormat("trig", "application/trig", (".trig",), True, ox.RdfFormat.TRIG, "trig"),
    RdfFormat("n-triples", "application/n-triples", (".nt",), False, ox.RdfFormat.N_TRIPLES, "nt"),
    RdfFormat("n-quads", "application/n-quads", (".nq",), True, ox.RdfFormat.N_QUADS, "nquads"),
    # JSON-LD is read only through read_jsonld, which pins posgraph's context (no context is ever fetched).
    RdfFormat("json-ld", "application/ld+json", (".jsonld",), True, ox.RdfFormat.JSON_LD, "json-ld"),
    RdfFormat(
        "rdf-xml",
        "application/rdf+xml",
        (".rdf", ".owl", ".xml"),
        False,
        ox.RdfFormat.RDF_XML,
        "xml",
        untrusted_ok=False,
    ),
)
_ALIASES = {
    "application/x-turtle": "text/turtle",
    "text/n3": "text/turtle",
    "text/plain": "application/n-triples",
    "application/x-trig": "application/trig",
    "text/x-nquads": "application/n-quads",
}


def format_for_media_type(media_type: str) -> RdfFormat:
    """Return the RdfFormat for a media type (parameters such as charset are ignored).

    Raises UnsupportedMediaType for anything else.
    """
    base = media_type.split(";", 1)[0].strip().lower()
    base = _ALIASES.get(base, base)
    for fmt in RDF_FORMATS:
        if fmt.media_type == base or fmt.name == base:
            return fmt
    raise UnsupportedMediaType(  # clients send these: name only what a client may send (not RDF/XML)
        f"unsupported RDF media type {media_type!r}; use one of "
        + ", ".join(f.media_type for f in RDF_FORMATS if f.untrusted_ok)
    )


def format_for_path(path: Path | str) -> RdfFormat:
    """Return the RdfFormat a file name's extension implies; raises UnsupportedMediaType if none does."""
    suffix = Path(path).suffix.lower()
    for fmt in RDF_FORMATS:
        if suffix in fmt.extensions:
            return fmt
    raise UnsupportedMediaType(
        f"{path}: cannot tell the RDF format from the extension {suffix!r}; use one of "
        + ", ".join(e for f in RDF_FORMATS for e in f.extensions)
    )


def read_quads(
    data: bytes | IO[bytes],
    fmt: RdfFormat,
    source: str,
    *,
    base_iri: str | None = None,
    allow_control_chars: bool = False,
) -> list[ox.Quad]:
    """Parse ``data`` completely and return its quads (triples land in the default graph).

    Raises RdfSyntaxError with the source name, line, column and the parser's message; nothing is returned
    for a document that fails anywhere, so callers never see half a file. Unless ``allow_control_chars`` (for
    answers of the engine itself), a literal or IRI holding a character XML 1.0 cannot carry is an RdfSyntaxError
    too (see ``refuse_control_chars``).
    """
    try:
        quads = list(ox.parse(data, format=fmt.ox_format, base_iri=base_iri))
    except SyntaxError as exc:
        return _raise_syntax(exc, source)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RdfSyntaxError(source, str(exc)) from None
    if not allow_control_chars and not (isinstance(data, bytes) and _surely_xml_safe(data)):
        refuse_control_chars(quads, source)
    return quads


@dataclass(frozen=True)
class QuadChunk:
    """A run of parsed statements as triples (every quad in the default graph) and their N-Quads as pyoxigraph
    writes them: one line per quad, in the same order."""

    quads: list[ox.Quad]
    nquads: bytes


CHUNK_STATEMENTS = 20_000


def read_chunks(
    data: bytes | IO[bytes], fmt: RdfFormat, source: str, *, base_iri: str | None = None, size: int = CHUNK_STATEMENTS
) -> Iterator[QuadChunk]:
    """Parse ``data`` as it is read and yield its statements ``size`` at a time, graph names dropped (see
    QuadChunk), so a file of any size is read in bounded memory.

    Raises RdfSyntaxError (source, line, column, message) where the document fails, after earlier chunks were
    yielded: a caller that must not act on half a document reads to the end before acting. A literal or IRI
    holding a character XML 1.0 cannot carry is an RdfSyntaxError too (see ``refuse_control_chars``).
    """
    parser = ox.parse(data, format=fmt.ox_format, base_iri=base_iri)
    drop_graphs = fmt.quads
    while True:
        try:
            quads = list(itertools.islice(parser, size))
        except SyntaxError as exc:
            _raise_syntax(exc, source)
        except (ValueError, UnicodeDecodeError) as exc:
            raise RdfSyntaxError(source, str(exc)) from None
        if not quads:
            return
        if drop_graphs:
            quads = [ox.Quad(q.subject, q.predicate, q.object) for q in quads]
        nquads = ox.serialize(quads, format=ox.RdfFormat.N_QUADS)
        if not _serialized_xml_safe(nquads):
            refuse_control_chars(quads, source)
        yield QuadChunk(quads, nquads)


# Characters XML 1.0 cannot carry (C0 controls but TAB, LF and CR; U+FFFE, U+FFFF): one stored in a literal would
# make every SPARQL XML and RDF/XML answer holding it malformed, so RDF coming in is refused with them (and SPARQL
# updates writing them, in guard).
NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_C0_NOT_XML = bytes(c for c in range(32) if c not in (9, 10, 13))
# What may spell such a character besides itself: escapes (\u, \U in Turtle and N-Triples; &# in RDF/XML).
_SPELLINGS = (b"\\u", b"\\U", b"&#", "\ufffe".encode(), "\uffff".encode())


def _surely_xml_safe(data: bytes) -> bool:
    """True when ``data`` cannot spell a character XML cannot carry (then its terms need not be looked at)."""
    # translate and ``in`` run at memory speed (30 ms for 30 MB); a regex over the bytes took ten times as long.
    return len(data.translate(None, _C0_NOT_XML)) == len(data) and not any(s in data for s in _SPELLINGS)


def _serialized_xml_safe(nquads: bytes) -> bool:
    """True when N-Quads pyoxigraph wrote cannot hold a character XML cannot carry: raw, or escaped as \\uXXXX,
    \\UXXXXXXXX, \\b (U+0008) or \\f (U+000C) (an escaped backslash before a u, b or f only costs the slower look
    at terms). Unlike input, N-Quads has no other escape (``&#`` is text)."""
    if len(nquads.translate(None, _C0_NOT_XML)) != len(nquads):
        return False
    # Each test is one scan for a byte most documents lack (a backslash; U+FFFE and U+FFFF begin EF BF in UTF-8).
    if b"\xef\xbf" in nquads and ("\ufffe".encode() in nquads or "\uffff".encode() in nquads):
        return False
    return b"\\" not in nquads or not any(e in nquads for e in (b"\\u", b"\\U", b"\\b", b"\\f"))


def _term_texts(term: object) -> Iterator[str]:
    if isinstance(term, ox.Literal):
        yield term.value
        yield term.datatype.value
    elif isinstance(term, ox.NamedNode):
        yield term.value
    elif isinstance(term, ox.Triple):  # an RDF 1.2 triple term
        for part in (term.subject, term.predicate, term.object):
            yield from _term_texts(part)


def refuse_control_chars(quads: Sequence[ox.Quad], source: str) -> None:
    """Raise RdfSyntaxError, naming the statement and the character, if a literal or IRI in ``quads`` holds a
    character XML 1.0 cannot carry (C0 controls other than TAB, LF and CR; U+FFFE; U+FFFF)."""
    terms = (term for quad in quads for term in (quad.subject, quad.predicate, quad.object, quad.graph_name))
    texts = (text for term in terms for text in _term_texts(term))
    # One search over everything (LF, the separator, is allowed); the statement is looked for only on a hit.
    if not NOT_XML.search("\n".join(texts)):
        return
    for quad in quads:
        for term in (quad.subject, quad.predicate, quad.object, quad.graph_name):
            for text in _term_texts(term):
                found = NOT_XML.search(text)
                if found:
                    what = "the literal" if isinstance(term, ox.Literal) else "the IRI"
                    raise RdfSyntaxError(
                        source,
                        f"{what} {_shorten(text)} in the statement {_shorten(str(quad.subject), 200)} "
                        f"{_shorten(str(quad.predicate), 200)} … holds the control character "
                        f"U+{ord(found.group()):04X}, which XML cannot carry; remove it",
                    )


def _shorten(text: str, limit: int = 80) -> str:
    shown = text if len(text) <= limit else text[:limit] + "…"
    return ascii(shown) if NOT_XML.search(shown) else shown


def read_jsonld(data: bytes, source: str, context: dict, context_urls: Iterable[str]) -> list[ox.Quad]:
    """Parse a JSON-LD document whose only external context is posgraph's own, which is inlined, never fetched.

    Any other context given by URL (at any depth, or through @import) is refused with BadInput; a JSON syntax
    error is an RdfSyntaxError with line and column; JSON nested deeper than MAX_JSON_DEPTH is a BadInput; a
    literal or IRI holding a character XML cannot carry is an RdfSyntaxError (see ``refuse_control_chars``).
    """
    doc = load_json(data, source)
    allowed = set(context_urls)

    def pin(node: object) -> object:  # load_json bounded the depth: this recursion is bounded too
        if isinstance(node, list):
            return [pin(item) for item in node]
        if not isinstance(node, dict):
            return node
        out = {}
        for key, value in node.items():
            if key == "@context":
                out[key] = pin_context(value)
            elif key == "@import":
                raise BadInput(f"{source}: @import of another context is not allowed")
            else:
                out[key] = pin(value)
        return out

    def pin_context(value: object) -> object:
        if isinstance(value, list):
            return [pin_context(item) for item in value]
        if isinstance(value, str):
            if value in allowed:
                return context["@context"]
            raise BadInput(
                f"{source}: the JSON-LD context {value[:200]!r} is not posgraph's; remote and local "
                f"contexts are never fetched (use {sorted(allowed)[0]} or an inline context)"
            )
        return pin(value)

    pinned = json.dumps(pin(doc)).encode("utf-8")
    try:
        quads = list(ox.parse(pinned, format=ox.RdfFormat.JSON_LD, base_iri=None))
    except SyntaxError as exc:
        raise RdfSyntaxError(source, exc.msg or str(exc)) from None
    except ValueError as exc:
        raise RdfSyntaxError(source, str(exc)) from None
    refuse_control_chars(quads, source)
    return quads


# Far deeper than any document posgraph reads or writes (a position's terms and conditions nest a few levels);
# checked while walking, so nothing recurses deeper than this, whatever the interpreter's recursion limit.
MAX_JSON_DEPTH = 100


def _too_deep(source: str) -> str:
    return f"{source}: the JSON is nested more than {MAX_JSON_DEPTH} levels deep"


def load_json(data: bytes, source: str) -> object:
    """Parse a client's JSON document and return it.

    Raises RdfSyntaxError (not UTF-8, or a syntax error with line and column) or BadInput when it is nested
    more than MAX_JSON_DEPTH levels deep (200,000 nested arrays would otherwise exhaust the parser's stack).
    """
    try:
        doc = json.loads(data)
    except UnicodeDecodeError as exc:
        raise RdfSyntaxError(source, f"not UTF-8: {exc.reason}") from None
    except json.JSONDecodeError as exc:
        raise RdfSyntaxError(source, exc.msg, exc.lineno, exc.colno) from None
    except RecursionError:
        raise BadInput(_too_deep(source)) from None
    # Iteratively: the parser's own limit is the interpreter's recursion limit, which a caller may have raised.
    stack = [(doc, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise BadInput(_too_deep(source))
        if isinstance(node, dict):
            stack.extend((value, depth + 1) for value in node.values())
        elif isinstance(node, list):
            stack.extend((item, depth + 1) for item in node)
    return doc


def _raise_syntax(exc: SyntaxError, source: str) -> list[ox.Quad]:
    message = exc.msg or str(exc)
    # pyoxigraph prefixes "Parser error between line L column C and …:"; keep only the parser's own words.
    if message.startswith("Parser error") and ": " in message:
        message = message.split(": ", 1)[1]
    raise RdfSyntaxError(source, message, exc.lineno, exc.offset) from None


def ox_term_to_rdflib(term: object) -> rdflib.term.Node:
    """Convert one pyoxigraph term to rdflib (xsd:string and rdf:langString literals become plain ones)."""
    if isinstance(term, ox.NamedNode):
        return rdflib.URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return rdflib.BNode(term.value)
    if isinstance(term, ox.Literal):
        if term.language:
            return rdflib.Literal(term.value, lang=term.language)
        datatype = term.datatype.value
        if datatype == str(XSD.string) or datatype == _RDF_LANG_STRING:
            return rdflib.Literal(term.value)
        return rdflib.Literal(term.value, datatype=rdflib.URIRef(datatype))
    raise TypeError(f"unsupported term {term!r}")


def to_rdflib_graph(quads: Iterable[ox.Quad], graph: rdflib.Graph | None = None) -> rdflib.Graph:
    """Add every quad's triple (whatever its graph) to ``graph`` (a new one if None) and return it."""
    graph = rdflib.Graph() if graph is None else graph
    conv = ox_term_to_rdflib
    for q in quads:
        graph.add((conv(q.subject), conv(q.predicate), conv(q.object)))
    return graph


def serialize_quads(quads: Iterable[ox.Quad], fmt: RdfFormat) -> bytes:
    """Serialise quads to ``fmt`` (a triple format keeps only the default graph's triples)."""
    if not fmt.quads:
        quads = (q for q in quads if isinstance(q.graph_name, ox.DefaultGraph))
        return ox.serialize((ox.Triple(q.subject, q.predicate, q.object) for q in quads), format=fmt.ox_format)
    return ox.serialize(quads, format=fmt.ox_format)


def serialize_graph(graph: rdflib.Graph, fmt: RdfFormat) -> bytes:
    """Serialise an rdflib graph (or Dataset, for quad formats) to ``fmt``."""
    data = graph.serialize(format=fmt.rdflib_format, encoding="utf-8")
    return data if isinstance(data, bytes) else data.encode("utf-8")


def content_hash(quads: Iterable[ox.Quad]) -> str:
    """Return the SHA-256 hex digest of the quads' canonical form (RDFC-1.0 blank-node labelling, sorted N-Quads).

    Two documents with the same triples, however their blank nodes are labelled or ordered, get the same digest.
    """
    hasher = ContentHasher()
    chunk: list[ox.Quad] = []
    for quad in quads:
        chunk.append(quad)
        if len(chunk) == CHUNK_STATEMENTS:
            hasher.add(chunk)
            chunk = []
    hasher.add(chunk)
    return hasher.hexdigest()


class ContentHasher:
    """``content_hash`` fed chunk by chunk, in bounded memory except for the statements holding blank nodes.

    The digest is the SHA-256 of the sorted, distinct lines of the dataset's canonical N-Quads joined by newlines.
    RDFC-1.0 labels a blank node by the statements that hold blank nodes alone, so only those are kept (as
    lines, canonicalised together at the end: ``_rdfc``); every other statement's line is already canonical, and
    those lines are sorted in runs of ``run_bytes`` spilled to temporary files and merged at the end.
    """

    def __init__(self, *, run_bytes: int = 32 << 20) -> None:
        self._run_bytes = run_bytes
        self._run: list[bytes] = []
        self._size = 0
        self._spilled: list[IO[bytes]] = []
        self._blank: list[bytes] = []  # lines: far smaller than pyoxigraph quads

    def add(self, quads: Sequence[ox.Quad], nquads: bytes | None = None) -> None:
        """Add ``quads``; ``nquads``, when given, must be their N-Quads as ``ox.serialize`` writes them, one line
        each in the same order (a QuadChunk's), which saves writing them again."""
        if not quads:
            return
        text = ox.serialize(quads, format=ox.RdfFormat.N_QUADS) if nquads is None else nquads
        lines = text.split(b"\n")
        lines.pop()  # after the last line's newline
        self.add_lines(lines, text)

    def add_lines(self, lines: list[bytes], text: bytes | None = None) -> None:
        """Add statements given as the lines (without their newlines) of N-Quads ``ox.serialize`` wrote; ``text``,
        when given, is those lines as written (newlines included), which saves joining them again."""
        text = b"\n".join(lines) if text is None else text
        # A blank node is written "_:label", a triple term "<<(": a line without either is ground, hence canonical
        # already. A line with either is canonicalised: one that only seems to hold a blank node ("_:" in a literal)
        # comes out of RDFC-1.0 as it went in (ground statements label no blank node), so the digest is the same.
        if b"_:" not in text and b"<<" not in text:
            self._run += lines
        else:
            blank = list(map(operator.contains, lines, itertools.repeat(b"_:")))
            if b"<<" in text:
                blank = list(map(operator.or_, blank, map(operator.contains, lines, itertools.repeat(b"<<"))))
            self._blank += itertools.compress(lines, blank)
            self._run += itertools.compress(lines, map(operator.not_, blank))
        self._size += len(text)
        if self._size >= self._run_bytes:
            self._spill()

    def _spill(self) -> None:
        if not self._run:  # every line held a blank node: nothing to spill
            self._size = 0
            return
        self._run.sort()
        spill = tempfile.TemporaryFile()
        spill.write(b"\n".join(self._run) + b"\n")
        spill.seek(0)
        self._spilled.append(spill)
        self._run, self._size = [], 0

    def hexdigest(self) -> str:
        """The digest of everything added (``content_hash``'s answer for the same quads). Call it once."""
        blank = _rdfc(self._blank)
        self._blank = []
        blank.sort()
        self._run.sort()
        runs = [_blocks_of(self._run), _blocks_of(blank), *map(_blocks_read, self._spilled)]
        digest = hashlib.sha256()
        separator, last = b"", None
        for lines in _merged(runs):
            if lines[0] == last:  # the previous block's last line again
                del lines[0]
            if lines:
                digest.update(separator + b"\n".join(lines))
                separator, last = b"\n", lines[-1]
        for spill in self._spilled:
            spill.close()
        self._spilled, self._run = [], []
        return digest.hexdigest()


def _rdfc(lines: list[bytes]) -> list[bytes]:
    """The N-Quads lines of the statements ``lines`` with their blank nodes labelled by RDFC-1.0 (pyoxigraph's)."""
    if not lines:
        return []
    dataset = ox.Dataset(ox.parse(b"\n".join(lines) + b"\n", format=ox.RdfFormat.N_QUADS))
    dataset.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)
    return ox.serialize(dataset, format=ox.RdfFormat.N_QUADS).split(b"\n")[:-1]


# Lines taken from each sorted run per step of a merge (sorted together in C by list.sort).
_MERGE_BLOCK = 1 << 16


def _blocks_of(lines: list[bytes]) -> Iterator[list[bytes]]:
    """Sorted ``lines`` in blocks of ``_MERGE_BLOCK``."""
    for start in range(0, len(lines), _MERGE_BLOCK):
        yield lines[start : start + _MERGE_BLOCK]


def _blocks_read(spill: IO[bytes], size: int = 4 << 20) -> Iterator[list[bytes]]:
    """A spilled run's lines (each ended by a newline in the file), a few megabytes at a time."""
    rest = b""
    while block := spill.read(size):
        lines = (rest + block).split(b"\n")
        rest = lines.pop()
        if lines:
            yield lines


def _merged(runs: Sequence[Iterator[list[bytes]]]) -> Iterator[list[bytes]]:
    """The lines of sorted ``runs`` (each given a block at a time) in order, each once within a block yielded
    (a line may end one block and begin the next).

    Each step takes, from every run, the lines up to the smallest of the runs' current last lines, which no line
    still to come precedes, and sorts them: the sort finds those sorted runs and merges them in C, where a merge a
    line at a time (heapq.merge) spent a second a million lines in Python.
    """
    heads = [[block, 0, run] for run in runs if (block := next(run, None))]
    while heads:
        bound = min(block[-1] for block, _, _ in heads)
        taken: list[bytes] = []
        for head in heads:
            block, start, run = head
            cut = bisect.bisect_right(block, bound, start)
            taken += block[start:cut]
            if cut == len(block):
                block = next(run, None)
                head[0], head[1] = block, 0
            else:
                head[1] = cut
        heads = [head for head in heads if head[0]]
        taken.sort()
        yield list(dict.fromkeys(taken))  # sorted: equal lines are neighbours, and the first of each is kept


# ------------------------------------------------------------------------------------------ content negotiation
SPARQL_JSON = "application/sparql-results+json"
SPARQL_XML = "application/sparql-results+xml"
CSV = "text/csv"
TSV = "text/tab-separated-values"
TURTLE = "text/turtle"
N_TRIPLES = "application/n-triples"
JSON_LD = "application/ld+json"
RDF_XML = "application/rdf+xml"

# The preferred type comes last: on a tie (for */*) the matcher picks the last offer.
RESULT_MEDIA_TYPES: tuple[str, ...] = (TSV, CSV, SPARQL_XML, SPARQL_JSON)
GRAPH_MEDIA_TYPES: tuple[str, ...] = (RDF_XML, JSON_LD, N_TRIPLES, TURTLE)
_RESULT_ALIASES = {"application/json": SPARQL_JSON, "application/xml": SPARQL_XML, "text/xml": SPARQL_XML}
_GRAPH_ALIASES = {"application/json": JSON_LD, "text/plain": N_TRIPLES, "application/xml": RDF_XML, "text/xml": RDF_XML}


def negotiate(accept: str | None, offers: Sequence[str], aliases: dict[str, str] | None = None) -> str:
    """Return the offered media type that best fits an Accept header (q-values honoured; none or garbage = */*).

    ``aliases`` maps other types a client may name (application/json) onto offers. Raises NotAcceptable.
    """
    accept = (accept or "").strip() or "*/*"
    extra = dict(aliases or {})
    candidates = list(extra) + list(offers)
    try:
        best = mimeparse.best_match(candidates, accept)
    except (mimeparse.MimeTypeParseException, ValueError, IndexError):
        best = offers[-1]
    if not best:
        raise NotAcceptable(f"cannot answer with any of: {accept[:200]}; available: {', '.join(offers)}")
    return extra.get(best, best)


def result_media_type(form: str, accept: str | None) -> str:
    """Negotiate the answer's media type for a query form ("select", "ask", "construct", "describe")."""
    if form in ("select", "ask"):
        return negotiate(accept, RESULT_MEDIA_TYPES, _RESULT_ALIASES)
    return negotiate(accept, GRAPH_MEDIA_TYPES, _GRAPH_ALIASES)


class _EveryNodeConverter(jsonld_writer.Converter):
    # rdflib's own converter gives a blank node a node object only when a property the context does not coerce to
    # @id refers to it: the object of ``holdsRole`` (coerced) stayed a bare "_:b" and its triples were lost.
    def from_graph(self, graph: rdflib.Graph) -> list:
        nodemap: dict = {}
        for subject in sorted(set(graph.subjects())):  # sorted: the same answer for the same graph
            self.process_subject(graph, subject, nodemap)
        return list(nodemap.values())


def jsonld_bytes(doc: dict) -> bytes:
    """Return a JSON-LD document as compact UTF-8 JSON: the bytes Starlette's JSONResponse writes for it, without
    building a response to throw away. Raises ValueError for NaN or infinity (which JSON cannot carry)."""
    return json.dumps(doc, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode("utf-8")


def ntriples_to_jsonld(data: bytes, context: dict, context_url: str | None = None) -> bytes:
    """Return compact JSON-LD for N-Triples ``data``, compacted with posgraph's own (never fetched) ``context``.

    Every triple is kept (each subject has its own node object). With ``context_url`` the document refers to the
    published context by URL instead of embedding it.
    """
    # Lines sorted first: a node's types then come out sorted by IRI whatever order the engine gave them in.
    graph = rdflib.Graph().parse(data=b"\n".join(sorted(data.splitlines())) + b"\n", format="nt")
    compactor = jsonld_writer.Context(context["@context"])
    converter = _EveryNodeConverter(compactor, use_native_types=True, use_rdf_type=False)
    doc = converter.convert(graph)
    if isinstance(doc, list):  # several nodes: rdflib's from_rdf wraps them the same way
        doc = {converter.context.get_key("@graph"): doc}
    doc = {"@context": context_url or context["@context"], **doc}
    return json.dumps(doc, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")
