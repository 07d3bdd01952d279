"""A frontier in Redis, shared by every process (on one machine or many) with the same crawl id.
The keys and where they live (one server or a Redis Cluster's parts, a crawl begun by 0.1):
:mod:`.redis_parts`. Every change is one Lua script that reads Redis's own clock (TIME), so processes on machines
with skewed clocks share one notion of "ready". A page's links go to Redis in one call (a call a
part). On a cluster, a redirect to a host of another part is three steps: the lease here checked
and renewed, the request queued there, the lease here ended (``handover.lua``, ``move.lua``,
``retry.lua``): a process killed between them leaves its lease to run out, so the URL is fetched
once more, never lost; and the crawl is over when every part said so twice with no lease taken
anywhere in between (:meth:`RedisFrontier._lease`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from typing import Any

from crawler.errors import FatalError
from crawler.frontier import redis_parts as parts
from crawler.frontier.base import JobStore
from crawler.frontier.codec import request_from_text, request_to_text
from crawler.frontier.gather import ADD_BATCH, Flushers, take
from crawler.frontier.redis_parts import SCRIPTS, fingerprint, key_prefix, part_prefixes, script
from crawler.reconnect import Reconnecting
from crawler.redisconn import connect
from crawler.settings.masking import mask_url
from crawler.work import CrawlRequest, Tracked, key_host, shard_of

log = logging.getLogger("crawler")

LEASE_BATCH = 32  # requests leased in one call at most (for the workers waiting at once)
POLL = 0.05  # seconds between looks at Redis while no host is ready (other processes add and release)
KNOWN_MAX = 1_000_000  # URLs a process remembers sending, to spare Redis known links (about 60 MB)


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
        self._calls = Reconnecting(mask_url(url), "--frontier", reconnect_for)
        self.crawl_id = crawl_id
        self.prefix = key_prefix(crawl_id)  # the crawl-wide keys'
        self.prefixes = [self.prefix]  # each part's (one on one server; see open())
        self.legacy = False  # a crawl begun by crawler 0.1 (its seen set asked too: see redis_parts)
        self.per_host = per_host
        self.delay = delay
        self.lease_timeout = lease_timeout
        self.retries = retries
        self.worker = worker
        self.redis: Any = None
        self._scripts: dict[str, Any] = {}
        self._leases: dict[str, tuple[int, int]] = {}  # URL -> (part, lease id), for this process's requests
        # hash() of the URLs this process has sent to Redis (a str caches its hash; a clash,
        # about as likely as one of the 8-byte fingerprints, would skip a link).
        self._known: set[int] = set()
        self._queued: dict[int, int] = {}  # each part's queued URLs, as last heard
        self._hot: set[int] = set()  # the parts that leased to this process last time it asked
        self._over_lids: list[int] | None = None  # every part over at the last look: its lease counters
        self._closed = False
        self._over = False  # the frontier said the whole crawl is over
        self._broken: FatalError | None = None  # a background call lost Redis
        self._wake = asyncio.Event()
        # Calls from many workers go to Redis together: leases fetched several at a time,
        # releases and adds gathered while a call is under way (one script call for them all).
        self._leased: deque[CrawlRequest] = deque()
        self._getters = 0
        self._pump: asyncio.Future[None] | None = None
        self._releases: list[tuple[int, int]] = []
        self._releaser: asyncio.Future[None] | None = None
        self._adds: list[tuple[list[CrawlRequest], asyncio.Future[list[CrawlRequest]]]] = []
        self._adders = Flushers(self._flush_adds)

    async def open(self) -> int:
        """Connect (a fatal error naming the server when it cannot be reached); 0 (a process's
        URLs are those it leases)."""
        from redis.exceptions import RedisClusterException, RedisError

        try:
            self.redis, cluster = await connect(self.url)
        except (RedisError, RedisClusterException, OSError, ValueError) as e:
            raise FatalError(f"--frontier: cannot reach Redis at {mask_url(self.url)}: {e}") from None
        self.prefixes = part_prefixes(self.crawl_id, cluster)
        self.legacy = await parts.begun_by_01(self.redis, self.crawl_id, cluster)
        for name in SCRIPTS:
            self._scripts[name] = self.redis.register_script(script(name))
        return 0

    async def aclose(self) -> None:
        """Disconnect."""
        if self.redis is not None:
            await self.redis.aclose()
            self.redis = None

    async def _run(self, name: str, *args: Any, part: int = 0, prefix: str | None = None) -> Any:
        """Run script ``name`` in ``part`` (or on the keys of ``prefix``)."""
        keys = [prefix or self.prefixes[part]]
        return await self._call(lambda: self._scripts[name](keys=keys, args=list(args)))

    def _part(self, host: str) -> int:
        """The part that keeps ``host``'s keys (0 on one server)."""
        parts = len(self.prefixes)
        return 0 if parts == 1 else shard_of(host, parts)

    async def _call(self, make: Any) -> Any:
        """``await make()``, through a Redis that may be restarting (:class:`Reconnecting`). Each
        script is one atomic step, so trying one again is safe, but for a reply lost on its way
        back: then a lease is taken twice (the first runs out, ``--lease-timeout``) or an add is
        reported as seen (its URLs are queued all the same)."""
        return await self._calls.call(make)

    def __len__(self) -> int:
        return sum(self._queued.values())

    async def add(self, requests: Iterable[CrawlRequest], *, queue: bool = True,
                  limit: int | None = None) -> list[CrawlRequest]:
        """Accept the requests never seen by any process (one call for them all, and for those
        other pages add meanwhile)."""
        requests = list(requests)
        if not requests:
            return []
        if not queue or limit is not None:
            return [requests[i] for i in await self._add(requests, queue, limit)]
        future: asyncio.Future[list[CrawlRequest]] = asyncio.get_running_loop().create_future()
        self._adds.append((requests, future))
        self._adders.start()
        return await future

    async def _flush_adds(self) -> None:
        while self._adds:  # (see crawler/frontier/gather.py; on a cluster, a call a part)
            batch, self._adds = take(self._adds, ADD_BATCH * len(self.prefixes))
            flat = [r for requests, _ in batch for r in requests]
            try:
                accepted = await self._add(flat, True, None)  # positions in flat, in order
            except Exception as e:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(e)
                continue
            start, a = 0, 0
            for requests, future in batch:  # each add's own, by position (one object may be in two)
                end, mine = start + len(requests), []
                while a < len(accepted) and accepted[a] < end:
                    mine.append(flat[accepted[a]])
                    a += 1
                start = end
                if not future.done():
                    future.set_result(mine)

    async def _add(self, requests: list[CrawlRequest], queue: bool, limit: int | None) -> list[int]:
        """The positions in ``requests`` of those accepted, in order."""
        known = self._known
        if len(known) > KNOWN_MAX:
            known.clear()  # a cache: Redis's seen set is the truth
        for r in requests:
            known.add(hash(r.key))
        if len(self.prefixes) == 1:
            accepted = await self._add_to(0, requests, range(len(requests)), queue, limit, self.max_pages or -1)
        else:
            accepted = await self._add_parts(requests, queue, limit)
        if accepted and queue:
            self._wake.set()
        return accepted

    async def _add_parts(self, requests: list[CrawlRequest], queue: bool, limit: int | None) -> list[int]:
        """On a cluster: each part accepts its hosts' URLs (one call a part, at once). The
        budget is reserved first in the crawl's own slot and what the parts turned away given
        back (a process killed in between leaves its reservation unspent: fewer pages, never
        more)."""
        parts: dict[int, list[int]] = defaultdict(list)
        for i, r in enumerate(requests):
            parts[self._part(r.host)].append(i)
        granted = 0
        if self.max_pages:
            asked = len(requests) if limit is None else min(limit, len(requests))
            limit = granted = int(await self._run("budget", asked, self.max_pages, prefix=self.prefix))
        if limit is None:
            answers = await asyncio.gather(*(self._add_to(p, requests, i, queue, None, -1) for p, i in parts.items()))
            accepted = [i for answer in answers for i in answer]
        else:
            accepted = []
            for p, indices in parts.items():
                if len(accepted) < limit:
                    accepted += await self._add_to(p, requests, indices, queue, limit - len(accepted), -1)
        if granted > len(accepted) or (accepted and not self.max_pages):  # (counted without a budget too)
            n = len(accepted) - granted
            await self._run("budget", n, self.max_pages or -1, prefix=self.prefix)
        return sorted(accepted)

    async def _add_to(self, part: int, requests: list[CrawlRequest], indices: Sequence[int], queue: bool,
                      limit: int | None, budget: int) -> list[int]:
        """Those of ``requests[indices]`` that ``part`` accepts (never seen): their indices."""
        fps: list[str] = []
        items = []
        for i in indices:
            r = requests[i]
            fps.append(fingerprint(r.key))
            if queue:
                front = r.request is not None and getattr(r.request, "priority", 0) > 0
                items.append((r.host, request_to_text(r), 1 if front else 0))
        # Two arguments for the lot: packing one argument per field cost more than the fetch.
        legacy = [b"".join(parts.legacy_fingerprint(requests[i].key) for i in indices)] if self.legacy else []
        accepted = await self._run("add", self.per_host, 1 if queue else 0, -1 if limit is None else limit,
                                   " ".join(fps), json.dumps(items) if items else "[]", budget, *legacy, part=part)
        return [indices[int(j)] for j in accepted]

    async def claim(self, target: str, owner: str, depth: int = 0) -> bool:
        """Seen by any process now; ``owner`` keeps it (a hash of target -> owner)."""
        self._known.add(hash(target))
        part = self._part(key_host(target))
        legacy = [parts.legacy_fingerprint(target), parts.legacy_fingerprint(owner)] if self.legacy else []
        return bool(await self._run("claim", fingerprint(target), fingerprint(owner), *legacy, part=part))

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
        """Lease up to ``count`` requests into the local buffer, or wait a little for work. On a
        cluster, from the parts that leased last time, else from every part at once."""
        sweep = not self._hot or len(self.prefixes) == 1
        parts = range(len(self.prefixes)) if sweep else sorted(self._hot)
        each = max(1, count // len(parts))
        args = (self.per_host, int(self.lease_timeout * 1000), self.retries, self.worker, int(self.delay * 1000), each)
        if len(parts) == 1:
            answers = [await self._run("get", *args, part=parts[0])]
        else:
            answers = await asyncio.gather(*(self._run("get", *args, part=p) for p in parts))
        wait, lids, leased = 1000, [], False
        for part, answer in zip(parts, answers, strict=True):
            kind = answer[0].decode() if isinstance(answer[0], bytes) else answer[0]
            self._queued[part] = int(answer[2])
            if kind == "lease":
                leased = True
                self._hot.add(part)
                for i in range(3, len(answer), 2):
                    request = request_from_text(answer[i + 1])
                    self._known.add(hash(request.key))  # seen, by whoever sent it
                    self._leases[request.key] = (part, int(answer[i]))
                    self._leased.append(request)
                continue
            self._hot.discard(part)
            if kind == "done":
                lids.append(int(answer[3]))
            else:
                wait = min(wait, int(answer[1]))
        if leased or not sweep:
            return  # (parts that ran dry: every part is looked at next time, at once)
        if len(lids) == len(parts):
            # Every part is over. The parts were asked one after another, not at one instant:
            # on a cluster the crawl is over when they say so twice with no lease taken in any
            # part in between (work that came into a part after its answer would have been leased).
            if len(parts) == 1 or lids == self._over_lids:
                self._over = True
                return
            self._over_lids = lids
            return
        self._over_lids = None
        # Nothing ready: wait for the soonest host (at most POLL, since other
        # processes add and release too), or for this process to add, release or close.
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), min(wait / 1000, POLL))
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
                await self._each_part("release", batch)
            except FatalError as e:
                self._broken = e  # the next get() raises it
            self._wake.set()

    async def _each_part(self, name: str, leases: Iterable[tuple[int, int]]) -> None:
        """Script ``name`` on ``leases`` (part, id): one call a part, at once."""
        parts: dict[int, list[int]] = defaultdict(list)
        for part, lease in leases:
            parts[part].append(lease)
        await asyncio.gather(*(self._run(name, self.per_host, *ids, part=p) for p, ids in parts.items()))

    async def retry(self, request: CrawlRequest, wait: float) -> None:
        """Back to the head of its (fetch URL's) host queue, not before ``wait`` seconds; its
        lease ends."""
        target = self._part(request.host)
        part, lease = self._leases.pop(request.key, (target, 0))
        text, ms = request_to_text(request), int(wait * 1000)
        if part == target:
            await self._run("retry", self.per_host, lease, request.host, text, ms, part=part)
        else:  # a redirect to a host of another part (a cluster): the lease here renewed, the request
            # queued there, then the lease here ended
            keep = max(int(self.lease_timeout * 1000), 60_000)
            if lease and not await self._run("handover", lease, keep, part=part):
                return  # the lease ran out: the request is back in its queue there, someone else's now
            token = f"{part}.{lease}" if lease else uuid.uuid4().hex
            await self._run("move", self.per_host, request.host, text, ms, token, keep, part=target)
            if lease:
                await self._run("retry", self.per_host, lease, "", "", 0, part=part)
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
            await self._each_part("ack", leases)
            self._wake.set()

    async def give_back(self) -> None:
        """Put every URL this process leased and did not finish back at the head of its host's
        queue (a stopping process loses nothing and makes no one wait for its leases)."""
        if self._releaser is not None and not self._releaser.done():
            await asyncio.wait([self._releaser])
        await self._adders.wait()
        self._leased.clear()
        leases = list(self._leases.values())
        self._leases.clear()
        if leases and self.redis is not None:
            try:
                await self._each_part("give_back", leases)
            except FatalError:  # Redis is gone: the leases will run out instead
                log.warning("%d URLs leased here go back to the queue when their leases run out", len(leases))

    async def hold(self, host: str, wait: float) -> None:
        """No start on ``host`` for ``wait`` seconds, in any process."""
        await self._run("hold", host, int(wait * 1000), part=self._part(host))

    async def set_delay(self, host: str, delay: float) -> None:
        """Space starts to ``host`` by ``delay`` seconds, in every process."""
        key = self.prefixes[self._part(host)] + "delay"
        await self._call(lambda: self.redis.hset(key, host, int(delay * 1000)))

    async def settle(self) -> int:
        """The crawl ends when every process is done (:meth:`get` says so): 0."""
        return 0

    def has_work(self, host: str) -> bool:
        return True  # the host's queue is in Redis, for every process: its connections stay

    def close(self) -> None:
        """Hand out nothing more in this process."""
        self._closed = True
        self._wake.set()
