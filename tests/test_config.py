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
    assert [p.name for p in PROJECT_FILES.ontology_files] == ["issues.ttl", "posgraph.ttl", "vocabularies.ttl"]
    assert PROJECT_FILES.shapes_files and all(p.exists() for p in PROJECT_FILES.seed_files)
