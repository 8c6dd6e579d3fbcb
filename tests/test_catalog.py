import pytest
import rdflib
from rdflib.namespace import XSD
from rdflib.plugins.sparql import prepareQuery

from posgraph.catalog import Catalog, Page, Param, SavedQuery
from posgraph.config import PROJECT_FILES
from posgraph.errors import InvalidParameter, NotFound

QUERY = """#+ summary: test
#+ kind: select
#+ param: party iri required — a party
#+ param: when date optional — a date
#+ param: label string optional — text
#+ param: n integer optional — a count
#+ example: party=pgid:party/russia
SELECT * WHERE {
  #@values
  ?s ?p ?o
}"""


@pytest.fixture
def saved() -> SavedQuery:
    return SavedQuery.parse("t", QUERY)


def test_header_is_parsed(saved):
    assert saved.kind == "select" and saved.summary == "test"
    assert [(p.name, p.type, p.required) for p in saved.params] == [
        ("party", "iri", True),
        ("when", "date", False),
        ("label", "string", False),
        ("n", "integer", False),
    ]
    assert saved.examples == ({"party": "pgid:party/russia"},)


def test_an_example_that_names_a_parameter_twice_keeps_both_values():
    saved = SavedQuery.parse(
        "t2", QUERY.replace("#+ example: party=pgid:party/russia", "#+ example: n=1 n=2 n=3 label=x")
    )
    assert saved.examples == ({"n": ["1", "2", "3"], "label": "x"},)
    # gap-matrix's first example asks for two parties; bound, both are in its VALUES block.
    gap = Catalog.from_dir(PROJECT_FILES.queries_dir).get("gap-matrix")
    example = gap.examples[0]
    assert example["party"] == ["pgid:party/russia", "pgid:party/ukraine"]
    text = gap.bind(example)
    assert (
        "<https://w3id.org/posgraph/id/party/russia>" in text and "<https://w3id.org/posgraph/id/party/ukraine>" in text
    )


def test_values_block_binds_typed_terms_and_undef(saved):
    text = saved.bind({"party": "pgid:party/russia", "when": "2025-07"})
    assert (
        "VALUES (?party ?when ?label ?n) { (<https://w3id.org/posgraph/id/party/russia> "
        '"2025-07"^^<http://www.w3.org/2001/XMLSchema#gYearMonth> UNDEF UNDEF) }'
    ) in text
    prepareQuery(text)


def test_every_values_line_is_bound_so_a_subquery_sees_the_parameters_too():
    nested = SavedQuery.parse(
        "t",
        "#+ summary: t\n#+ kind: select\n#+ param: party iri required — a party\n"
        "SELECT ?s ?n WHERE {\n  { SELECT ?party (COUNT(*) AS ?n) WHERE {\n    #@values\n    ?s ?p ?party\n  }"
        " GROUP BY ?party }\n  #@values\n  ?s ?p ?party\n}",
    )
    text = nested.bind({"party": "pgid:party/russia"})
    assert "#@values" not in text
    assert text.count("VALUES (?party) { (<https://w3id.org/posgraph/id/party/russia>) }") == 2
    prepareQuery(text)


def test_a_hostile_string_stays_one_literal(saved):
    attack = '"} } ; DROP ALL ; SELECT * { ?a ?b "'
    text = saved.bind({"party": "pgid:party/russia", "label": attack})
    algebra = prepareQuery(text).algebra
    # Still one VALUES row joined with one triple pattern: the value did not add structure.
    assert text.count("VALUES") == 1 and "DROP ALL" in text
    assert str(algebra).count("BGP") == 1


@pytest.mark.parametrize(
    "name,value,message",
    [
        ("party", "not an iri", "absolute IRI"),
        ("party", "http://x/<script>", "absolute IRI"),
        ("when", "2025-02-30", "calendar date"),
        ("when", "2025-13", "no such month"),
        ("when", "yesterday", "not a date"),
        ("n", "1.5", "integer"),
    ],
)
def test_bad_values_name_the_parameter(saved, name, value, message):
    with pytest.raises(InvalidParameter, match=message) as caught:
        saved.bind({"party": "pgid:party/russia", name: value})
    assert caught.value.name == name


def test_missing_required_and_unknown_parameters(saved):
    with pytest.raises(InvalidParameter, match="required"):
        saved.bind({})
    with pytest.raises(InvalidParameter, match="no such parameter") as caught:
        saved.bind({"party": "pgid:party/russia", "colour": "red"})
    assert caught.value.name == "colour"


