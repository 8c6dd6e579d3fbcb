"""The SPARQL endpoint and saved queries over real HTTP."""

import csv
import io
import json
import re
import threading
import time
from collections import Counter
from functools import partial

import httpx
import pytest
import virtuoso_support
from conftest import run
from rdflib.compare import isomorphic
from test_saved_queries import CATALOG, FIXTURE, PAGE_THROUGH

from posgraph import curation, research
from posgraph.config import PROJECT_FILES
from posgraph.engine import Engine
from posgraph.errors import InvalidParameter
from posgraph.linked_data import CollectionIndex, collection
from posgraph.linked_data.collection import index_facts, index_keys
from posgraph.supervisor import ManagedEngine

pytestmark = pytest.mark.e2e

RUSSIA_DEMANDS = """PREFIX pg: <https://w3id.org/posgraph/ns#>
SELECT ?issue (COUNT(?d) AS ?n) WHERE {
  ?d a pg:Demand ; pg:heldBy <https://w3id.org/posgraph/id/party/russia> ; pg:concerns ?issue }
GROUP BY ?issue ORDER BY ?issue"""
ISSUES = ["armed-forces-size", "language-identity", "neutrality-alliances", "territory"]


def _issues(doc):
    return [row["issue"]["value"].rsplit("/", 1)[1] for row in doc["results"]["bindings"]]


