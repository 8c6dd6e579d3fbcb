"""Answers posgraph writes itself from an engine's (for engines whose own are not conformant): SPARQL JSON
results normalised and re-written as JSON, XML, CSV or TSV row by row; N-Triples re-written in other RDF formats.
The translators take the engine's answer chunk by chunk, as a limiter (posgraph.answer_limits) does."""

from __future__ import annotations

import codecs
import csv
import io
import json
import logging
import re
from typing import TYPE_CHECKING, Callable, Mapping
from xml.sax.saxutils import escape as xml_escape
from xml.sax.saxutils import quoteattr

import pyoxigraph as ox

from posgraph.errors import EngineError, NotAcceptable, QuerySyntaxError, UnsupportedMediaType

if TYPE_CHECKING:  # pragma: no cover
    from posgraph.answer_limits import AnswerLimiter

SPARQL_JSON = "application/sparql-results+json"
# What an absolute file path looks like in an engine's message (not the path part of an IRI: that follows a letter
# or a slash).
_PATH = re.compile(r"(?<![\w.~:/\\-])~?/[\w.@%+=~-]+(?:/[\w.@%+=~-]*)*")

log = logging.getLogger("posgraph.engine")

_RESULT_TYPES = (
    SPARQL_JSON,
    "application/sparql-results+xml",
    "text/csv",
    "text/tab-separated-values",
)
_XSD_BOOLEAN = "http://www.w3.org/2001/XMLSchema#boolean"


def _normalise(doc: dict, opaque: tuple[tuple[str, str], ...] = ()) -> dict:
    """A SPARQL JSON results document in the standard's terms: booleans as JSON booleans and "true"/"false"
    literals, ``typed-literal`` as ``literal``, blank node labels without Virtuoso's ``nodeID://``."""
    if "boolean" in doc:
        value = doc["boolean"]
        return {"head": {}, "boolean": value in (True, 1, "1", "true")}
    for row in doc.get("results", {}).get("bindings", []):
        _normalise_row(row, opaque)
    head = doc.get("head", {})
    doc["head"] = {"vars": head.get("vars", [])}
    return doc


def _normalise_row(row: dict, opaque: tuple[tuple[str, str], ...]) -> dict:
    for term in row.values():
        if term.get("type") == "typed-literal":
            term["type"] = "literal"
        if term.get("type") == "bnode" and term["value"].startswith("nodeID://"):
            term["value"] = term["value"][len("nodeID://") :]
        for datatype, stand_in in opaque:
            if term.get("datatype") == stand_in:
                term["datatype"] = datatype
        if term.get("datatype") == _XSD_BOOLEAN and term["value"] in ("1", "0"):
            term["value"] = "true" if term["value"] == "1" else "false"
    return row


class _Translator:
    """Takes an engine's answer chunk by chunk (as a limiter does, see ``_read_limited``) and writes posgraph's
    answer from it, fed as written to ``limiter`` (or kept whole without one)."""

    def __init__(self, limiter: AnswerLimiter | None) -> None:
        self._limiter = limiter
        self._kept: list[bytes] = []

    def _emit(self, data: bytes) -> bool:
        """Pass written bytes on; True when the limiter has enough."""
        if not data:
            return False
        if self._limiter is None:
            self._kept.append(data)
            return False
        return self._limiter.feed(data)

    def _finish(self) -> tuple[bytes, bool]:
        if self._limiter is None:
            return b"".join(self._kept), False
        return self._limiter.result()


