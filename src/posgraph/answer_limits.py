"""Caps on engine answers, applied while they stream in: rows for SELECT results, bytes for every answer.

A limiter is fed an answer chunk by chunk (``feed``, which says when to stop reading) and then gives the document to
send (``result``). SELECT result documents (SPARQL JSON, XML, CSV, TSV) are cut between rows, N-Triples between
lines, and both are then flagged truncated; any other format over the byte cap is refused (AnswerTooLarge), since
half a Turtle, RDF/XML or JSON-LD document cannot be cut into a whole one.

Rows are counted on the engine's own serialisation, never by parsing it into objects, and with bytes methods and
regexes over whole chunks (no Python loop per byte or per row): first with a cheap count that can only overcount
(``{`` for JSON, ``<result`` for XML, newlines for CSV and TSV), and only when that count passes the cap, exactly,
honouring the format's quoting (JSON strings and their escapes, CSV's quoted fields with doubled quotes; TSV and XML
escape every newline and ``<`` inside values). So small answers cost one ``bytes.count`` per chunk.

A complete answer must end as its format ends: an engine that fails after sending its 200 header (Oxigraph does, for
errors met while it streams) appends its error text to the body, and such a body is an EngineError, never a result.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from typing import Callable

from posgraph import formats
from posgraph.errors import AnswerTooLarge, EngineError

__all__ = ["AnswerLimiter", "limiter_for"]

log = logging.getLogger("posgraph.engine")

# How complete documents end (checked on their last bytes). CSV and TSV rows, and N-Triples lines, end in a newline.
_ENDS = {
    ("select", formats.SPARQL_JSON): rb"\]\s*\}\s*\}\s*\Z",
    ("select", formats.SPARQL_XML): rb"</sparql>\s*\Z",
    ("select", formats.CSV): rb"\n\Z",
    ("select", formats.TSV): rb"\n\Z",
    ("ask", formats.SPARQL_JSON): rb"\}\s*\Z",
    ("ask", formats.SPARQL_XML): rb"</sparql>\s*\Z",
    ("ask", formats.CSV): rb"(?:true|false)\s*\Z",
    ("ask", formats.TSV): rb"(?:true|false)\s*\Z",
    ("graph", formats.N_TRIPLES): rb"(?:\A|\n)\Z",
    ("graph", formats.TURTLE): rb"(?:\A|\.)\s*\Z",
    ("graph", formats.RDF_XML): rb"(?:\A|>)\s*\Z",
}
_TAIL = 64  # bytes an ending is looked for in


def _base_type(media_type: str) -> str:
    return media_type.split(";", 1)[0].strip().lower()


class AnswerLimiter:
    """Keeps the first ``max_bytes`` bytes of an answer (None: all of them) and returns it whole.

    ``ending`` is a pattern a complete answer's last bytes must match; ``advice`` ends the message of the
    AnswerTooLarge raised when the answer is larger than the cap.
    """

    def __init__(self, max_bytes: int | None, *, ending: bytes | None = None, advice: str = "") -> None:
        self.max_bytes = max_bytes
        self._ending = re.compile(ending) if ending else None
        self._advice = advice
        self._chunks: list[bytes] = []
        self._size = 0
        self._over = False  # more than max_bytes arrived: only the first max_bytes are kept

    def feed(self, chunk: bytes) -> bool:
        """Take the answer's next bytes; return True when reading should stop (a cap was reached)."""
        if self.max_bytes is not None and self._size + len(chunk) > self.max_bytes:
            chunk = chunk[: self.max_bytes - self._size]
            self._over = True
        if chunk:
            self._chunks.append(chunk)
            self._size += len(chunk)
            self._took(chunk)
        return self._over or self._enough()

    def result(self) -> tuple[bytes, bool]:
        """Return the document to send and whether part of the answer was left out; call it after the last
        ``feed`` (the one that returned True, or the last chunk of the answer).

        Raises AnswerTooLarge when the answer was over the byte cap and this format cannot be cut, EngineError when
        a complete answer does not end as its format does (the engine broke off and appended its error).
        """
        body = self._body()
        if self._over:
            raise AnswerTooLarge(f"the answer is larger than {self.max_bytes} bytes: {self._advice}")
        return self._complete(body), False

    def _took(self, chunk: bytes) -> None:
        """Look at a chunk just kept (subclasses count rows here)."""

    def _enough(self) -> bool:
        return False

    def _body(self) -> bytes:
        chunks, self._chunks = self._chunks, []
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def _complete(self, body: bytes) -> bytes:
        if self._ending is None:
            return body
        end = len(body)
        while end > 0 and body[max(0, end - _TAIL) : end].isspace():  # past trailing white space, however long
            end -= _TAIL
        if not self._ending.search(body[max(0, end - 2 * _TAIL) :]):
            log.warning("the engine broke off an answer; its last bytes: %r", body[-300:])
            raise EngineError("the engine broke off its answer")
        return body


