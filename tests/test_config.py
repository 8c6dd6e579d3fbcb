from pathlib import Path

import pytest
from pydantic import ValidationError

from posgraph.config import PROJECT_FILES, load_settings
from posgraph.errors import ConfigError


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("POSGRAPH_QUERY_TIMEOUT", "12.5")
    monkeypatch.setenv("POSGRAPH_DATA_DIR", "/srv/pg")
    settings = load_settings()
    assert settings.query_timeout == 12.5
    assert settings.data_dir == Path("/srv/pg")


def test_the_data_dir_holds_every_path_one_instance_writes(monkeypatch):
    for name in ("DATA_DIR", "STORE_DIR", "STAGING_DIR", "TOKENS_FILE", "AUDIT_LOG", "DUMPS_DIR", "INDEX_DIR"):
        monkeypatch.delenv(f"POSGRAPH_{name}", raising=False)
    paths = ("store_dir", "staging_dir", "tokens_file", "audit_log", "dumps_dir", "index_dir")
    default = load_settings()
    # The defaults are the paths posgraph always used, so existing stores stay where they are.
    assert [getattr(default, p) for p in paths] == [
        Path("var/store"),
        Path("var/staging"),
        Path("var/tokens.json"),
        Path("var/audit.jsonl"),
        Path("var/dumps"),
        Path("var/index"),
    ]
    monkeypatch.setenv("POSGRAPH_DATA_DIR", "/srv/pg")
    monkeypatch.setenv("POSGRAPH_TOKENS_FILE", "/etc/pg/tokens.json")  # set on its own: wins
    monkeypatch.setenv("POSGRAPH_STAGING_DIR", "")  # empty: not set
    settings = load_settings()
    assert [str(getattr(settings, p)) for p in paths] == [
        "/srv/pg/store",
        "/srv/pg/staging",
        "/etc/pg/tokens.json",
        "/srv/pg/audit.jsonl",
        "/srv/pg/dumps",
        "/srv/pg/index",
    ]
    assert load_settings(data_dir=Path("other")).store_dir == Path("other/store")  # --data-dir beats the variable


def test_overrides_win_and_none_means_unset(monkeypatch):
    monkeypatch.setenv("POSGRAPH_PORT", "9000")
    assert load_settings(port=9100).port == 9100
    assert load_settings(port=None).port == 9000


def test_bad_value_names_the_variable(monkeypatch):
    monkeypatch.setenv("POSGRAPH_PORT", "not-a-port")
    with pytest.raises(ConfigError, match="POSGRAPH_PORT"):
        load_settings()


def test_settings_are_frozen():
    settings = load_settings()
    with pytest.raises(ValidationError):
        settings.port = 1  # type: ignore[misc]


def test_engine_base_requires_a_url(monkeypatch):
    monkeypatch.delenv("POSGRAPH_ENGINE_URL", raising=False)
    with pytest.raises(ConfigError, match="POSGRAPH_ENGINE_URL"):
        load_settings().engine_base()
    assert load_settings(engine_url="http://127.0.0.1:7878/").engine_base() == "http://127.0.0.1:7878"


def test_project_files_exist():
    names = [p.name for p in PROJECT_FILES.ontology_files]
    assert names == ["issues.ttl", "places.ttl", "posgraph.ttl", "vocabularies.ttl"]
    assert PROJECT_FILES.shapes_files and all(p.exists() for p in PROJECT_FILES.seed_files)