class _ResultsTranslator(_Translator):
    """SPARQL JSON results in, rows written one by one in SPARQL JSON, XML, CSV or TSV. The bindings are decoded
    one object at a time, so an answer is never held whole."""

    _BINDINGS = re.compile(r'"bindings"\s*:\s*\[')
    _VARS = re.compile(r'"vars"\s*:\s*(\[[^\]]*\])')

    def __init__(self, media_type: str, limiter: AnswerLimiter | None, opaque: tuple[tuple[str, str], ...]) -> None:
        super().__init__(limiter)
        self._type, self._opaque = media_type, opaque
        self._text = ""
        self._decode = codecs.getincrementaldecoder("utf-8")()
        self._vars: list[str] | None = None  # known once the bindings start
        self._rows = 0
        self._ended = False  # the bindings' closing bracket was read
        self._stopped = False

    def feed(self, chunk: bytes) -> bool:
        self._text += self._decode.decode(chunk)
        if self._vars is None:
            found = self._BINDINGS.search(self._text)
            if found is None:
                return False
            head = self._VARS.search(self._text, 0, found.start())
            self._vars = json.loads(head.group(1)) if head else []
            self._text = self._text[found.end() :]
            if self._emit(self._head()):
                return self._stop()
        return self._rows_from_text()

    def _stop(self) -> bool:
        self._stopped = True
        return True

    def _rows_from_text(self) -> bool:
        text, pos, out = self._text, 0, []
        decoder = json.JSONDecoder()
        while not self._ended:
            while pos < len(text) and text[pos] in " \t\r\n,":
                pos += 1
            if pos >= len(text):
                break
            if text[pos] == "]":
                self._ended = True
                break
            try:
                row, end = decoder.raw_decode(text, pos)
            except ValueError:
                break  # the row goes on in the next chunk
            out.append(self._row(_normalise_row(row, self._opaque)))
            self._rows += 1
            pos = end
        self._text = "" if self._ended else text[pos:]
        if self._emit(b"".join(out)):
            return self._stop()
        return False

    def result(self) -> tuple[bytes, bool]:
        if self._stopped:
            return self._finish()
        self._text += self._decode.decode(b"", final=True)
        if self._vars is None:  # an ASK answer, or a document without bindings: small, read whole
            try:
                doc = _normalise(json.loads(self._text), self._opaque)
            except ValueError:
                log.warning("the engine broke off an answer; its last bytes: %r", self._text[-300:])
                raise EngineError("the engine broke off its answer") from None
            if "boolean" not in doc and "results" not in doc:
                raise EngineError("the engine's answer is not a SPARQL result")
            self._emit(_write_results(doc, self._type))
            return self._finish()
        if not self._ended:
            log.warning("the engine broke off an answer; its last bytes: %r", self._text[-300:])
            raise EngineError("the engine broke off its answer")
        self._emit(self._foot())
        return self._finish()

    def _head(self) -> bytes:
        variables = self._vars or []
        if self._type == SPARQL_JSON:
            return b'{"head":{"vars":' + json.dumps(variables).encode() + b'},"results":{"bindings":['
        if self._type == "application/sparql-results+xml":
            names = "".join(f"<variable name={quoteattr(v)}/>" for v in variables)
            return (
                '<?xml version="1.0"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#">\n'
                f"<head>{names}</head>\n<results>\n"
            ).encode()
        if self._type == "text/tab-separated-values":
            return ("\t".join("?" + v for v in variables) + "\n").encode()
        return _csv_line(variables)

    def _row(self, row: dict) -> bytes:
        variables = self._vars or []
        if self._type == SPARQL_JSON:
            return (b"," if self._rows else b"") + json.dumps(row, ensure_ascii=False).encode()
        if self._type == "application/sparql-results+xml":
            bindings = "".join(f"<binding name={quoteattr(k)}>{_xml_term(t)}</binding>" for k, t in row.items())
            return f"<result>{bindings}</result>\n".encode()
        if self._type == "text/tab-separated-values":
            return ("\t".join(_nt(row[v]) if v in row else "" for v in variables) + "\n").encode()
        return _csv_line([row[v]["value"] if v in row else "" for v in variables])

    def _foot(self) -> bytes:
        if self._type == SPARQL_JSON:
            return b"]}}"
        if self._type == "application/sparql-results+xml":
            return b"</results>\n</sparql>\n"
        return b""


def _csv_line(values: list[str]) -> bytes:
    sink = io.StringIO()
    csv.writer(sink, lineterminator="\r\n").writerow(values)
    return sink.getvalue().encode("utf-8")


class _GraphTranslator(_Translator):
    """N-Triples in. N-Triples out line by line (opaque datatypes read back); other formats are written from the
    whole graph, which is read only as far as four times the limiter's byte cap: past that the answer is over the
    cap in any format, and refused as the limiter refuses it."""

    def __init__(self, media_type: str, limiter: AnswerLimiter | None, read: Callable[[bytes], bytes]) -> None:
        super().__init__(limiter)
        self._type, self._read = media_type, read
        self._tail = b""
        self._nt: list[bytes] = []
        self._size = 0
        self._over = False
        self._stopped = False

    def feed(self, chunk: bytes) -> bool:
        data = self._tail + chunk
        end = data.rfind(b"\n") + 1
        self._tail, lines = data[end:], self._read(data[:end])
        if self._type == "application/n-triples":
            if self._emit(lines):
                self._stopped = True
                return True
            return False
        self._nt.append(lines)
        self._size += len(lines)
        cap = self._limiter.max_bytes if self._limiter is not None else None
        if cap is not None and self._size > 4 * cap:
            self._over = True
            return True
        return False

    def result(self) -> tuple[bytes, bool]:
        if self._stopped:
            return self._finish()
        rest = self._read(self._tail)
        if self._type == "application/n-triples":
            self._emit(rest)
            return self._finish()
        if self._over and self._limiter is not None and self._limiter.max_bytes is not None:
            # The unread rest of the answer, standing in as bytes past the cap: the limiter refuses the answer.
            self._limiter.feed(b" " * (self._limiter.max_bytes + 1))
            return self._limiter.result()
        body, self._nt = b"".join([*self._nt, rest]), []
        self._emit(_convert(body, "application/n-triples", self._type) if body.strip() else _empty_graph(self._type))
        return self._finish()