def test_decimal_rejects_non_finite():
    with pytest.raises(InvalidParameter):
        Param("x", "decimal", True).to_term("NaN")
    assert str(Param("x", "decimal", True).to_term("85000.5")) == "85000.5"


@pytest.mark.parametrize(
    "text,problem",
    [
        ("#+ kind: select\nSELECT * {}", "summary"),
        ("#+ summary: s\n#+ kind: update\nSELECT * {}", "kind"),
        ("#+ summary: s\n#+ kind: select\n#+ param: x iri required\nSELECT * {}", "#@values"),
        ("#+ summary: s\n#+ kind: select\n#+ param: x colour required\n#@values", r"bad '#\+ param"),
    ],
)
def test_malformed_headers_are_refused(text, problem):
    with pytest.raises(ValueError, match=problem):
        SavedQuery.parse("q", text)


def test_project_catalog_loads_and_unknown_names_are_not_found():
    catalog = Catalog.from_dir(PROJECT_FILES.queries_dir)
    assert {"demands-by-issue", "positions", "issues"} <= {q.name for q in catalog}
    with pytest.raises(NotFound, match="no saved query"):
        catalog.get("nope")
    described = catalog.get("positions").describe()
    assert described["parameters"][0] == {
        "name": "party",
        "type": "iri",
        "required": True,
        "description": "The party, e.g. pgid:party/ukraine",
    }


PAGED = """#+ summary: paged
#+ kind: select
#+ param: party iri optional — a party
#+ page: limit=50 max=500
SELECT * WHERE {
  #@values
  ?s ?p ?party
}
ORDER BY ?s ?p ?party
#@page"""


def test_paging_adds_limit_and_offset_written_as_integers_only():
    paged = SavedQuery.parse("p", PAGED)
    assert [(p.name, p.type, p.required) for p in paged.params] == [
        ("party", "iri", False),
        ("limit", "integer", False),
        ("offset", "integer", False),
        ("cursor", "string", False),
    ]
    assert paged.describe()["paging"] == {"default": 50, "maximum": 500}
    text = paged.bind({})
    assert text.endswith("ORDER BY ?s ?p ?party\nLIMIT 50 OFFSET 0") and "VALUES (?party) { (UNDEF) }" in text
    text = paged.bind({"party": "pgid:party/russia", "limit": "500", "offset": "1000"})
    assert "LIMIT 500 OFFSET 1000" in text and "?limit" not in text and "?offset" not in text
    assert prepareQuery(text).algebra.name == "SelectQuery"


@pytest.mark.parametrize(
    "values,name,message",
    [
        ({"limit": "0"}, "limit", "from 1 to 500"),
        ({"limit": "501"}, "limit", "from 1 to 500"),
        ({"limit": "5 OFFSET 0 } ; DROP ALL"}, "limit", "integer"),
        ({"offset": "-1"}, "offset", "from 0"),
        ({"offset": "1.5"}, "offset", "integer"),
    ],
)
def test_bad_paging_values_name_the_parameter(values, name, message):
    with pytest.raises(InvalidParameter, match=message) as caught:
        SavedQuery.parse("p", PAGED).bind(values)
    assert caught.value.name == name


def test_queries_without_paging_take_no_limit():
    with pytest.raises(InvalidParameter, match="no such parameter") as caught:
        SavedQuery.parse("t", QUERY).bind({"party": "pgid:party/russia", "limit": "5"})
    assert caught.value.name == "limit"


@pytest.mark.parametrize(
    "text,problem",
    [
        (PAGED.replace("#@page", ""), "no #@page line"),
        (PAGED.replace("ORDER BY ?s ?p ?party\n", ""), "no ORDER BY"),
        (PAGED.replace("limit=50 max=500", "limit=600 max=500"), "bad '#\\+ page"),
        (PAGED.replace("limit=50 max=500", "fifty"), "bad '#\\+ page"),
        (PAGED.replace("#+ page: limit=50 max=500\n", ""), "no '#\\+ page:'"),
        (PAGED.replace("#+ param: party iri optional — a party", "#+ param: limit integer optional — n"), "paging"),
    ],
)
def test_malformed_paging_is_refused(text, problem):
    with pytest.raises(ValueError, match=problem):
        SavedQuery.parse("p", text)


