"""A frontier in Redis, shared by every process (on one machine or many) with the same crawl id.

Keys all start with ``crawler:{ID}:`` (the braces are a hash tag: on Redis Cluster they all
live in one slot):

- ``s:LEVEL:BUCKET``: the seen set, 64-bit URL fingerprints (:func:`stable_fingerprint`, as
  signed decimals) in small sets of integers that Redis packs at 8 bytes a member, split as the
  crawl grows (linear hashing, ``seenstate``: see ``lua/lib.lua``); SADD is the dedupe test.
- ``q:HOST``: list of queued requests of one host (:func:`request_to_text`: a plain page in a
  compact line, others JSON); ``queued``: how many in all.
- ``ready``: sorted set of hosts that have queued requests and a free slot, scored by the
  earliest time (ms, Redis's clock) their next request may start; ``next``, ``busy`` and
  ``delay`` (hashes by host): that time, the slots in use (``--per-host`` across all
  processes), a host's own delay (Crawl-delay, throttling).
- ``leases`` (sorted set of lease ids by deadline), ``lease``/``lhost``/``slot`` (hashes by
  lease id): every request handed out is leased until its record is written (ack); one whose
  lease runs out (its process died) goes back to the head of its host's queue, and after
  ``retries`` + 1 lost leases to the ``dead`` list.
- ``owner``: redirect target fingerprint -> the fingerprint of the URL that redirected there
  first (the target is fetched as that URL's, once).
- ``done``: URLs acked; ``workers``: each process's last heartbeat (ms).

Every change is one Lua script that reads Redis's own clock (TIME), so processes on machines
with skewed clocks share one notion of "ready". A page's links go to Redis in one call.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Iterable
from importlib import resources
from typing import Any

from crawler.errors import FatalError
from crawler.frontier.base import JobStore
from crawler.frontier.codec import request_from_text, request_to_text
from crawler.frontier.seen import stable_fingerprint
from crawler.reconnect import Reconnecting
from crawler.work import CrawlRequest, Tracked

log = logging.getLogger("crawler")

# The scripts, in crawler/frontier/lua/: each change to the crawl's keys is one of them (lib.lua is
# prepended to each).
SCRIPTS = ("add", "get", "release", "retry", "ack", "give_back", "hold", "claim")


def script(name: str) -> str:
    """The Lua text of script ``name``."""
    lua = resources.files(__package__).joinpath("lua")
    text = lua.joinpath(f"{name}.lua").read_text("utf-8")
    return lua.joinpath("lib.lua").read_text("utf-8") + text



LEASE_BATCH = 32  # requests leased in one call at most (for the workers waiting at once)
POLL = 0.05  # seconds between looks at Redis while no host is ready (other processes add and release)
KNOWN_MAX = 1_000_000  # URLs a process remembers sending, to spare Redis known links (about 60 MB)


def key_prefix(crawl_id: str) -> str:
    """Where a crawl's keys live: ``crawler:{ID}:`` (a hash tag, for Redis Cluster)."""
    return f"crawler:{{{crawl_id}}}:"


def fingerprint(key: str) -> str:
    """What a URL is known by in the seen set: its 64-bit fingerprint as a signed decimal (the
    form Redis keeps in a set of integers)."""
    return str(stable_fingerprint(key))


