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


# ---------------------------------------------------------------------------------- streamed reading and hashing
def _reference_hash(quads) -> str:
    """content_hash as it was first written (the digest batches already stored carry): one Dataset, RDFC-1.0."""
    import hashlib

    dataset = ox.Dataset(quads)
    dataset.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)
    return hashlib.sha256(
        b"\n".join(sorted(ox.serialize(dataset, format=ox.RdfFormat.N_QUADS).splitlines()))
    ).hexdigest()


_TRICKY = """@prefix ex: <http://example.org/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
ex:a ex:p "plain _:x", "with \\"quote\\" _:y"@en, "tab\\tnew\\nline", "1"^^xsd:integer, "_:z"^^ex:dt, ex:b .
ex:a ex:q [ ex:r "one" ; ex:s [ ex:t "deep _:label" ] ] .
ex:c ex:q [ ex:r "one" ; ex:s [ ex:t "deep _:label" ] ] .
ex:a ex:p "a . b" .
ex:a ex:u "élan, 🚀, \\\\u escaped backslash" .
ex:d ex:p ex:e .
ex:d ex:p ex:e .
"""
# Two nodes alike in everything they touch: only RDFC-1.0's n-degree steps tell them apart.
_SYMMETRIC = "_:a <http://x/p> _:b .\n_:b <http://x/p> _:a .\n_:c <http://x/q> _:c .\n<http://x/s> <http://x/p> _:c .\n"
# Every blank node distinct in its own statements: the first-degree hashes label them.
_DISTINCT = "".join(f'_:n{i} <http://x/v> "{i}" .\n<http://x/s{i}> <http://x/has> _:n{i} .\n' for i in range(300))


@pytest.mark.parametrize("document, fmt", [(_TRICKY, "x.ttl"), (_SYMMETRIC, "x.nt"), (_DISTINCT, "x.nt")])
def test_the_streamed_hash_is_the_digest_stored_batches_carry(document, fmt):
    quads = formats.read_quads(document.encode(), formats.format_for_path(fmt), "doc")
    expected = _reference_hash(quads)
    assert formats.content_hash(quads) == expected
    assert formats.content_hash(reversed(quads)) == expected
    # Fed in small chunks, with runs spilled to disk after a few hundred bytes, in another order.
    hasher = formats.ContentHasher(run_bytes=300)
    for chunk in formats.read_chunks(document.encode(), formats.format_for_path(fmt), "doc", size=3):
        hasher.add(chunk.quads[::-1])
    assert hasher.hexdigest() == expected


def test_hashing_ground_statements_apart_from_blank_ones_changes_no_digest():
    """The hasher canonicalises only the statements holding blank nodes and sorts the rest apart: on random small
    graphs full of blank nodes alike (cycles, twins, self loops) mixed with ground statements, where RDFC-1.0's
    n-degree steps decide, its digest is the one-Dataset digest."""
    import random

    for seed in range(300):
        rng = random.Random(seed)
        nodes = [f"_:n{i}" for i in range(rng.randint(2, 8))]
        subjects = [*nodes, "<http://x/s>"]
        objects = [*nodes, "<http://x/a>", '"v"', '"_:n1"']
        statements = {
            f"{rng.choice(subjects)} <http://x/{rng.choice('pq')}> {rng.choice(objects)} ."
            for _ in range(rng.randint(2, 12))
        }
        document = "\n".join(statements) + "\n"
        quads = formats.read_quads(document.encode(), formats.format_for_path("x.nt"), "doc")
        hasher = formats.ContentHasher(run_bytes=100)
        hasher.add(quads)
        assert hasher.hexdigest() == _reference_hash(quads), document


def test_a_chunked_read_gives_every_statement_and_fails_at_the_last_line(tmp_path):
    path = tmp_path / "big.nt"
    lines = [f'<http://x/s{i}> <http://x/p> "v{i}" .\n' for i in range(5000)]
    path.write_text("".join(lines))
    nt = formats.format_for_path(path)
    with open(path, "rb") as handle:
        chunks = list(formats.read_chunks(handle, nt, str(path), size=700))
    assert sum(len(c.quads) for c in chunks) == 5000 and len(chunks) == 8
    assert all(c.nquads.count(b"\n") == len(c.quads) for c in chunks)
    path.write_text("".join(lines) + "<http://x/s> <http://x/p> .\n")
    with open(path, "rb") as handle, pytest.raises(RdfSyntaxError) as caught:
        list(formats.read_chunks(handle, nt, str(path), size=700))
    assert caught.value.line == 5001


@pytest.mark.parametrize("char", ["\x08", "\x0c", "\x0b", "\x00", "\x1f", "\ufffe", "\uffff"])
def test_a_chunked_read_refuses_characters_xml_cannot_carry(char):
    document = '<http://x/s> <http://x/p> "fine \\\\b and \\\\f" .\n<http://x/s> <http://x/p> "bad%sone" .\n' % char
    with pytest.raises(RdfSyntaxError, match="control character"):
        list(formats.read_chunks(document.encode(), TURTLE, "doc"))
    assert len(next(formats.read_chunks(document.split("\n")[0].encode(), TURTLE, "doc")).quads) == 1


def test_jsonld_bytes_are_the_bytes_starlettes_json_response_writes():
    from starlette.responses import JSONResponse

    doc = {"@context": "http://x/ns/context.jsonld", "summary": {"uk": "Перемир'я"}, "n": 5, "b": True, "x": 0.5}
    assert formats.jsonld_bytes(doc) == JSONResponse(doc).body
    assert "Перемир'я".encode() in formats.jsonld_bytes(doc)  # UTF-8, not \\u escapes
    with pytest.raises(ValueError):
        formats.jsonld_bytes({"n": float("nan")})


def test_the_merge_of_sorted_runs_gives_every_line_once_in_order(monkeypatch):
    import random

    monkeypatch.setattr(formats, "_MERGE_BLOCK", 3)
    for seed in range(200):
        rng = random.Random(seed)
        runs = [sorted(f"l{rng.randint(0, 60):03d}".encode() for _ in range(rng.randint(0, 40))) for _ in range(4)]
        merged = [line for block in formats._merged([formats._blocks_of(run) for run in runs]) for line in block]
        # Within a block each line is once; a line may end one block and begin the next (hexdigest drops it).
        once = [line for i, line in enumerate(merged) if i == 0 or merged[i - 1] != line]
        assert once == sorted(set().union(*runs))


def test_the_hash_is_the_same_fed_in_tiny_chunks_spilled_in_tiny_runs(monkeypatch):
    """Chunks of one or two statements, runs spilled every few bytes, read back in tiny blocks, chunks holding
    only blank nodes (nothing to spill) and statements repeated across runs: the digest stored batches carry."""
    document = _DISTINCT + _SYMMETRIC + "".join(f'<http://x/s{i % 7}> <http://x/p> "{i % 5}" .\n' for i in range(60))
    quads = formats.read_quads(document.encode(), formats.format_for_path("x.nt"), "doc")
    hasher = formats.ContentHasher(run_bytes=50)
    for start in range(0, len(quads), 2):
        hasher.add(quads[start : start + 2])
    blocks = formats._blocks_read
    monkeypatch.setattr(formats, "_blocks_read", lambda spill: blocks(spill, 7))
    assert len(hasher._spilled) > 10
    assert hasher.hexdigest() == _reference_hash(quads)