def test_every_project_query_pages():
    catalog = Catalog.from_dir(PROJECT_FILES.queries_dir)
    unpaged = {q.name for q in catalog if q.paging is None}
    # Every saved answer is bounded: a default and a maximum page, whatever the store's size.
    assert unpaged == set()
    assert catalog.get("timeline").paging.key == "position"
    assert {"document-versions", "disputed-figures", "positions-in-document"} <= {q.name for q in catalog}


# ------------------------------------------------------------------------------- parameters taking several values
MANY = """#+ summary: test
#+ kind: select
#+ param: party iri optional many — parties
#+ param: issue iri optional many — issues
#+ param: when date optional — a date
SELECT * WHERE {
  #@values
  ?s ?p ?o
}"""


def test_a_many_parameter_binds_one_row_per_combination_of_values():
    saved = SavedQuery.parse("m", MANY)
    assert [(p.name, p.many) for p in saved.params] == [("party", True), ("issue", True), ("when", False)]
    assert saved.describe()["parameters"][0]["many"] is True and "many" not in saved.describe()["parameters"][2]
    text = saved.bind({"party": ["pgid:party/a", "pgid:party/b", "pgid:party/a"], "issue": ["pgi:x", "pgi:y"]})
    block = text[text.index("VALUES") : text.index("}", text.index("VALUES")) + 1]
    rows = block[block.index("{") + 1 : -1].split(")")
    # Two distinct parties (the repeated one once) by two issues, the date left out in every row.
    assert len([r for r in rows if r.strip()]) == 4
    assert block.count("<https://w3id.org/posgraph/id/party/a>") == 2 and block.count("UNDEF") == 4
    # A single string still works as it always did, and the rows parse as SPARQL.
    prepareQuery(saved.bind({"party": "pgid:party/a", "when": "2025"}))
    prepareQuery(text)


def test_several_values_for_a_single_parameter_or_too_many_are_refused_naming_it():
    saved = SavedQuery.parse("m", MANY)
    with pytest.raises(InvalidParameter) as caught:
        saved.bind({"when": ["2025", "2026"]})
    assert caught.value.name == "when"
    with pytest.raises(InvalidParameter) as caught:
        saved.bind({"party": [f"pgid:party/p{i}" for i in range(51)]})
    assert caught.value.name == "party"
    with pytest.raises(InvalidParameter) as caught:
        saved.bind({"party": [f"pgid:party/p{i}" for i in range(30)], "issue": [f"pgi:i{i}" for i in range(30)]})
    assert "combinations" in str(caught.value)
    with pytest.raises(InvalidParameter) as caught:
        saved.bind({"party": ["pgid:party/a", "not an iri"]})
    assert caught.value.name == "party"


def test_a_bad_fourth_word_is_refused():
    with pytest.raises(ValueError, match="many"):
        SavedQuery.parse("m", MANY.replace("optional many", "optional several"))


# ------------------------------------------------------------------------------------------------ cursors
def test_a_cursor_stands_for_its_offset_with_the_same_parameters_only():
    paged = SavedQuery.parse("p", PAGED)
    values = {"party": "pgid:party/russia", "limit": "20"}
    cursor = paged.cursor(values, 40)
    assert paged.page(values | {"cursor": cursor}) == Page(20, 40)
    # The page size may change between pages; the order of values and blank ones do not matter.
    assert paged.page({"limit": "7", "cursor": cursor, "party": ["pgid:party/russia", ""]}) == Page(7, 40)
    assert "LIMIT 8 OFFSET 40" in paged.bind(values | {"cursor": cursor, "limit": "7"}, extra=1)
    assert paged.page({}) == Page(50, 0)


@pytest.mark.parametrize(
    "change",
    [
        {"party": "pgid:party/ukraine"},  # other parameters
        {"party": None},  # a parameter left out
        {"cursor": "AAAA"},  # not one of ours
        {"cursor": "not base64 at all!"},
        {"offset": "40"},  # both an offset and a cursor
    ],
)
def test_a_cursor_of_other_parameters_or_tampered_is_refused_naming_cursor(change):
    paged = SavedQuery.parse("p", PAGED)
    values = {"party": "pgid:party/russia", "cursor": paged.cursor({"party": "pgid:party/russia"}, 40)}
    values = {k: v for k, v in (values | change).items() if v is not None}
    with pytest.raises(InvalidParameter) as caught:
        paged.bind(values)
    assert caught.value.name == "cursor"


