"""The workbench's forms come from the shapes (#15): every kind a curator enters is a form, its fields are the shapes'
constraints, a changed shape is a changed form; IRIs are minted from labels by the documented rule and kept unique
against a real engine; POSGRAPH_EXTRA_SHAPES adds an institution's shapes to the server's validator."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import rdflib
from conftest import run, start_server

from posgraph.api.app import create_app
from posgraph.cli.common import validator as cli_validator
from posgraph.config import PROJECT_FILES, load_settings
from posgraph.curation import form_spec, mint_iri, unique_iri
from posgraph.engine import Engine
from posgraph.errors import ConfigError, InvalidParameter
from posgraph.namespaces import PG, PGID, PGSH, POSITION_TYPES, SH, XSD
from posgraph.validation import Validator

PGIRI = str(PG)
DATES = [str(XSD.date), str(XSD.gYearMonth), str(XSD.gYear)]
EX = "https://example.org/house#"
HOUSE_RULE = f"""
@prefix sh:   <http://www.w3.org/ns/shacl#> .
@prefix pgsh: <https://w3id.org/posgraph/shapes#> .
@prefix xsd:  <http://www.w3.org/2001/XMLSchema#> .
@prefix ex:   <{EX}> .
ex:Position-caseNumber a sh:PropertyShape ; sh:path ex:caseNumber ; sh:minCount 1 ; sh:datatype xsd:string ;
    sh:severity sh:Violation ; sh:name "Case number" ; sh:order 5 ; sh:group pgsh:NameGroup ;
    sh:message "Our house rule: every position carries the case number of the desk that entered it." ;
    sh:description "Add ex:caseNumber \\"UA-2025-001\\"." .
