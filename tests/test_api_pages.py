"""The API's own structure and its HTML pages, without a server: route modules stand alone, routes read the typed
state, and the Jinja2 pages escape what they show and link only web IRIs."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import rdflib

from posgraph.api import pages

API = Path(__file__).resolve().parents[1] / "src" / "posgraph" / "api"
RUSSIA = rdflib.URIRef("https://w3id.org/posgraph/id/party/russia")


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_no_route_module_imports_another_and_none_reads_the_untyped_state():
    routes = sorted((API / "routes").glob("*.py"))
    assert routes
    for path in routes:
        imported = _imports(path)
        assert not any(name.startswith("posgraph.api.routes") for name in imported), path.name
    for path in API.rglob("*.py"):
        if path.name != "state.py":
            assert "request.app.state" not in path.read_text(encoding="utf-8"), path


def test_resource_page_escapes_text_and_links_only_web_iris():
    graph = rdflib.Graph()
    graph.add((RUSSIA, rdflib.SKOS.prefLabel, rdflib.Literal("<script>alert(1)</script>", lang="en")))
    graph.add((RUSSIA, rdflib.RDFS.seeAlso, rdflib.URIRef("javascript:alert(1)")))
    blank = rdflib.BNode()
    graph.add((RUSSIA, rdflib.URIRef("https://w3id.org/posgraph/ns#hasTerm"), blank))
    graph.add((blank, rdflib.RDFS.label, rdflib.Literal("nested")))
    page = pages.resource_page(graph, str(RUSSIA), base_url="http://127.0.0.1:9", page_url="http://127.0.0.1:9/x")
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "href='javascript:" not in page and "javascript:alert(1)" in page
    assert "href='http://127.0.0.1:9/id/party/russia'" not in page  # the root is not a link to itself
    assert page.count("<table>") == 2 and "nested" in page  # a blank node's statements nest


def test_query_page_config_is_raw_json_that_cannot_close_its_script():
    page = pages.query_page({"endpoint": "/sparql", "welcome": '</script><b>x</b> & "q"'})
    raw = page.split('<script id="posgraph-config" type="application/json">', 1)[1].split("</script>", 1)[0]
    assert json.loads(raw)["welcome"] == '</script><b>x</b> & "q"'