class _Lines(AnswerLimiter):
    """N-Triples: over the byte cap, the answer is cut after its last complete line (one triple per line)."""

    def result(self) -> tuple[bytes, bool]:
        body = self._body()
        if not self._over:
            return self._complete(body), False
        return bytes(memoryview(body)[: body.rfind(b"\n") + 1]), True


class _Rows(AnswerLimiter):
    """A SELECT result document cut to ``max_rows`` rows (None: any number) and ``max_bytes`` bytes, between rows.

    Subclasses count "proven rows": a row counts once the document shows that it exists, and ``_cut`` is then where
    to end the document to keep ``max_rows`` rows (followed by ``closer``). Reading stops once row ``max_rows + 1``
    is proven, so an answer of exactly ``max_rows`` rows is never called truncated.
    """

    closer = b""
    _bound_start = 0  # the cheap count's start (CSV and TSV: -1, for the header line)

    def __init__(self, max_rows: int | None, max_bytes: int | None, *, ending: bytes) -> None:
        super().__init__(max_bytes, ending=ending)
        self.max_rows = max_rows
        self._limit = sys.maxsize if max_rows is None else max_rows
        self._bound = self._bound_start
        self._exact = False
        self._cut: int | None = None
        self._done = False

    def _took(self, chunk: bytes) -> None:
        if self._done:
            return
        if self._exact:
            self._scan(chunk, self._size - len(chunk))
            return
        self._bound += self._upper_bound(chunk)
        if self._bound > self._limit:
            self._count_exactly()

    def _count_exactly(self) -> None:
        # From here on every chunk is scanned exactly, starting again from the first.
        self._exact, base = True, 0
        for chunk in self._chunks:
            if self._done:
                break
            self._scan(chunk, base)
            base += len(chunk)

    def _enough(self) -> bool:
        return self._done

    def result(self) -> tuple[bytes, bool]:
        if not self._done and not self._over:
            return self._complete(self._body()), False
        if not self._exact:
            self._count_exactly()
        body = self._body()
        cut = self._cut if self._done else self._last_cut(body)
        return b"".join((memoryview(body)[:cut], self.closer)), True  # one copy of the kept part

    def _upper_bound(self, chunk: bytes) -> int:
        """A count of rows proven by ``chunk`` that is never below the exact one."""
        raise NotImplementedError

    def _scan(self, chunk: bytes, base: int) -> None:
        """Count the rows ``chunk`` (at offset ``base`` of the answer) proves; set ``_cut`` and ``_done``."""
        raise NotImplementedError

    def _last_cut(self, body: bytes) -> int:
        """Where to end ``body`` (the kept bytes of an answer over the byte cap) to keep every complete row."""
        raise NotImplementedError


def _nth(data: bytes, byte: bytes, n: int) -> int:
    """The offset of the ``n``-th (1-based) occurrence of ``byte`` in ``data``, which has at least ``n``."""
    return sum(map(len, data.split(byte, n)[:n])) + n - 1


class _TsvRows(_Rows):
    """TSV: a header line, then one row per line (TSV escapes newlines inside terms)."""

    _bound_start = -1

    def __init__(self, max_rows: int | None, max_bytes: int | None, *, ending: bytes) -> None:
        super().__init__(max_rows, max_bytes, ending=ending)
        self._lines = 0  # line ends seen, the header's included
        self._last_end: int | None = None  # offset just past the last line end

    def _upper_bound(self, chunk: bytes) -> int:
        return chunk.count(b"\n")

    def _scan(self, chunk: bytes, base: int) -> None:
        self._ended(base, chunk.count(b"\n"), lambda n: _nth(chunk, b"\n", n), lambda: chunk.rfind(b"\n"))

    def _ended(self, base: int, count: int, nth: Callable[[int], int], last: Callable[[], int]) -> None:
        """Note ``count`` line ends in the chunk at ``base``: ``nth(n)`` finds the n-th, ``last()`` the last."""
        if not count:
            return
        keep = self._limit + 1  # the header's line end and the kept rows'
        if self._cut is None and self._lines + count >= keep:
            self._cut = base + nth(keep - self._lines) + 1
        self._lines += count
        self._last_end = base + last() + 1
        # A row is proven once its line has ended: text after the last line end may be an engine's error message.
        self._done = self._lines > keep

    def _last_cut(self, body: bytes) -> int:
        if self._last_end is None:
            raise AnswerTooLarge(f"the answer's header line is longer than {self.max_bytes} bytes")
        return self._last_end