def test_a_cursor_with_its_offset_edited_or_of_another_query_or_dataset_is_refused():
    import base64
    import json

    paged, other = SavedQuery.parse("p", PAGED), SavedQuery.parse("q", PAGED)
    cursor = paged.cursor({}, 40)
    offset, digest = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    edited = base64.urlsafe_b64encode(json.dumps([offset + 1000, digest]).encode()).decode()
    for query, given, scope in ((paged, edited, ()), (other, cursor, ()), (paged, cursor, ("default-graph-uri=x",))):
        with pytest.raises(InvalidParameter) as caught:
            query.page({"cursor": given}, scope=scope)
        assert caught.value.name == "cursor"
    assert paged.page({"cursor": cursor}) == Page(50, 40)


def test_paging_by_a_key_is_declared_and_checked():
    keyed = SavedQuery.parse("k", PAGED.replace("max=500", "max=500 key=s"))
    assert keyed.paging.key == "s" and keyed.describe()["paging"]["key"] == "s"
    with pytest.raises(ValueError, match="bad '#\\+ page"):
        SavedQuery.parse("k", PAGED.replace("max=500", "max=500 key=Bad-Name"))


# ------------------------------------------------------------------------------- keys read from a collection's index
KEYED = """#+ summary: test
#+ kind: select
#+ param: party iri required — a party
#+ param: when date optional — a date
#+ param: several iri optional many — several
#+ page: limit=5 max=50 key=position
#+ keys: positions party=party stated_from=when
SELECT ?position ?key ?o WHERE {
  #@keys
  {
    SELECT DISTINCT ?position ?key WHERE {
      #@values
      ?position <urn:p> ?party . BIND ("" AS ?key)
    }
    ORDER BY ?key STR(?position)
    #@page
  }
  #@keys-end
  #@values
  ?position <urn:o> ?o .
}
ORDER BY ?key STR(?position) ?o"""


def test_keys_from_a_collection_are_declared_and_replace_the_subquery_that_cuts_them():
    saved = SavedQuery.parse("k", KEYED)
    assert saved.keys.collection == "positions"
    assert saved.keys.filters == (("party", "party"), ("stated_from", "when"))
    # Without keys, the subquery cuts the page (the marker lines are comments).
    plain = saved.bind({"party": "urn:x:a", "limit": "2", "offset": "4"})
    assert "LIMIT 2 OFFSET 4" in plain and "SELECT DISTINCT ?position ?key" in plain
    # With keys, a VALUES block of escaped terms takes the subquery's place, limit and offset with it.
    keys = [("urn:x:p1", "2025-07"), ("urn:x:p2", 'a "quoted"\nkey'), ("urn:x:é", "back\\slash\r\t'single'")]
    text = saved.bind({"party": "urn:x:a", "limit": "2", "offset": "4"}, keys=keys)
    assert "SELECT DISTINCT" not in text and "LIMIT" not in text and "#@keys" not in text
    assert 'VALUES (?position ?key) { (<urn:x:p1> "2025-07") (<urn:x:p2> ' in text
    parsed = prepareQuery(text)
    assert {str(v) for v in parsed.algebra["PV"]} == {"position", "key", "o"}
    rows = rdflib.Graph().query(text.replace("?position <urn:o> ?o .", "BIND (1 AS ?o)"))
    assert sorted((str(r.position), str(r.key)) for r in rows) == sorted(keys)
    # An IRI that no IRI reference can hold is refused, not written.
    for bad in ("urn:x:a b", "urn:x:a>", 'urn:x:"', "urn:x:{", "urn:x:\\", "urn:x:\n"):
        with pytest.raises(ValueError, match="not an IRI"):
            saved.bind({"party": "urn:x:a"}, keys=[(bad, "")])
    # No keys: a page that is empty, not the subquery's.
    assert "VALUES (?position ?key) {  }" in saved.bind({"party": "urn:x:a"}, keys=[])
    # The collection's filter values: typed terms, the ones left out absent; several values cannot be a filter.
    terms = saved.keys.terms(saved.params, {"party": "urn:x:a", "when": "2025-07"})
    assert {k: str(v) for k, v in terms.items()} == {"party": "urn:x:a", "stated_from": "2025-07"}
    assert saved.keys.terms(saved.params, {"party": ["urn:x:a", "urn:x:b"]}) is None
    # The subquery alone, with the query's prologue: the page of keys the engine cuts (one more than the page).
    alone = saved.bind({"party": "urn:x:a", "limit": "2", "offset": "4"}, keys_only=True, extra=1)
    assert alone.lstrip().startswith("#+ summary") and "SELECT DISTINCT ?position ?key WHERE" in alone
    assert "LIMIT 3 OFFSET 4" in alone and "<urn:o>" not in alone and "#@keys" not in alone
    assert [str(v) for v in prepareQuery(alone).algebra["PV"]] == ["position", "key"]
    newest = SavedQuery.parse("k", KEYED.replace("stated_from=when", "stated_from=when descending=several:newest"))
    assert newest.keys.descending == ("several", "newest") and not saved.keys.newest_first({"several": "newest"})
    assert newest.keys.newest_first({"several": "newest"}) and not newest.keys.newest_first({"several": "oldest"})
    with pytest.raises(InvalidParameter, match="when"):
        saved.keys.terms(saved.params, {"party": "urn:x:a", "when": "July"})
    with pytest.raises(ValueError, match="no key source"):
        SavedQuery.parse("p", PAGED).bind({}, keys=[])


