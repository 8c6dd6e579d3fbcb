"""Who is calling: bearer tokens checked against the token store, and the role each action needs."""

from __future__ import annotations

from fastapi import Request

from posgraph.errors import Forbidden, Unauthorized
from posgraph.tokens import TokenRecord, role_allows

__all__ = ["require_role"]


def require_role(request: Request, role: str) -> TokenRecord:
    """Return the caller's token record if its role is ``role`` or higher.

    Raises Unauthorized (no or unknown token: 401) or Forbidden (a token whose role is too low: 403).
    """
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(f"this needs a bearer token with role {role} or higher")
    record = request.app.state.tokens.authenticate(token.strip())
    if record is None:
        raise Unauthorized("the token is unknown or revoked")
    if not role_allows(record.role, role):
        raise Forbidden(f"token {record.name!r} has role {record.role}; this needs {role} or higher")
    return record
