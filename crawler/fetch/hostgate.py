"""Politeness shared by the crawls of one process: ``crawler serve``'s API calls and the MCP
server's tools, each a crawl of its own, all through one :class:`HostGate`.

A crawl's frontier spaces and limits its own requests to a host; two crawls of one site at once
would each do so and give the site twice the load. The gate holds across them: at most
``per_host`` requests in flight to a host and request starts at least its delay apart, whichever
crawl sends them; a Crawl-delay or a backoff one crawl learns holds for every crawl (the gate is
a :class:`crawler.fetch.politeness.HostClock` too); and robots.txt is fetched once an origin
for all of them (the gate is a :class:`crawler.fetch.robots.RobotsStore`: the first crawl to ask
fetches it, the others wait for its answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import AsyncIterator

ROBOTS_KEPT = 10_000  # origins whose robots.txt answer is kept, at most (the least recently used go)
ROBOTS_WAIT = 60.0  # seconds a crawl waits for another's fetch of the same robots.txt, at most
HOSTS_KEPT = 10_000  # idle hosts remembered (their next start, learned delay) before the oldest go


class _Host:
    __slots__ = ("busy", "delay", "freed", "next")

    def __init__(self) -> None:
        self.busy = 0  # requests in flight
        self.next = 0.0  # loop time before which no request may start
        self.delay = 0.0  # a delay learned (Crawl-delay, autothrottle) above the gate's own
        self.freed = asyncio.Event()


class HostGate:
    """Per-host limits, delays and robots.txt answers shared by every crawl given the gate."""

    def __init__(self, per_host: int, delay: float) -> None:
        self.per_host = max(1, per_host)
        self.delay = delay
        self._hosts: OrderedDict[str, _Host] = OrderedDict()
        self._robots: OrderedDict[str, tuple[str, str, float, str]] = OrderedDict()
        self._loading: dict[str, asyncio.Future[None]] = {}
        self.waited = 0.0  # seconds requests spent waiting at the gate, in all

    def _host(self, host: str) -> _Host:
        found = self._hosts.get(host)
        if found is None:
            found = self._hosts[host] = _Host()
            if len(self._hosts) > HOSTS_KEPT + HOSTS_KEPT // 10:
                self._forget()  # a tenth at a time: not a pass over every host for each new one
        else:
            self._hosts.move_to_end(host)
        return found

    def _forget(self) -> None:
        now = asyncio.get_running_loop().time()
        idle = [name for name, h in self._hosts.items() if h.busy == 0 and h.next <= now]
        for name in idle[: len(self._hosts) - HOSTS_KEPT]:  # the least recently used first
            del self._hosts[name]

    def in_flight(self, host: str) -> int:
        """Requests to ``host`` (``host[:port]``) in flight now."""
        found = self._hosts.get(host)
        return found.busy if found is not None else 0

    @contextlib.asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        """Wait for a turn at ``host`` (``host[:port]``), hold it while the request runs."""
        loop = asyncio.get_running_loop()
        h = self._host(host)
        began = loop.time()
        while True:
            now = loop.time()
            if h.busy >= self.per_host:
                h.freed.clear()
                await h.freed.wait()
            elif now < h.next:
                await asyncio.sleep(h.next - now)
            else:
                break
        h.busy += 1
        h.next = loop.time() + max(self.delay, h.delay)
        self.waited += loop.time() - began
        try:
            yield
        finally:
            h.busy -= 1
            h.freed.set()

    # HostClock: what one crawl's politeness learns holds for all.
    async def hold(self, host: str, wait: float) -> None:
        """Start nothing on ``host`` for ``wait`` seconds (a backoff)."""
        h = self._host(host)
        h.next = max(h.next, asyncio.get_running_loop().time() + wait)

    async def set_delay(self, host: str, delay: float) -> None:
        """Space request starts to ``host`` by ``delay`` seconds (at least the gate's own)."""
        self._host(host).delay = delay

    # RobotsStore: one fetch of an origin's robots.txt for every crawl.
    async def robots_get(self, origin: str) -> tuple[str, str, float, str] | None:
        """The answer kept for ``origin``; None when the caller is to fetch it (another crawl
        fetching it already is waited for, up to :data:`ROBOTS_WAIT` seconds)."""
        kept = self._robots.get(origin)
        if kept is not None and kept[2] > time.time():
            self._robots.move_to_end(origin)
            return kept
        loading = self._loading.get(origin)
        if loading is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(loading), ROBOTS_WAIT)
            kept = self._robots.get(origin)
            return kept if kept is not None and kept[2] > time.time() else None
        self._loading[origin] = asyncio.get_running_loop().create_future()
        return None

    def robots_text(self, origin: str) -> str | None:
        """The robots.txt of ``origin`` as last read ("" when there was none; None: not read)."""
        kept = self._robots.get(origin)
        return kept[1] if kept is not None else None

    async def robots_put(self, origin: str, mode: str, text: str, expires: float, reason: str) -> None:
        """Keep ``origin``'s answer, and wake the crawls waiting for it."""
        self._robots[origin] = (mode, text, expires, reason)
        self._robots.move_to_end(origin)
        while len(self._robots) > ROBOTS_KEPT:
            self._robots.popitem(last=False)
        loading = self._loading.pop(origin, None)
        if loading is not None and not loading.done():
            loading.set_result(None)


__all__ = ["HostGate"]
