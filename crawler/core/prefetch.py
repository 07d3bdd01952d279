"""The discovery ramp, overlapped: a host's robots.txt (and with it its DNS, TCP and TLS) is
read as soon as the host is discovered, while its pages wait in the frontier, instead of by the
worker that takes its first page. On a far-away host that is about five round trips each host
no longer waits for at the start.

It stays within the host's limits: the fetch is the only request to the host until it is done
(a worker that takes one of the host's pages meanwhile waits for the same fetch, holding the
host's slot), and the host's delay (robots.txt's Crawl-delay included) is held after it. At most
``--concurrency`` / 4 (at least 4) are in flight; hosts discovered beyond that are read the
usual way.
Not with ``--use-sitemaps`` (the worker that reads robots.txt also queues its sitemaps)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

from crawler.fetch.politeness import Politeness
from crawler.fetch.robots import Robots
from crawler.frontier import Frontier
from crawler.settings import Settings
from crawler.urls import origin_of
from crawler.work import CrawlRequest

#: The share of --concurrency that robots.txt prefetches may take at most (and the least number
#: allowed, for small crawls).
PREFETCH_SHARE = 4
PREFETCH_LEAST = 4


class RobotsPrefetch:
    """Reads the robots.txt of newly discovered hosts in the background."""

    def __init__(self, settings: Settings, robots: Robots, politeness: Politeness, frontier: Frontier) -> None:
        self.robots = robots
        self.politeness = politeness
        self.frontier = frontier
        self.limit = max(PREFETCH_LEAST, settings.concurrency // PREFETCH_SHARE)
        self.started = 0  # prefetches begun (for the tests and the curious)
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def discovered(self, requests: Iterable[CrawlRequest]) -> None:
        """Start reading the robots.txt of the hosts of ``requests`` not known yet."""
        tasks, robots = self._tasks, self.robots
        seen: set[str] = set()
        for request in requests:
            if len(tasks) >= self.limit:
                return
            origin = origin_of(request.fetch_url)
            if origin in seen or origin in tasks:
                continue
            seen.add(origin)
            if robots.cached(origin) is None and not robots.loading(origin):
                self.started += 1
                tasks[origin] = asyncio.get_running_loop().create_task(self._read(origin, request.host))

    async def _read(self, origin: str, host: str) -> None:
        try:
            rules = await self.robots.load(origin)
            await self.politeness.apply_robots(host, rules)
            floor = self.politeness.floor(host)
            if floor:  # no page of the host starts sooner than its delay after this request
                await self.frontier.hold(host, floor)
        finally:
            self._tasks.pop(origin, None)

    async def close(self) -> None:
        """Stop the reads still going (the crawl is over)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task


__all__ = ["PREFETCH_LEAST", "PREFETCH_SHARE", "RobotsPrefetch"]
