"""Typed exceptions shared by every layer. They carry facts, never HTTP status codes (api/problems.py maps them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "PosgraphError",
    "BadInput",
    "RdfSyntaxError",
    "QuerySyntaxError",
    "InvalidParameter",
    "UnsupportedMediaType",
    "NotAcceptable",
    "NotConformant",
    "NotFound",
    "EngineError",
    "EngineUnavailable",
    "EngineTimeout",
    "EngineStartError",
    "ConfigError",
    "QueryRefused",
    "PayloadTooLarge",
    "AnswerTooLarge",
    "TooManyRequests",
    "Unauthorized",
    "Forbidden",
    "Conflict",
    "NotModified",
    "Overloaded",
    "WorkTimeout",
    "WorkerFailed",
]


class PosgraphError(Exception):
    """Base class of every error posgraph raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __reduce__(self):
        # Errors raised in worker processes travel back pickled; rebuild them from their attributes, since the
        # subclasses' constructors take other arguments than the formatted message Exception keeps.
        return (_rebuild, (self.__class__, self.__dict__))


def _rebuild(cls: type, state: dict) -> "PosgraphError":
    error = cls.__new__(cls)
    Exception.__init__(error, state.get("message", ""))
    error.__dict__.update(state)
    return error


class BadInput(PosgraphError):
    """The caller sent something posgraph cannot use."""


class RdfSyntaxError(BadInput):
    """An RDF document does not parse; ``line`` and ``column`` are 1-based where the parser knows them."""

    def __init__(self, source: str, message: str, line: int | None = None, column: int | None = None) -> None:
        self.source, self.line, self.column, self.detail = source, line, column, message
        where = source if line is None else f"{source}:{line}" + ("" if column is None else f":{column}")
        super().__init__(f"{where}: {message}")


class QuerySyntaxError(BadInput):
    """A SPARQL query or update does not parse (the engine's or parser's message is kept)."""


class InvalidParameter(BadInput):
    """A named parameter (query-string, saved-query or CLI option) has a bad value."""

    def __init__(self, name: str, message: str) -> None:
        self.name = name
        super().__init__(f"parameter {name!r}: {message}")


class UnsupportedMediaType(BadInput):
    """A request body or file is in a format posgraph does not accept."""


class NotAcceptable(PosgraphError):
    """No representation matches what the client accepts."""


class NotFound(PosgraphError):
    """The named resource, query or batch does not exist."""


@dataclass
class NotConformant(PosgraphError):
    """Data failed SHACL validation; ``report`` (a validation.ValidationReport: named, not imported, since errors sit
    below every other layer) lists every result; ``rendered``, when a worker already encoded it, is that report as
    posgraph's flat JSON (bytes), for the answer to use as it is."""

    report: Any
    source: str = "data"
    rendered: bytes | None = None

    def __post_init__(self) -> None:
        super().__init__(
            f"{self.source} does not conform to the posgraph shapes ({self.report.violation_count} violation(s))"
        )


class EngineError(PosgraphError):
    """The engine answered with an error posgraph did not expect."""


class EngineUnavailable(EngineError):
    """The engine cannot be reached (not started yet, restarting, or gone)."""


class EngineTimeout(EngineError):
    """The engine did not answer within the deadline."""


class EngineStartError(PosgraphError):
    """The managed engine could not be started (binary missing, data directory unusable, port in use)."""


class ConfigError(PosgraphError):
    """A setting is missing or invalid."""


class QueryRefused(BadInput):
    """A query uses a feature the public endpoint refuses (SERVICE, LOAD …)."""


class PayloadTooLarge(BadInput):
    """A request body or upload is larger than the configured limit."""


class AnswerTooLarge(PayloadTooLarge):
    """An engine answer is over the service's byte cap in a format that cannot be cut (Turtle, RDF/XML, JSON-LD)."""


class TooManyRequests(PosgraphError):
    """A client already has as many requests in flight, or used as much, as it may; ``retry_after`` is in seconds."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unauthorized(PosgraphError):
    """No credentials, or credentials that match no active token."""


class Forbidden(PosgraphError):
    """Valid credentials whose role does not allow the action."""


class Conflict(PosgraphError):
    """The request contradicts the resource's state (a batch already decided, content already submitted)."""

    def __init__(self, message: str, existing: str | None = None) -> None:
        super().__init__(message)
        self.existing = existing


class NotModified(PosgraphError):
    """The client's cached copy is current; ``validators`` are the caching headers to send back with the 304."""

    def __init__(self, validators: dict[str, str]) -> None:
        super().__init__("not modified")
        self.validators = validators


class Overloaded(PosgraphError):
    """The service is at its limit for work of this kind (all query slots or worker processes busy); retry later."""


class WorkTimeout(PosgraphError):
    """CPU-heavy work (parsing, validating, serialising) passed its wall-clock limit; its process was ended."""


class WorkerFailed(PosgraphError):
    """A worker process died doing the work (over its memory cap, or killed); nothing else was affected."""
