"""HTTP caching of what is rendered from the dataset (resources, collections, views): one ETag rule — the dataset's
version, the URL and the representation —, 304 answers to If-None-Match and If-Modified-Since, and the per-worker
cache of rendered bodies kept under those ETags (never stale: a write changes the version)."""

from __future__ import annotations

import hashlib
from email.utils import format_datetime, parsedate_to_datetime
from typing import Awaitable, Callable

from fastapi import Request

from posgraph import linked_data
from posgraph.api.state import app_state
from posgraph.errors import NotModified

__all__ = ["MAX_AGE", "cache_headers", "cached_body", "check_if_none_match", "etag", "is_cached", "last_version"]

MAX_AGE = "public, max-age=60"


def last_version(request: Request) -> linked_data.Version | None:
    """Return the dataset version this worker last read for an ETag (None before any): a guess, never an answer
    (whatever is served is read again)."""
    return app_state(request).last_version


def etag(request: Request, representation: str, version: linked_data.Version) -> str:
    """Return the ETag of ``representation`` of the request's URL at dataset ``version``."""
    key = f"{version.id}|{request.url.path}?{request.url.query}|{representation}"
    return '"' + hashlib.sha256(key.encode()).hexdigest()[:24] + '"'


def is_cached(request: Request, tag: str) -> bool:
    """Return True when this worker's representations cache holds a body under ETag ``tag``."""
    cache = app_state(request).representations
    return cache is not None and tag in cache


async def cache_headers(
    request: Request, representation: str, version: linked_data.Version | None = None, *, vary_accept: bool = True
) -> dict[str, str]:
    """Return ETag (dataset ``version``, read when not given, + URL + ``representation``), Last-Modified,
    Cache-Control, X-Posgraph-Version and, when the representation was negotiated, ``Vary: Accept``.

    Raises NotModified (a 304 carrying these headers) when the client's copy is current (If-None-Match, else
    If-Modified-Since).
    """
    state = app_state(request)
    version = state.last_version = version or await linked_data.dataset_version(state.engine)
    headers = {
        "ETag": etag(request, representation, version),
        "Cache-Control": MAX_AGE,
        "X-Posgraph-Version": version.id,
    }
    if vary_accept:
        headers["Vary"] = "Accept"
    if version.modified is not None:
        headers["Last-Modified"] = format_datetime(version.modified, usegmt=True)
    if request.headers.get("if-none-match") is not None:
        check_if_none_match(request, headers)
    elif version.modified is not None and request.headers.get("if-modified-since"):
        try:
            since = parsedate_to_datetime(request.headers["if-modified-since"])
        except (TypeError, ValueError):
            since = None
        if since is not None and version.modified.replace(microsecond=0) <= since:
            raise NotModified(headers)
    return headers


def check_if_none_match(request: Request, headers: dict[str, str]) -> None:
    """Raise NotModified (a 304 carrying ``headers``) when the request's If-None-Match names ``headers["ETag"]``
    (weak or strong) or is ``*``; return otherwise."""
    match = request.headers.get("if-none-match")
    if match is None:
        return
    if match.strip() == "*" or headers["ETag"] in {tag.strip().removeprefix("W/") for tag in match.split(",")}:
        raise NotModified(headers)


async def cached_body(request: Request, etag: str, render: Callable[[], Awaitable[bytes]]) -> bytes:
    """Return the body kept under ``etag`` in this worker's representations cache, or ``render()`` it and keep it
    (when the cache is turned off, render every time). Raises what ``render`` raises."""
    cache = app_state(request).representations  # None when turned off
    body = cache.get(etag) if cache is not None else None
    if body is None:
        body = await render()
        if cache is not None:
            cache[etag] = body
    return body
