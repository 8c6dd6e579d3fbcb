"""Every ``posgraph`` command, run as the installed script, with its exit codes."""

import json
import os
import re
import shutil
import socket
import subprocess

import httpx
import pytest
import rdflib
from conftest import EXAMPLES, ROOT, create_token, posgraph_cli, start_server

SEED = "src/posgraph/resources/data/seed.ttl"
COMMANDS = ["serve", "load", "validate", "query", "queries", "export", "check", "token", "submit", "batches"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    result = posgraph_cli(command, "--help")
    assert result.returncode == 0 and "Usage: posgraph " + command in result.stdout


def test_top_level_help_lists_the_commands():
    result = posgraph_cli("--help")
    assert result.returncode == 0 and all(c in result.stdout for c in COMMANDS)


# -------------------------------------------------------------------------------------------- validate
def test_validate_seed_is_ok_with_its_warning():
    result = posgraph_cli("validate", str(__import__("conftest").ROOT / SEED))
    assert result.returncode == 0
    assert "Warning: [pg:hasTerm of pgid:position/ru-2025-07-army-cap] property pg:quantity" in result.stdout
    assert result.stdout.strip().endswith("conforms (0 violation(s), 1 warning(s), 0 info)")


def test_validate_non_conformant_exits_1_one_line_per_violation():
    path = EXAMPLES / "invalid" / "supersession.ttl"
    result = posgraph_cli("validate", str(path))
    assert result.returncode == 1
    lines = [line for line in result.stdout.splitlines() if ": Violation: " in line]
    assert len(lines) == 3
    assert all("pgid:example/new property pg:supersedes value pgid:example/old" in line for line in lines)


def test_validate_formats():
    path = str(EXAMPLES / "invalid" / "quantities-conditions.ttl")
    as_json = posgraph_cli("validate", path, "--format", "json")
    doc = json.loads(as_json.stdout)
    assert as_json.returncode == 1 and doc["violations"] == 9 and doc["conforms"] is False
    as_turtle = posgraph_cli("validate", path, "--format", "turtle")
    graph = rdflib.Graph().parse(data=as_turtle.stdout, format="turtle")
    assert len(list(graph.subjects(rdflib.RDF.type, rdflib.URIRef("http://www.w3.org/ns/shacl#ValidationResult")))) == 9


def test_validate_syntax_error_exits_2_with_file_line_column(tmp_path):
    bad = tmp_path / "bad.ttl"
    bad.write_text("@prefix ex: <http://example.org/> .\n\nex:a ex:b ex:c ;\n   ex:d .\n")
    result = posgraph_cli("validate", str(bad))
    assert result.returncode == 2
    assert result.stderr.startswith(f"posgraph: error: {bad}:4:")
    assert "Traceback" not in result.stderr


def test_validate_missing_file_and_unknown_extension_exit_2(tmp_path):
    assert posgraph_cli("validate", str(tmp_path / "nope.ttl")).returncode == 2
    odd = tmp_path / "data.csv"
    odd.write_text("a,b")
    result = posgraph_cli("validate", str(odd))
    assert result.returncode == 2 and "extension" in result.stderr


# -------------------------------------------------------------------------------------------- load / query / export
@pytest.fixture
def store(tmp_path):
    return {"POSGRAPH_DATA_DIR": str(tmp_path / "store")}


def _batches(env) -> int:
    result = posgraph_cli(
        "query",
        "PREFIX pg: <https://w3id.org/posgraph/ns#> SELECT (COUNT(?b) AS ?n) WHERE { ?b a pg:Batch }",
        "--format",
        "csv",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    return int(result.stdout.splitlines()[1])


def test_load_then_query_and_export(store, tmp_path):
    loaded = posgraph_cli("load", str(EXAMPLES / "valid" / "minimal-demand.ttl"), "--curator", "alice", env=store)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.startswith("loaded batch ") and "32 triples" in loaded.stdout
    assert _batches(store) == 2  # the seed and this one
    again = posgraph_cli("load", str(EXAMPLES / "valid" / "minimal-demand.ttl"), env=store)
    assert again.returncode == 0 and again.stdout.startswith("already loaded")
    dump = tmp_path / "dump.nq"
    exported = posgraph_cli("export", "--format", "nquads", "-o", str(dump), env=store)
    assert exported.returncode == 0, exported.stderr
    ds = rdflib.Dataset()
    ds.parse(dump, format="nquads")
    graphs = {str(g.identifier) for g in ds.graphs()}
    assert "https://w3id.org/posgraph/id/batch/seed" in graphs
    assert any(g.startswith("https://w3id.org/posgraph/id/batch/2") for g in graphs)
    assert not (tmp_path / "dump.nq.partial").exists()


def test_load_syntax_error_exits_2_and_loads_nothing(store, tmp_path):
    bad = tmp_path / "bad.nt"
    bad.write_text('<http://a> <http://b> "ok" .\n<http://a> <http://b> oops .\n')
    result = posgraph_cli("load", str(EXAMPLES / "valid" / "minimal-demand.ttl"), str(bad), env=store)
    assert result.returncode == 2 and f"{bad}:2:" in result.stderr
    assert _batches(store) == 1
    probe = posgraph_cli("query", "ASK { <http://a> ?p ?o }", env=store)
    assert probe.stdout.strip() == "false"


def test_load_non_conformant_exits_1_and_loads_nothing(store):
    result = posgraph_cli("load", str(EXAMPLES / "invalid" / "moves.ttl"), env=store)
    assert result.returncode == 1
    assert "does NOT conform (4 violation(s)" in result.stderr
    assert _batches(store) == 1


def test_load_a_large_file_shows_progress(store, tmp_path):
    big = tmp_path / "big.nt"
    with open(big, "w") as sink:
        for i in range(20_000):
            sink.write(f'<http://example.org/s{i}> <http://example.org/label> "a label long enough to count {i}" .\n')
    assert big.stat().st_size > 1_000_000
    result = posgraph_cli("load", str(big), "--no-validate", env=store)
    assert result.returncode == 0, result.stderr
    assert "20000 triples" in result.stdout
    assert "upload" in result.stderr and "parse" in result.stderr


def test_bulk_load_builds_a_new_store_recorded_as_a_batch_that_cannot_be_reverted(tmp_path):
    store = tmp_path / "store"
    env = {
        "POSGRAPH_DATA_DIR": str(tmp_path),  # the store is DATA_DIR/store
        "POSGRAPH_TOKENS_FILE": str(tmp_path / "tokens.json"),
        "POSGRAPH_AUDIT_LOG": str(tmp_path / "audit.jsonl"),
    }
    big = tmp_path / "big.nt"
    big.write_text(
        "".join(f'<http://example.org/s{i}> <http://example.org/label> "label {i}" .\n' for i in range(5000))
    )
    loaded = posgraph_cli("load", "--bulk", str(big), str(EXAMPLES / "valid" / "minimal-demand.ttl"), env=env)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.startswith("bulk-loaded batch ") and "5032 triples" in loaded.stdout
    batch_id = loaded.stdout.split()[2].rstrip(":")
    assert _batches(env) == 2  # the seed (the store was bootstrapped after the bulk load) and the bulk batch
    assert '"bulk load"' in (tmp_path / "audit.jsonl").read_text()
    # A second bulk load would replace a store: refused, nothing changes, no scratch directory is left behind.
    again = posgraph_cli("load", "--bulk", str(big), env=env)
    assert again.returncode == 2 and "already holds a store" in again.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    server = start_server(store, tmp_path / "serve.log")
    try:
        reviewer = create_token(tmp_path, "reviewer", "rita")
        auth = {"Authorization": f"Bearer {reviewer}"}
        with httpx.Client(base_url=server.url, trust_env=False, timeout=30, headers=auth) as client:
            assert client.get("/sparql", params={"query": "ASK { <http://example.org/s4999> ?p ?o }"}).json()["boolean"]
            batch = client.get(f"/batches/{batch_id}").json()
            assert batch["state"] == "accepted" and batch["bulk_loaded"] is True and batch["triples"] == 5032, batch
            for params in ({"dry_run": "true"}, None):
                refused = client.post(f"/batches/{batch_id}/revert", params=params)
                assert refused.status_code == 409 and "bulk-loaded" in refused.json()["detail"]
            assert client.get("/sparql", params={"query": "ASK { <http://example.org/s0> ?p ?o }"}).json()["boolean"]
    finally:
        server.stop()


def test_bulk_load_of_a_bad_file_builds_nothing(tmp_path):
    bad = tmp_path / "bad.nt"
    bad.write_text('<http://a> <http://b> "ok" .\n<http://a> <http://b> "unterminated .\n')
    env = {"POSGRAPH_DATA_DIR": str(tmp_path)}
    result = posgraph_cli("load", "--bulk", "--no-validate", str(bad), env=env)
    assert result.returncode == 2 and "line 2" in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == [bad]  # neither the store nor the loader's scratch directory
    quads = tmp_path / "data.nq"
    quads.write_text("<http://a> <http://b> <http://c> <http://g> .\n")
    refused = posgraph_cli("load", "--bulk", "--no-validate", str(quads), env=env)
    assert refused.returncode == 2 and "N-Triples, Turtle or RDF/XML" in refused.stderr
    # A directory holding anything but a stopped engine's files is never emptied to make room.
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    good = tmp_path / "good.nt"
    good.write_text("<http://a> <http://b> <http://c> .\n")
    elsewhere = posgraph_cli(
        "load", "--bulk", "--no-validate", str(good), env={"POSGRAPH_STORE_DIR": str(tmp_path / "mine")}
    )
    assert elsewhere.returncode == 2 and "not empty (notes.txt)" in elsewhere.stderr
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_query_saved_with_params_in_each_format(store):
    table = posgraph_cli("query", "demands-by-issue", "-p", "party=pgid:party/russia", env=store)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["issue", "issueLabel", "demand", "statedOn", "summary"]
    assert lines[-1] == "(4 rows)" and "pgi:territory" in table.stdout
    as_csv = posgraph_cli(
        "query", "demands-by-issue", "--param", "party=pgid:party/russia", "--format", "csv", env=store
    )
    assert as_csv.stdout.splitlines()[0] == "issue,issueLabel,demand,statedOn,summary"
    as_json = posgraph_cli("query", "demands-by-issue", "-p", "party=pgid:party/russia", "--format", "json", env=store)
    assert len(json.loads(as_json.stdout)["results"]["bindings"]) == 4


def test_query_from_stdin_and_construct(store):
    result = posgraph_cli(
        "query", "-", env=store, input="CONSTRUCT WHERE { <https://w3id.org/posgraph/id/party/nato> ?p ?o }"
    )
    assert result.returncode == 0
    graph = rdflib.Graph().parse(data=result.stdout, format="turtle")
    assert len(graph) >= 4


def test_query_bad_input_exits_2(store):
    unknown = posgraph_cli("query", "no-such-query", env=store)
    assert unknown.returncode == 2 and "no saved query" in unknown.stderr
    bad_param = posgraph_cli("query", "positions", "-p", "party=pgid:party/russia", "-p", "from=soon", env=store)
    assert bad_param.returncode == 2 and "'from'" in bad_param.stderr
    syntax = posgraph_cli("query", "SELECT * WHERE { ?s ?p }", env=store)
    assert syntax.returncode == 2 and "Traceback" not in syntax.stderr
    refused = posgraph_cli("query", "SELECT * { SERVICE <http://127.0.0.1/> { ?s ?p ?o } }", env=store)
    assert refused.returncode == 2 and "SERVICE" in refused.stderr


def test_queries_lists_the_catalog():
    result = posgraph_cli("queries")
    assert result.returncode == 0 and "positions" in result.stdout and "party:iri" in result.stdout


def test_export_turtle_is_the_default_graph(store):
    result = posgraph_cli("export", "--format", "turtle", env=store)
    graph = rdflib.Graph().parse(data=result.stdout, format="turtle")
    assert (rdflib.URIRef("https://w3id.org/posgraph/id/party/russia"), None, None) in graph


def test_check_is_consistent_and_names_what_is_not(tmp_path):
    # The whole example check runs in tests/test_checks.py (and `make test` runs `posgraph check` itself): here the
    # command's own work, with the examples left out, and its answer for an example in the wrong folder.
    result = posgraph_cli("check", "--examples", str(tmp_path / "absent"))
    assert result.returncode == 0 and result.stdout.strip() == "check: consistent"
    (tmp_path / "examples" / "valid").mkdir(parents=True)
    shutil.copy(EXAMPLES / "invalid" / "moves.ttl", tmp_path / "examples" / "valid" / "moves.ttl")
    broken = posgraph_cli("check", "--examples", str(tmp_path / "examples"))
    assert broken.returncode == 1 and "examples: moves.ttl should conform but does not" in broken.stdout
    assert re.fullmatch(r"check: \d+ problem\(s\)", broken.stdout.strip().splitlines()[-1])


# -------------------------------------------------------------------------------------------- serve failures
def test_serve_port_in_use_exits_3(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = posgraph_cli("serve", "--port", str(port), "--data-dir", str(tmp_path / "s"), timeout=30)
    assert result.returncode == 3
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


# -------------------------------------------------------------------------------------------- make serve
_WHERE = ("POSGRAPH_HOST", "POSGRAPH_PORT", "POSGRAPH_DATA_DIR")


def _make_serve(*variables: str, env: dict[str, str] | None = None, dry_run: bool = True):
    """Run `make serve` in the checkout without (re)installing anything: -o keeps the venv and the UI as they are."""
    clean = {k: v for k, v in os.environ.items() if k not in _WHERE}
    return subprocess.run(
        ["make", "-s", "-C", str(ROOT), *(["-n"] if dry_run else []), "-o", ".venv/.installed", "-o", "ui"]
        + ["serve", *variables],
        capture_output=True,
        text=True,
        env={**clean, **(env or {})},
        timeout=60,
    )


def _serve_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr
    return next(line for line in result.stdout.splitlines() if "posgraph serve" in line)


def test_make_serve_takes_port_host_data_then_the_environment():
    assert _serve_line(_make_serve()).endswith("serve --host '127.0.0.1' --port '8000' --data-dir 'var'")
    given = _make_serve("PORT=8123", "HOST=0.0.0.0", "DATA=/srv/pg")
    assert _serve_line(given).endswith("serve --host '0.0.0.0' --port '8123' --data-dir '/srv/pg'")
    env = {"POSGRAPH_PORT": "8124", "POSGRAPH_HOST": "::1", "POSGRAPH_DATA_DIR": "/srv/x", "PORT": "1", "HOST": "h"}
    assert _serve_line(_make_serve(env=env)).endswith("serve --host '::1' --port '8124' --data-dir '/srv/x'")
    assert "--port '8125'" in _serve_line(_make_serve("PORT=8125", env=env))  # the command line wins


def test_busy_port_names_the_way_out_for_both_entry_points(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        direct = posgraph_cli("serve", "--port", str(port), "--data-dir", str(tmp_path / "d"), timeout=30)
        made = _make_serve(f"PORT={port}", f"DATA={tmp_path / 'm'}", dry_run=False)
    for result in (direct, made):
        assert result.returncode != 0 and f"cannot listen on 127.0.0.1:{port}" in result.stderr
        assert all(way in result.stderr for way in ("--port N", "POSGRAPH_PORT=N", "make serve PORT=N")), result.stderr


# -------------------------------------------------------------------------------------------- --data-dir
# Empty is not set: conftest sets every state path for the whole run, and here they must come from --data-dir.
_PATHS = ("DATA_DIR", "STORE_DIR", "STAGING_DIR", "TOKENS_FILE", "AUDIT_LOG", "DUMPS_DIR")
_UNSET = {f"POSGRAPH_{name}": "" for name in _PATHS}


def test_two_servers_with_different_data_dirs_share_nothing(tmp_path):
    servers = []
    try:
        for name in ("a", "b"):  # both from the same working directory, relative --data-dir
            store, log = tmp_path / name / "store", tmp_path / f"{name}.log"
            servers.append(start_server(store, log, env=_UNSET, args=["--data-dir", name], cwd=tmp_path))
        tokens = {}
        for name in ("a", "b"):
            made = posgraph_cli(
                "token", "create", "--role", "reviewer", "--name", "rev", "--data-dir", str(tmp_path / name), env=_UNSET
            )
            assert made.returncode == 0, made.stderr
            tokens[name] = made.stdout.strip()
        a, b = servers
        auth = {name: {"Authorization": f"Bearer {token}"} for name, token in tokens.items()}
        with a.client() as client:
            submitted = client.post(
                "/batches",
                content=(EXAMPLES / "batches" / "army-cap-figure.ttl").read_bytes(),
                headers={"Content-Type": "text/turtle", **auth["a"]},
            )
            assert submitted.status_code == 201, submitted.text
            assert client.get("/batches", headers=auth["b"]).status_code == 401
        with b.client() as client:
            listed = client.get("/batches", params={"state": "submitted"}, headers=auth["b"])
            assert listed.status_code == 200 and listed.json()["batches"] == []
        for name in ("a", "b"):
            instance = tmp_path / name
            assert all((instance / leaf).exists() for leaf in ("store", "staging", "tokens.json", "audit.jsonl"))
        assert '"token-create"' in (tmp_path / "a" / "audit.jsonl").read_text()
        assert not (tmp_path / "var").exists()  # nothing went to the default directory of the working directory
    finally:
        for server in servers:
            server.stop()


def test_serve_missing_engine_binary_exits_3(tmp_path):
    result = posgraph_cli(
        "serve",
        "--port",
        "0",
        "--data-dir",
        str(tmp_path / "s"),
        env={"POSGRAPH_ENGINE_BINARY": str(tmp_path / "no-oxigraph")},
        timeout=30,
    )
    assert result.returncode == 3 and "not found" in result.stderr and "Traceback" not in result.stderr


def test_serve_unwritable_data_dir_exits_3(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = posgraph_cli("serve", "--port", "0", "--data-dir", str(blocker / "store"), timeout=30)
    assert result.returncode == 3 and "cannot be written" in result.stderr and "Traceback" not in result.stderr


def test_serve_second_instance_on_the_same_store_exits_3(tmp_path):
    srv = start_server(tmp_path / "store", tmp_path / "serve.log")
    try:
        result = posgraph_cli("serve", "--port", "0", "--data-dir", str(tmp_path), timeout=30)
        assert result.returncode == 3 and "in use by another process" in result.stderr
        # A data directory that is itself a store (what POSGRAPH_DATA_DIR used to name) is refused, not shadowed.
        legacy = posgraph_cli("export", "--data-dir", str(tmp_path / "store"), timeout=30)
        assert legacy.returncode == 3 and f"POSGRAPH_STORE_DIR={tmp_path / 'store'}" in legacy.stderr
    finally:
        srv.stop()


def test_cli_uses_the_engine_of_a_running_server(tmp_path):
    srv = start_server(tmp_path / "store", tmp_path / "serve.log")
    try:
        env = {"POSGRAPH_DATA_DIR": str(tmp_path)}
        loaded = posgraph_cli("load", str(EXAMPLES / "valid" / "minimal-demand.ttl"), env=env)
        assert loaded.returncode == 0, loaded.stderr
        with srv.client() as client:
            answer = client.get(
                "/sparql", params={"query": "ASK { <https://w3id.org/posgraph/id/example/d1> ?p ?o }"}
            ).json()
        assert answer["boolean"] is True
    finally:
        srv.stop()


# -------------------------------------------------------------------------------------------- against a server
@pytest.fixture(scope="module")
def curated(tmp_path_factory):
    base = tmp_path_factory.mktemp("curated")
    srv = start_server(base / "store", base / "serve.log")
    env = {
        "POSGRAPH_TOKENS_FILE": str(base / "tokens.json"),
        "POSGRAPH_AUDIT_LOG": str(base / "audit.jsonl"),
        "POSGRAPH_SERVER": srv.url,
    }
    srv.env = env
    srv.curator = posgraph_cli("token", "create", "--role", "curator", "--name", "cleo", env=env).stdout.strip()
    srv.reviewer = posgraph_cli("token", "create", "--role", "reviewer", "--name", "remy", env=env).stdout.strip()
    yield srv
    srv.stop()


BATCH = EXAMPLES / "batches" / "army-cap-figure.ttl"
WRONG = EXAMPLES / "batches" / "dangling-and-foreign.ttl"


def test_validate_against_a_server_resolves_references(curated):
    offline = posgraph_cli("validate", str(BATCH))
    assert offline.returncode == 1 and "pgid:party/russia" in offline.stdout  # unknown offline
    online = posgraph_cli("validate", str(BATCH), "--against", curated.url)
    assert online.returncode == 0 and "conforms (0 violation(s)" in online.stdout
    wrong = posgraph_cli("validate", str(WRONG), "--against", curated.url, "--format", "json")
    assert wrong.returncode == 1 and json.loads(wrong.stdout)["violations"] == 2
    as_turtle = posgraph_cli("validate", str(WRONG), "--against", curated.url, "--format", "turtle")
    assert as_turtle.returncode == 1 and "ValidationReport" in as_turtle.stdout
    down = posgraph_cli("validate", str(BATCH), "--against", "http://127.0.0.1:9")
    assert down.returncode == 3 and "no answer" in down.stderr


def test_submit_review_and_revert_from_the_command_line(curated):
    env = curated.env
    no_token = posgraph_cli("submit", str(BATCH), env=env)
    assert no_token.returncode == 2 and "401" in no_token.stderr
    wrong = posgraph_cli("submit", str(WRONG), "--token", curated.curator, env=env)
    assert wrong.returncode == 1 and "does NOT conform (2 violation(s)" in wrong.stderr
    submitted = posgraph_cli("submit", str(BATCH), "--token", curated.curator, "--label", "figure", env=env)
    assert submitted.returncode == 0, submitted.stderr
    batch_id = submitted.stdout.split()[2].rstrip(":")
    again = posgraph_cli("submit", str(BATCH), "--token", curated.curator, env=env)
    assert again.returncode == 2 and "409" in again.stderr
    listed = posgraph_cli("batches", "list", "--state", "submitted", "--token", curated.curator, env=env)
    assert batch_id in listed.stdout
    own = posgraph_cli("batches", "accept", batch_id, "--token", curated.curator, env=env)
    assert own.returncode == 2 and "403" in own.stderr
    accepted = posgraph_cli("batches", "accept", batch_id, "--token", curated.reviewer, env=env)
    assert accepted.returncode == 0 and f"batch {batch_id}: accepted" in accepted.stdout
    shown = posgraph_cli("batches", "show", batch_id, "--token", curated.curator, env=env)
    assert "reviewer  remy" in shown.stdout and "accepted  by remy" in shown.stdout
    preview = posgraph_cli("batches", "revert", "seed", "--dry-run", "--token", curated.reviewer, env=env)
    assert preview.returncode == 0 and "pg:supersedes pgid:position/ru-2025-07-army-cap" in preview.stdout
    reverted = posgraph_cli("batches", "revert", batch_id, "--token", curated.reviewer, env=env)
    assert reverted.returncode == 0 and f"batch {batch_id}: reverted" in reverted.stdout
    missing = posgraph_cli("batches", "show", "nope", "--token", curated.curator, env=env)
    assert missing.returncode == 2 and "404" in missing.stderr


def test_reverting_a_correction_from_the_command_line_says_what_comes_back(curated):
    # A reviewed correction (retract the month, add the day) and its revert, as a reviewer sees them in the CLI.
    env = curated.env
    submitted = posgraph_cli(
        "submit", str(EXAMPLES / "batches" / "amend-sharpen-date.ttl"), "--token", curated.curator, env=env
    )
    assert submitted.returncode == 0, submitted.stderr
    batch_id = submitted.stdout.split()[2].rstrip(":")
    assert posgraph_cli("batches", "accept", batch_id, "--token", curated.reviewer, env=env).returncode == 0
    preview = posgraph_cli("batches", "revert", batch_id, "--dry-run", "--token", curated.reviewer, env=env)
    assert preview.returncode == 0, preview.stderr
    assert "1 triple(s) it retracted or merged away come back; 0 triple(s) its merges wrote leave" in preview.stdout
    reverted = posgraph_cli("batches", "revert", batch_id, "--token", curated.reviewer, env=env)
    assert reverted.returncode == 0 and f"batch {batch_id}: reverted" in reverted.stdout


def test_reject_from_the_command_line(curated, tmp_path):
    env = curated.env
    other = tmp_path / "other.ttl"
    other.write_text(BATCH.read_text().replace("85000", "70000"))
    submitted = posgraph_cli("submit", str(other), "--token", curated.curator, env=env)
    batch_id = submitted.stdout.split()[2].rstrip(":")
    rejected = posgraph_cli(
        "batches", "reject", batch_id, "--note", "unsourced figure", "--token", curated.reviewer, env=env
    )
    assert rejected.returncode == 0 and "rejected  by remy: unsourced figure" in rejected.stdout


# -------------------------------------------------------------------------------------------- migrate (0.1 -> 0.2)
def _v01_data_dir(tmp_path, version: str | None = None):
    """A data directory whose store posgraph 0.1 made (see test_migration.build_v01_store); with ``version``, its
    ontology claims that version instead (a store from another posgraph)."""
    import asyncio

    import test_migration

    from posgraph.supervisor import ManagedEngine

    data = tmp_path / "data"
    managed = ManagedEngine(data / "store")
    managed.start()
    try:
        asyncio.run(test_migration.build_v01_store(managed.url, tmp_path))
        if version:
            from posgraph.engine import Engine
            from posgraph.namespaces import ONTOLOGY_GRAPH, ONTOLOGY_IRI

            async def claim():
                async with Engine(managed.url) as engine:
                    await engine.update(
                        f"""DELETE {{ GRAPH <{ONTOLOGY_GRAPH}> {{ <{ONTOLOGY_IRI}> ?v ?old }} }}
                            INSERT {{ GRAPH <{ONTOLOGY_GRAPH}> {{ <{ONTOLOGY_IRI}> ?v "{version}" }} }}
                            WHERE {{ GRAPH <{ONTOLOGY_GRAPH}> {{ <{ONTOLOGY_IRI}> ?v ?old }}
                                     FILTER (?v = <http://www.w3.org/2002/07/owl#versionInfo>) }}"""
                    )

            asyncio.run(claim())
    finally:
        managed.stop()
    return data


def _store_facts(store) -> tuple[str | None, bool, int]:
    """The store's model version, whether a 0.1 form is left on a position, and its number of reports."""
    import asyncio

    from posgraph.curation import migration
    from posgraph.engine import Engine
    from posgraph.supervisor import ManagedEngine

    async def read(url):
        async with Engine(url) as engine:
            left = await engine.ask(
                "PREFIX pg: <https://w3id.org/posgraph/ns#> ASK { ?p pg:confidence|pg:reportedVia ?v "
                "FILTER NOT EXISTS { ?p a pg:Report } }"
            )
            reports = await engine.select("SELECT (COUNT(*) AS ?n) { ?r a <https://w3id.org/posgraph/ns#Report> }")
            return await migration.store_version(engine), left, int(reports[0]["n"])

    managed = ManagedEngine(store)
    managed.start()
    try:
        return asyncio.run(read(managed.url))
    finally:
        managed.stop()


def test_migrate_moves_an_01_data_dir_to_02_then_finds_it_current(tmp_path):
    data = _v01_data_dir(tmp_path)
    assert _store_facts(data / "store") == ("0.1.0", True, 0)
    first = posgraph_cli("migrate", "--data-dir", str(data), env=_UNSET)
    assert first.returncode == 0, first.stderr
    assert "migrated the store from model 0.1.0 to 0.2.0: 5 report(s) made" in first.stdout
    assert _store_facts(data / "store") == ("0.2.0", False, 5)
    record = json.loads((data / "audit.jsonl").read_text().splitlines()[-1])
    assert record["action"] == "migrate" and record["from_version"] == "0.1.0" and record["change"] in first.stdout
    second = posgraph_cli("migrate", "--data-dir", str(data), env=_UNSET)
    assert second.returncode == 0 and "already at model 0.2.0: nothing to migrate" in second.stdout
    assert _store_facts(data / "store") == ("0.2.0", False, 5)


def test_migrate_refuses_a_store_newer_than_this_posgraph_and_a_missing_one(tmp_path):
    data = _v01_data_dir(tmp_path, version="9.0.0")
    newer = posgraph_cli("migrate", "--data-dir", str(data), env=_UNSET)
    assert newer.returncode == 3 and "model is 9.0.0, newer than this posgraph's 0.2.0" in newer.stderr
    assert _store_facts(data / "store") == ("9.0.0", True, 0)  # untouched
    missing = posgraph_cli("migrate", "--data-dir", str(tmp_path / "nothing"), env=_UNSET)
    assert missing.returncode == 2 and "no store at" in missing.stderr
    assert not (tmp_path / "nothing").exists()


def test_serve_migrates_an_01_data_dir_on_start(tmp_path):
    data = _v01_data_dir(tmp_path)
    server = start_server(data / "store", tmp_path / "serve.log")
    try:
        with server.client() as client:
            feed = client.get("/changes", params={"limit": 1000}).json()["changes"]
            asked = client.get(
                "/sparql",
                params={"query": "ASK { ?p <https://w3id.org/posgraph/ns#report> ?r }"},
                headers={"Accept": "application/sparql-results+json"},
            )
    finally:
        server.stop()
    assert [c["kind"] for c in feed].count("migrated") == 1
    assert asked.status_code == 200 and asked.json()["boolean"] is True
    assert "model migration 0.1.0 -> 0.2.0 (5 report(s) made)" in server.log.read_text()
    assert _store_facts(data / "store") == ("0.2.0", False, 5)


def test_migrate_is_a_listed_command_with_help():
    listed, helped = posgraph_cli("--help"), posgraph_cli("migrate", "--help")
    assert listed.returncode == 0 and "migrate" in listed.stdout
    assert helped.returncode == 0 and "Usage: posgraph migrate" in helped.stdout and "--data-dir" in helped.stdout


# -------------------------------------------------------------------------------------------- consistency rules (#12)
# The same cases as tests/test_api_validation.py, through `posgraph validate`: offline for what a file shows alone,
# and --against a seeded server for what needs the published half (a cycle, a duplicate of a published party).
def _rules_case(name):
    from test_api_validation import CASES

    return CASES[name]


@pytest.mark.parametrize("case", ["misspelt-property", "future-date", "impossible-month", "self-supersession"])
def test_rules_validate_offline_names_the_rule_and_the_fix(tmp_path, case):
    body, shape, focus, words = _rules_case(case)
    path = tmp_path / f"{case}.ttl"
    path.write_bytes(body)
    result = posgraph_cli("validate", str(path))
    assert result.returncode == 1, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if f"[{shape}]" in line and f"Violation: {focus} " in line]
    assert lines and words in lines[0] and "Fix: " in lines[0]


@pytest.mark.parametrize("case", ["cycle-half-published", "duplicate-party"])
def test_rules_validate_against_a_server_sees_the_published_half(curated, tmp_path, case):
    body, shape, focus, words = _rules_case(case)
    path = tmp_path / f"{case}.ttl"
    path.write_bytes(body)
    online = posgraph_cli("validate", str(path), "--against", curated.url)
    assert online.returncode == 1, online.stdout + online.stderr
    lines = [line for line in online.stdout.splitlines() if f"[{shape}]" in line and f"Violation: {focus} " in line]
    assert lines and words in lines[0]
    # Offline the file alone shows no such thing.
    offline = posgraph_cli("validate", str(path))
    assert f"[{shape}]" not in offline.stdout


def test_a_note_on_submit_a_reason_on_revert_a_summary_and_an_entitys_batches_from_the_command_line(curated, tmp_path):
    env = curated.env
    body = tmp_path / "noted.ttl"
    body.write_text(BATCH.read_text().replace("85000", "86000"))
    submitted = posgraph_cli(
        "submit", str(body), "--token", curated.curator, "--label", "noted", "--note", "from the wire", env=env
    )
    assert submitted.returncode == 0, submitted.stderr
    batch_id = submitted.stdout.split()[2].rstrip(":")
    shown = posgraph_cli("batches", "show", batch_id, "--token", curated.curator, env=env)
    assert "note      from the wire" in shown.stdout and "submitted by cleo: from the wire" in shown.stdout
    summary = posgraph_cli("batches", "summary", batch_id, "--token", curated.curator, env=env)
    assert summary.returncode == 0, summary.stderr
    assert summary.stdout.splitlines()[0].startswith(
        "adds a Demand by Russia on Army size and weapons, stated 2025-07-24"
    )
    about = posgraph_cli(
        "batches", "list", "--about", "pgid:position/test-ru-army-cap-figure", "--token", curated.curator, env=env
    )
    assert batch_id in about.stdout
    elsewhere = posgraph_cli("batches", "list", "--about", "pgid:party/ukraine", "--token", curated.curator, env=env)
    assert batch_id not in elsewhere.stdout and "seed" in elsewhere.stdout
    assert posgraph_cli("batches", "accept", batch_id, "--token", curated.reviewer, env=env).returncode == 0
    reverted = posgraph_cli(
        "batches", "revert", batch_id, "--reason", "a mistaken figure", "--token", curated.reviewer, env=env
    )
    assert reverted.returncode == 0, reverted.stderr
    assert "reverted  by remy: a mistaken figure" in reverted.stdout
