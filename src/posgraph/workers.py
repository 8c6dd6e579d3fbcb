"""Worker processes for CPU-heavy work: parsing and checking SPARQL, SHACL validation, parsing and serialising RDF.

Such work never runs on the event loop (it would freeze every other request) and never runs unbounded: each task
goes to a process of a small pool, with a wall-clock limit after which that process is ended (a thread could not be
stopped), and each process has an address-space cap. The functions sent must be importable top-level functions whose
arguments and results pickle.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import resource
import sys
import threading
from concurrent.futures import CancelledError
from typing import Any, Callable, TypeVar

from pebble import ProcessExpired, ProcessPool

from posgraph.errors import Overloaded, WorkerFailed, WorkTimeout

__all__ = ["WorkerPool", "preload_in_workers", "run", "with_deep_stack"]

T = TypeVar("T")
_STACK_BYTES = 256 * 1024 * 1024
_RECURSION_LIMIT = 200_000


# What the forkserver imports once, for every worker it forks. It is one per process and reads its list when it
# starts (at the first pool's first worker): the list is the union of every pool's, not the last pool's.
_PRELOAD: set[str] = set()


def preload_in_workers(*modules: str) -> None:
    """Have the worker processes' forkserver import ``modules`` once, before it forks any worker (a call after the
    first pool has started a worker has no effect). A program whose main module imports much should name what
    it imports: each new worker imports the main module again itself (Python's own preload of "__main__" does
    not take a script), and what the forkserver holds already costs it nothing."""
    _PRELOAD.update(modules)
    multiprocessing.get_context("forkserver").set_forkserver_preload(sorted(_PRELOAD))


def _ready() -> bool:
    return True


def _limit_memory(memory_mb: int | None) -> None:  # runs in each worker process as it starts
    if memory_mb:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


class WorkerPool:
    """``processes`` worker processes; ``run`` sends one task and awaits its result.

    At most ``max_pending`` tasks wait or run at once (beyond: Overloaded), so a flood is refused rather than queued
    without end. A process is replaced after ``max_tasks`` tasks, so no slow leak outlives it.
    """

    def __init__(
        self,
        processes: int,
        *,
        timeout: float,
        memory_mb: int | None = None,
        max_pending: int | None = None,
        max_tasks: int = 200,
        preload: tuple[str, ...] = ("posgraph.guard", "posgraph.validation", "posgraph.formats"),
    ) -> None:
        self.processes, self.timeout = processes, timeout
        self.max_pending = max_pending or processes * 8
        self._pending = 0
        self._lock = threading.Lock()
        # forkserver: a worker is forked from a clean server process, never from this threaded one.
        context = multiprocessing.get_context("forkserver")
        preload_in_workers(*preload)
        self._pool = ProcessPool(
            max_workers=processes,
            max_tasks=max_tasks,
            initializer=_limit_memory,
            initargs=(memory_mb,),
            context=context,
        )

    async def run(self, function: Callable[..., T], *args: Any, timeout: float | None = None) -> T:
        """Run ``function(*args)`` in a worker process and return its result (its exceptions are re-raised here).

        Raises Overloaded (too many tasks pending), WorkTimeout (past ``timeout``, default the pool's: the process
        is ended), WorkerFailed (the process died, e.g. over its memory cap).
        """
        with self._lock:
            if self._pending >= self.max_pending:
                raise Overloaded("all worker processes are busy; retry shortly")
            self._pending += 1
        limit = timeout or self.timeout
        try:
            future = self._pool.schedule(function, args=args, timeout=limit)
            try:
                return await asyncio.wrap_future(future)
            except TimeoutError:
                raise WorkTimeout(f"the work took longer than {limit:g} s and was stopped") from None
            except ProcessExpired as exc:
                raise WorkerFailed(f"the worker process died ({exc})") from None
            except CancelledError:
                future.cancel()  # the caller went away: pebble ends the process doing the work
                raise
            except MemoryError:
                raise WorkerFailed("the work needed more memory than a worker process may use") from None
        finally:
            with self._lock:
                self._pending -= 1

    async def start(self) -> None:
        """Start every worker process now (one no-op task each), so the first request does not wait for them."""
        await asyncio.gather(*(self.run(_ready) for _ in range(self.processes)))

    def close(self) -> None:
        """Stop the worker processes (tasks still running are ended)."""
        self._pool.stop()
        self._pool.join(timeout=5)


async def run(pool: WorkerPool | None, function: Callable[..., T], *args: Any, timeout: float | None = None) -> T:
    """Run ``function(*args)`` in ``pool``; without a pool (the command line: one trusted user) in a thread.

    Raises what ``WorkerPool.run`` raises, and whatever ``function`` raises.
    """
    if pool is None:
        return await asyncio.to_thread(function, *args)
    return await pool.run(function, *args, timeout=timeout)


def with_deep_stack(function: Callable[..., T], *args: Any) -> T:
    """Call ``function(*args)`` in a thread with a large stack and recursion limit, and return its result.

    Recursive-descent parsers (rdflib's SPARQL parser) need a deep stack for nested input that is still ordinary
    (fifty nested groups exceed Python's default limit); the wall-clock limit of the worker bounds the cost.
    Re-raises what ``function`` raises.
    """
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = function(*args)
        except BaseException as exc:  # handed to the calling thread
            outcome["error"] = exc

    with _DEEP_LOCK:  # the stack size of new threads and the recursion limit are process-wide
        old_stack, old_limit = threading.stack_size(_STACK_BYTES), sys.getrecursionlimit()
        sys.setrecursionlimit(max(old_limit, _RECURSION_LIMIT))
        try:
            thread = threading.Thread(target=target, name="deep-stack")
            thread.start()
            thread.join()
        finally:
            threading.stack_size(old_stack)
            sys.setrecursionlimit(old_limit)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


_DEEP_LOCK = threading.Lock()
