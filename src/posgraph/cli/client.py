"""Talking to a running posgraph over HTTP: the shared --server and --token options and one request helper."""

from __future__ import annotations

from pathlib import Path

import click
import httpx

from posgraph import curation
from posgraph.errors import BadInput, EngineError, NotConformant
from posgraph.validation import ValidationReport

__all__ = ["server_option", "token_option", "call", "nquads"]

server_option = click.option(
    "--server",
    envvar="POSGRAPH_SERVER",
    default="http://127.0.0.1:8000",
    show_default=True,
    help="Base URL of a running posgraph (or POSGRAPH_SERVER).",
)
token_option = click.option(
    "--token",
    envvar="POSGRAPH_TOKEN",
    default=None,
    help="Bearer token (or POSGRAPH_TOKEN); see `posgraph token create`.",
)


def call(method: str, server: str, path: str, token: str | None = None, **kwargs) -> httpx.Response:
    """Send one request to a posgraph server and return its answer; turn its problem+json answers into errors.

    Raises NotConformant (422), BadInput (other 4xx), EngineError (5xx or no answer).
    """
    headers = dict(kwargs.pop("headers", {}))
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        response = httpx.request(
            method, server.rstrip("/") + path, headers=headers, timeout=600, trust_env=False, **kwargs
        )
    except httpx.HTTPError as exc:
        raise EngineError(f"no answer from {server}: {exc.__class__.__name__}") from None
    if response.status_code < 400:
        return response
    try:
        problem = response.json()
    except ValueError:
        problem = {"title": response.reason_phrase, "detail": response.text[:500]}
    if response.status_code == 422 and "report" in problem:
        raise NotConformant(ValidationReport.from_dict(problem["report"]), source=problem.get("detail", "batch"))
    message = f"{problem.get('title', response.status_code)}: {problem.get('detail', '')}".rstrip(": ")
    if response.status_code < 500:
        raise BadInput(f"{server} answered {response.status_code} {message}")
    raise EngineError(f"{server} answered {response.status_code} {message}")


def nquads(files: tuple[Path, ...]) -> bytes:
    """Parse the files locally (syntax errors name file, line and column) and return them as one N-Quads body.

    Raises BadInput (a file is missing or does not parse)."""
    import pyoxigraph as ox

    return ox.serialize([q for f in curation.read_files(list(files)) for q in f.quads], format=ox.RdfFormat.N_QUADS)
