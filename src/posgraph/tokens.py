"""Bearer tokens with roles, stored hashed (SHA-256 of 256 random bits) in a JSON file, compared in constant time.

A token reads ``pgt_<id>_<secret>``: the id finds the record, the secret is checked against its hash. The secret
itself is shown once, at creation, and never stored.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import secrets
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from posgraph.errors import BadInput, NotFound

__all__ = ["ROLES", "TokenRecord", "TokenStore", "role_allows"]

ROLES = ("reader", "curator", "reviewer", "admin")
_DUMMY_HASH = hashlib.sha256(b"posgraph: no such token").hexdigest()


def role_allows(role: str, needed: str) -> bool:
    """True if ``role`` is ``needed`` or ranks above it (reader < curator < reviewer < admin)."""
    return ROLES.index(role) >= ROLES.index(needed)


@dataclass(frozen=True)
class TokenRecord:
    """What is kept about a token: never its secret."""

    id: str
    name: str
    role: str
    created: str
    sha256: str
    revoked: str | None = None

    def public(self) -> dict:
        """The record without its hash, for listings."""
        return {k: v for k, v in asdict(self).items() if k != "sha256"}


class TokenStore:
    """Tokens in one JSON file; safe for several processes (an exclusive lock guards each write)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._cache: tuple[float, dict[str, TokenRecord]] | None = None

    def _read(self) -> dict[str, TokenRecord]:
        try:
            mtime = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return {}
        if self._cache is None or self._cache[0] != mtime:
            data = json.loads(self.path.read_text(encoding="utf-8") or "{}")
            self._cache = (mtime, {t["id"]: TokenRecord(**t) for t in data.get("tokens", [])})
        return self._cache[1]

    @contextmanager
    def _locked(self) -> Iterator[dict[str, TokenRecord]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._cache = None
            records = dict(self._read())
            yield records
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"tokens": [asdict(r) for r in records.values()]}, indent=1))
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)  # readers see the old file or the new one, never half of one
            self._cache = None

    def create(self, name: str, role: str) -> tuple[TokenRecord, str]:
        """Create a token; return its record and the secret token text (shown once). Raises BadInput."""
        if role not in ROLES:
            raise BadInput(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
        if not name.strip():
            raise BadInput("a token needs a name")
        secret = secrets.token_urlsafe(32)
        with self._locked() as records:
            if any(r.name == name and r.revoked is None for r in records.values()):
                raise BadInput(f"an active token named {name!r} exists; revoke it first")
            token_id = secrets.token_hex(4)
            record = TokenRecord(
                token_id,
                name,
                role,
                datetime.now(timezone.utc).isoformat(timespec="seconds"),
                hashlib.sha256(secret.encode()).hexdigest(),
            )
            records[token_id] = record
        return record, f"pgt_{token_id}_{secret}"

    def list(self) -> list[TokenRecord]:
        """Every token record, oldest first."""
        return sorted(self._read().values(), key=lambda r: r.created)

    def revoke(self, name_or_id: str) -> TokenRecord:
        """Revoke the active token with this name or id and return it; raises NotFound."""
        with self._locked() as records:
            for record in records.values():
                if record.revoked is None and name_or_id in (record.id, record.name):
                    revoked = replace(record, revoked=datetime.now(timezone.utc).isoformat(timespec="seconds"))
                    records[record.id] = revoked
                    return revoked
        raise NotFound(f"no active token named or numbered {name_or_id!r}")

    def authenticate(self, token: str) -> TokenRecord | None:
        """Return the active record the token text belongs to, or None. The secret's hash is compared in
        constant time, and an unknown id costs the same comparison as a known one."""
        prefix, _, rest = token.partition("_")
        token_id, _, secret = rest.partition("_")
        record = self._read().get(token_id) if prefix == "pgt" else None
        expected = record.sha256 if record is not None else _DUMMY_HASH
        given = hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()
        if not hmac.compare_digest(expected, given) or record is None or record.revoked is not None:
            return None
        return record
