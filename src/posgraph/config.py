"""Settings, read once from ``POSGRAPH_*`` environment variables and passed down explicitly (never a global)."""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

import rdflib
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from posgraph.errors import ConfigError

__all__ = ["Settings", "load_settings", "ProjectFiles", "PROJECT_FILES"]


class ProjectFiles:
    """Where the ontology, shapes, saved queries, seed data and JSON-LD context live.

    They are package data (``posgraph/resources/``), so an installed wheel has them as well as a source checkout.
    """

    def __init__(self, resources: Path, checkout: Path | None = None) -> None:
        self.resources = resources
        self.ontology_dir = resources / "ontology"
        self.shapes_dir = resources / "shapes"
        self.queries_dir = resources / "queries"
        self.seed_files = [resources / "data" / "seed.ttl"]
        self.context_file = resources / "ontology" / "context.jsonld"
        self.checkout = checkout

    @property
    def root(self) -> Path:
        """The source checkout posgraph runs from (an editable install), else the current working directory."""
        return self.checkout or Path.cwd()

    @property
    def examples_dir(self) -> Path | None:
        """``tests/examples`` under :attr:`root` when that directory exists, else None."""
        examples = self.root / "tests" / "examples"
        return examples if examples.is_dir() else None

    @property
    def ontology_files(self) -> list[Path]:
        """The ontology and its SKOS vocabularies, sorted by name."""
        return sorted(self.ontology_dir.glob("*.ttl"))

    @property
    def shapes_files(self) -> list[Path]:
        """The SHACL shapes files, sorted by name."""
        return sorted(self.shapes_dir.glob("*.ttl"))


def _project_files() -> ProjectFiles:
    """Find the package data through importlib.resources; raises ConfigError when it is not on the file system."""
    resources = files("posgraph") / "resources"
    # Validator, Catalog and the engine loader read paths; pip always unpacks a wheel, so only a zipped
    # import (which posgraph does not support) lands here.
    if not isinstance(resources, Path) or not resources.is_dir():
        raise ConfigError(f"posgraph's package data is not a directory on disk: {resources}")
    package = resources.parent
    # A source checkout is src/posgraph beside pyproject.toml; an installed wheel sits in site-packages.
    candidate = package.parent.parent
    in_checkout = package.parent.name == "src" and (candidate / "pyproject.toml").is_file()
    return ProjectFiles(resources, candidate if in_checkout else None)


PROJECT_FILES = _project_files()


def _split_paths(value: str) -> list[Path]:
    """The paths in an ``os.pathsep``-separated list, empty entries skipped."""
    return [Path(part.strip()) for part in value.split(os.pathsep) if part.strip()]