pgsh:Position sh:property ex:Position-caseNumber .
"""


@pytest.fixture(scope="module")
def spec(validator: Validator) -> dict:
    return form_spec(validator.shapes, validator.ontology)


def _form(spec: dict, form_id: str) -> dict:
    everything = [*spec["forms"], *spec["nested"].values()]
    everything += [sub for form in list(everything) for sub in form.get("subtypes", [])]
    return next(f for f in everything if f["id"] == form_id)


def _field(form: dict, local: str) -> dict:
    return next(f for f in form["fields"] if f["path"] == PGIRI + local)


def _all_forms(spec: dict) -> list[dict]:
    forms = [*spec["forms"], *spec["nested"].values()]
    return forms + [sub for form in forms for sub in form.get("subtypes", [])]


# ------------------------------------------------------------------------------------------ forms from the shapes
def test_every_position_kind_and_every_kind_a_curator_creates_is_a_form(spec):
    positions = {f["id"] for f in spec["forms"] if f["group"] == "Positions"}
    assert positions == set(POSITION_TYPES)
    ids = {f["id"] for f in spec["forms"]}
    for kind in (
        "Party",
        "State",
        "Alliance",
        "InternationalOrganization",
        "GovernmentBody",
        "Person",
        "Source",
        "MediaOrganization",
        "Document",
        "DocumentVersion",
        "Event",
        "NegotiationRound",
        "Place",
    ):
        assert kind in ids
    assert {"Report", "Term", "Quantity", "Condition", "Role", "LifecycleStep", "Delegate"} <= set(spec["nested"])
    assert spec["version"] == "0.2.0"
    demand = _form(spec, "Demand")
    assert demand["class"] == PGIRI + "Demand" and demand["collection"] == "positions" and demand["kind"] == "position"
    assert demand["label"] == "Demand" and "requires something" in demand["description"]
    assert _form(spec, "State")["collection"] == "parties" and _form(spec, "DocumentVersion")["collection"] == "sources"


def test_a_demand_form_has_its_fields_from_the_shapes(spec):
    demand = _form(spec, "Demand")
    held = _field(demand, "heldBy")
    assert (held["widget"], held["collection"], held["min"], held["severity"]) == ("entity", "parties", 1, "Violation")
    assert held["classes"] == [PGIRI + "Party"] and held["name"] == "Held by" and held["group"] == "Who"
    stated = _field(demand, "statedOn")
    assert (stated["widget"], stated["datatypes"], stated["min"], stated["max"]) == ("date", DATES, 1, 1)
    assert "xsd:gYearMonth" in stated["message"] and stated["description"]
    concerns = _field(demand, "concerns")
    assert (concerns["widget"], concerns["collection"], concerns["min"]) == ("entity", "issues", 1)
    source = _field(demand, "source")
    assert (source["widget"], source["collection"], source["min"]) == ("entity", "sources", 1)
    # A demand should say whom it addresses: the subclass's shape adds a Warning, not a Violation.
    addressed = _field(demand, "addressedTo")
    assert (addressed["min"], addressed["severity"]) == (1, "Warning") and "demand" in addressed["message"]
    assert _field(_form(spec, "Offer"), "addressedTo")["severity"] == "Warning"
    assert _field(_form(spec, "Threat"), "addressedTo")["severity"] == "Violation"
    assert _field(_form(spec, "Agreement"), "heldBy")["min"] == 2
    assert _field(_form(spec, "Statement"), "addressedTo")["min"] == 0


def test_reports_terms_and_their_subtypes_are_nested_forms(spec):
    demand = _form(spec, "Demand")
    report = _field(demand, "report")
    assert (report["widget"], report["nested"]) == ("nested", "Report")
    assert _field(spec["nested"]["Report"], "source")["max"] == 1
    sourcing = _field(spec["nested"]["Report"], "sourcing")
    assert sourcing["widget"] == "choice" and sourcing["min"] == 1
    term = _field(demand, "hasTerm")
    assert (term["widget"], term["nested"]) == ("nested", "Term")
    subtypes = {f["id"]: f for f in spec["nested"]["Term"]["subtypes"]}
    assert {"TerritorialTerm", "NeutralityTerm", "ArmedForcesTerm", "SecurityGuaranteeTerm"} <= set(subtypes)
    region = _field(subtypes["TerritorialTerm"], "region")
    assert (region["widget"], region["collection"], region["classes"]) == ("entity", "places", [PGIRI + "Place"])
    # A subtype has its own fields and the term's.
    assert _field(subtypes["TerritorialTerm"], "action")["widget"] == "choice"
    quantity = _field(subtypes["ArmedForcesTerm"], "quantity")
    assert (quantity["widget"], quantity["nested"], quantity["severity"]) == ("nested", "Quantity", "Warning")
    value = _field(spec["nested"]["Quantity"], "value")
    assert value["widget"] == "decimal" and str(XSD.integer) in value["datatypes"]
    # A report a figure is attributed to is picked among the position's reports, not written anew (see
    # test_references_are_picked_where_the_shapes_sparql_says).
    assert _field(spec["nested"]["Quantity"], "accordingTo")["widget"] == "ref"
    assert _field(demand, "acceptsTerm")["widget"] == "ref"
    roles = _field(_form(spec, "Person"), "holdsRole")
    assert (roles["widget"], roles["nested"]) == ("nested", "Role")
    assert _field(spec["nested"]["Role"], "startDate")["widget"] == "date"


def test_references_are_picked_where_the_shapes_sparql_says(spec):
    """pg:acceptsTerm / pg:rejectsTerm point at terms of the position(s) picked in pg:respondsTo, pg:accordingTo at
    a report of the same position: read from pgsh:Answer-termsOfAnswered and pgsh:AccordingTo-ownReport."""
    for form_id in ("Acceptance", "Rejection", "Demand"):
        for local in ("acceptsTerm", "rejectsTerm"):
            ref = _field(_form(spec, form_id), local)
            assert ref["widget"] == "ref", (form_id, local, ref)
            assert (ref["refers"], ref["via"], ref["through"]) == (
                "term-of-answered",
                PGIRI + "respondsTo",
                PGIRI + "hasTerm",
            )
            assert ref["classes"] == [PGIRI + "Term"]
            # The field it depends on is in the same form.
            assert _field(_form(spec, form_id), "respondsTo")["widget"] == "entity"
    term_forms = [spec["nested"]["Term"], *spec["nested"]["Term"]["subtypes"]]
    for form in [*term_forms, spec["nested"]["Quantity"], spec["nested"]["Condition"]]:
        ref = _field(form, "accordingTo")
        assert (ref["widget"], ref["refers"], ref["through"]) == ("ref", "report-of-this", PGIRI + "report"), form["id"]
        assert "via" not in ref and ref["max"] == 1


def test_a_reference_the_query_does_not_explain_stays_an_iri(validator):
    """A SPARQL constraint that says nothing of where its values come from leaves its path an IRI field: the forms
    do not guess. (Here pgsh:Answer-termsOfAnswered's query is swapped for one that only refuses blank nodes.)"""
    shapes = rdflib.Graph()
    for triple in validator.shapes:
        shapes.add(triple)
    for constraint in list(shapes.objects(PGSH["Answer-termsOfAnswered"], SH.sparql)):
        shapes.set(
            (
                constraint,
                SH.select,
                rdflib.Literal("SELECT $this ?value WHERE { $this pg:acceptsTerm ?value . FILTER (isBlank(?value)) }"),
            )
        )
    spec = form_spec(shapes, validator.ontology)
    accepts = _field(_form(spec, "Acceptance"), "acceptsTerm")
    assert accepts["widget"] == "iri" and "refers" not in accepts
    assert _field(_form(spec, "Acceptance"), "respondsTo")["widget"] == "entity"
    assert _field(spec["nested"]["Term"], "accordingTo")["refers"] == "report-of-this"


def test_only_external_iris_are_typed_by_hand_and_date_precision_is_the_date_widgets(spec):
    """No field asks for a posgraph IRI by hand: the only "iri" fields left name things outside posgraph that no
    collection lists (a web page's address, a Wikidata item, a QUDT unit). pg:datePrecision is not a field where the
    form has pg:statedOn: the date widget's datatype says it."""
    typed = {f["path"] for form in _all_forms(spec) for f in form["fields"] if f["widget"] == "iri"}
    assert typed == {"https://schema.org/url", PGIRI + "wikidata", PGIRI + "unit"}
    for form in _all_forms(spec):
        paths = {f["path"] for f in form["fields"]}
        if PGIRI + "statedOn" in paths:
            assert PGIRI + "datePrecision" not in paths, form["id"]
    assert _field(_form(spec, "Demand"), "statedOn")["widget"] == "date"


def test_choices_carry_the_vocabularies_labels(spec):
    change = _field(_form(spec, "Demand"), "changeType")
    assert change["widget"] == "choice" and change["max"] == 1
    labels = {c["value"]: c["label"] for c in change["choices"]}
    assert labels[PGIRI + "hardened"] == "Hardened" and labels[PGIRI + "reversed"] == "Reversed"
    assert len(labels) == 6 and all(c.get("description") for c in change["choices"])
    deadline = _field(_form(spec, "Threat"), "deadline")
    assert deadline["widget"] == "date" and deadline["datatypes"] == [*DATES, str(XSD.dateTime)]


def test_a_closed_path_is_never_a_field(spec):
    for form in _all_forms(spec):
        for f in form["fields"]:
            assert f["max"] != 0
        if form["class"].startswith(PGIRI) and form["id"] in POSITION_TYPES:
            paths = {f["path"] for f in form["fields"]}
            assert PGIRI + "confidence" not in paths and PGIRI + "reportedVia" not in paths
    assert _field(spec["nested"]["Report"], "confidence")["widget"] == "decimal"  # where it moved to


def test_alternative_paths_are_fields_that_carry_the_alternative(spec):
    statement = _form(spec, "Statement")
    quote, summary = _field(statement, "quote"), _field(statement, "summary")
    assert quote["widget"] == "langString" and quote["alternative"]["paths"] == [PGIRI + "quote", PGIRI + "summary"]
    assert quote["alternative"]["min"] == 1 and summary["alternative"] == quote["alternative"]
    concession = _form(spec, "Concession")
    assert _field(concession, "respondsTo")["alternative"]["severity"] == "Warning"
    assert "alternative" not in _field(_form(spec, "Demand"), "respondsTo")


def test_a_source_needs_a_publisher_unless_it_is_a_document_version(spec):
    source, version = _form(spec, "Source"), _form(spec, "DocumentVersion")
    assert _field(source, "dateline")["collection"] == "places"
    published = next(f for f in source["fields"] if f["path"] == "https://schema.org/datePublished")
    assert published["min"] == 1 and published["widget"] == "date"
    publisher = next(f for f in source["fields"] if f["path"] == "https://schema.org/publisher")
    assert publisher["min"] == 1 and PGIRI + "MediaOrganization" in publisher["classes"]
    version_publisher = next(f for f in version["fields"] if f["path"] == "https://schema.org/publisher")
    assert version_publisher["min"] == 0 and _field(version, "versionOf")["min"] == 1


def test_fields_are_sorted_by_order_and_grouped(spec):
    for form in _all_forms(spec):
        orders = [f["order"] for f in form["fields"]]
        assert orders == sorted(orders), form["id"]
        groups = [f["group"] for f in form["fields"] if f["group"]]
        seen = [g for i, g in enumerate(groups) if i == 0 or groups[i - 1] != g]
        assert len(seen) == len(set(seen)), f"{form['id']}: groups interleave: {seen}"
        assert [g["label"] for g in form["groups"]] == seen


LAID_OUT = (
    "Position",
    "Report",
    "Term",
    "Quantity",
    "Condition",
    "Party",
    "Person",
    "Role",
    "Source",
    "Document",
    "DocumentVersion",
    "Event",
    "Place",
)


@pytest.mark.parametrize("form_id", [*POSITION_TYPES, *LAID_OUT[1:]])
def test_every_constrained_field_has_a_name_an_order_and_a_group(spec, form_id):
    forms = [_form(spec, form_id)]
    forms += forms[0].get("subtypes", [])
    for form in forms:
        for f in form["fields"]:
            if not f["advanced"] and "alternative" not in f:
                assert f["order"] < 1000 and f["group"] and f["name"], (form["id"], f["path"])
    first = [f["group"] for f in _form(spec, "Demand")["fields"]][:1]
    assert first == ["Who"]


def test_a_new_required_property_in_the_shapes_is_a_new_field_of_every_position_form(validator, spec):
    shapes = rdflib.Graph()
    for triple in validator.shapes:
        shapes.add(triple)
    shapes.parse(data=HOUSE_RULE, format="turtle")
    changed = form_spec(shapes, validator.ontology)
    for kind in POSITION_TYPES:
        before = [f["path"] for f in _form(spec, kind)["fields"]]
        fields = _form(changed, kind)["fields"]
        added = [f for f in fields if f["path"] == EX + "caseNumber"]
        assert EX + "caseNumber" not in before
        assert len(added) == 1 and added[0]["min"] == 1 and added[0]["severity"] == "Violation"
        assert (added[0]["name"], added[0]["group"], added[0]["widget"]) == ("Case number", "Name", "text")
        assert fields[0]["path"] == EX + "caseNumber"  # sh:order 5 puts it first
    assert all(f["path"] != EX + "caseNumber" for f in _form(changed, "Party")["fields"])


# ------------------------------------------------------------------------------------------ minting IRIs
@pytest.mark.parametrize(
    ("form_id", "label", "date", "iri"),
    [
        ("Party", "Côte d'Ivoire", None, "party/cote-d-ivoire"),
        ("State", "São Tomé and Príncipe", None, "party/sao-tome-and-principe"),
        ("Person", "Дмитрий Песков", None, "person/dmitriy-peskov"),
        ("Person", "Олександр Усик", None, "person/oleksandr-usik"),
        ("MediaOrganization", "The Straits Times", None, "org/the-straits-times"),
        ("GovernmentBody", "Ministry of Foreign Affairs (Ukraine)", None, "org/ministry-of-foreign-affairs-ukraine"),
        ("Demand", "Russia demands Donbas", "2025-07-23", "position/2025-07-23-russia-demands-donbas"),
        ("Offer", "Talks in Istanbul", "2025-07", "position/2025-07-talks-in-istanbul"),
        ("NegotiationRound", "Istanbul, round 2", "2025-06-02T10:00:00+03:00", "event/2025-06-02-istanbul-round-2"),
        ("DocumentVersion", "28-point plan", None, "document/28-point-plan"),
        ("Source", "  Faint signs of life!  ", None, "source/faint-signs-of-life"),
    ],
)
def test_mint_iri_follows_the_rule(form_id, label, date, iri):
    assert mint_iri(form_id, label, date) == f"{PGID}{iri}"


def test_a_long_label_is_cut_at_a_hyphen_and_another_script_is_hashed():
    label = "Russia demands the withdrawal of Ukrainian forces from the whole of Donetsk and Luhansk oblasts"
    slug = mint_iri("Demand", label, "2025-07-23").removeprefix(f"{PGID}position/")
    assert len(slug) <= 60 and slug.startswith("2025-07-23-russia-demands") and not slug.endswith("-")
    assert label.lower().replace(" ", "-").startswith(slug.removeprefix("2025-07-23-"))  # whole words only
    one, other = mint_iri("Party", "北京"), mint_iri("Party", "東京")
    assert re.fullmatch(rf"{PGID}party/x-[0-9a-f]{{8}}", one) and one != other and one == mint_iri("Party", "北京")


@pytest.mark.parametrize(
    ("args", "parameter"),
    [
        (("Place", "Kyiv"), "form"),
        (("Quantity", "12"), "form"),
        (("Party", "  "), "label"),
        (("Demand", "x", "23 July"), "date"),
    ],
)
def test_mint_iri_refuses_what_it_cannot_name(args, parameter):
    with pytest.raises(InvalidParameter) as caught:
        mint_iri(*args)
    assert caught.value.name == parameter


def test_unique_iri_skips_what_the_store_has(seeded_engine, empty_engine):
    async def go():
        async with Engine(seeded_engine.url) as seeded, Engine(empty_engine.url) as staging:
            assert await unique_iri(seeded, "Party", "Russia") == f"{PGID}party/russia-2"
            assert await unique_iri(seeded, "State", "Atlantis") == f"{PGID}party/atlantis"
            # A batch awaiting review already uses party/atlantis and -2 (in named graphs of the staging store).
            await staging.update(
                f"INSERT DATA {{ GRAPH <{PGID}staging/b1> {{ <{PGID}party/atlantis> a <{PG.Party}> . "
                f"<{PGID}party/atlantis-2> a <{PG.Party}> . }} }}"
            )
            assert await unique_iri(seeded, "Party", "Atlantis", also=[staging]) == f"{PGID}party/atlantis-3"
            # Text that looks like SPARQL never reaches the query as text.
            odd = await unique_iri(seeded, "Party", "Russia> } ; DROP ALL #")
            assert odd == f"{PGID}party/russia-drop-all"

    run(go())


# ------------------------------------------------------------------------------------------ POSGRAPH_EXTRA_SHAPES
@pytest.fixture
def house_rule(tmp_path: Path) -> Path:
    path = tmp_path / "house.ttl"
    path.write_text(HOUSE_RULE, encoding="utf-8")
    return path


DEMAND = f"""
@prefix pg: <{PGIRI}> . @prefix pgi: <https://w3id.org/posgraph/issue/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
<{PGID}position/2025-07-23-house-rule-demand> a pg:Demand ;
    pg:heldBy <{PGID}party/russia> ; pg:addressedTo <{PGID}party/ukraine> ;
    pg:statedOn "2025-07-23"^^xsd:date ; pg:concerns pgi:territory ;
    pg:source <{PGID}source/st-2025-07-istanbul-offer> ; pg:summary "Russia demands territory."@en .
"""


def test_extra_shapes_are_loaded_by_the_validator(monkeypatch, house_rule):
    monkeypatch.setenv("POSGRAPH_EXTRA_SHAPES", f"{house_rule}")
    settings = load_settings()
    assert settings.shapes_files() == [*PROJECT_FILES.shapes_files, house_rule]
    checker = cli_validator(settings)
    assert (PGSH.Position, SH.property, rdflib.URIRef(EX + "Position-caseNumber")) in checker.shapes
    fields = _form(form_spec(checker.shapes, checker.ontology), "Demand")["fields"]
    assert any(f["path"] == EX + "caseNumber" and f["min"] == 1 for f in fields)
    assert cli_validator() is not None  # without settings: read from the environment too
    assert len(cli_validator().shapes) == len(checker.shapes)


def test_a_missing_or_broken_extra_shapes_file_stops_start_up(monkeypatch, tmp_path, house_rule):
    monkeypatch.setenv("POSGRAPH_EXTRA_SHAPES", f"{house_rule}:{tmp_path / 'missing.ttl'}")
    with pytest.raises(ConfigError, match="POSGRAPH_EXTRA_SHAPES.*missing.ttl"):
        load_settings()
    broken = tmp_path / "broken.ttl"
    broken.write_text("pgsh:Position sh:property [ oops", encoding="utf-8")
    monkeypatch.setenv("POSGRAPH_EXTRA_SHAPES", str(broken))
    settings = load_settings()
    with pytest.raises(ConfigError, match="POSGRAPH_EXTRA_SHAPES.*broken.ttl"):
        settings.shapes_files()
    with pytest.raises(ConfigError, match="broken.ttl"):
        create_app(settings, engine_url="http://127.0.0.1:9")
    with pytest.raises(ConfigError, match="broken.ttl"):
        cli_validator(settings)


def test_a_server_with_extra_shapes_validates_with_them(tmp_path, house_rule):
    server = start_server(tmp_path / "store", tmp_path / "serve.log", env={"POSGRAPH_EXTRA_SHAPES": str(house_rule)})
    try:
        with server.client() as client:
            response = client.post("/validate", content=DEMAND, headers={"Content-Type": "text/turtle"})
        assert response.status_code == 200
        report = response.json()
        found = [r for r in report["results"] if "house rule" in r["message"]]
        assert report["conforms"] is False and len(found) == 1 and found[0]["severity"] == "Violation"
        # Everything else about the demand is fine: the house rule is what fails it.
        assert [r for r in report["results"] if r["severity"] == "Violation"] == found
    finally:
        server.stop()
