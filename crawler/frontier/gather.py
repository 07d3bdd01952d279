"""Adds gathered into calls to a store: the links of pages that many workers add while a call is
under way go together in the next one, and up to :data:`ADD_CALLS` calls are under way at once,
so the store (Redis, the SQLite thread) runs one call while this process makes the next ready.

Redis takes at most :data:`ADD_BATCH` URLs a call (:func:`take`), so the workers whose links a
finished call took are at their next pages while Redis runs the other (135,000 URLs/s accepted in
``bench/bench_frontier.py``, was 80,000). SQLite takes every add waiting: each call there costs
the event loop a hand-over to the database thread, and smaller calls slowed a crawl whose pages
link 1,000 URLs from 56,000 to 37,000 URLs/s (``bench/bench_scale.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sized
from typing import Any

ADD_CALLS = 2  # add calls under way at once
ADD_BATCH = 1000  # URLs a Redis call takes when more wait behind it (at least one add's whole)


class Flushers:
    """The tasks that run ``flush`` (which empties a list of pending adds): :meth:`start` makes
    one unless :data:`ADD_CALLS` run already."""

    def __init__(self, flush: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._flush = flush
        self.tasks: set[asyncio.Future[None]] = set()

    def start(self) -> None:
        if len(self.tasks) < ADD_CALLS:
            task = asyncio.ensure_future(self._flush())
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def wait(self) -> None:
        """Until the calls under way are over."""
        if self.tasks:
            await asyncio.wait(list(self.tasks))


def take(pending: list[Any], most: int = ADD_BATCH) -> tuple[list[Any], list[Any]]:
    """``pending`` adds (each an item whose first element holds its URLs) cut after the first
    that brings their URLs to ``most``: (the next call's, the rest)."""
    size = 0
    for taken, add in enumerate(pending, 1):
        urls: Sized = add[0]
        size += len(urls)
        if size >= most:
            return pending[:taken], pending[taken:]
    return pending, []
