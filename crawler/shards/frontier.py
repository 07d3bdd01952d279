"""A frontier split by host among the processes of one machine (``--workers N`` without Redis).

Each process (a *shard*) owns the hosts whose hash falls to it (:func:`shard_of`) and keeps
them in its own store (memory, or SQLite in its part of the job); it alone fetches them, so
per-host limits, delays and robots.txt stay one process's business. :class:`ShardedFrontier`
wraps that store: a URL for a host another shard owns goes to that shard (a call through the
coordinator, answered once the owner has added it, so a page is committed only after the links
it found are in their owner's store); a redirect hop to another shard's host is handed over
whole and ends here without a record (the owner writes it). Start requests (depth 0, no
referrer) are every shard's: each keeps its own and drops the rest.

:class:`Router` is the coordinator's half, in the parent process: it passes calls and answers
between the shards (keeping unanswered calls for a shard that is started again) and says when
the crawl is over: every shard idle (nothing accepted and not committed) with no call
unanswered. A shard reports its state on the same connection as its answers, before them, so
the router never sees a call answered before the work it made.

Messages go over :class:`crawler.shards.channel.Channel` (a pickled header, a payload the
router passes on unread)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import socket
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from crawler.frontier.base import Frontier, JobStore
from crawler.frontier.codec import request_from_json, request_to_json
from crawler.shards.channel import Channel
from crawler.urls import host_of
from crawler.work import CrawlRequest, Tracked, key_host, shard_of

log = logging.getLogger("crawler")

SENT_MEMORY = 200_000  # URLs sent to other shards remembered, so a link every page has goes once


def _lines(requests: list[CrawlRequest]) -> bytes:
    return "\n".join(request_to_json(r) for r in requests).encode("utf-8", "surrogatepass")


def _requests(payload: bytes) -> list[CrawlRequest]:
    return [request_from_json(line) for line in payload.split(b"\n")]


class ShardedFrontier:
    """One shard's view of the crawl: its own store, and the other shards through the router.
    See :class:`crawler.frontier.base.Frontier`; a durable store's job methods (``meta``,
    ``counts``, robots.txt answers...) are the store's own."""

    shared = True  # other processes work on the crawl: it ends when the router says so

    def __init__(self, store: Frontier, index: int, shards: int, sock: socket.socket,
                 budget: Callable[[int], int] | None = None) -> None:
        """``store``: this shard's store; ``sock``: its connection to the router; ``budget``:
        takes up to n of the crawl's --max-pages (shared by the shards), returns how many it
        got (given back with a negative n)."""
        self.store = store
        self.index = index
        self.shards = shards
        self._sock = sock
        self._budget = budget
        self._channel: Channel | None = None
        self._reader: asyncio.Task[None] | None = None
        self._calls: dict[tuple[int, int], asyncio.Future[Any]] = {}
        self._numbers = itertools.count()
        self._serving: set[asyncio.Task[None]] = set()
        self._open = 0  # URLs of this shard accepted and not committed
        self.arrived = 0  # URLs other shards found for this one, accepted here
        self._started = False  # the engine asks for work: its start is accepted
        self._idle: bool | None = None  # as last told to the router
        self._closed = False
        self._told_closing = False
        self._sent: dict[str, None] = {}  # URLs sent to other shards (insertion-ordered, bounded)

    # -- the job: the store's own, but for commits, which go through this shard ------------------

    @property
    def job(self) -> ShardedFrontier | None:
        """This shard, when its store keeps a job (the job's commits must pass here: the
        coordinator hears how far the output is committed)."""
        return self if self.store.job is not None else None

    @property
    def path(self) -> Path:
        return self._job().path

    async def meta(self, key: str) -> str | None:
        return await self._job().meta(key)

    async def set_meta(self, key: str, value: str) -> None:
        await self._job().set_meta(key, value)

    async def counts(self) -> tuple[int, int]:
        return await self._job().counts()

    async def robots_get(self, origin: str) -> tuple[str, str, float, str] | None:
        return await self._job().robots_get(origin)

    async def robots_put(self, origin: str, mode: str, text: str, expires: float, reason: str) -> None:
        await self._job().robots_put(origin, mode, text, expires, reason)

    async def kept_text(self, key: str) -> bytes | None:
        return await self._job().kept_text(key)

    async def near_duplicate(self, url: str, text_hash: str, bits: int) -> str | None:
        return await self._job().near_duplicate(url, text_hash, bits)

    @property
    def made_due(self) -> int:
        return self._job().made_due

    async def freshness(self) -> float | None:
        return await self._job().freshness()

    def _job(self) -> JobStore:
        job = self.store.job
        assert job is not None
        return job

    # -- life ------------------------------------------------------------------------------

    async def open(self) -> int:
        pending = await self.store.open()
        self._open = pending
        self._channel = await Channel.over(self._sock)
        self._reader = asyncio.get_running_loop().create_task(self._read())
        return pending

    async def aclose(self) -> None:
        self._closed = True
        for task in list(self._serving):
            task.cancel()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        for future in self._calls.values():
            future.cancel()
        if self._channel is not None:
            await self._channel.drain()
            self._channel.close()
        await self.store.aclose()

    def close(self) -> None:
        self.store.close()
        if self._channel is not None and not self._told_closing:
            self._told_closing = True  # the coordinator need not pass on a stop this one has had
            self._channel.send(("closing",))

    def has_work(self, host: str) -> bool:
        return self.store.has_work(host)

    def __len__(self) -> int:
        return len(self.store)

    # -- what the engine asks ----------------------------------------------------------------

    def _owner(self, host: str) -> int:
        return shard_of(host, self.shards)

    async def add(self, requests: Iterable[CrawlRequest], *, queue: bool = True,
                  limit: int | None = None) -> list[CrawlRequest]:
        mine: list[CrawlRequest] = []
        theirs: dict[int, list[CrawlRequest]] = {}
        sent = self._sent
        for request in requests:
            owner = self._owner(request.host)
            if owner == self.index:
                mine.append(request)
            elif request.depth == 0 and request.referrer is None:
                continue  # a start request: its owner has it from its own start
            elif request.key not in sent:
                theirs.setdefault(owner, []).append(request)
                sent[request.key] = None
        while len(sent) > SENT_MEMORY:
            del sent[next(iter(sent))]
        new = await self._add_here(mine, queue, limit) if mine else []
        if theirs:
            await asyncio.gather(*(self._call(owner, "add", _lines(batch)) for owner, batch in theirs.items()))
        return new

    async def _add_here(self, requests: list[CrawlRequest], queue: bool, limit: int | None) -> list[CrawlRequest]:
        budget = self._budget
        got = len(requests) if limit is None else min(limit, len(requests))
        if budget is not None:
            got = budget(got)
            if got <= 0:
                return []
            limit = got
        new = await self.store.add(requests, queue=queue, limit=limit)
        if budget is not None and got > len(new):
            budget(len(new) - got)  # what the store turned away goes back
        self._opened(len(new))
        return new

    async def unseen(self, urls: list[str]) -> list[str]:
        mine, theirs = [], []
        sent = self._sent
        for url in urls:
            if self._owner(host_of(url)) == self.index:
                mine.append(url)
            elif url not in sent:
                theirs.append(url)
        return (await self.store.unseen(mine) if mine else []) + theirs

    async def claim(self, target: str, owner: str, depth: int = 0) -> bool:
        shard = self._owner(key_host(target))
        if shard == self.index:
            return await self.store.claim(target, owner, depth)
        payload = json.dumps([target, owner, depth]).encode("utf-8", "surrogatepass")
        return bool(await self._call(shard, "claim", payload))

    async def get(self) -> CrawlRequest | None:
        if not self._started:
            self._started = True
            self._report()
        return await self.store.get()

    async def release(self, request: CrawlRequest) -> None:
        await self.store.release(request)

    async def retry(self, request: CrawlRequest, wait: float) -> None:
        shard = self._owner(request.host)
        if shard == self.index:
            await self.store.retry(request, wait)
            return
        # A redirect to another shard's host: the request goes there whole, and ends here.
        await self._call(shard, "move", _lines([request]))
        await self.store.commit([request.key])
        self._opened(-1)

    async def hold(self, host: str, wait: float) -> None:
        await self.store.hold(host, wait)

    async def set_delay(self, host: str, delay: float) -> None:
        await self.store.set_delay(host, delay)

    async def commit(self, urls: Iterable[str], meta: dict[str, str] | None = None,
                     validators: dict[str, tuple[str | None, str | None, str | None]] | None = None,
                     tracked: dict[str, Tracked] | None = None) -> None:
        keys = list(urls)
        await self.store.commit(keys, meta, validators, tracked)
        if meta and "output" in meta and self._channel is not None:
            path = meta["output"]
            self._channel.send(("written", path, int(meta.get("offset:" + path, 0))))
        self._opened(-len(keys))

    async def give_back(self) -> None:
        await self.store.give_back()

    async def settle(self) -> int:
        return 0  # the router says when the crawl is over

    # -- the router ---------------------------------------------------------------------------

    def _opened(self, n: int) -> None:
        self._open = max(self._open + n, 0)
        self._report()

    def _report(self) -> None:
        idle = self._started and self._open == 0
        if idle != self._idle and self._channel is not None:
            self._idle = idle
            self._channel.send(("idle", idle))

    async def _call(self, shard: int, op: str, payload: bytes) -> Any:
        """Ask ``shard`` to do ``op``; its answer (waits while the shard is started again)."""
        assert self._channel is not None
        number = (os.getpid(), next(self._numbers))
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._calls[number] = future
        self._channel.send(("call", shard, number, op), payload)
        if self._channel.behind():
            await self._channel.drain()
        try:
            return await future
        finally:
            self._calls.pop(number, None)

    async def _read(self) -> None:
        assert self._channel is not None
        loop = asyncio.get_running_loop()
        while True:
            message = await self._channel.receive()
            if message is None:
                log.debug("the coordinator has gone: no more work for shard %d", self.index)
                self.store.close()
                return
            header, payload = message
            kind = header[0]
            if kind == "call":
                task = loop.create_task(self._serve(header[1], header[2], header[3], payload))
                self._serving.add(task)
                task.add_done_callback(self._serving.discard)
            elif kind == "answer":
                future = self._calls.get(header[1])
                if future is not None and not future.done():
                    future.set_result(header[2])
            elif kind == "over":
                self.store.close()

    async def _serve(self, caller: int, number: tuple[int, int], op: str, payload: bytes) -> None:
        """Do another shard's ``op`` here, then answer it (after any change of state is told)."""
        if self._closed:
            return
        if op == "add":
            result: Any = len(await self._add_here(_requests(payload), True, None))
            self.arrived += result
        elif op == "move":
            result = len(await self._add_here(_requests(payload), True, None))
        else:  # claim
            target, owner, depth = json.loads(payload)
            result = await self.store.claim(target, owner, depth)
        assert self._channel is not None
        self._channel.send(("answer", caller, number, result))


__all__ = ["ShardedFrontier"]
