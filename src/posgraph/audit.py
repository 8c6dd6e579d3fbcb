"""The audit log: one JSON line per write (who, what, when), appended and never rewritten.

A write whose effect must never go unrecorded (publishing a batch) is logged as an attempt: a line before the
write, flushed to disk, with ``outcome: "pending"`` and an ``entry`` id; then a line with the same ``entry`` and
the outcome (``done``, ``failed`` with the error's class, or ``interrupted`` when the request was cancelled and
the engine may still have committed). A process killed in between leaves the first line: the write is accounted
for, and the public store's state says whether it happened.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

__all__ = ["AuditLog"]


class AuditLog:
    """Appends records to a JSON Lines file (one ``write`` call per record, so lines never interleave)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def record(self, actor: str, action: str, **detail: Any) -> dict:
        """Append one record and return it."""
        return self._append({"actor": actor, "action": action, **detail}, sync=False)

    @contextmanager
    def attempt(self, actor: str, action: str, **detail: Any) -> Iterator[str]:
        """Record a write before it is made (on disk, ``outcome: "pending"``), run the block, then record its
        outcome under the same ``entry`` id, which the block receives. The block's exceptions propagate."""
        entry = secrets.token_hex(8)
        self._append({"actor": actor, "action": action, **detail, "entry": entry, "outcome": "pending"}, sync=True)
        try:
            yield entry
        except (asyncio.CancelledError, KeyboardInterrupt):
            self._append({"actor": actor, "action": action, "entry": entry, "outcome": "interrupted"}, sync=False)
            raise
        except BaseException as exc:
            outcome = {"outcome": "failed", "error": type(exc).__name__}
            self._append({"actor": actor, "action": action, "entry": entry, **outcome}, sync=False)
            raise
        self._append({"actor": actor, "action": action, "entry": entry, "outcome": "done"}, sync=False)

    def _append(self, fields: dict, *, sync: bool) -> dict:
        entry = {"time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), **fields}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(entry, ensure_ascii=False, default=str) + "\n").encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
            if sync:  # an attempt's line must outlive a crash of the machine, not only of this process
                os.fsync(fd)
        finally:
            os.close(fd)
        return entry

    def read(self) -> list[dict]:
        """Every record, oldest first."""
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line]