def _empty_graph(media_type: str) -> bytes:
    fmt = ox.RdfFormat.from_media_type(media_type)
    if fmt is None:
        raise NotAcceptable("the engine cannot produce the requested media type")
    return ox.serialize([], format=fmt) or b""


def _nt(term: Mapping[str, str]) -> str:
    """A SPARQL JSON term in N-Triples syntax (as TSV writes it)."""
    return str(_ox_term(term))


def _ox_term(term: Mapping[str, str]):
    kind, value = term["type"], term["value"]
    if kind == "uri":
        return ox.NamedNode(value)
    if kind == "bnode":
        return ox.BlankNode(re.sub(r"[^A-Za-z0-9_]", "_", value) or "b")
    if "xml:lang" in term:
        return ox.Literal(value, language=term["xml:lang"])
    datatype = term.get("datatype")
    return ox.Literal(value, datatype=ox.NamedNode(datatype)) if datatype else ox.Literal(value)


def _write_results(doc: dict, accept: str) -> bytes:
    """Write a normalised SPARQL JSON results document in the results format ``accept`` names."""
    media_type = accept.split(";")[0].strip()
    variables = doc.get("head", {}).get("vars", [])
    if media_type == SPARQL_JSON:
        return json.dumps(doc, ensure_ascii=False).encode("utf-8")
    if media_type == "application/sparql-results+xml":
        out = ['<?xml version="1.0"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#">\n<head>']
        out += [f"<variable name={quoteattr(v)}/>" for v in variables]
        out.append("</head>")
        if "boolean" in doc:
            out.append(f"<boolean>{'true' if doc['boolean'] else 'false'}</boolean>")
        else:
            out.append("<results>")
            for row in doc["results"]["bindings"]:
                out.append("<result>")
                for name, term in row.items():
                    out.append(f"<binding name={quoteattr(name)}>{_xml_term(term)}</binding>")
                out.append("</result>")
            out.append("</results>")
        out.append("</sparql>\n")
        return "\n".join(out).encode("utf-8")
    if "boolean" in doc:  # CSV and TSV have no form for a boolean: a one-cell table, as Oxigraph and Jena write it
        return ("true" if doc["boolean"] else "false").encode("utf-8") + b"\n"
    if media_type == "text/tab-separated-values":
        lines = ["\t".join("?" + v for v in variables)]
        for row in doc["results"]["bindings"]:
            lines.append("\t".join(_nt(row[v]) if v in row else "" for v in variables))
        return ("\n".join(lines) + "\n").encode("utf-8")
    sink = io.StringIO()
    writer = csv.writer(sink, lineterminator="\r\n")
    writer.writerow(variables)
    for row in doc["results"]["bindings"]:
        writer.writerow([row[v]["value"] if v in row else "" for v in variables])
    return sink.getvalue().encode("utf-8")


def _xml_term(term: Mapping[str, str]) -> str:
    kind, value = term["type"], xml_escape(term["value"])
    if kind == "uri":
        return f"<uri>{value}</uri>"
    if kind == "bnode":
        return f"<bnode>{value}</bnode>"
    if "xml:lang" in term:
        return f"<literal xml:lang={quoteattr(term['xml:lang'])}>{value}</literal>"
    if term.get("datatype"):
        return f"<literal datatype={quoteattr(term['datatype'])}>{value}</literal>"
    return f"<literal>{value}</literal>"


def _parse(body: bytes, media_type: str) -> list:
    """The triples or quads of an RDF body; raises UnsupportedMediaType or QuerySyntaxError (it does not parse)."""
    fmt = ox.RdfFormat.from_media_type(media_type.split(";")[0].strip())
    if fmt is None:
        raise UnsupportedMediaType("the engine does not accept this media type")
    try:
        return list(ox.parse(body, format=fmt))
    except SyntaxError as exc:
        raise QuerySyntaxError(_PATH.sub("[path]", str(exc))) from None


def _convert(content: bytes, from_type: str, to_type: str) -> bytes:
    """An RDF document re-written in another media type; raises NotAcceptable for one pyoxigraph cannot write."""
    fmt = ox.RdfFormat.from_media_type(to_type.split(";")[0].strip())
    if fmt is None:
        raise NotAcceptable("the engine cannot produce the requested media type")
    return ox.serialize(_parse(content, from_type), format=fmt) or b""
