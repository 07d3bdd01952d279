"""The cache lane: with ``--http-cache``, requests the cache can answer skip the frontier's
per-host scheduling (the site is not asked, so there is no one to be polite to) and are handled
by a few tasks of their own. Only for a frontier of this process alone (memory): a durable or
shared store must hold every request it accepts, so there cached answers come in turn."""

from __future__ import annotations

import asyncio

from crawler.fetch.cache import HttpCache, cache_key
from crawler.fetch.robots import Robots
from crawler.urls import origin_of
from crawler.work import PAGE, CrawlRequest

#: Tasks that handle the lane's requests (each reads a file, then the page goes to the parser).
LANE_TASKS = 8


class CacheLane:
    """Accepted requests with an answer in the HTTP cache, waiting for a lane task."""

    def __init__(self, cache: HttpCache, robots: Robots | None, tasks: int = LANE_TASKS) -> None:
        self.cache = cache
        self.robots = robots
        self.tasks = tasks
        self._queue: asyncio.Queue[CrawlRequest | None] = asyncio.Queue()

    def answers(self, request: CrawlRequest) -> bool:
        """Can the cache answer ``request`` now (a page, its host's robots.txt known)?"""
        if request.kind != PAGE or (self.robots is not None and self.robots.cached(origin_of(request.url)) is None):
            return False
        return self.cache.has(cache_key(request.method, request.fetch_url, request.payload(), False))

    def put(self, requests: list[CrawlRequest]) -> None:
        """Queue accepted requests (counted outstanding already)."""
        for request in requests:
            self._queue.put_nowait(request)

    async def get(self) -> CrawlRequest | None:
        """The next request; None once the lane is closed."""
        return await self._queue.get()

    def close(self) -> None:
        """End the lane's tasks (each takes one None)."""
        for _ in range(self.tasks):
            self._queue.put_nowait(None)


__all__ = ["LANE_TASKS", "CacheLane"]