@pytest.mark.parametrize(
    "text,problem",
    [
        (KEYED.replace("#@keys-end\n", ""), "one #@keys line"),
        (KEYED.replace("  #@keys\n", ""), "one #@keys line"),
        (KEYED.replace("#+ keys: positions party=party stated_from=when\n", ""), "no '#\\+ keys:'"),
        (KEYED.replace("max=50 key=position", "max=50"), "key=VAR"),
        (KEYED.replace("key=position", "key=position+o"), "key=VAR"),
        (KEYED.replace("party=party stated_from", "party=party issue=limit stated_from"), "'limit'"),
        (KEYED.replace("stated_from=when", "stated_from=when descending=nobody:x"), "descending=PARAM:VALUE"),
        (KEYED.replace("stated_from=when", "stated_from=when descending=when"), "descending=PARAM:VALUE"),
        (KEYED.replace("  {\n    SELECT DISTINCT", "  OPTIONAL {\n    SELECT DISTINCT"), "one braced group"),
        (KEYED.replace("party=party stated_from", "party=nobody stated_from"), "'nobody'"),
        (KEYED.replace("party=party stated_from=when", "party"), "bad '#\\+ keys"),
        (KEYED.replace("    #@page\n  }\n  #@keys-end", "  }\n  #@keys-end\n  #@page"), "then the #@page line"),
    ],
)
def test_malformed_keys_are_refused(text, problem):
    with pytest.raises(ValueError, match=problem):
        SavedQuery.parse("k", text)


# ------------------------------------------------------------------------------- facts read from the collections' index
FACTED = """#+ summary: test
#+ kind: select
#+ param: party iri optional many — parties
#+ param: date date optional — a date
#+ page: limit=5 max=50
#+ facts: in-force party,latest party=party date=date
SELECT ?party ?latest ?label WHERE {
  #@facts
  {
    SELECT ?party (MAX(STR(?d)) AS ?latest) WHERE {
      #@values
      ?p <urn:held> ?party ; <urn:on> ?d .
    }
    GROUP BY ?party
  }
  #@facts-end
  OPTIONAL { ?party <urn:label> ?label }
}
ORDER BY ?party
#@page"""