def _default_memory_limit_mb() -> int:
    """A quarter of physical memory, at least 1 GiB: room for real queries, none for a runaway one."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024)
    except (ValueError, OSError):
        return 2048
    return max(1024, total // 4)


_DATA_DIR = Path("var")
# What one instance writes, by setting, and where it goes under data_dir unless set on its own; the default data
# directory gives exactly the paths posgraph used before data_dir held more than the store.
_UNDER_DATA_DIR = {
    "store_dir": "store",
    "staging_dir": "staging",
    "tokens_file": "tokens.json",
    "audit_log": "audit.jsonl",
    "dumps_dir": "dumps",
    "index_dir": "index",
}


class Settings(BaseSettings):
    """posgraph's configuration; every field can be set as ``POSGRAPH_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="POSGRAPH_", frozen=True, extra="ignore")

    data_dir: Path = Field(
        _DATA_DIR,
        description="Everything one instance writes: store/, staging/, tokens.json, audit.jsonl, dumps/ and index/, "
        "unless each is set on its own.",
    )
    store_dir: Path = Field(Path("var/store"), description="Store directory of the managed engine (DATA_DIR/store).")
    engine_url: str | None = Field(None, description="Base URL of an engine posgraph does not manage.")
    engine_profile: Literal["oxigraph", "generic", "virtuoso"] = Field(
        "oxigraph",
        description="How to speak to the engines of POSGRAPH_ENGINE_URL and POSGRAPH_STAGING_ENGINE_URL: oxigraph, "
        "generic (SPARQL 1.1 Protocol and Graph Store Protocol) or virtuoso (OpenLink Virtuoso 7.2: /sparql, no "
        "Graph Store Protocol, posgraph's default graph in a named graph of its own); see docs/scaling.md. "
        "Engines posgraph starts itself are always oxigraph.",
    )
    engine_query_path: str | None = Field(
        None, description="Path of the engine's SPARQL query endpoint (default: the profile's, /query for Oxigraph)."
    )
    engine_update_path: str | None = Field(
        None, description="Path of the engine's SPARQL update endpoint (default: the profile's, /update for Oxigraph)."
    )
    engine_store_path: str | None = Field(
        None,
        description="Path of the engine's Graph Store Protocol endpoint (default: the profile's, /store for Oxigraph).",
    )
    engine_binary: str | None = Field(None, description="The oxigraph binary; found beside Python or on PATH if unset.")
    engine_start_timeout: float = Field(30.0, gt=0, description="Seconds to wait for the managed engine to answer.")
    engine_memory_limit_mb: int = Field(
        default_factory=lambda: _default_memory_limit_mb(),
        gt=64,
        description="Resident memory (MiB) past which the managed engine is "
        "restarted; default a quarter of the machine's memory.",
    )
    host: str = Field("127.0.0.1", description="Address the HTTP service binds to.")
    port: int = Field(8000, ge=0, le=65535, description="Port the HTTP service binds to.")
    public_base: str | None = Field(
        None, description="Public base URL that instance IRIs map onto (default: http://HOST:PORT)."
    )
    query_timeout: float = Field(30.0, gt=0, le=3600, description="Deadline in seconds for one query.")
    max_body_bytes: int = Field(10_000_000, gt=0, description="Largest request body accepted.")
    max_rows: int = Field(100_000, gt=0, description="Most rows a SELECT answer carries; more are cut off.")
    max_concurrent_per_client: int = Field(8, gt=0, description="Queries one client may run at once.")
    max_query_bytes: int = Field(
        128_000, gt=0, description="Longest SPARQL query or update text accepted (413 beyond); every one is parsed."
    )
    guard_timeout: float = Field(
        5.0, gt=0, description="Seconds one query or update may take to parse and check (400 beyond)."
    )
    max_answer_bytes: int = Field(
        16_000_000,
        gt=0,
        description="Most bytes of an engine answer the service reads for one request: SELECT and N-Triples "
        "answers are cut there (X-Posgraph-Truncated), other formats answer 413.",
    )
    max_concurrent_queries: int = Field(
        16, gt=0, description="Anonymous queries one worker runs at once, all clients together (503 beyond)."
    )
    query_seconds_per_minute: float = Field(
        120.0,
        gt=0,
        description="Engine seconds one anonymous client may use per minute (429 with Retry-After beyond); "
        "a query that times out counts twice its deadline.",
    )
    worker_processes: int = Field(
        2, ge=1, le=64, description="Processes for CPU-heavy work (validation, parsing, serialising) per worker."
    )
    worker_timeout: float = Field(
        60.0, gt=0, description="Seconds one piece of CPU-heavy work may take before its process is ended."
    )
    worker_memory_mb: int = Field(1024, gt=64, description="Address-space cap (MiB) of each CPU-heavy worker process.")
    max_validate_bytes: int = Field(
        2_000_000, gt=0, description="Largest body POST /validate accepts (413 beyond); batches use max_body_bytes."
    )
    trusted_proxies: str = Field(
        "",
        description="Comma-separated addresses of reverse proxies whose X-Forwarded-For is believed (default: none).",
    )
    engine_sandbox: bool = Field(
        True, description="Deny managed engines every outgoing connection (SERVICE, LOAD), with seccomp."
    )
    engine_abandon_grace: float = Field(
        5.0,
        gt=0,
        description="Seconds a managed engine may keep working on a request posgraph gave up on before it is "
        "restarted.",
    )
    engine_restart_backoff_max: float = Field(
        30.0, gt=0, description="Longest wait between restarts of a managed engine that keeps dying."
    )
    resource_cache_entries: int = Field(
        4096, ge=0, description="Rendered resources kept per worker, keyed by ETag (dataset version); 0: none."
    )
    seed: bool = Field(True, description="Load the seed data into an empty store on first start.")
    staging_dir: Path = Field(
        Path("var/staging"), description="Store directory of the managed staging engine (DATA_DIR/staging)."
    )
    staging_engine_url: str | None = Field(None, description="Base URL of a staging engine posgraph does not manage.")
    allow_self_accept: bool = Field(False, description="Let a curator accept their own batches.")
    dumps_dir: Path = Field(
        Path("var/dumps"), description="Where generated dumps are kept, per dataset version (DATA_DIR/dumps)."
    )
    index_dir: Path = Field(
        Path("var/index"),
        description="Where each worker keeps its collections index, a file rebuilt on every start (DATA_DIR/index).",
    )
    tokens_file: Path = Field(
        Path("var/tokens.json"), description="Where hashed API tokens are kept (DATA_DIR/tokens.json)."
    )
    audit_log: Path = Field(
        Path("var/audit.jsonl"), description="Where every write is recorded (DATA_DIR/audit.jsonl)."
    )
    extra_shapes: str = Field(
        "",
        description="Further SHACL shapes files (Turtle; several separated by the OS path separator, ':' on "
        "POSIX) validated together with posgraph's own: an institution's house rules. The workbench's forms "
        "show them.",
    )

    @field_validator("extra_shapes")
    @classmethod
    def _extra_shapes_exist(cls, value: str) -> str:
        """Refuse at start-up a file that is not there, rather than validating without the house rules."""
        for path in _split_paths(value):
            if not path.is_file():
                raise ValueError(f"no such shapes file: {path}")
        return value

    def shapes_files(self) -> list[Path]:
        """posgraph's shapes files, then those of ``extra_shapes``, each checked to parse as Turtle.

        Raises ConfigError naming POSGRAPH_EXTRA_SHAPES and the file when one is missing or does not parse.
        """
        extra = _split_paths(self.extra_shapes)
        for path in extra:
            try:
                rdflib.Graph().parse(path, format="turtle")
            except OSError as exc:
                raise ConfigError(f"POSGRAPH_EXTRA_SHAPES: cannot read {path}: {exc.strerror or exc}") from None
            except (SyntaxError, ValueError) as exc:  # rdflib's BadSyntax is a SyntaxError
                raise ConfigError(f"POSGRAPH_EXTRA_SHAPES: {path} is not Turtle that parses: {exc}") from None
        return [*PROJECT_FILES.shapes_files, *extra]

    @model_validator(mode="before")
    @classmethod
    def _under_data_dir(cls, values: Any) -> Any:
        """Put each instance path that is not set on its own (or set empty) under ``data_dir``."""
        if not isinstance(values, dict):
            return values
        values = {key: value for key, value in values.items() if value not in (None, "")}
        data_dir = Path(values.get("data_dir", _DATA_DIR))
        return {**{name: data_dir / leaf for name, leaf in _UNDER_DATA_DIR.items()}, **values}

    def base_url(self) -> str:
        """The public base URL, without a trailing slash."""
        return (self.public_base or f"http://{self.host}:{self.port}").rstrip("/")

    def engine_options(self, url: str) -> dict[str, Any]:
        """The keyword arguments of ``posgraph.engine.Engine`` for the engine at ``url``: the configured profile and
        paths for an engine posgraph does not manage (POSGRAPH_ENGINE_URL, POSGRAPH_STAGING_ENGINE_URL), Oxigraph's
        for one it started; the query deadline as its timeout."""
        external = {u.rstrip("/") for u in (self.engine_url, self.staging_engine_url) if u}
        if url.rstrip("/") not in external:
            return {"profile": "oxigraph", "timeout": self.query_timeout}
        return {
            "profile": self.engine_profile,
            "query_path": self.engine_query_path,
            "update_path": self.engine_update_path,
            "store_path": self.engine_store_path,
            "timeout": self.query_timeout,
        }

    def engine_base(self) -> str:
        """Return the engine base URL; raises ConfigError when no engine is configured."""
        if not self.engine_url:
            raise ConfigError("no engine URL: set POSGRAPH_ENGINE_URL or let `posgraph serve` start one")
        return self.engine_url.rstrip("/")


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment, with explicit ``overrides`` on top.

    Returns the frozen Settings; raises ConfigError naming the bad variable.
    """
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "POSGRAPH_" + str(first["loc"][0]).upper() if first.get("loc") else "POSGRAPH_*"
        raise ConfigError(f"{name}: {first['msg']}") from None
