import json

import pyoxigraph as ox
import pytest
import rdflib
from rdflib.compare import isomorphic
from rdflib.namespace import XSD

from posgraph import formats
from posgraph.errors import BadInput, RdfSyntaxError, UnsupportedMediaType

TURTLE = formats.format_for_media_type("text/turtle")


def test_media_types_and_extensions_resolve():
    assert formats.format_for_media_type("text/turtle; charset=utf-8").name == "turtle"
    assert formats.format_for_media_type("application/n-quads").quads
    assert formats.format_for_path("x.trig").name == "trig"
    assert formats.format_for_path("x.NT").name == "n-triples"
    with pytest.raises(UnsupportedMediaType):
        formats.format_for_media_type("application/pdf")
    with pytest.raises(UnsupportedMediaType, match="extension"):
        formats.format_for_path("data.csv")


def test_rdf_xml_is_marked_unsafe_for_untrusted_clients():
    assert not formats.format_for_media_type("application/rdf+xml").untrusted_ok
    assert formats.format_for_media_type("text/turtle").untrusted_ok


def test_syntax_error_gives_source_line_and_column():
    data = b'@prefix ex: <http://example.org/> .\nex:a ex:b ex:c .\nex:a ex:b "unterminated .\n'
    with pytest.raises(RdfSyntaxError) as caught:
        formats.read_quads(data, TURTLE, "broken.ttl")
    err = caught.value
    assert (err.source, err.line) == ("broken.ttl", 3)
    assert err.column is not None and str(err).startswith("broken.ttl:3:")
    assert "Parser error" not in err.detail


def test_invalid_utf8_is_a_syntax_error_not_a_crash():
    with pytest.raises(RdfSyntaxError):
        formats.read_quads(b'<http://a> <http://b> "\xff\xfe" .', formats.format_for_path("x.nt"), "x.nt")


def test_conversion_keeps_literals_equal_to_rdflibs_own():
    data = """@prefix ex: <http://example.org/> .
    ex:a ex:s "plain" ; ex:l "chat"@fr ; ex:b [ ex:c 1 ] ;
        ex:d "2025-07"^^<http://www.w3.org/2001/XMLSchema#gYearMonth> ."""
    graph = formats.to_rdflib_graph(formats.read_quads(data.encode(), TURTLE, "t"))
    reference = rdflib.Graph().parse(data=data, format="turtle")
    assert isomorphic(graph, reference)
    assert rdflib.Literal("plain") in set(graph.objects())
    assert rdflib.Literal("2025-07", datatype=XSD.gYearMonth) in set(graph.objects())


def test_content_hash_ignores_blank_node_labels_and_order():
    one = b'_:x <http://p> "1" .\n<http://s> <http://p> _:x .\n'
    two = b'<http://s> <http://p> _:other .\n_:other <http://p> "1" .\n'
    nt = formats.format_for_path("x.nt")
    h1 = formats.content_hash(formats.read_quads(one, nt, "1"))
    assert h1 == formats.content_hash(formats.read_quads(two, nt, "2"))
    assert h1 != formats.content_hash(formats.read_quads(b'_:x <http://p> "2" .\n', nt, "3"))


def test_serialize_quads_to_a_triple_format_keeps_the_default_graph_only():
    quads = [
        ox.Quad(ox.NamedNode("http://a"), ox.NamedNode("http://b"), ox.Literal("x"), ox.NamedNode("http://g")),
        ox.Quad(ox.NamedNode("http://a"), ox.NamedNode("http://b"), ox.Literal("y"), ox.DefaultGraph()),
    ]
    out = formats.serialize_quads(quads, formats.format_for_path("x.nt")).decode()
    assert '"y"' in out and '"x"' not in out


# ------------------------------------------------------------------------------ characters XML 1.0 cannot carry
_CONTEXT = {"@context": {"p": "http://example.org/p"}}