def test_facts_are_declared_and_their_rows_replace_the_subquery_that_works_them_out():
    saved = SavedQuery.parse("f", FACTED)
    assert saved.facts.fact == "in-force" and saved.facts.variables == ("party", "latest")
    assert saved.facts.filters == (("party", "party"), ("date", "date"))
    # Without rows, the subquery works them out (the marker lines are comments).
    plain = saved.bind({"party": "urn:x:a"})
    assert "GROUP BY ?party" in plain and "VALUES (?party ?date) { (<urn:x:a> UNDEF) }" in plain
    # With rows, a VALUES block of terms rdflib escapes takes its place; None is UNDEF.
    rows = [(rdflib.URIRef("urn:x:a"), rdflib.Literal('a "quoted"\nvalue')), (rdflib.URIRef("urn:x:b"), None)]
    text = saved.bind({"party": "urn:x:a", "limit": "2"}, facts=rows)
    assert "GROUP BY" not in text and "#@facts" not in text and "LIMIT 2 OFFSET 0" in text
    assert "VALUES (?party ?latest) { (<urn:x:a> " in text and "(<urn:x:b> UNDEF) }" in text
    answer = rdflib.Graph().query(text)
    assert sorted((str(r.party), r.latest and str(r.latest)) for r in answer) == [
        ("urn:x:a", 'a "quoted"\nvalue'),
        ("urn:x:b", None),
    ]
    # No rows: an answer that is empty, not the subquery's.
    assert "VALUES (?party ?latest) {  }" in saved.bind({}, facts=[])
    with pytest.raises(ValueError, match="does not bind"):
        saved.bind({}, facts=[(rdflib.URIRef("urn:x:a"),)])
    # The subquery alone, with the prologue, bound as the query is.
    alone = saved.bind({"party": ["urn:x:a", "urn:x:b"]}, facts_only=True)
    assert [str(v) for v in prepareQuery(alone).algebra["PV"]] == ["party", "latest"]
    assert "<urn:label>" not in alone and "(<urn:x:b> UNDEF)" in alone
    # The fact's filter values: one combination per row of the VALUES block, values typed, left-out ones absent.
    combos = saved.facts.combinations(saved.params, {"party": ["urn:x:a", "urn:x:b", "urn:x:a"], "date": "2025-07"})
    assert [{k: v.n3() for k, v in c.items()} for c in combos] == [
        {"party": "<urn:x:a>", "date": rdflib.Literal("2025-07", datatype=XSD.gYearMonth).n3()},
        {"party": "<urn:x:b>", "date": rdflib.Literal("2025-07", datatype=XSD.gYearMonth).n3()},
    ]
    assert saved.facts.combinations(saved.params, {}) == [{}]
    with pytest.raises(InvalidParameter, match="date"):
        saved.facts.combinations(saved.params, {"date": "July"})
    with pytest.raises(ValueError, match="no fact source"):
        SavedQuery.parse("p", PAGED).bind({}, facts=[])


def test_a_fact_read_as_a_prefix_is_asked_for_as_many_rows_as_the_pages_end():
    saved = SavedQuery.parse("f", FACTED.replace("date=date\n", "date=date first\n"))
    assert saved.facts.first and saved.facts.filters == (("party", "party"), ("date", "date"))
    values = {"party": ["urn:x:a", "urn:x:b"], "limit": "3", "offset": "4"}
    combos = saved.facts.combinations(saved.params, values, saved.page(values))
    # offset 4 + limit 3, and one more: whether another page follows.
    assert [{k: v.n3() for k, v in c.items()} for c in combos] == [
        {"party": "<urn:x:a>", "first": rdflib.Literal(8).n3()},
        {"party": "<urn:x:b>", "first": rdflib.Literal(8).n3()},
    ]
    with pytest.raises(ValueError, match="give the page"):
        saved.facts.combinations(saved.params, values)
    # The subquery stays the whole: the engine cuts the page from it as before.
    assert "GROUP BY ?party" in saved.bind(values) and "LIMIT 3 OFFSET 4" in saved.bind(values)


@pytest.mark.parametrize(
    "text,problem",
    [
        (FACTED.replace("  #@facts-end\n", ""), "one #@facts-end line"),
        (FACTED.replace("#+ facts: in-force party,latest party=party date=date\n", ""), "no '#\\+ facts:'"),
        (FACTED.replace("party,latest party=party", "party party=party"), "selecting \\?party\\b"),
        (FACTED.replace("party,latest party=party", "latest,party party=party"), "it selects \\?party \\?latest"),
        (FACTED.replace("party,latest party=party", "party,party party=party"), "variables"),
        (FACTED.replace("party=party date=date", "party=limit"), "'limit'"),
        (FACTED.replace("party=party date=date", "party=nobody"), "'nobody'"),
        (FACTED.replace("#+ facts: in-force party,latest party=party date=date", "#+ facts: in-force"), "bad"),
        (FACTED.replace("  {\n    SELECT ?party (MAX", "  OPTIONAL {\n    SELECT ?party (MAX"), "one braced"),
        # A prefix needs a page counted in rows.
        (
            FACTED.replace("date=date\n", "date=date first\n")
            .replace("#+ page: limit=5 max=50\n", "")
            .replace("\n#@page", ""),
            "paged by rows",
        ),
        (
            FACTED.replace("date=date\n", "date=date first\n").replace("max=50", "max=50 key=party"),
            "paged by rows",
        ),
    ],
)
def test_malformed_facts_are_refused(text, problem):
    with pytest.raises(ValueError, match=problem):
        SavedQuery.parse("f", text)