class RedisFrontier:
    """The frontier of crawl ``crawl_id`` in the Redis at ``url``. Call :meth:`open` first and
    :meth:`aclose` last. See :class:`crawler.frontier.base.Frontier`; besides, :meth:`ack` ends
    the leases of URLs whose records are written, and :meth:`get` returns None once the whole
    crawl is over (no URL queued, no lease outstanding, in any process)."""

    job: JobStore | None = None  # nothing kept on disk
    shared = True  # several processes work on this frontier

    def __init__(self, url: str, crawl_id: str, per_host: int, delay: float, *, lease_timeout: float,
                 retries: int, worker: str, reconnect_for: float, max_pages: int) -> None:
        """The settings of the same names (their defaults are in ``defaults.toml``):
        ``lease_timeout``: seconds a URL handed to a process stays its own; ``reconnect_for``:
        seconds a lost Redis is waited for (a restart) before the crawl stops with a fatal error;
        ``max_pages``: the crawl's budget of URLs, counted in Redis for every process (0: none);
        ``worker`` names this process."""
        self.url = url
        self.max_pages = max_pages
        self.reconnect_for = reconnect_for
        self._calls = Reconnecting(url, "--frontier", reconnect_for)
        self.crawl_id = crawl_id
        self.prefix = key_prefix(crawl_id)
        self.per_host = per_host
        self.delay = delay
        self.lease_timeout = lease_timeout
        self.retries = retries
        self.worker = worker
        self.redis: Any = None
        self._scripts: dict[str, Any] = {}
        self._leases: dict[str, int] = {}  # URL -> lease id, for this process's requests
        # hash() of the URLs this process has sent to Redis (a str caches its hash; a clash,
        # about as likely as one of the 8-byte fingerprints, would skip a link).
        self._known: set[int] = set()
        self._queued = 0
        self._closed = False
        self._over = False  # the frontier said the whole crawl is over
        self._broken: FatalError | None = None  # a background call lost Redis
        self._wake = asyncio.Event()
        # Calls from many workers go to Redis together: leases fetched several at a time,
        # releases and adds gathered while a call is under way (one script call for them all).
        self._leased: deque[CrawlRequest] = deque()
        self._getters = 0
        self._pump: asyncio.Future[None] | None = None
        self._releases: list[int] = []
        self._releaser: asyncio.Future[None] | None = None
        self._adds: list[tuple[list[CrawlRequest], asyncio.Future[list[CrawlRequest]]]] = []
        self._adder: asyncio.Future[None] | None = None

    async def open(self) -> int:
        """Connect (a fatal error naming the server when it cannot be reached); 0 (a process's
        URLs are those it leases)."""
        import redis.asyncio
        from redis.exceptions import RedisError

        self.redis = redis.asyncio.from_url(self.url)
        try:
            await self.redis.ping()
        except (RedisError, OSError) as e:
            await self.redis.aclose()
            raise FatalError(f"--frontier: cannot reach Redis at {self.url}: {e}") from None
        for name in SCRIPTS:
            self._scripts[name] = self.redis.register_script(script(name))
        return 0

    async def aclose(self) -> None:
        """Disconnect."""
        if self.redis is not None:
            await self.redis.aclose()
            self.redis = None

    async def _run(self, name: str, *args: Any) -> Any:
        return await self._call(lambda: self._scripts[name](keys=[self.prefix], args=list(args)))

    async def _call(self, make: Any) -> Any:
        """``await make()``, through a Redis that may be restarting (:class:`Reconnecting`). Each
        script is one atomic step, so trying one again is safe, but for a reply lost on its way
        back: then a lease is taken twice (the first runs out, ``--lease-timeout``) or an add is
        reported as seen (its URLs are queued all the same)."""
        return await self._calls.call(make)

    def __len__(self) -> int:
        return self._queued

    async def add(self, requests: Iterable[CrawlRequest], *, queue: bool = True,
                  limit: int | None = None) -> list[CrawlRequest]:
        """Accept the requests never seen by any process (one call for them all, and for those
        other pages add meanwhile)."""
        requests = list(requests)
        if not requests:
            return []
        if not queue or limit is not None:
            return await self._add(requests, queue, limit)
        future: asyncio.Future[list[CrawlRequest]] = asyncio.get_running_loop().create_future()
        self._adds.append((requests, future))
        if self._adder is None or self._adder.done():
            self._adder = asyncio.ensure_future(self._flush_adds())
        return await future

    async def _flush_adds(self) -> None:
        while self._adds:
            batch, self._adds = self._adds, []
            flat = [r for requests, _ in batch for r in requests]
            try:
                accepted = {id(r) for r in await self._add(flat, True, None)}
            except Exception as e:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(e)
                continue
            for requests, future in batch:
                if not future.done():
                    future.set_result([r for r in requests if id(r) in accepted])

    async def _add(self, requests: list[CrawlRequest], queue: bool, limit: int | None) -> list[CrawlRequest]:
        known = self._known
        if len(known) > KNOWN_MAX:
            known.clear()  # a cache: Redis's seen set is the truth
        fps: list[str] = []
        items = []
        for r in requests:
            known.add(hash(r.key))
            fps.append(fingerprint(r.key))
            if queue:
                front = r.request is not None and getattr(r.request, "priority", 0) > 0
                items.append((r.host, request_to_text(r), 1 if front else 0))
        # Two arguments for the lot: packing one argument per field cost more than the fetch.
        accepted = await self._run("add", self.per_host, 1 if queue else 0, -1 if limit is None else limit,
                                   " ".join(fps), json.dumps(items) if items else "[]", self.max_pages or -1)
        if accepted and queue:
            self._wake.set()
        return [requests[int(i)] for i in accepted]

    async def claim(self, target: str, owner: str, depth: int = 0) -> bool:
        """Seen by any process now; ``owner`` keeps it (a hash of target -> owner)."""
        self._known.add(hash(target))
        return bool(await self._run("claim", fingerprint(target), fingerprint(owner)))

    async def unseen(self, urls: list[str]) -> list[str]:
        """Those of ``urls`` this process has not sent to Redis yet (``add`` makes the real
        test): most links of a page are known, and cost no request object, no JSON, no bytes
        on the wire."""
        known = self._known
        return [url for url in urls if hash(url) not in known]

    async def get(self) -> CrawlRequest | None:
        """The next request any host is ready for, leased to this process; None when closed or
        when the whole crawl is over."""
        self._getters += 1
        try:
            while not self._closed:
                if self._broken is not None:
                    raise self._broken
                if self._leased:
                    return self._leased.popleft()
                if self._over:
                    return None
                if self._pump is None or self._pump.done():
                    self._pump = asyncio.ensure_future(self._lease(min(self._getters, LEASE_BATCH)))
                await asyncio.shield(self._pump)
            return None
        finally:
            self._getters -= 1

    async def _lease(self, count: int) -> None:
        """Lease up to ``count`` requests into the local buffer, or wait a little for work."""
        answer = await self._run("get", self.per_host, int(self.lease_timeout * 1000), self.retries,
                                 self.worker, int(self.delay * 1000), count)
        kind = answer[0].decode() if isinstance(answer[0], bytes) else answer[0]
        self._queued = int(answer[2])
        if kind == "lease":
            for i in range(3, len(answer), 2):
                request = request_from_text(answer[i + 1])
                self._known.add(hash(request.key))  # seen, by whoever sent it
                self._leases[request.key] = int(answer[i])
                self._leased.append(request)
            return
        if kind == "done":
            self._over = True
            return
        # Nothing ready: wait for the soonest host (at most POLL, since other
        # processes add and release too), or for this process to add, release or close.
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), min(int(answer[1]) / 1000, POLL))
        except TimeoutError:
            pass

    async def release(self, request: CrawlRequest) -> None:
        """The fetch is over: free the host's slot (the lease lasts until :meth:`ack`). Slots
        freed while a release call is under way go in the next one."""
        lease = self._leases.get(request.key)
        if lease is None:
            return
        self._releases.append(lease)
        if self._releaser is None or self._releaser.done():
            self._releaser = asyncio.ensure_future(self._flush_releases())

    async def _flush_releases(self) -> None:
        while self._releases:
            batch, self._releases = self._releases, []
            try:
                await self._run("release", self.per_host, *batch)
            except FatalError as e:
                self._broken = e  # the next get() raises it
            self._wake.set()

    async def retry(self, request: CrawlRequest, wait: float) -> None:
        """Back to the head of its (fetch URL's) host queue, not before ``wait`` seconds; its
        lease ends."""
        lease = self._leases.pop(request.key, 0)
        await self._run("retry", self.per_host, lease, request.host, request_to_text(request), int(wait * 1000))
        self._wake.set()

    async def commit(self, urls: Iterable[str], meta: dict[str, str] | None = None,
                     validators: dict[str, tuple[str | None, str | None, str | None]] | None = None,
                     tracked: dict[str, Tracked] | None = None) -> None:
        """The records of ``urls`` are written: :meth:`ack` (``meta`` and ``validators`` are a
        durable store's; Redis keeps neither)."""
        await self.ack(urls)

    async def ack(self, urls: Iterable[str]) -> None:
        """The records of ``urls`` are written: their leases end, for good."""
        leases = [lease for lease in (self._leases.pop(url, None) for url in urls) if lease is not None]
        if leases:
            await self._run("ack", self.per_host, *leases)
            self._wake.set()

    async def give_back(self) -> None:
        """Put every URL this process leased and did not finish back at the head of its host's
        queue (a stopping process loses nothing and makes no one wait for its leases)."""
        for task in (self._releaser, self._adder):
            if task is not None and not task.done():
                await asyncio.wait([task])
        self._leased.clear()
        leases = list(self._leases.values())
        self._leases.clear()
        if leases and self.redis is not None:
            try:
                await self._run("give_back", self.per_host, *leases)
            except FatalError:  # Redis is gone: the leases will run out instead
                log.warning("%d URLs leased here go back to the queue when their leases run out", len(leases))

    async def hold(self, host: str, wait: float) -> None:
        """No start on ``host`` for ``wait`` seconds, in any process."""
        await self._run("hold", host, int(wait * 1000))

    async def set_delay(self, host: str, delay: float) -> None:
        """Space starts to ``host`` by ``delay`` seconds, in every process."""
        await self._call(lambda: self.redis.hset(self.prefix + "delay", host, int(delay * 1000)))

    async def settle(self) -> int:
        """The crawl ends when every process is done (:meth:`get` says so): 0."""
        return 0

    def has_work(self, host: str) -> bool:
        return True  # the host's queue is in Redis, for every process: its connections stay

    def close(self) -> None:
        """Hand out nothing more in this process."""
        self._closed = True
        self._wake.set()


async def crawl_status(url: str, crawl_id: str) -> dict[str, Any]:
    """Figures of a crawl for ``python -m crawler status``."""
    import redis.asyncio

    client = redis.asyncio.from_url(url, decode_responses=True)
    prefix = key_prefix(crawl_id)
    try:
        now_s, now_us = await client.time()
        now = now_s * 1000 + now_us // 1000
        workers = await client.hgetall(prefix + "workers")
        return {
            "crawl_id": crawl_id,
            "queued": int(await client.get(prefix + "queued") or 0),
            "leases": await client.zcard(prefix + "leases"),
            "done": int(await client.get(prefix + "done") or 0),
            "seen": int(await client.hget(prefix + "seenstate", "count") or 0),
            "hosts_ready": await client.zcard(prefix + "ready"),
            "hosts_busy": sum(1 for v in (await client.hvals(prefix + "busy")) if int(v) > 0),
            "dead": await client.llen(prefix + "dead"),
            "workers": {w: round((now - int(t)) / 1000, 1) for w, t in sorted(workers.items())},
        }
    finally:
        await client.aclose()
