"""The output stage: one task drains the bounded output queue and writes records in batches
through aiofiles. A slow disk fills the queue, which slows the fetch workers (backpressure).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from typing import Any

import aiofiles
import aiofiles.os

from crawler.errors import FatalError, UsageError

STOP = None  # put on the queue to end the writer


class Done(dict):  # type: ignore[type-arg]
    """A URL's record that is counted but not written (a spider's output is its items)."""

    __slots__ = ()


class Item:
    """A spider's item on its way to the output: written, not counted as a URL's end."""

    __slots__ = ("data",)

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data


class Unchanged:
    """Put on the queue instead of a record: the URL is done, but nothing is written for it
    (``--changed-only`` and an unchanged page)."""

    __slots__ = ("url",)

    def __init__(self, url: str) -> None:
        self.url = url


class JsonLinesSink:
    """Records as JSON Lines (UTF-8, one object a line) in a file, or on stdout for ``-``.

    With ``resume_at`` the file is kept up to that many bytes (what a durable crawl committed)
    and written after it; without, it is truncated. ``offset`` is the length written so far.
    """

    def __init__(self, path: str, resume_at: int | None = None) -> None:
        self.path = path
        self.name = "stdout" if path == "-" else path
        self.resume_at = resume_at
        self.offset = 0
        self._file: Any = None

    async def open(self) -> None:
        """Open the output; a usage error when it cannot be written."""
        if self.path == "-":
            self._file = aiofiles.stdout_bytes
            return
        try:
            if self.resume_at is None:
                self._file = await aiofiles.open(self.path, "wb")
            else:
                self._file = await aiofiles.open(self.path, "ab")
                await self._file.truncate(self.resume_at)
                await self._file.seek(self.resume_at)
                self.offset = self.resume_at
        except OSError as e:
            raise UsageError(f"--output: cannot write {self.path}: {e.strerror}") from None

    @staticmethod
    def encode(entries: list[Any]) -> bytes:
        """The lines of ``entries``: records (dicts) and spider items (``.data``); :class:`Done`
        and :class:`Unchanged` write nothing."""
        dumps = json.dumps
        lines = []
        for e in entries:
            kind = type(e)
            if kind is dict:
                lines.append(dumps(e, ensure_ascii=False) + "\n")
            elif kind is not Done and kind is not Unchanged:
                lines.append(dumps(e.data, ensure_ascii=False) + "\n")
        return "".join(lines).encode("utf-8")

    async def write(self, data: bytes) -> None:
        """Write and flush ``data``; a fatal error naming the file when that fails."""
        try:
            await self._file.write(data)
            await self._file.flush()
        except OSError as e:
            raise FatalError(f"cannot write output {self.name}: {e.strerror or e}") from None
        self.offset += len(data)

    async def sync(self) -> None:
        """Make what is written durable (fsync) before a durable crawl commits it."""
        if self.path == "-":
            return
        try:
            await aiofiles.os.wrap(os.fsync)(self._file.fileno())
        except OSError as e:
            raise FatalError(f"cannot write output {self.name}: {e.strerror or e}") from None

    async def close(self) -> None:
        """Flush to disk and close (stdout is flushed, not closed)."""
        if self._file is None:
            return
        try:
            await self._file.flush()
            if self.path != "-":
                await aiofiles.os.wrap(os.fsync)(self._file.fileno())
                await self._file.close()
        except OSError as e:
            raise FatalError(f"cannot write output {self.name}: {e.strerror or e}") from None
        finally:
            self._file = None


# Extensions of formats that are planned but not written yet: refuse them rather than write
# JSON Lines into a file whose name promises something else.
_NOT_YET = (".jsonl.gz", ".json.gz", ".csv", ".warc", ".warc.gz")


def open_sink(path: str, fmt: str, resume_at: int | None = None) -> JsonLinesSink:
    """The sink for ``--output``/``--format`` (JSON Lines so far)."""
    if not fmt:
        for ext in _NOT_YET:
            if path.lower().endswith(ext):
                raise UsageError(f"--output: {ext} output is not supported yet; use a .jsonl file or "
                                 f"--format jsonl")
    return JsonLinesSink(path, resume_at)


async def write_loop(
    queue: asyncio.Queue[list[Any] | None],
    sink: JsonLinesSink,
    on_written: Callable[[list[dict[str, Any]]], Awaitable[None]],
    *,
    batch_size: int,
    flush_interval: float,
    must_write: Callable[[int], bool],
) -> None:
    """Drain ``queue`` (lists of entries: records, items, :class:`Done`, :class:`Unchanged`)
    into ``sink`` until :data:`STOP`.

    Records are written when those of ``batch_size`` URLs are waiting, when the oldest has waited
    ``flush_interval`` seconds, or when ``must_write(waiting)`` says so (the crawl can only end
    once they are out). ``on_written`` is called with each batch after it is written.
    """
    loop = asyncio.get_running_loop()
    pending: list[Any] = []
    ends = 0  # entries in pending that end a URL (all but items)
    oldest = 0.0
    stop = False
    while not stop:
        if pending:
            timeout = oldest + flush_interval - loop.time()
            try:
                item = queue.get_nowait() if not queue.empty() else await asyncio.wait_for(
                    queue.get(), max(timeout, 0.0))
            except TimeoutError:
                item = None
                timed_out = True
            else:
                timed_out = False
        else:
            item = await queue.get()
            timed_out = False
            oldest = loop.time()
        if item is STOP and not timed_out:
            stop = True
        elif item is not None:
            pending += item
            ends += sum(type(e) is not Item for e in item)
        if pending and (stop or timed_out or ends >= batch_size
                        or must_write(ends) or loop.time() - oldest >= flush_interval):
            await sink.write(sink.encode(pending))
            await on_written(pending)
            pending = []
            ends = 0
