"""The audit log: one JSON line per write (who, what, when), appended and never rewritten."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

__all__ = ["AuditLog"]


class AuditLog:
    """Appends records to a JSON Lines file (one ``write`` call per record, so lines never interleave)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def record(self, actor: str, action: str, **detail: Any) -> dict:
        """Append one record and return it."""
        entry = {
            "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "actor": actor,
            "action": action,
            **detail,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(entry, ensure_ascii=False, default=str) + "\n").encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
        return entry

    def read(self) -> list[dict]:
        """Every record, oldest first."""
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line]
