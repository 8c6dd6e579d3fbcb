"""The benchmark generator writes data that passes the shapes, deterministically."""

import io

from bench.generate import Generator, write_graph
from posgraph import formats


def _validate(validator, text: str):
    quads = formats.read_quads(text.encode(), formats.format_for_media_type("application/n-triples"), "generated")
    return validator.validate(formats.to_rdflib_graph(quads))


def test_a_generated_graph_conforms(validator):
    gen = Generator(parties=5, people=10, sources=20)
    text = "".join(gen.actors()) + "".join(gen.positions(120))
    assert text.count("\n") == gen.triples > 1500
    report = _validate(validator, text)
    assert report.conforms and report.results == []
    assert "<https://w3id.org/posgraph/ns#supersedes>" in text
    assert "<https://w3id.org/posgraph/ns#hasCondition>" in text


def test_write_graph_reaches_the_requested_size():
    out = io.StringIO()
    written = write_graph(out, 12_000)
    assert written >= 12_000 and out.getvalue().count("\n") == written


def test_generation_is_deterministic():
    one, two = io.StringIO(), io.StringIO()
    write_graph(one, 10_000)
    write_graph(two, 10_000)
    assert one.getvalue() == two.getvalue()


def test_a_batch_refers_to_the_stores_actors(validator):
    gen = Generator(seed=2, prefix="batch")
    batch = "".join(gen.positions(50))
    assert "position/batch-0>" in batch and "party/bench-" in batch
    assert _validate(validator, "".join(Generator().actors()) + batch).conforms
