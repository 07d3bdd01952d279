"""A site's URLs found by following its links: a bounded, polite breadth-first crawl that keeps
the links it sees and writes nothing, for the service's ``map`` of a site whose sitemaps list
too few URLs. It *is* a crawl (robots.txt, the host's politeness, the SSRF guard, the domain's
scope), of at most ``max_pages`` pages and ``max_runtime`` seconds, stopped once ``limit`` URLs
are known."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Collection, Iterator
from typing import Any

from crawler.core.engine import Engine
from crawler.core.fetchone import quiet
from crawler.fetch.hostgate import HostGate
from crawler.settings import Settings
from crawler.spider import Request, Response, Spider


class _Finder(Spider):
    """Follows every link from ``starts`` and keeps each one it sees in ``found`` (in order)."""

    def __init__(self, starts: list[str], found: dict[str, None], limit: int) -> None:
        super().__init__(name="map")
        self.starts = starts
        self.found = found
        self.limit = limit
        self.engine: Engine | None = None
        self.pages = 0

    async def start(self) -> AsyncIterator[str | Request]:
        for url in self.starts:
            yield url

    def parse(self, response: Response) -> Iterator[Request]:
        self.pages += 1
        for link in response.links():
            if link in self.found:
                continue
            if len(self.found) >= self.limit:
                if self.engine is not None:
                    _enough(self.engine)
                return
            self.found[link] = None
            yield Request(link)


def _enough(engine: Engine) -> None:
    """Stop the walk quietly (at its limit, or its time: the caller's, not ``--max-runtime``), once."""
    if not engine.state.stopping.is_set():
        engine.stop("limit")


async def discover(settings: Settings, starts: list[str], found: dict[str, None], *, limit: int, max_pages: int,
                   max_runtime: float, gate: HostGate | None = None,
                   private_hosts: Collection[str] | None = None) -> int:
    """Add to ``found`` the URLs that links lead to from the pages ``starts`` (a site's page's
    links on its domain: breadth first, on ``settings``' scope), until ``limit`` are known,
    ``max_pages`` pages were fetched or ``max_runtime`` seconds went by; the pages fetched.
    ``gate`` and ``private_hosts`` as :class:`Engine` takes them."""
    if not starts:
        return 0
    finder = _Finder(starts, found, limit)
    crawl: dict[str, Any] = {"max_pages": max_pages, "max_runtime": 0, "max_depth": -1}
    engine = Engine(dataclasses.replace(quiet(settings), **crawl), [], spider=finder, gate=gate,
                    private_hosts=private_hosts)
    finder.engine = engine
    bound = asyncio.get_running_loop().call_later(max(1.0, max_runtime), _enough, engine)
    try:
        await engine.run()
    finally:
        bound.cancel()
    return finder.pages


__all__ = ["discover"]
