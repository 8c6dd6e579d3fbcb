"""The answer limiters on hostile documents: values full of the formats' own syntax, fed in every chunking."""

import csv
import io
import json
import xml.etree.ElementTree as ET

import pytest

from posgraph import formats
from posgraph.answer_limits import limiter_for
from posgraph.errors import EngineError, PayloadTooLarge

# Values that look like the syntax each format's counting must see through.
HOSTILE = [
    "a\nb",
    "a\r\nb",
    "lone\rcr",
    '"',
    '""',
    'x","y',
    ",",
    "\t",
    "\\",
    '\\"',
    "ends with a backslash \\",
    "</result>",
    "<result>",
    "</results></sparql>",
    "},{",
    "[{",
    ",{}",
    "[{}]",
    ',{"s":{"type":"uri","value":"x"}}',
    '"}]}}',
    ",{",
    "<![CDATA[",
    "é 💥 \u2028",
    "The SPARQL operation has been cancelled",
    "",
    "plain",
]
VARS = ["s", "o"]


def _rows(n: int) -> list[dict[str, str]]:
    """``n`` rows of hostile literals; every seventh row binds nothing, every fifth leaves ?o unbound."""
    rows = []
    for i in range(n):
        if i % 7 == 3:
            rows.append({})
        elif i % 5 == 1:
            rows.append({"s": HOSTILE[i % len(HOSTILE)]})
        else:
            rows.append({"s": HOSTILE[i % len(HOSTILE)], "o": HOSTILE[(i * 3 + 1) % len(HOSTILE)] + str(i)})
    return rows


# Each writer returns the document and the offset just past each row (as an engine would write it).
def _json(rows, pretty=False):
    def row(r):
        doc = {k: {"type": "literal", "value": v} for k, v in r.items()}
        return json.dumps(
            doc, ensure_ascii=False, indent=2 if pretty else None, separators=None if pretty else (",", ":")
        )

    sep, head = (
        (",\n    ", '{\n  "head": {"vars": ["s", "o"]},\n  "results": {\n    "bindings": [\n    ')
        if pretty
        else (
            ",",
            '{"head":{"vars":["s","o"]},"results":{"bindings":[',
        )
    )
    out, ends = head.encode(), []
    for i, r in enumerate(rows):
        out += (sep if i else "").encode() + row(r).encode()
        ends.append(len(out))
    return out + ("\n    ]\n  }\n}\n" if pretty else "]}}").encode(), ends


def _xml_escape(value):
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _xml(rows):
    out = (
        b'<?xml version="1.0"?><sparql xmlns="http://www.w3.org/2005/sparql-results#"><head>'
        b'<variable name="s"/><variable name="o"/></head><results>'
    )
    ends = []
    for r in rows:
        bindings = "".join(f'<binding name="{k}"><literal>{_xml_escape(v)}</literal></binding>' for k, v in r.items())
        out += f"<result>{bindings}</result>".encode()
        ends.append(len(out))
    return out + b"</results></sparql>", ends


def _csv(rows):
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(VARS)
    out, ends = text.getvalue().encode(), []
    for r in rows:
        text.seek(0), text.truncate()
        writer.writerow([r.get(v, "") for v in VARS])
        out += text.getvalue().encode()
        ends.append(len(out))
    return out, ends


def _tsv_term(value):
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return '"' + escaped.replace("\t", "\\t") + '"'


def _tsv(rows):
    out, ends = b"?s\t?o\n", []
    for r in rows:
        out += ("\t".join(_tsv_term(r[v]) if v in r else "" for v in VARS) + "\n").encode()
        ends.append(len(out))
    return out, ends


# Each parser returns the rows of a document as comparable values; it fails on a malformed document.
def _parse_json(doc):
    return [{k: v["value"] for k, v in row.items()} for row in json.loads(doc)["results"]["bindings"]]


def _parse_xml(doc):
    ns = "{http://www.w3.org/2005/sparql-results#}"
    root = ET.fromstring(doc)
    assert root.find(ns + "head") is not None
    return [
        {b.get("name"): b.find(ns + "literal").text or "" for b in result.findall(ns + "binding")}
        for result in root.find(ns + "results").findall(ns + "result")
    ]


def _parse_csv(doc):
    rows = list(csv.reader(io.StringIO(doc.decode("utf-8"), newline="")))
    assert rows[0] == VARS
    return rows[1:]


def _parse_tsv(doc):
    text = doc.decode("utf-8")
    assert text.endswith("\n") and text.startswith("?s\t?o\n")
    return [line.split("\t") for line in text.split("\n")[1:-1]]


FORMATS = {
    "json": (formats.SPARQL_JSON, _json, _parse_json),
    "json-pretty": (formats.SPARQL_JSON, lambda rows: _json(rows, pretty=True), _parse_json),
    "xml": (formats.SPARQL_XML, _xml, _parse_xml),
    "csv": (formats.CSV, _csv, _parse_csv),
    "tsv": (formats.TSV, _tsv, _parse_tsv),
}
ROWS = _rows(60)


def _feed(limiter, document, size):
    for i in range(0, len(document), size):
        if limiter.feed(document[i : i + size]):
            break
    return limiter.result()


@pytest.mark.parametrize("name", FORMATS)
def test_the_writers_and_parsers_here_agree(name):
    media_type, write, parse = FORMATS[name]
    document, ends = write(ROWS)
    assert len(parse(document)) == len(ROWS) == len(ends)


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize("size", [1, 2, 5, 13, 64, 1 << 20])
def test_rows_are_cut_exactly_at_the_cap_whatever_the_values_and_chunks(name, size):
    media_type, write, parse = FORMATS[name]
    document, _ = write(ROWS)
    expected = parse(document)
    for cap in (0, 1, 2, 3, 4, 17, 59, 60, 61, 1000):
        body, truncated = _feed(limiter_for("select", media_type, max_rows=cap), document, size)
        assert parse(body) == expected[:cap], (cap, size)
        assert truncated is (cap < len(ROWS)), (cap, size)
        if not truncated:
            assert body == document  # a whole answer is passed on as the engine wrote it


