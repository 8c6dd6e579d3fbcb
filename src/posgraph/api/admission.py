"""Admission of queries: how many one client may have in flight, how many anonymous ones may run at once in this
worker, and how much engine time an anonymous client may use per minute."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass
from typing import Awaitable, Callable, TypeVar

from fastapi import Request

from posgraph import metrics
from posgraph.api.requests import client_address
from posgraph.api.security import is_anonymous
from posgraph.api.state import app_state
from posgraph.errors import EngineTimeout, Overloaded, TooManyRequests

__all__ = ["QueryLimiter", "Ticket", "limited"]

T = TypeVar("T")


class QueryLimiter:
    """Admission of queries in this worker: what one client may have in flight, what all anonymous clients together
    may, and how many engine seconds an anonymous client may use per minute (a query that timed out counts twice
    its time: hostile queries cost the one who sends them)."""

    def __init__(self, per_client: int, *, concurrent: int, seconds_per_minute: float, window: float = 60.0) -> None:
        self.per_client, self.concurrent = per_client, concurrent
        self.seconds_per_minute, self.window = seconds_per_minute, window
        self._active: dict[str, int] = {}
        self._anonymous = 0
        self._spent: dict[str, deque[tuple[float, float]]] = {}  # client -> (finished at, seconds)

    def _used(self, client: str, now: float) -> float:
        spent = self._spent.get(client)
        if not spent:
            return 0.0
        while spent and spent[0][0] < now - self.window:
            spent.popleft()
        if not spent:
            del self._spent[client]
            return 0.0
        return sum(seconds for _, seconds in spent)

    def _retry_after(self, client: str, now: float) -> float:
        # When enough of the window's spending will have expired to bring the client under its budget again.
        spent, excess = self._spent[client], self._used(client, now) - self.seconds_per_minute
        for finished, seconds in spent:
            excess -= seconds
            if excess < 0:
                return max(1.0, finished + self.window - now)
        return self.window

    def admit(self, client: str, *, anonymous: bool = True) -> "Ticket":
        """Take a slot for one query of ``client``; give it back with ``release``.

        Raises TooManyRequests (the client's concurrent queries or, if anonymous, its engine seconds are used up;
        Retry-After says when to come back) or Overloaded (every anonymous slot of this worker is taken).
        """
        now = time.monotonic()
        if self._active.get(client, 0) >= self.per_client:
            metrics.queries_refused.labels(limit="per-client").inc()
            raise TooManyRequests(f"more than {self.per_client} concurrent queries from one client; retry shortly")
        if anonymous:
            if self._used(client, now) >= self.seconds_per_minute:
                metrics.queries_refused.labels(limit="seconds-per-minute").inc()
                raise TooManyRequests(
                    f"this client used its {self.seconds_per_minute:g} s of query time per minute; "
                    "send a token, or retry later",
                    retry_after=self._retry_after(client, now),
                )
            if self._anonymous >= self.concurrent:
                metrics.queries_refused.labels(limit="anonymous-concurrent").inc()
                raise Overloaded(f"{self.concurrent} anonymous queries are running; retry shortly")
            self._anonymous += 1
        self._active[client] = self._active.get(client, 0) + 1
        metrics.queries_in_flight.inc()
        return Ticket(client, anonymous, now)

    def release(self, ticket: "Ticket", *, timed_out: bool) -> None:
        """Give back ``ticket``'s slot and charge its client the engine time used (twice that if it timed out)."""
        self._active[ticket.client] -= 1
        metrics.queries_in_flight.dec()
        if not self._active[ticket.client]:
            del self._active[ticket.client]
        if ticket.anonymous:
            self._anonymous -= 1
            finished = time.monotonic()
            cost = (2.0 if timed_out else 1.0) * (finished - ticket.started)
            self._spent.setdefault(ticket.client, deque()).append((finished, cost))


@dataclass
class Ticket:
    """One admitted query: whose, whether metered, since when, and whether its client stopped waiting."""

    client: str
    anonymous: bool
    started: float
    gave_up: bool = False


async def limited(request: Request, run: Callable[[], Awaitable[T]], wait: float) -> T:
    """Run ``run()`` (a query) under the admission limits and return its result, waiting at most ``wait`` seconds.

    A client's shorter ``timeout`` only shortens its wait: the query goes on until the engine answers or reaches
    the server's deadline (where the engine stops it), still holding the client's slot and charged to it, so a short
    timeout neither frees a slot early nor makes the engine abandon work it would finish. Raises what
    ``QueryLimiter.admit`` raises, EngineTimeout when the wait ends first, or what ``run`` raises.
    """
    limiter = app_state(request).limiter
    ticket = limiter.admit(client_address(request), anonymous=is_anonymous(request))
    try:
        task = asyncio.ensure_future(run())
    except BaseException:
        # ``run()`` failed before there was a task to release the slot when done: a slot kept here would be kept for
        # good, and a client repeating the request would take every slot of the worker.
        limiter.release(ticket, timed_out=False)
        raise

    def finished(done: asyncio.Future) -> None:
        failed = None if done.cancelled() else done.exception()
        limiter.release(ticket, timed_out=ticket.gave_up or isinstance(failed, EngineTimeout))

    task.add_done_callback(finished)
    try:
        return await asyncio.wait_for(asyncio.shield(task), wait)
    except TimeoutError:
        ticket.gave_up = True
        raise EngineTimeout(f"no answer within the {wait:g} s asked for") from None
