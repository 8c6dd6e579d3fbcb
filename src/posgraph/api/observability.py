"""Request ids, per-route metrics and one structured (JSON) log line per request."""

from __future__ import annotations

import json
import logging
import os
import re
import time
import uuid

from fastapi import FastAPI, Request
from starlette.responses import Response

from posgraph import metrics

__all__ = ["install_observability", "request_id", "JsonLogFormatter"]

access_log = logging.getLogger("posgraph.access")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_WORKER = str(os.getpid())  # which web worker answered (several run with `posgraph serve --workers N`)


def request_id(request: Request) -> str | None:
    """The id of the request being answered (echoed in X-Request-ID and in problem+json bodies)."""
    return getattr(request.state, "request_id", None)


class JsonLogFormatter(logging.Formatter):
    """Formats log records as one JSON object per line (time, level, logger, message, and any extra fields)."""

    _STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in self._STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def install_observability(app: FastAPI) -> None:
    """Give every request an id (the client's X-Request-ID if it is a sane token), count and time it per route,
    and log it as one structured line."""

    @app.middleware("http")
    async def observe(request: Request, call_next) -> Response:
        given = request.headers.get("x-request-id", "")
        request.state.request_id = given if _SAFE_ID.match(given) else uuid.uuid4().hex[:16]
        started = time.perf_counter()
        response = await call_next(request)
        elapsed = time.perf_counter() - started
        route = getattr(request.scope.get("route"), "path", "unmatched")
        metrics.requests.labels(route=route, method=request.method, status=str(response.status_code)).inc()
        metrics.latency.labels(route=route).observe(elapsed)
        response.headers["X-Request-ID"] = request.state.request_id
        response.headers["X-Posgraph-Worker"] = _WORKER
        access_log.info(
            "request",
            extra={
                "request_id": request.state.request_id,
                "method": request.method,
                "route": route,
                "status": response.status_code,
                "duration_ms": round(elapsed * 1000, 2),
                "client": request.client.host if request.client else None,
            },
        )
        return response
