"""The in-memory frontier: per-host FIFO queues and a heap of host ready times.

Scheduling follows the readiness of hosts, not the order URLs arrived in: a host is in the heap
while it has queued URLs and a free slot (``per_host``), keyed by the earliest time its next
request may start (``delay`` after the previous start, later after a backoff). ``get`` pops the
host that is ready soonest, so a worker never waits on a host that is not ready while another is.
"""

from __future__ import annotations

import asyncio
import heapq
from collections import deque
from collections.abc import Iterable

from crawler.request import CrawlRequest


class _Host:
    __slots__ = ("in_flight", "in_heap", "next_start", "queue")

    def __init__(self) -> None:
        self.queue: deque[CrawlRequest] = deque()
        self.in_flight = 0
        self.next_start = 0.0
        self.in_heap = False


class MemoryFrontier:
    """A frontier held in this process's memory. See :class:`crawler.frontier.base.Frontier`."""

    def __init__(self, per_host: int, delay: float = 0.0) -> None:
        self.per_host = per_host
        self.delay = delay
        self._seen: set[str] = set()
        self._hosts: dict[str, _Host] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._counter = 0  # tie-breaker: hosts ready at the same time go in FIFO order
        self._queued = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False

    def __len__(self) -> int:
        return self._queued

    @property
    def host_count(self) -> int:
        """Hosts known to the frontier."""
        return len(self._hosts)

    def seen(self, url: str) -> bool:
        return url in self._seen

    def add(self, requests: Iterable[CrawlRequest]) -> list[CrawlRequest]:
        accepted = []
        seen = self._seen
        for request in requests:
            if request.url in seen:
                continue
            seen.add(request.url)
            accepted.append(request)
            host = self._hosts.get(request.host)
            if host is None:
                host = self._hosts[request.host] = _Host()
            host.queue.append(request)
            self._queued += 1
            self._schedule(request.host, host)
        if accepted:
            self._wake()
        return accepted

    def _schedule(self, name: str, host: _Host) -> None:
        if not host.in_heap and host.queue and host.in_flight < self.per_host:
            host.in_heap = True
            self._counter += 1
            heapq.heappush(self._heap, (host.next_start, self._counter, name))

    async def get(self) -> CrawlRequest | None:
        loop = asyncio.get_running_loop()
        while not self._closed:
            if self._heap:
                ready_at, _, name = self._heap[0]
                now = loop.time()
                if ready_at <= now:
                    heapq.heappop(self._heap)
                    host = self._hosts[name]
                    host.in_heap = False
                    request = host.queue.popleft()
                    self._queued -= 1
                    host.in_flight += 1
                    host.next_start = now + self.delay
                    self._schedule(name, host)
                    if self._heap and self._waiters:
                        self._wake()  # more may be ready: pass the turn on
                    return request
                self._arm_timer(loop, ready_at)
            waiter = loop.create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                if not waiter.done():
                    waiter.cancel()
                try:
                    self._waiters.remove(waiter)
                except ValueError:
                    pass
        return None

    def _arm_timer(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        if self._timer is not None and self._timer.when() <= when:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._wake()

    def _wake(self) -> None:
        """Wake one waiting ``get``; it passes the turn on when more work is ready."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def release(self, request: CrawlRequest) -> None:
        host = self._hosts[request.host]
        host.in_flight -= 1
        if host.queue and not host.in_heap:
            self._schedule(request.host, host)
            self._wake()

    def retry(self, request: CrawlRequest, wait: float) -> None:
        host = self._hosts[request.host]
        now = asyncio.get_running_loop().time()
        host.next_start = max(host.next_start, now + wait)
        host.queue.appendleft(request)
        self._queued += 1
        if host.in_heap:
            # Its heap entry holds the old ready time: rebuild that entry.
            self._heap = [e for e in self._heap if e[2] != request.host]
            heapq.heapify(self._heap)
            host.in_heap = False
        self._schedule(request.host, host)
        self._wake()

    def close(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