class _CsvRows(_TsvRows):
    """CSV (RFC 4180): a line end inside a quoted field is part of the value; quotes inside one are doubled, so a
    line end is a row's end exactly when an even number of quotes precede it."""

    def __init__(self, max_rows: int | None, max_bytes: int | None, *, ending: bytes) -> None:
        super().__init__(max_rows, max_bytes, ending=ending)
        self._quoted = False  # whether the next chunk starts inside a quoted field

    def _scan(self, chunk: bytes, base: int) -> None:
        parts = chunk.split(b'"')
        first = 1 if self._quoted else 0  # parts[first::2] lie outside quotes
        count = b"".join(parts[first::2]).count(b"\n")
        self._ended(base, count, lambda n: self._nth_outside(parts, first, n), lambda: self._last(parts, first))
        if len(parts) % 2 == 0:  # an odd number of quotes
            self._quoted = not self._quoted

    @staticmethod
    def _nth_outside(parts: list[bytes], first: int, n: int) -> int:
        offset = 0
        for i, part in enumerate(parts):
            if (i - first) % 2 == 0:
                found = part.count(b"\n")
                if found >= n:
                    return offset + _nth(part, b"\n", n)
                n -= found
            offset += len(part) + 1
        raise AssertionError("fewer line ends than counted")

    @staticmethod
    def _last(parts: list[bytes], first: int) -> int:
        end = sum(map(len, parts)) + len(parts) - 1
        for i in range(len(parts) - 1, -1, -1):
            start = end - len(parts[i])
            if (i - first) % 2 == 0 and (found := parts[i].rfind(b"\n")) >= 0:
                return start + found
            end = start - 1
        raise AssertionError("no line end where one was counted")


_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_JSON_ROW = re.compile(rb"[\[,]\s*\{")  # in SPARQL JSON the only objects inside arrays are the rows
_JSON_BINDINGS = re.compile(rb'"bindings"\s*:\s*\[')
_DECODER = json.JSONDecoder()


class _JsonRows(_Rows):
    """SPARQL JSON: a row is proven by the ``[{`` or ``,{`` that opens it outside every string (the rows are the only
    objects in arrays). Whether such a candidate lies in a string is told by the parity of the quotes before it, once
    escapes (a backslash and the byte after it) are blanked out; the loop is over candidates, about one per row.
    """

    closer = b"]}}"

    def __init__(self, max_rows: int | None, max_bytes: int | None, *, ending: bytes) -> None:
        super().__init__(max_rows, max_bytes, ending=ending)
        self._starts = 0
        self._carry = b""  # the end of the last chunk, looked at again with the next one
        self._in_string = False  # whether the carry (or else the next chunk) starts inside a string
        self._last: tuple[int, int] | None = None  # where to cut to drop the last row begun, and its "{"

    def _upper_bound(self, chunk: bytes) -> int:
        # Every row opens with a "{" not right after a ":" (the other objects are values of keys).
        return chunk.count(b"{") - chunk.count(b":{")

    def _scan(self, chunk: bytes, base: int) -> None:
        region, start = self._carry + chunk, base - len(self._carry)
        plain = _ESCAPE.sub(b"__", region) if b"\\" in region else region  # same length, no escaped quotes
        end = len(plain) - 1 if plain.endswith(b"\\") else len(plain)  # a backslash whose byte is yet to come
        inside, at = self._in_string, 0
        for match in _JSON_ROW.finditer(plain, 0, end):
            if plain.count(b'"', at, match.start()) & 1:
                inside = not inside
            at = match.start()
            if inside:
                continue
            self._starts += 1
            cut = start + at + (plain[at] == ord("["))  # keep a "[", drop a ","
            self._last = (cut, start + match.end() - 1)
            if self._starts > self._limit:
                self._cut, self._done = cut, True
                return
        if plain.count(b'"', at, end) & 1:
            inside = not inside
        keep = len(region) - end
        if not inside:  # keep a "," or "[" whose "{" is yet to come
            rest = len(plain[:end].rstrip()) if end and plain[end - 1] in b" \t\r\n" else end
            if rest and plain[rest - 1] in b"[,":
                keep = len(region) - rest + 1
        self._carry, self._in_string = (region[len(region) - keep :] if keep else b""), inside

    def _last_cut(self, body: bytes) -> int:
        if self._last is None:  # no row began: keep the head and an empty list of rows
            bindings = _JSON_BINDINGS.search(body)
            if bindings is None:
                raise AnswerTooLarge(f"the answer's head is longer than {self.max_bytes} bytes")
            return bindings.end()
        cut, brace = self._last
        # The last row begun may be complete: keep it if it parses.
        text = body[brace:].decode("utf-8", "replace")
        try:
            end = _DECODER.raw_decode(text)[1]
        except ValueError:
            return cut
        row = text[:end].encode("utf-8")
        return brace + len(row) if body.startswith(row, brace) else cut