@pytest.mark.parametrize(
    ("fmt", "document", "named"),
    [
        ("x.ttl", b'<http://example.org/s> <http://example.org/p> "a\x00b" .', "U+0000"),
        ("x.ttl", b'<http://example.org/s> <http://example.org/p> "a\\u0000b" .', "U+0000"),
        ("x.nt", b'<http://example.org/s> <http://example.org/p> "bell\\u0007" .\n', "U+0007"),
        ("x.nt", b'<http://example.org/s> <http://example.org/p> "a\\uFFFEb" .\n', "U+FFFE"),
        ("x.nt", '<http://example.org/s> <http://example.org/p> "a\ufffeb" .\n'.encode(), "U+FFFE"),
        ("x.trig", b'<http://example.org/g> { <http://example.org/s> <http://example.org/p> "\x1b[2J" }', "U+001B"),
        (
            "x.nq",
            b'<http://example.org/s> <http://example.org/p> "x\\U0000FFFF"@en <http://example.org/g> .\n',
            "U+FFFF",
        ),
    ],
)
def test_literals_xml_cannot_carry_are_refused_naming_where(fmt, document, named):
    with pytest.raises(RdfSyntaxError) as caught:
        formats.read_quads(document, formats.format_for_path(fmt), "body")
    message = str(caught.value)
    assert message.startswith("body: ") and named in message
    assert "http://example.org/s" in message and "http://example.org/p" in message


def test_the_same_refusal_for_a_file_read_as_a_stream_and_for_json_ld(tmp_path):
    path = tmp_path / "bad.ttl"
    path.write_bytes(b'<http://example.org/s> <http://example.org/p> "a\\u0001" .')
    with open(path, "rb") as handle, pytest.raises(RdfSyntaxError, match="U\\+0001"):
        formats.read_quads(handle, TURTLE, str(path))
    document = json.dumps({**_CONTEXT, "@id": "http://example.org/s", "p": "nul \u0000 here"}).encode()
    with pytest.raises(RdfSyntaxError, match="U\\+0000"):
        formats.read_jsonld(document, "request body", {}, ())


def test_tab_newline_and_carriage_return_and_other_text_are_kept():
    document = '<http://example.org/s> <http://example.org/p> "tab\\t nl\\n cr\\r é \\u00e9 \U0001f600 \\u0085" .'
    quads = formats.read_quads(document.encode(), TURTLE, "ok")
    assert quads[0].object.value == "tab\t nl\n cr\r é é \U0001f600 \x85"


def test_engine_answers_may_be_read_with_the_check_off():
    data = b'<http://example.org/s> <http://example.org/p> "a\\u0000b" .\n'
    quads = formats.read_quads(data, formats.format_for_path("x.nt"), "engine", allow_control_chars=True)
    assert quads[0].object.value == "a\x00b"


@pytest.mark.parametrize("depth", [300, 200_000])
def test_deeply_nested_json_ld_is_a_bad_input_not_a_crash(depth):
    document = b'{"@id": "http://example.org/s", "http://example.org/p": ' + b"[" * depth + b"]" * depth + b"}"
    with pytest.raises(BadInput, match="nest"):
        formats.read_jsonld(document, "request body", {}, ())


def _seed_context() -> dict:
    from posgraph.config import PROJECT_FILES

    return json.loads(PROJECT_FILES.context_file.read_text(encoding="utf-8"))


def test_json_ld_keeps_blank_nodes_that_are_objects_of_id_coerced_properties():
    # holdsRole is coerced to @id in the context: rdflib's own writer kept the reference and dropped the role.
    data = (
        b"<https://w3id.org/posgraph/id/person/p> <https://w3id.org/posgraph/ns#holdsRole> _:r .\n"
        b'_:r <https://w3id.org/posgraph/ns#roleTitle> "President"@en .\n'
        b"_:r <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://w3id.org/posgraph/ns#Role> .\n"
        b"_:r <https://w3id.org/posgraph/ns#roleFor> _:q .\n"
        b'_:q <http://www.w3.org/2000/01/rdf-schema#label> "q" .\n'
    )
    context = _seed_context()
    document = formats.ntriples_to_jsonld(data, context)
    graph = rdflib.Graph().parse(data=document, format="json-ld")
    assert isomorphic(graph, rdflib.Graph().parse(data=data, format="nt"))


def test_an_unknown_media_type_is_told_exactly_what_clients_may_send():
    with pytest.raises(UnsupportedMediaType) as refused:
        formats.format_for_media_type("application/pdf")
    assert "application/rdf+xml" not in str(refused.value)
    for fmt in formats.RDF_FORMATS:
        if fmt.untrusted_ok:
            assert fmt.media_type in str(refused.value)
