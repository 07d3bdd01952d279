"""The writer task: it drains the bounded output queue and hands batches to the sink
(:mod:`crawler.output.files`), which writes them through aiofiles. A slow disk fills the queue,
which slows the fetch workers (backpressure). What travels on the queue is in :mod:`crawler.work`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from crawler.work import Done, OutputQueue, Unchanged

STOP = None  # put on the queue to end the writer


class Sink(Protocol):
    """Where the writer puts batches: a file or stdout (:class:`crawler.output.files.FileSink`),
    or a Redis stream (:class:`crawler.output.stream.RedisStreamSink`)."""

    path: str  # where it writes now (a rotated output: the part being written)

    @property
    def name(self) -> str:
        """The output for messages ("stdout" for -)."""

    @property
    def captures(self) -> bool:
        """Does it take HTTP exchanges (WARC) rather than records and items?"""

    async def open(self) -> None:
        """Open it (a usage error when that is not possible)."""

    async def write_entries(self, entries: list[Any]) -> None:
        """Encode and write a batch of output-queue entries (a fatal error when that fails)."""

    async def sync(self) -> None:
        """Make what is written durable (before a durable crawl commits it)."""

    def state(self) -> dict[str, str]:
        """Where the output stands, for a durable crawl's commit (its committed length...)."""

    async def close(self) -> None:
        """Flush and close it."""


async def write_loop(
    queue: OutputQueue,
    sink: Sink,
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
    ends = 0  # entries in pending that end a URL
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
            ends += sum(type(e) is Done or type(e) is Unchanged for e in item)
        if pending and (stop or timed_out or ends >= batch_size
                        or must_write(ends) or loop.time() - oldest >= flush_interval):
            await sink.write_entries(pending)
            await on_written(pending)
            pending = []
            ends = 0