_XML_ROW = re.compile(rb"<result[\s/>]")


class _XmlRows(_Rows):
    """SPARQL XML: a row is proven by its ``<result>`` start tag. Markup characters inside values are escaped, so
    the tag is never part of a value; a document with comments or CDATA sections is refused rather than miscounted.
    """

    closer = b"</results></sparql>"

    def __init__(self, max_rows: int | None, max_bytes: int | None, *, ending: bytes) -> None:
        super().__init__(max_rows, max_bytes, ending=ending)
        self._starts = 0
        self._carry = b""  # a start tag may straddle two chunks: the tag's length less one is looked at again
        self._last_start: int | None = None

    def _upper_bound(self, chunk: bytes) -> int:
        return chunk.count(b"<result") + 1  # one more for a tag split between chunks

    def _scan(self, chunk: bytes, base: int) -> None:
        region, start = self._carry + chunk, base - len(self._carry)
        if b"<!" in region:
            log.warning("cannot count the rows of an XML answer with comments or CDATA: %r", region[:300])
            raise EngineError("the engine's XML answer cannot be cut to the row limit")
        found = _XML_ROW.findall(region)
        if found:
            if self._starts + len(found) > self._limit:
                match = next(m for i, m in enumerate(_XML_ROW.finditer(region)) if i == self._limit - self._starts)
                self._cut, self._done = start + match.start(), True
                return
            self._starts += len(found)
            self._last_start = start + region.rfind(b"<result")
        self._carry = region[-7:]

    def _last_cut(self, body: bytes) -> int:
        if self._last_start is None:
            results = body.find(b"<results>")
            if results < 0:
                raise AnswerTooLarge(f"the answer's head is longer than {self.max_bytes} bytes")
            return results + len(b"<results>")
        end = body.find(b"</result>", self._last_start)
        return self._last_start if end < 0 else end + len(b"</result>")


_ROW_LIMITERS = {
    formats.SPARQL_JSON: _JsonRows,
    formats.SPARQL_XML: _XmlRows,
    formats.CSV: _CsvRows,
    formats.TSV: _TsvRows,
}
_QUERY_ADVICE = "add LIMIT to the query, or ask for N-Triples (Accept: application/n-triples), which is cut there"
_GRAPH_ADVICE = "ask for N-Triples (Accept: application/n-triples), which is cut there"


def limiter_for(
    form: str,
    media_type: str,
    *,
    max_rows: int | None = None,
    max_bytes: int | None = None,
    read_as: str | None = None,
) -> AnswerLimiter:
    """Return a new limiter for one answer.

    ``form`` is the query's ("select", "ask", "construct", "describe") or "graph" for a Graph Store read;
    ``media_type`` is what the client gets, ``read_as`` what the engine is asked for when that differs (JSON-LD is
    made from N-Triples). SELECT results in SPARQL JSON, XML, CSV or TSV are cut to ``max_rows`` rows and, between
    rows, to ``max_bytes``; N-Triples graphs are cut to ``max_bytes`` between lines; any other answer over
    ``max_bytes`` makes ``result`` raise AnswerTooLarge.
    """
    sent, read = _base_type(media_type), _base_type(read_as or media_type)
    kind = "graph" if form in ("construct", "describe", "graph") else form
    ending = _ENDS.get((kind, read))
    if kind == "select" and sent == read and sent in _ROW_LIMITERS:
        return _ROW_LIMITERS[sent](max_rows, max_bytes, ending=ending)
    if kind == "graph" and sent == read == formats.N_TRIPLES:
        return _Lines(max_bytes, ending=ending)
    return AnswerLimiter(max_bytes, ending=ending, advice=_GRAPH_ADVICE if form == "graph" else _QUERY_ADVICE)