@pytest.mark.parametrize("name", FORMATS)
def test_a_byte_cap_keeps_exactly_the_rows_that_fit(name):
    media_type, write, parse = FORMATS[name]
    document, ends = write(ROWS)
    expected = parse(document)
    empty = write([])[0]
    # What every answer starts with: up to the first byte where the empty answer differs.
    head = next((i for i, (a, b) in enumerate(zip(empty, document, strict=False)) if a != b), len(empty))
    for cap in [head, ends[0] - 1, ends[0], ends[0] + 1, *range(head, len(document), 23)]:
        for size in (7, 1 << 20):
            body, truncated = _feed(limiter_for("select", media_type, max_rows=1000, max_bytes=cap), document, size)
            fit = sum(1 for end in ends if end <= cap)
            assert truncated and parse(body) == expected[:fit], (cap, size)


@pytest.mark.parametrize("name", FORMATS)
def test_a_byte_cap_below_the_head_is_too_large(name):
    media_type, write, _ = FORMATS[name]
    with pytest.raises(PayloadTooLarge):
        _feed(limiter_for("select", media_type, max_rows=10, max_bytes=3), write(ROWS)[0], 2)


@pytest.mark.parametrize("name", FORMATS)
def test_an_answer_the_engine_broke_off_is_an_error_not_a_result(name):
    # Oxigraph appends its error's text after a 200 header; the text may name the store's files.
    media_type, write, _ = FORMATS[name]
    document, ends = write(ROWS)
    for broken in (document[: ends[10]], document[: ends[10] - 3], document):
        with pytest.raises(EngineError) as caught:
            _feed(limiter_for("select", media_type, max_rows=1000), broken + b"IO error: /var/lib/store/0001.sst", 64)
        assert "/var" not in caught.value.message


def test_n_triples_are_cut_after_the_last_whole_line():
    lines = [f'<http://s{i}> <http://p> "{json.dumps(v)[1:-1]}" .\n'.encode() for i, v in enumerate(HOSTILE)]
    document = b"".join(lines)
    for cap in (0, 10, len(lines[0]), len(lines[0]) + 1, 300, len(document) - 1):
        body, truncated = _feed(limiter_for("construct", formats.N_TRIPLES, max_bytes=cap), document, 16)
        assert truncated and body == b"".join(
            line for i, line in enumerate(lines) if sum(map(len, lines[: i + 1])) <= cap
        )
    assert _feed(limiter_for("graph", formats.N_TRIPLES, max_bytes=len(document)), document, 16) == (document, False)
    assert _feed(limiter_for("describe", formats.N_TRIPLES), b"", 16) == (b"", False)
    with pytest.raises(EngineError):
        _feed(limiter_for("construct", formats.N_TRIPLES), document + b"<http://s> <http://p", 16)


@pytest.mark.parametrize(
    "form, media_type, read_as, document",
    [
        ("construct", formats.TURTLE, None, b"<http://s> <http://p> <http://o> .\n" * 50),
        ("describe", formats.RDF_XML, None, b"<?xml?><rdf:RDF>" + b"<rdf:Description/>" * 100 + b"</rdf:RDF>"),
        ("construct", formats.JSON_LD, formats.N_TRIPLES, b"<http://s> <http://p> <http://o> .\n" * 50),
        ("graph", formats.TURTLE, None, b"<http://s> <http://p> <http://o> .\n" * 50),
        ("ask", formats.SPARQL_JSON, None, b'{"head":{},"boolean":true}' + b" " * 100),
    ],
)
def test_formats_that_cannot_be_cut_are_refused_over_the_cap(form, media_type, read_as, document):
    whole = limiter_for(form, media_type, max_bytes=len(document), read_as=read_as)
    assert _feed(whole, document, 100) == (document, False)
    with pytest.raises(PayloadTooLarge) as caught:
        _feed(limiter_for(form, media_type, max_bytes=len(document) - 1, read_as=read_as), document, 100)
    assert "N-Triples" in caught.value.message and str(len(document) - 1) in caught.value.message
    assert ("LIMIT" in caught.value.message) is (form != "graph")


def test_an_xml_answer_with_cdata_is_refused_rather_than_miscounted():
    document, _ = _xml(ROWS)
    cdata = document.replace(b"<literal>plain</literal>", b"<literal><![CDATA[</result><result>]]></literal>")
    with pytest.raises(EngineError):
        _feed(limiter_for("select", formats.SPARQL_XML, max_rows=40), cdata, 64)
    # Without the cap in reach nothing is counted, and the document passes whole.
    assert _feed(limiter_for("select", formats.SPARQL_XML, max_rows=1000), cdata, 64) == (cdata, False)


def test_an_ask_answer_passes_whole_and_a_broken_one_does_not():
    for media_type, document in (
        (formats.SPARQL_JSON, b'{"head":{},"boolean":true}'),
        (formats.SPARQL_XML, b'<?xml version="1.0"?><sparql><head></head><boolean>true</boolean></sparql>'),
        (formats.CSV, b"true"),
        (formats.TSV, b"false"),
    ):
        assert _feed(limiter_for("ask", media_type, max_rows=1), document, 4) == (document, False)
        with pytest.raises(EngineError):
            _feed(limiter_for("ask", media_type, max_rows=1), document[:-2] + b"oops", 4)
