"""The frontier interface: the URL queue with dedupe and per-host scheduling.

A store (in memory here; SQLite and Redis later) implements :class:`Frontier`. The engine
relies only on this interface:

- ``add`` accepts new URLs (dedupe by normalized URL) and reports which were new;
- ``get`` hands out the request whose host is ready soonest, waiting while no host is ready,
  so a slow or delayed host never holds up the others;
- ``release`` returns a host's slot once its fetch is over (``--per-host`` counts slots, and
  ``--delay`` spaces request starts to one host);
- ``retry`` puts a request back at the head of its host's queue and keeps the host back for a
  while (backoff, ``Retry-After``);
- ``hold`` and ``set_delay`` move a host's next start (backoff, Crawl-delay, throttling);
- ``close`` wakes every waiter with ``None``: the crawl is over or stopping.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from crawler.request import CrawlRequest


class Frontier(Protocol):
    """Queue of URLs to fetch, with dedupe and per-host scheduling."""

    def add(self, requests: Iterable[CrawlRequest], queue: bool = True) -> list[CrawlRequest]:
        """Accept the requests whose URLs were never seen and return those; with
        ``queue=False`` they are only marked seen (their records are made without a fetch)."""
        ...

    def seen(self, url: str) -> bool:
        """Was ``url`` ever accepted?"""
        ...

    async def get(self) -> CrawlRequest | None:
        """The next request to fetch, taking a slot of its host; None once closed."""
        ...

    def release(self, request: CrawlRequest) -> None:
        """The fetch of ``request`` is over: free its host slot."""
        ...

    def retry(self, request: CrawlRequest, wait: float) -> None:
        """Fetch ``request`` again, not before ``wait`` seconds; its host waits as long."""
        ...

    def hold(self, host: str, wait: float) -> None:
        """Start nothing on ``host`` (``host[:port]``) for ``wait`` seconds."""
        ...

    def set_delay(self, host: str, delay: float) -> None:
        """Space request starts to ``host`` by ``delay`` seconds from now on."""
        ...

    def host_delay(self, host: str) -> float:
        """The delay in force for ``host``."""
        ...

    def close(self) -> None:
        """Hand out nothing more; every ``get`` returns None."""
        ...

    def __len__(self) -> int:
        """Requests queued and not yet handed out."""
        ...
