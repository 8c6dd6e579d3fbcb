"""Property tests (hypothesis): no parameter value changes a saved query's structure, and no input crashes or
hangs a parser entry point (each either answers or raises posgraph's own error)."""

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdflib.plugins.sparql import prepareQuery

from posgraph import formats, guard
from posgraph.catalog import PAGE_MARKER, VALUES_MARKER, Catalog, SavedQuery
from posgraph.config import PROJECT_FILES
from posgraph.errors import BadInput, InvalidParameter, QueryRefused, QuerySyntaxError, RdfSyntaxError

CATALOG = Catalog.from_dir(PROJECT_FILES.queries_dir)
# The project's saved queries, and one taking every parameter type (free text included).
EVERY_TYPE = SavedQuery.parse(
    "every-type",
    """#+ summary: every parameter type
#+ kind: select
#+ param: i iri optional — an IRI
#+ param: d date optional — a date
#+ param: n integer optional — a number
#+ param: x decimal optional — a decimal
#+ param: s string optional — free text
SELECT * WHERE {
  #@values
  ?s ?p ?o
}""",
)
PARAMETERISED = [q for q in CATALOG if q.params] + [EVERY_TYPE]
FAST = settings(max_examples=60, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
hostile_text = st.one_of(
    st.text(max_size=200),
    st.sampled_from(['"} } ; DROP ALL ; SELECT * {', "> } UNION { ?s ?p ?o", "\\u0022) }", "' . } #", "\n}\n"]),
)


@pytest.mark.parametrize("saved", PARAMETERISED, ids=lambda q: q.name)
@FAST
@given(data=st.data())
def test_no_parameter_value_changes_a_saved_querys_structure(saved, data):
    values = {p.name: data.draw(hostile_text, label=p.name) for p in saved.params}
    try:
        bound = saved.bind(values)
    except InvalidParameter:
        return
    template_lines = [line for line in saved.text.splitlines() if line.strip() not in (VALUES_MARKER, PAGE_MARKER)]
    bound_lines = bound.splitlines()
    values_lines = [line for line in bound_lines if line.strip().startswith("VALUES (")]
    # Paging writes checked integers only, on the #@page line: LIMIT n OFFSET m and nothing else.
    page_lines = [line for line in bound_lines if re.fullmatch(r"LIMIT \d+ OFFSET \d+", line.strip())]
    assert len(page_lines) == saved.text.count(PAGE_MARKER)  # one per marker (meet-or-collide pages in four places)
    markers = [line for line in saved.text.splitlines() if line.strip() == VALUES_MARKER]
    assert len(values_lines) == len(markers)  # one VALUES block per marker, on one line: nothing spilled out
    assert [line for line in bound_lines if line not in values_lines + page_lines] == template_lines
    algebra = str(prepareQuery(bound).algebra)
    # One ToMultiSet per VALUES block and per subquery: the values added none.
    subqueries = sum(line.upper().count("SELECT") for line in template_lines if not line.startswith("#")) - 1
    assert algebra.count("ToMultiSet") == len(values_lines) + subqueries


@FAST
@given(body=st.binary(max_size=400), fmt=st.sampled_from([f for f in formats.RDF_FORMATS if f.untrusted_ok]))
def test_no_body_crashes_an_rdf_parser(body, fmt):
    try:
        if fmt.name == "json-ld":
            formats.read_jsonld(body, "fuzz", {"@context": {}}, ())
        else:
            formats.read_quads(body, fmt, "fuzz")
    except (RdfSyntaxError, BadInput):
        pass


@FAST
@given(text=st.text(max_size=300))
def test_no_text_crashes_the_query_guard(text):
    for check in (guard.check_query, guard.check_update):
        try:
            check(text)
        except (QueryRefused, QuerySyntaxError):
            pass


@FAST
@given(text=st.text(max_size=100), kind=st.sampled_from(["iri", "date", "integer", "decimal", "string"]))
def test_parameter_conversion_answers_or_names_the_parameter(text, kind):
    from posgraph.catalog import Param

    try:
        term = Param("p", kind, True).to_term(text)
    except InvalidParameter as exc:
        assert exc.name == "p"
        return
    assert not re.search(r"[\x00-\x20<>\"{}|^`\\]", str(term)) or kind == "string"
