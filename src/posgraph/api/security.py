"""Who is calling: bearer tokens checked against the token store, the role each action needs, and a brake on
guessing: a client address with too many failed attempts is refused for a while, whatever it sends."""

from __future__ import annotations

import time
from collections import deque

from fastapi import Request

from posgraph.api.requests import client_address
from posgraph.api.state import app_state
from posgraph.errors import Forbidden, TooManyRequests, Unauthorized
from posgraph.tokens import TokenRecord, role_allows

__all__ = ["require_role", "is_anonymous", "FailedAttempts"]


class FailedAttempts:
    """Failed authentications per client address, in a sliding window (per worker process)."""

    def __init__(self, limit: int = 10, window: float = 60.0) -> None:
        self.limit, self.window = limit, window
        self._seen: dict[str, deque[float]] = {}

    def _recent(self, client: str) -> deque[float]:
        attempts = self._seen.setdefault(client, deque())
        cutoff = time.monotonic() - self.window
        while attempts and attempts[0] < cutoff:
            attempts.popleft()
        return attempts

    def check(self, client: str) -> None:
        """Raise TooManyRequests if ``client`` failed too often lately."""
        if len(self._recent(client)) >= self.limit:
            raise TooManyRequests(f"too many failed authentications from this address; wait {self.window:g} s")

    def record(self, client: str) -> None:
        """Count one failed authentication."""
        self._recent(client).append(time.monotonic())


def require_role(request: Request, role: str) -> TokenRecord:
    """Return the caller's token record if its role is ``role`` or higher.

    Raises TooManyRequests (too many failures from this address: 429), Unauthorized (no or unknown token: 401)
    or Forbidden (a token whose role is too low: 403).
    """
    state = app_state(request)
    failures = state.auth_failures
    client = client_address(request)
    failures.check(client)
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(f"this needs a bearer token with role {role} or higher")
    record = state.tokens.authenticate(token.strip())
    if record is None:
        failures.record(client)
        raise Unauthorized("the token is unknown or revoked")
    if not role_allows(record.role, role):
        raise Forbidden(f"token {record.name!r} has role {record.role}; this needs {role} or higher")
    return record


def is_anonymous(request: Request) -> bool:
    """Return True for a request without an Authorization header, False for one with a valid token of any role (the
    limits meant for anonymous clients do not apply to it).

    A wrong or unusable token is not taken for anonymity: raises as ``require_role`` (401, counted towards the
    address's failed attempts; 429 after too many).
    """
    if "authorization" not in request.headers:
        return True
    require_role(request, "reader")
    return False
