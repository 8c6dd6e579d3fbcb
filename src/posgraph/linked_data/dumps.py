"""Dumps of the whole published dataset: written atomically per dataset version and format, single-flight, and
exports for the command line."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator, BinaryIO

from posgraph.engine import Engine
from posgraph.errors import BadInput
from posgraph.linked_data.resources import Version

# ------------------------------------------------------------------------------------------ dumps
DUMP_FORMATS = {
    "nq": ("application/n-quads", False),
    "trig": ("application/trig", False),
    "ttl": ("text/turtle", True),
    "jsonld": ("application/ld+json", True),
}


@dataclass(frozen=True)
class Dump:
    """One generated dump: its file, size and SHA-256 (hex)."""

    path: Path
    size: int
    sha256: str


def _dump_description(directory: Path, extension: str) -> Path:
    return directory / f"posgraph.{extension}.json"


def read_dump(directory: Path, extension: str) -> Dump | None:
    """The dump in one format already written into ``directory`` (one dataset version's), or None."""
    try:
        info = json.loads(_dump_description(directory, extension).read_text())
    except (OSError, ValueError):
        return None
    path = directory / info["file"]
    return Dump(path, info["size"], info["sha256"]) if path.exists() else None


async def write_dump(engine: Engine, extension: str, directory: Path) -> Dump:
    """Write the published data in one format into ``directory`` and return it. Quad formats hold every graph;
    Turtle and JSON-LD the default graph.

    Safe against concurrent writers, in this process or others: the data goes to a temporary file of its own, is
    renamed (atomically) to a name carrying its digest, and only then is the description (size, SHA-256, file
    name) replaced, atomically too. So a reader of the description always finds a complete file with that digest.
    Raises an engine error (nothing is described then).
    """
    media_type, default_only = DUMP_FORMATS[extension]
    digest, size = hashlib.sha256(), 0
    directory.mkdir(parents=True, exist_ok=True)
    handle, scratch = tempfile.mkstemp(dir=directory, prefix=f".posgraph.{extension}.", suffix=".partial")
    try:
        os.fchmod(handle, 0o644)  # public data, like the files before (mkstemp makes them private)
        with os.fdopen(handle, "wb") as sink:
            async for chunk in engine.dump(media_type=media_type, default_graph_only=default_only, timeout=3600):
                sink.write(chunk)
                digest.update(chunk)
                size += len(chunk)
        name = f"posgraph.{extension}.{digest.hexdigest()[:16]}"
        os.replace(scratch, directory / name)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise
    dump = Dump(directory / name, size, digest.hexdigest())
    handle, scratch = tempfile.mkstemp(dir=directory, prefix=f".posgraph.{extension}.json.", suffix=".partial")
    with os.fdopen(handle, "w") as sink:
        json.dump({"file": name, "size": size, "sha256": dump.sha256}, sink)
    os.replace(scratch, _dump_description(directory, extension))
    return dump


# Dumps being written, by (directory, format): concurrent requests for the same one share a single writer.
_dumps_in_flight: dict[tuple[Path, str], asyncio.Task] = {}


async def dump_file(engine: Engine, dumps_dir: Path, version: Version, extension: str) -> Dump:
    """Return the dump of dataset ``version`` in one format, writing it first (once, however many ask at the same
    time) when it is not in ``dumps_dir`` yet. Raises an engine error."""
    directory = Path(dumps_dir) / version.id
    written = read_dump(directory, extension)
    if written is not None:
        return written
    key = (directory, extension)
    task = _dumps_in_flight.get(key)
    if task is None:
        task = asyncio.ensure_future(write_dump(engine, extension, directory))
        _dumps_in_flight[key] = task
        task.add_done_callback(lambda _: _dumps_in_flight.pop(key, None))
    # Shielded: a client that goes away does not cancel the dump the others are waiting for.
    return await asyncio.shield(task)


async def iter_file(path: Path, chunk: int = 1 << 16) -> AsyncIterator[bytes]:
    """Yield a file's bytes in chunks."""
    with open(path, "rb") as handle:
        while data := handle.read(chunk):
            yield data


# ------------------------------------------------------------------------------------------ exports (the command line)


async def export(engine: Engine, extension: str, sink: BinaryIO, *, timeout: float | None = None) -> int:
    """Write the published data in one of ``DUMP_FORMATS`` (quad formats: every graph; Turtle and JSON-LD: the
    default graph) to ``sink`` as the engine streams it; return the number of bytes written.

    ``timeout`` bounds each read (default the engine's). Raises an engine error, or OSError from ``sink``.
    """
    media_type, default_only = DUMP_FORMATS[extension]
    size = 0
    async for chunk in engine.dump(media_type=media_type, default_graph_only=default_only, timeout=timeout):
        sink.write(chunk)
        size += len(chunk)
    return size


async def export_to_file(engine: Engine, extension: str, path: Path, *, timeout: float | None = None) -> int:
    """Write the published data (as ``export``) to the file ``path``; return the number of bytes written.

    The data goes to ``path``.partial first, renamed only when complete, so ``path`` never holds half a dump.
    Raises BadInput (the file cannot be written) or an engine error; nothing is left behind either way.
    """

    partial = path.with_name(path.name + ".partial")
    try:
        with open(partial, "wb") as sink:
            size = await export(engine, extension, sink, timeout=timeout)
        partial.replace(path)
    except OSError as exc:
        raise BadInput(f"{path}: cannot write: {exc.strerror or exc}") from None
    finally:
        partial.unlink(missing_ok=True)
    return size
