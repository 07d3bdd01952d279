"""Per-host scheduling: each host's queue of requests and a heap of host ready times, the half
of a frontier that decides what is fetched next (without dedupe, without storage).

Scheduling follows the readiness of hosts, not the order URLs arrived in: a host is in the heap
while it has queued URLs and a free slot (``per_host``), keyed by the earliest time its next
request may start (its delay after the previous start, later after a backoff). ``get`` pops the
host that is ready soonest, so a worker never waits on a host that is not ready while another is.
A host whose ready time moves while it is in the heap gets a fresh entry; the old one is skipped
when it surfaces (lazy deletion), so every change costs O(log hosts).
"""

from __future__ import annotations

import asyncio
import heapq
from collections import deque
from collections.abc import Iterable

from crawler.work import CrawlRequest


class _Host:
    __slots__ = ("delay", "entry", "hold_until", "in_flight", "last_start", "queue")

    def __init__(self) -> None:
        self.queue: deque[CrawlRequest] = deque()
        self.in_flight = 0
        self.hold_until = 0.0  # no start before this (backoff, Retry-After)
        self.last_start = float("-inf")
        self.delay: float | None = None  # None: the frontier's delay
        self.entry = 0  # sequence number of this host's valid heap entry; 0: not in the heap


class HostScheduler:
    """Per-host queues of requests and the heap of host ready times: the scheduling half of a
    frontier, without dedupe. :class:`MemoryFrontier` pairs it with a set of seen URLs; a
    durable store keeps a window of its pending URLs here."""

    def __init__(self, per_host: int, delay: float = 0.0) -> None:
        self.per_host = per_host
        self.delay = delay
        self._hosts: dict[str, _Host] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._counter = 0  # heap entry numbers; also the FIFO tie-break between equal times
        self._queued = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False

    def __len__(self) -> int:
        return self._queued

    def push(self, requests: Iterable[CrawlRequest]) -> None:
        """Queue ``requests`` at the back of their hosts' queues (at the front when their
        spider request has a positive ``priority``)."""
        pushed = False
        for request in requests:
            host = self._host(request.host)
            if request.request is not None and getattr(request.request, "priority", 0) > 0:
                host.queue.appendleft(request)
            else:
                host.queue.append(request)
            self._queued += 1
            pushed = True
            if not host.entry:
                self._schedule(request.host, host)
        if pushed:
            self._wake()

    def _host(self, name: str) -> _Host:
        host = self._hosts.get(name)
        if host is None:
            host = self._hosts[name] = _Host()
        return host

    def _schedule(self, name: str, host: _Host) -> None:
        """(Re)enter ``host`` in the heap at its ready time if it can take a request."""
        if host.queue and host.in_flight < self.per_host:
            delay = self.delay if host.delay is None else host.delay
            self._counter += 1
            host.entry = self._counter
            heapq.heappush(self._heap, (max(host.last_start + delay, host.hold_until), self._counter, name))
        else:
            host.entry = 0

    async def get(self) -> CrawlRequest | None:
        loop = asyncio.get_running_loop()
        heap, hosts = self._heap, self._hosts
        while not self._closed:
            while heap and hosts[heap[0][2]].entry != heap[0][1]:
                heapq.heappop(heap)  # a stale entry
            if heap:
                ready_at, _, name = heap[0]
                now = loop.time()
                if ready_at <= now:
                    heapq.heappop(heap)
                    host = hosts[name]
                    request = host.queue.popleft()
                    self._queued -= 1
                    host.in_flight += 1
                    host.last_start = now
                    self._schedule(name, host)
                    if heap and self._waiters:
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

    async def release(self, request: CrawlRequest) -> None:
        host = self._hosts[request.host]
        host.in_flight -= 1
        if host.queue and not host.entry:
            self._schedule(request.host, host)
            self._wake()

    async def retry(self, request: CrawlRequest, wait: float) -> None:
        host = self._host(request.host)  # a redirect may lead to a host not seen before
        host.queue.appendleft(request)
        self._queued += 1
        host.hold_until = max(host.hold_until, asyncio.get_running_loop().time() + wait)
        self._schedule(request.host, host)
        self._wake()

    async def hold(self, name: str, wait: float) -> None:
        """Start nothing on host ``name`` for ``wait`` seconds (backoff, Retry-After)."""
        host = self._host(name)
        host.hold_until = max(host.hold_until, asyncio.get_running_loop().time() + wait)
        if host.entry:
            self._schedule(name, host)
            self._wake()

    async def set_delay(self, name: str, delay: float) -> None:
        """Space request starts to host ``name`` by ``delay`` seconds from now on
        (robots.txt Crawl-delay, adaptive throttling)."""
        host = self._host(name)
        if host.delay == delay:
            return
        host.delay = delay
        if host.entry:
            self._schedule(name, host)
            self._wake()

    async def settle(self) -> int:
        return self._queued

    def has_work(self, host: str) -> bool:
        entry = self._hosts.get(host)
        return entry is not None and (bool(entry.queue) or entry.in_flight > 0)

    def close(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