def test_get_query(server):
    with server.client() as client:
        response = client.get("/sparql", params={"query": RUSSIA_DEMANDS, "format": "ignored-extra"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/sparql-results+json")
    assert _issues(response.json()) == ISSUES


def test_post_form_query(server):
    with server.client() as client:
        response = client.post("/sparql", data={"query": RUSSIA_DEMANDS})
    assert response.status_code == 200 and _issues(response.json()) == ISSUES


def test_post_form_decodes_percent_escapes_once(server):
    # A literal "%41" must reach the engine as "%41", not be decoded a second time into "A".
    with server.client() as client:
        response = client.post("/sparql", data={"query": 'SELECT ("%41" AS ?x) {}'})
    assert response.json()["results"]["bindings"][0]["x"]["value"] == "%41"


def test_post_sparql_query_body_with_charset(server):
    with server.client() as client:
        response = client.post(
            "/sparql",
            content=RUSSIA_DEMANDS.encode(),
            headers={"Content-Type": "application/sparql-query; charset=UTF-8", "Accept": "text/csv"},
        )
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["issue"].rsplit("/", 1)[1] for r in rows] == ISSUES


def test_construct_defaults_to_turtle(server):
    with server.client() as client:
        response = client.get(
            "/sparql", params={"query": "CONSTRUCT WHERE { <https://w3id.org/posgraph/id/party/russia> ?p ?o }"}
        )
    assert response.headers["content-type"].startswith("text/turtle")
    assert "Russia" in response.text


def test_malformed_query_is_400_with_the_parsers_position(server):
    with server.client() as client:
        response = client.get("/sparql", params={"query": "SELECT * WHERE { ?s ?p }"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "https://w3id.org/posgraph/problems/query-syntax"
    assert "line 1, column" in body["detail"]


def test_post_without_a_query_is_400(server):
    with server.client() as client:
        assert client.post("/sparql", data={"other": "x"}).status_code == 400
        both = client.post(
            "/sparql?query=ASK%7B%7D", content=b"ASK {}", headers={"Content-Type": "application/sparql-query"}
        )
        assert both.status_code == 400


def test_unsupported_body_type_is_415(server):
    with server.client() as client:
        response = client.post("/sparql", content=b"{}", headers={"Content-Type": "application/json"})
    assert response.status_code == 415 and response.json()["type"].endswith("/unsupported-media-type")


def test_non_utf8_body_is_400_not_500(server):
    with server.client() as client:
        response = client.post(
            "/sparql", content=b'SELECT * { ?s ?p "\xff" }', headers={"Content-Type": "application/sparql-query"}
        )
    assert response.status_code == 400 and "UTF-8" in response.json()["detail"]


def test_oversized_body_is_413(server):
    with server.client() as client:
        response = client.post(
            "/sparql", content=b"#" * 10_000_001, headers={"Content-Type": "application/sparql-query"}
        )
    assert response.status_code == 413


def test_wrong_method_is_405_problem(server):
    with server.client() as client:
        response = client.delete("/sparql")
    assert response.status_code == 405 and response.headers["content-type"] == "application/problem+json"


def test_unknown_route_is_404_problem(server):
    with server.client() as client:
        response = client.get("/no/such/thing")
    assert response.status_code == 404 and response.json()["type"].endswith("/not-found")


def test_service_to_a_local_url_is_refused_over_http(server):
    with server.client() as client:
        response = client.get(
            "/sparql", params={"query": f"SELECT * {{ SERVICE <{server.url}/sparql> {{ ?s ?p ?o }} }}"}
        )
    assert response.status_code == 400 and response.json()["type"].endswith("/query-refused")


def test_update_through_the_query_endpoint_is_refused(server):
    with server.client() as client:
        response = client.post("/sparql", data={"query": "DROP ALL"})
        assert response.status_code == 400
        still = client.get("/sparql", params={"query": "ASK { ?s ?p ?o }"}).json()
    assert still["boolean"] is True


def test_saved_queries_are_listed_and_run(server):
    with server.client() as client:
        listing = client.get("/queries").json()["queries"]
        names = {q["name"] for q in listing}
        response = client.get("/queries/demands-by-issue", params={"party": "pgid:party/russia"})
    assert {"demands-by-issue", "positions", "issues"} <= names
    assert response.status_code == 200 and _issues(response.json()) == ISSUES


def test_saved_query_bad_parameter_is_400_naming_it(server):
    with server.client() as client:
        bad = client.get("/queries/positions", params={"party": "pgid:party/russia", "to": "July"})
        missing = client.get("/queries/positions")
        unknown = client.get("/queries/nope")
    assert bad.status_code == 400 and bad.json()["parameter"] == "to"
    assert missing.status_code == 400 and missing.json()["parameter"] == "party"
    assert unknown.status_code == 404


def test_a_repeated_saved_query_parameter_binds_every_value_or_is_400_naming_it(server):
    both = [("party", "pgid:party/russia"), ("party", "pgid:party/ukraine")]
    with server.client() as client:
        together = client.get("/queries/timeline", params=both, headers={"Accept": "application/json"})
        alone = {
            name: client.get(
                "/queries/timeline", params={"party": f"pgid:party/{name}"}, headers={"Accept": "application/json"}
            )
            for name in ("russia", "ukraine")
        }
        once_only = client.get("/queries/positions", params=both)

    def parties(answer):
        return sorted(b["party"]["value"] for b in answer.json()["results"]["bindings"])

    # Both parties' rows, exactly the union of each alone: not the last value only.
    assert together.status_code == 200 and len({*parties(together)}) == 2
    assert parties(together) == sorted(parties(alone["russia"]) + parties(alone["ukraine"]))
    assert once_only.status_code == 400 and once_only.json()["parameter"] == "party"


def test_openapi_documents_the_routes(server):
    with server.client() as client:
        spec = client.get("/openapi.json").json()
    assert {"/sparql", "/queries", "/queries/{name}", "/health"} <= set(spec["paths"])


# ------------------------------------------------------------------------------------------- content negotiation
@pytest.mark.parametrize(
    "accept,expected",
    [
        ("application/sparql-results+json", "application/sparql-results+json"),
        ("application/json", "application/sparql-results+json"),
        ("application/sparql-results+xml", "application/sparql-results+xml"),
        ("text/csv", "text/csv"),
        ("text/tab-separated-values", "text/tab-separated-values"),
        ("text/csv;q=0.4, text/tab-separated-values;q=0.9", "text/tab-separated-values"),
        ("text/*;q=0.2, application/sparql-results+xml", "application/sparql-results+xml"),
        ("*/*", "application/sparql-results+json"),
    ],
)
def test_select_results_in_every_format_with_q_values(server, accept, expected):
    with server.client() as client:
        response = client.get("/sparql", params={"query": RUSSIA_DEMANDS}, headers={"Accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(expected)
    assert "Accept" in response.headers["vary"]
    assert "territory" in response.text


@pytest.mark.parametrize(
    "accept,expected,parse_as",
    [
        ("text/turtle", "text/turtle", "turtle"),
        ("application/n-triples", "application/n-triples", "nt"),
        ("application/rdf+xml", "application/rdf+xml", "xml"),
        ("application/ld+json", "application/ld+json", "json-ld"),
    ],
)
def test_construct_in_every_graph_format(server, accept, expected, parse_as):
    import json as _json

    import rdflib

    query = "CONSTRUCT WHERE { <https://w3id.org/posgraph/id/party/russia> ?p ?o }"
    with server.client() as client:
        response = client.get("/sparql", params={"query": query}, headers={"Accept": accept})
        reference = client.get("/sparql", params={"query": query}, headers={"Accept": "application/n-triples"})
    assert response.status_code == 200 and response.headers["content-type"].startswith(expected)
    if parse_as == "json-ld":
        doc = _json.loads(response.text)
        assert doc["@context"].endswith("/ns/context.jsonld")  # our published context, by reference
        context = client_context(server)
        doc["@context"] = context["@context"]
        graph = rdflib.Graph().parse(data=_json.dumps(doc), format="json-ld")
    else:
        graph = rdflib.Graph().parse(data=response.text, format=parse_as)
    expected_graph = rdflib.Graph().parse(data=reference.text, format="nt")
    assert isomorphic(graph, expected_graph)


def client_context(server):
    with server.client() as client:
        response = client.get("/ns/context.jsonld")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/ld+json")
    return response.json()


def test_unsatisfiable_accept_is_406_problem(server):
    with server.client() as client:
        response = client.get("/sparql", params={"query": RUSSIA_DEMANDS}, headers={"Accept": "image/png"})
        graph = client.get("/sparql", params={"query": "CONSTRUCT WHERE { ?s ?p ?o }"}, headers={"Accept": "text/csv"})
    assert response.status_code == 406 and response.headers["content-type"] == "application/problem+json"
    assert graph.status_code == 406


def test_ask_in_json_and_xml(server):
    with server.client() as client:
        as_json = client.get("/sparql", params={"query": "ASK { ?s ?p ?o }"})
        as_xml = client.get(
            "/sparql", params={"query": "ASK { ?s ?p ?o }"}, headers={"Accept": "application/sparql-results+xml"}
        )
    assert as_json.json() == {"head": {}, "boolean": True}
    assert "<boolean>true</boolean>" in as_xml.text


def test_get_without_query_returns_the_service_description(server):
    import rdflib

    with server.client() as client:
        response = client.get("/sparql", headers={"Accept": "text/turtle"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/turtle")
    graph = rdflib.Graph().parse(data=response.text, format="turtle")
    sd = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")
    void = rdflib.Namespace("http://rdfs.org/ns/void#")
    service = rdflib.URIRef(server.url + "/sparql")
    assert (service, rdflib.RDF.type, sd.Service) in graph
    assert (service, sd.supportedLanguage, sd.SPARQL11Query) in graph
    assert (None, sd.resultFormat, rdflib.URIRef("http://www.w3.org/ns/formats/SPARQL_Results_CSV")) in graph
    triples = [int(o) for o in graph.objects(None, void.triples)]
    assert triples and triples[0] > 1000


# ------------------------------------------------------------------------------------------- datasets and staging
def test_dataset_parameters_are_honoured(server):
    query = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    seed = "https://w3id.org/posgraph/id/batch/seed"
    with server.client() as client:
        whole = client.get("/sparql", params={"query": query}).json()
        seed_only = client.get("/sparql", params={"query": query, "default-graph-uri": seed}).json()
        form = client.post(
            "/sparql",
            data={
                "query": "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g",
                "named-graph-uri": seed,
            },
        ).json()
    count = lambda doc: int(doc["results"]["bindings"][0]["n"]["value"])  # noqa: E731
    assert count(seed_only) == 358 < count(whole)  # 333 stated triples and 25 implied superclass types
    assert [(r["g"]["value"], r["n"]["value"]) for r in form["results"]["bindings"]] == [(seed, "358")]


def test_from_clause_is_honoured(server):
    seed = "https://w3id.org/posgraph/id/batch/seed"
    with server.client() as client:
        response = client.get("/sparql", params={"query": f"SELECT (COUNT(*) AS ?n) FROM <{seed}> {{ ?s ?p ?o }}"})
    assert response.json()["results"]["bindings"][0]["n"]["value"] == "358"


def test_from_file_etc_passwd_is_never_dereferenced(server):
    with server.client() as client:
        response = client.get("/sparql", params={"query": "SELECT * FROM <file:///etc/passwd> WHERE { ?s ?p ?o }"})
    assert response.status_code == 200
    assert response.json()["results"]["bindings"] == []
    assert "root:" not in response.text


@pytest.mark.parametrize(
    "query,params",
    [
        ("SELECT * FROM <https://w3id.org/posgraph/id/staging/b1> WHERE { ?s ?p ?o }", {}),
        ("SELECT * FROM NAMED <https://w3id.org/posgraph/id/staging/b1> WHERE { GRAPH ?g { ?s ?p ?o } }", {}),
        ("PREFIX st: <https://w3id.org/posgraph/id/staging/> SELECT * FROM st:b1 WHERE { ?s ?p ?o }", {}),
        ("PREFIX pgid: <https://w3id.org/posgraph/id/> SELECT * WHERE { GRAPH pgid:staging\\/b1 { ?s ?p ?o } }", {}),
        ("BASE <https://w3id.org/posgraph/id/> SELECT * FROM <staging/b1> WHERE { ?s ?p ?o }", {}),
        ("SELECT * WHERE { ?s ?p ?o }", {"default-graph-uri": "https://w3id.org/posgraph/id/staging/b1"}),
        ("SELECT * WHERE { GRAPH ?g { ?s ?p ?o } }", {"named-graph-uri": "https://w3id.org/posgraph/id/staging/b1"}),
    ],
)
def test_staging_graphs_are_refused(server, query, params):
    with server.client() as client:
        response = client.get("/sparql", params={"query": query, **params})
    assert response.status_code == 400 and response.json()["type"].endswith("/query-refused")
    assert "staging" in response.json()["detail"]


def test_a_query_mentioning_staging_only_in_a_string_is_fine(server):
    with server.client() as client:
        response = client.get(
            "/sparql", params={"query": 'SELECT ("https://w3id.org/posgraph/id/staging/b1" AS ?x) {}'}
        )
    assert response.status_code == 200


def test_bad_timeout_parameter_is_400_naming_it(server):
    with server.client() as client:
        for value in ("soon", "0", "-3"):
            response = client.get("/sparql", params={"query": "ASK {}", "timeout": value})
            assert response.status_code == 400 and response.json()["parameter"] == "timeout"


def test_saved_query_in_tsv_and_xml(server):
    with server.client() as client:
        tsv = client.get("/queries/issues", headers={"Accept": "text/tab-separated-values"})
        xml = client.get("/queries/issues", headers={"Accept": "application/sparql-results+xml"})
    assert tsv.text.splitlines()[0] == "?issue\t?notation\t?label\t?positions"
    assert xml.text.count("<result>") == 22  # the issue scheme of model 0.2


# ------------------------------------------------------------------------------------------- limits
@pytest.fixture(scope="module")
def limited_server(tmp_path_factory):
    """A server with a 3-row cap, one query at a time per client, and a 4-second engine deadline."""
    from conftest import start_server

    base = tmp_path_factory.mktemp("limited")
    srv = start_server(
        base / "store",
        base / "serve.log",
        env={"POSGRAPH_MAX_ROWS": "3", "POSGRAPH_MAX_CONCURRENT_PER_CLIENT": "1", "POSGRAPH_QUERY_TIMEOUT": "4"},
    )
    yield srv
    srv.stop()


RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"


@pytest.mark.parametrize(
    "accept",
    ["application/sparql-results+json", "application/sparql-results+xml", "text/csv", "text/tab-separated-values"],
)
def test_row_cap_truncates_and_says_so(limited_server, accept):
    with limited_server.client() as client:
        capped = client.get("/queries/issues", headers={"Accept": accept})
        small = client.get(
            "/queries/demands-by-issue", params={"party": "pgid:party/united-states"}, headers={"Accept": accept}
        )
    assert capped.headers["x-posgraph-truncated"] == "true" and capped.headers["x-posgraph-row-limit"] == "3"
    if accept.endswith("json"):
        assert len(capped.json()["results"]["bindings"]) == 3
    elif accept.endswith("xml"):
        assert capped.text.count("<result>") == 3 and capped.text.endswith("</results></sparql>")
    else:
        assert len(capped.text.strip().splitlines()) == 4  # header and three rows
    assert "x-posgraph-truncated" not in small.headers


def _engine_cpu_ticks(data_dir) -> int:
    import json as _json

    pid = _json.loads((data_dir / "posgraph-engine.json").read_text())["pid"]
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


@pytest.mark.managed_engine(
    reason="checks that the managed Oxigraph stops the abandoned query at its own --timeout-s deadline, by the CPU "
    "time of the engine process named in its runtime file (posgraph-engine.json)"
)
@pytest.mark.serial
def test_a_query_that_never_ends_is_stopped_while_others_are_answered(limited_server):
    import threading
    import time

    results = {}

    def runaway():
        with httpx.Client(base_url=limited_server.url, timeout=30, trust_env=False) as c:
            started = time.monotonic()
            results["response"] = c.get("/sparql", params={"query": RUNAWAY, "timeout": "1.5"})
            results["elapsed"] = time.monotonic() - started

    thread = threading.Thread(target=runaway)
    thread.start()
    time.sleep(0.3)
    # Another client (connecting from another loopback address) is answered while the runaway runs.
    with httpx.Client(
        base_url=limited_server.url,
        timeout=10,
        trust_env=False,
        transport=httpx.HTTPTransport(local_address="127.0.0.2"),
    ) as other:
        started = time.monotonic()
        assert other.get("/sparql", params={"query": "ASK { ?s ?p ?o }"}).json()["boolean"] is True
        assert time.monotonic() - started < 1.0
    thread.join()
    response = results["response"]
    assert response.status_code == 504 and response.json()["type"].endswith("/query-timeout")
    assert 1.4 < results["elapsed"] < 3.0
    # The engine stops the abandoned query at its own deadline (4 s): its CPU time stops growing.
    data_dir = limited_server.log.parent / "store"
    time.sleep(4.5)
    before = _engine_cpu_ticks(data_dir)
    time.sleep(1.0)
    assert _engine_cpu_ticks(data_dir) - before < 20  # under 0.2 s of CPU in 1 s: idle


def test_concurrent_queries_per_client_are_capped_with_429(limited_server):
    import threading
    import time

    done = threading.Event()

    def slow():
        with httpx.Client(base_url=limited_server.url, timeout=30, trust_env=False) as c:
            c.get("/sparql", params={"query": RUNAWAY, "timeout": "1"})
        done.set()

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.3)
    with limited_server.client() as client:
        response = client.get("/sparql", params={"query": "ASK {}"})
    thread.join()
    assert response.status_code == 429 and response.headers["retry-after"] == "1"
    assert response.json()["type"].endswith("/too-many-requests")
    assert limited_server.metric("posgraph_queries_refused_total", limit="per-client") >= 1
    with limited_server.client() as client:  # the slot is free again
        time.sleep(4.5)  # let the engine drop the abandoned query
        assert client.get("/sparql", params={"query": "ASK {}"}).status_code == 200


# ------------------------------------------------------------------------------------------- the query page
def test_browsers_get_the_query_page_and_json_clients_the_index(server):
    import json as _json

    with server.client() as client:
        page = client.get("/", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
        index = client.get("/", headers={"Accept": "application/json"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<div id="yasgui">' in page.text and "/static/vendor/yasgui/yasgui.min.js" in page.text
    raw = page.text.split('<script id="posgraph-config" type="application/json">', 1)[1].split("</script>", 1)[0]
    config = _json.loads(raw)
    assert config["endpoint"] == "/sparql" and config["prefixes"]["pg"] == "https://w3id.org/posgraph/ns#"
    names = [q["name"] for q in config["queries"]]
    assert "demands-by-issue" in names and "state-of-play" in names
    example = next(q["example"] for q in config["queries"] if q["name"] == "demands-by-issue")
    assert "VALUES (?party)" in example and "#@values" not in example
    with server.client() as client:  # the welcome query and every example run as given
        assert client.post("/sparql", data={"query": config["welcome"]}).json()["results"]["bindings"]
        for q in config["queries"]:
            assert client.post("/sparql", data={"query": q["example"]}).status_code == 200, q["name"]
    assert index.json()["sparql"] == "/sparql"


def test_yasgui_is_served_from_the_static_folder_when_installed(server):
    from posgraph.api.app import STATIC_DIR

    installed = (STATIC_DIR / "vendor" / "yasgui" / "yasgui.min.js").exists()
    with server.client() as client:
        script = client.get("/static/vendor/yasgui/yasgui.min.js")
    if not installed:
        assert script.status_code == 404
        pytest.skip("YASGUI is not installed (no npm at set-up): the page falls back to a plain form")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert len(script.content) > 100_000


# ---------------------------------------------------------------------------------------------- admission limits
# About half a second on the seed data, alone on a fast machine (more when the cores are shared).
SLOW = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f FILTER (STR(?c) < STR(?f)) }"


@pytest.fixture(scope="module")
def metered(tmp_path_factory):
    from conftest import create_token, start_server

    base = tmp_path_factory.mktemp("metered")
    srv = start_server(
        base / "store",
        base / "serve.log",
        env={"POSGRAPH_QUERY_SECONDS_PER_MINUTE": "0.2", "POSGRAPH_MAX_CONCURRENT_QUERIES": "1"},
    )
    srv.reader = create_token(base, "reader", "metered-reader")
    yield srv
    srv.stop()


def _from(srv, address):
    return httpx.Client(
        base_url=srv.url, timeout=30, trust_env=False, transport=httpx.HTTPTransport(local_address=address)
    )


def test_refused_parameters_take_no_query_slot(metered):
    # metered runs one anonymous query at a time: one slot kept by a refused request would refuse every anonymous
    # query after it, from any client, for as long as the worker lives.
    bad = {"default-graph-uri": "not an iri", "named-graph-uri": "not an iri"}
    with _from(metered, "127.0.0.5") as client:
        for _ in range(3):
            for key, value in bad.items():
                for path, params in (("/sparql", {"query": "ASK {}"}), ("/queries/positions", {})):
                    response = client.get(path, params=params | {key: value})
                    assert response.status_code == 400 and response.json()["parameter"] == key, response.text
    assert metered.metric("posgraph_queries_in_flight") == 0
    with _from(metered, "127.0.0.6") as other:
        assert other.get("/sparql", params={"query": "ASK {}"}).status_code == 200


def test_a_query_that_fails_before_it_runs_gives_its_slot_back():
    import asyncio

    from fastapi import Request

    from posgraph.api.admission import limited
    from posgraph.api.app import create_app
    from posgraph.config import load_settings

    app = create_app(load_settings(engine_url="http://127.0.0.1:9"))  # never started: no engine is reached
    limiter = app.state.posgraph.limiter
    request = Request({"type": "http", "app": app, "headers": [], "client": ("127.0.0.7", 1), "method": "GET"})

    def refused():
        raise InvalidParameter("default-graph-uri", "not an IRI")  # as a route's argument parsing raises

    async def answered():
        return "answer"

    for _ in range(limiter.per_client + limiter.concurrent):
        with pytest.raises(InvalidParameter):
            asyncio.run(limited(request, refused, 1.0))
    assert asyncio.run(limited(request, answered, 1.0)) == "answer"


@pytest.mark.serial
def test_an_anonymous_client_that_used_its_query_time_gets_429_and_others_do_not(metered):
    with _from(metered, "127.0.0.3") as heavy, _from(metered, "127.0.0.4") as other:
        started = time.monotonic()
        assert heavy.get("/sparql", params={"query": SLOW}).status_code == 200
        assert time.monotonic() - started > 0.2  # it cost more than the client's 0.2 s a minute
        refused = heavy.get("/sparql", params={"query": "ASK {}"})
        assert refused.status_code == 429 and refused.headers["content-type"] == "application/problem+json"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert "query time" in refused.json()["detail"]
        assert other.get("/sparql", params={"query": "ASK {}"}).status_code == 200
        # A client with a token is not metered; a wrong token is 401, not a way around the meter.
        token = {"Authorization": f"Bearer {metered.reader}"}
        assert heavy.get("/sparql", params={"query": "ASK {}"}, headers=token).status_code == 200
        wrong = heavy.get("/sparql", params={"query": "ASK {}"}, headers={"Authorization": "Bearer pgt_x_nope"})
        assert wrong.status_code == 401


def test_anonymous_queries_beyond_the_workers_capacity_get_503(metered):
    results = []
    with _from(metered, "127.0.0.5") as first, _from(metered, "127.0.0.6") as second:
        running = threading.Thread(target=lambda: results.append(first.get("/sparql", params={"query": SLOW})))
        running.start()
        time.sleep(0.2)  # let the slow query take the one slot (it runs for well over a second)
        deadline = time.monotonic() + 5
        busy = None
        while time.monotonic() < deadline and running.is_alive():
            busy = second.get("/sparql", params={"query": "ASK {}"})
            if busy.status_code == 503:
                break
            time.sleep(0.05)
        running.join()
        assert busy is not None and busy.status_code == 503, (busy.text, results and results[0].text)
        assert busy.json()["type"].endswith("/overloaded") and busy.headers["retry-after"]
        assert results[0].status_code == 200
        token = {"Authorization": f"Bearer {metered.reader}"}
        assert second.get("/sparql", params={"query": "ASK {}"}, headers=token).status_code == 200


# ----------------------------------------------------------------------------- answer caps (issue #10, item 5)
CAPPED_ROWS, CAPPED_BYTES = 1000, 100_000
PRODUCT = "SELECT {} WHERE {{ ?a ?b ?c . ?d ?e ?f }} LIMIT 1000000"  # a million rows of the seed's triples


@pytest.fixture(scope="module")
def capped_server(tmp_path_factory):
    """A server reading at most 1,000 result rows and 100 kB of any engine answer."""
    from conftest import start_server

    base = tmp_path_factory.mktemp("capped")
    srv = start_server(
        base / "store",
        base / "serve.log",
        env={"POSGRAPH_MAX_ROWS": str(CAPPED_ROWS), "POSGRAPH_MAX_ANSWER_BYTES": str(CAPPED_BYTES)},
    )
    yield srv
    srv.stop()


def test_answers_over_the_caps_are_cut_with_headers_or_refused_with_413(capped_server):
    import json as _json

    import rdflib

    construct = "CONSTRUCT { ?a ?d ?f } WHERE { ?a ?b ?c . ?d ?e ?f } LIMIT 1000000"
    with capped_server.client() as client:
        rows = client.get("/sparql", params={"query": PRODUCT.format("?a")}, headers={"Accept": "text/csv"})
        wide = client.get("/sparql", params={"query": PRODUCT.format("*")}, headers={"Accept": "application/json"})
        triples = client.get("/sparql", params={"query": construct}, headers={"Accept": "application/n-triples"})
        refused = [
            client.get("/sparql", params={"query": construct}, headers={"Accept": accept})
            for accept in ("text/turtle", "application/rdf+xml", "application/ld+json")
        ]
        graph = client.get("/store", params={"default": ""}, headers={"Accept": "application/n-triples"})
        graph_refused = client.get("/store", params={"default": ""}, headers={"Accept": "text/turtle"})
    # Rows: cut exactly at the row cap.
    assert rows.status_code == 200 and rows.headers["x-posgraph-truncated"] == "true"
    assert rows.headers["x-posgraph-row-limit"] == str(CAPPED_ROWS)
    assert len(list(csv.reader(io.StringIO(rows.text, newline="")))) == CAPPED_ROWS + 1
    # Bytes: a wide answer is cut between rows, below the cap, and still parses.
    assert wide.status_code == 200 and wide.headers["x-posgraph-byte-limit"] == str(CAPPED_BYTES)
    assert 0 < len(_json.loads(wide.content)["results"]["bindings"]) < CAPPED_ROWS
    assert len(wide.content) <= CAPPED_BYTES + 8
    for cut in (triples, graph):
        assert cut.status_code == 200 and cut.headers["x-posgraph-truncated"] == "true", cut.text[:300]
        assert "x-posgraph-row-limit" not in cut.headers and len(cut.content) <= CAPPED_BYTES
        assert len(rdflib.Graph().parse(data=cut.content, format="nt")) > 100
    for answer in refused:
        assert answer.status_code == 413 and answer.headers["content-type"] == "application/problem+json"
        assert "LIMIT" in answer.json()["detail"] and "N-Triples" in answer.json()["detail"]
    assert graph_refused.status_code == 413 and "N-Triples" in graph_refused.json()["detail"]


def _memory_mib(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) // 1024 for line in status if line.startswith(key + ":"))


@pytest.mark.serial
def test_the_service_memory_stays_bounded_while_huge_answers_are_read(capped_server):
    """Three concurrent million-row CSV SELECTs and two million-triple CONSTRUCTs. Before answers were streamed
    through the caps, the service read each whole (peak RSS +3.9 GB over 72 s for the same mix at 1.5M rows)."""
    pid = capped_server.process.pid
    construct = "CONSTRUCT { ?a ?d ?f } WHERE { ?a ?b ?c . ?d ?e ?f } LIMIT 1000000"
    jobs = [(PRODUCT.format("*"), "text/csv")] * 3
    jobs += [(construct, "application/n-triples"), (construct, "text/turtle")]
    with capped_server.client() as client:  # warm up: the first queries import and allocate what all queries use
        for query, accept in jobs:
            client.get("/sparql", params={"query": query.replace("1000000", "5")}, headers={"Accept": accept})
    before = _memory_mib(pid, "VmRSS")
    with open(f"/proc/{pid}/clear_refs", "w") as clear:
        clear.write("5")  # VmHWM now counts from here
    statuses: list[int] = []

    def fetch(query: str, accept: str) -> None:
        with httpx.Client(base_url=capped_server.url, timeout=60, trust_env=False) as client:
            statuses.append(client.post("/sparql", data={"query": query}, headers={"Accept": accept}).status_code)

    threads = [threading.Thread(target=fetch, args=job) for job in jobs]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed, peak = time.monotonic() - started, _memory_mib(pid, "VmHWM")
    assert peak - before < 64, f"the service grew from {before} MiB to a peak of {peak} MiB"
    assert peak < 512 and elapsed < 20
    assert sorted(statuses) == [200, 200, 200, 200, 413]


@pytest.mark.serial
def test_a_query_longer_than_the_query_cap_is_413_without_being_parsed(server):
    query = 'SELECT * WHERE { ?s ?p "' + "x" * 200_000 + '" }'  # well under the body cap, over the query cap
    with server.client() as client:
        started = time.monotonic()
        answer = client.post("/sparql", content=query.encode(), headers={"Content-Type": "application/sparql-query"})
        elapsed = time.monotonic() - started
        form = client.post("/sparql", data={"query": query})
    assert answer.status_code == 413 and answer.json()["type"].endswith("/too-large")
    assert "128000 bytes" in answer.json()["detail"] and elapsed < 2
    assert form.status_code == 413


def test_json_ld_construct_of_the_whole_seed_keeps_every_triple(server):
    import json as _json

    import rdflib

    query = "CONSTRUCT {?s ?p ?o} WHERE {?s ?p ?o}"
    with server.client() as client:
        jsonld = client.get("/sparql", params={"query": query}, headers={"Accept": "application/ld+json"})
        turtle = client.get("/sparql", params={"query": query}, headers={"Accept": "text/turtle"})
    doc = jsonld.json()
    doc["@context"] = client_context(server)["@context"]
    graph = rdflib.Graph().parse(data=_json.dumps(doc), format="json-ld")
    expected = rdflib.Graph().parse(data=turtle.text, format="turtle")
    assert any(isinstance(s, rdflib.BNode) for s in expected.subjects())  # roles, terms, conditions
    assert len(graph) == len(expected) and isomorphic(graph, expected)


def test_an_unknown_saved_query_parameter_is_400_naming_it_and_the_valid_ones(server):
    with server.client() as client:
        typo = client.get("/queries/positions", params={"party": "pgid:party/russia", "form": "2022"})
        protocol = client.get("/queries/positions", params={"party": "pgid:party/russia", "timeout": "20"})
    assert typo.status_code == 400
    problem = typo.json()
    assert problem["parameter"] == "form"
    assert "from" in problem["detail"] and "party" in problem["detail"] and "timeout" in problem["detail"]
    assert protocol.status_code == 200


@pytest.mark.parametrize("send", ["form", "sparql-query"])
def test_an_update_sent_to_the_query_endpoint_points_at_the_update_endpoint(server, send):
    update = "PREFIX ex: <http://example.org/>\n# a comment\nINSERT DATA { ex:a ex:b ex:c }"
    with server.client() as client:
        if send == "form":
            response = client.post("/sparql", data={"query": update})
        else:
            response = client.post("/sparql", content=update, headers={"Content-Type": "application/sparql-query"})
    assert response.status_code == 400
    assert "/sparql/update" in response.json()["detail"]


@pytest.mark.parametrize("content_type", [None, "application/x-www-form-urlencoded", "application/sparql-query"])
def test_an_empty_post_to_the_query_endpoint_is_400_saying_so(server, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    with server.client() as client:
        response = client.post("/sparql", content=b"", headers=headers)
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "empty" in detail and "no type" not in detail and "query" in detail


def test_the_415_of_the_query_endpoint_lists_what_it_accepts(server):
    with server.client() as client:
        response = client.post("/sparql", content=b"{}", headers={"Content-Type": "application/json"})
    assert response.status_code == 415
    detail = response.json()["detail"]
    assert "application/x-www-form-urlencoded" in detail and "application/sparql-query" in detail


def test_an_undeclared_prefix_is_a_one_line_400_naming_it_and_its_line(server):
    with server.client() as client:
        response = client.get("/sparql", params={"query": "SELECT ?p WHERE {\n  ?p a pg:Position }"})
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "\n" not in detail and len(detail) < 300
    assert "pg:" in detail and "line 2" in detail
    assert "PREFIX pg: <https://w3id.org/posgraph/ns#>" in detail


# ------------------------------------------------------------------------------ the same answers on Virtuoso

# A list a saved query joins into one cell: GROUP_CONCAT(…; separator=" " or "; ") AS ?name. SPARQL leaves the
# order of its members open (the engines differ), so such a cell is compared as the set of its members.
_JOINED = re.compile(r'GROUP_CONCAT\s*\([^;]*;\s*separator\s*=\s*"(; | )"\s*\)\s*AS\s*\?(\w+)', re.IGNORECASE)


@pytest.fixture(scope="module")
def virtuoso_and_oxigraph(tmp_path_factory, validator):
    """A Virtuoso and a managed Oxigraph, each loaded with the ontology, the seed and the saved queries' fixture
    (tests/examples/valid/queries-0.2.ttl); yields (url, profile) of each, Virtuoso first; both stopped by PID."""
    base = tmp_path_factory.mktemp("cross-engine")
    virtuoso = virtuoso_support.VirtuosoInstance(base / "virtuoso")
    oxigraph = ManagedEngine(base / "oxigraph" / "store")
    engines = [(virtuoso, "virtuoso"), (oxigraph, "oxigraph")]

    async def load():
        for engine, profile in engines:
            async with Engine(engine.url, profile=profile, timeout=120) as client:
                await curation.ensure_bootstrapped(
                    client, validator, PROJECT_FILES.ontology_files, PROJECT_FILES.seed_files
                )
                await curation.load_batch(client, validator, curation.read_files([FIXTURE]), curator="tests")

    try:
        virtuoso.start()
        oxigraph.start()
        run(load())
        yield [(engine.url, profile) for engine, profile in engines]
    finally:
        oxigraph.stop()
        virtuoso.stop()


def _comparable(rows: list[dict], joined: dict[str, str]) -> Counter:
    """The rows of a SPARQL JSON answer as a multiset of whole terms (type, value, datatype, language), each joined
    list cell (``joined``: variable → separator) as the sorted list of its members."""
    out = []
    for row in rows:
        terms = {}
        for name, term in row.items():
            term = dict(term)
            if name in joined and term["type"] == "literal":
                term["value"] = sorted(term["value"].split(joined[name])) if term["value"] else []
            terms[name] = term
        out.append(json.dumps(terms, sort_keys=True))
    return Counter(out)


@pytest.mark.skipif(virtuoso_support.ENGINE != "virtuoso", reason="compares Virtuoso's answers with Oxigraph's")
def test_every_saved_query_answers_the_same_on_virtuoso_as_on_oxigraph(virtuoso_and_oxigraph):
    cases = list(PAGE_THROUGH) + [(saved.name, example) for saved in CATALOG for example in saved.examples]
    assert {name for name, _ in cases} == {saved.name for saved in CATALOG}

    async def answers() -> list[tuple[str, dict, list[Counter | str]]]:
        out = []
        async with (
            Engine(virtuoso_and_oxigraph[0][0], profile="virtuoso", timeout=120) as virtuoso,
            Engine(virtuoso_and_oxigraph[1][0], profile="oxigraph", timeout=120) as oxigraph,
        ):
            # The texts with a page of keys or an aggregate's rows bound in (what a query of the published data
            # runs while the collections' index is current) must mean the same on Virtuoso too: bound with what
            # an index of the same data gives (the Oxigraph store's: the two hold the same triples).
            index = CollectionIndex(oxigraph)
            await index.refresh()
            collection.use_index(oxigraph, index)
            from_index = {"key_pages": partial(index_keys, oxigraph), "facts": partial(index_facts, oxigraph)}
            try:
                for name, params in cases:
                    saved = CATALOG.get(name)
                    joined = {variable: separator for separator, variable in _JOINED.findall(saved.text)}
                    params = {k: v for k, v in params.items() if k != "limit"}
                    if saved.paging is not None:
                        params["limit"] = str(saved.paging.maximum)
                    both = []
                    for client, how in ((virtuoso, {}), (oxigraph, {}), (virtuoso, from_index)):
                        try:
                            answer = await research.run_saved(client, CATALOG, name, params, **how)
                            both.append(_comparable(json.loads(answer.content)["results"]["bindings"], joined))
                        except Exception as error:  # an error on one engine is a difference too: show it
                            both.append(f"{type(error).__name__}: {error}")
                    out.append((name, params, both))
            finally:
                collection.use_index(oxigraph, None)
                await index.stop()
        return out

    results = run(answers())
    # The comparison is worth something only if the cases give rows: the paging cases all do on Oxigraph.
    for name, params, (_, on_oxigraph, _) in results[: len(PAGE_THROUGH)]:
        assert isinstance(on_oxigraph, Counter) and on_oxigraph, (name, params, on_oxigraph)
    differences = []
    for name, params, (on_virtuoso, on_oxigraph, bound_on_virtuoso) in results:
        for how, got in (("", on_virtuoso), (" (keys or facts from the index bound in)", bound_on_virtuoso)):
            if got == on_oxigraph:
                continue
            if isinstance(got, Counter) and isinstance(on_oxigraph, Counter):
                only_virtuoso, only_oxigraph = list(got - on_oxigraph), list(on_oxigraph - got)
                differences.append(
                    f"{name} {params}{how}: only on Virtuoso {only_virtuoso}, on Oxigraph {only_oxigraph}"
                )
            else:
                differences.append(f"{name} {params}{how}: Virtuoso {got!s:.500}; Oxigraph {on_oxigraph!s:.500}")
    assert not differences, "\n".join(differences)
