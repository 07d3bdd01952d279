"""The coordinator's router: the calls between the processes of ``--workers``, passed on to
their owner unread, answered back to their caller, and the end of the crawl counted (every
process idle, no call unanswered)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

from crawler.shards.channel import Channel


class Router:
    """The coordinator's side: passes calls and answers between the shards' connections, keeps
    unanswered calls for a shard that is started again, and says when the crawl is over.
    ``on_written(shard, path, offset)`` is told how far each shard's output is committed."""

    def __init__(self, shards: int, on_written: Callable[[int, str, int], None]) -> None:
        self.shards = shards
        self.on_written = on_written
        self._channels: list[Channel | None] = [None] * shards
        self._idle = [False] * shards
        self._pending: dict[tuple[int, tuple[int, int]], tuple[int, tuple[tuple[Any, ...], bytes]]] = {}
        self.over = asyncio.Event()
        self.closing: set[int] = set()  # shards that are stopping (or done) already
        self._readers: set[asyncio.Task[None]] = set()
        self.stopping = False  # a stop is under way: the crawl is not over, it is stopping

    async def attach(self, shard: int, sock: socket.socket) -> None:
        """``shard`` (started, or started again) is on ``sock``: calls waiting for it go to it,
        and its messages are read until it goes."""
        channel = await Channel.over(sock)
        self._channels[shard] = channel
        self._idle[shard] = False
        self.closing.discard(shard)
        for (_caller, _number), (target, message) in list(self._pending.items()):
            if target == shard:
                channel.send(*message)
        task = asyncio.get_running_loop().create_task(self._read(shard, channel))
        self._readers.add(task)
        task.add_done_callback(self._readers.discard)

    def detach(self, shard: int) -> None:
        """``shard`` has gone (ended or killed): what it asked is dropped (a shard started again
        asks again: its pages were not committed), what it was asked waits for it."""
        channel = self._channels[shard]
        if channel is not None:
            channel.close()
        self._channels[shard] = None
        self._idle[shard] = False
        for key in [k for k in self._pending if k[0] == shard]:
            del self._pending[key]

    async def _read(self, shard: int, channel: Channel) -> None:
        while True:
            message = await channel.receive()
            if message is None or self._channels[shard] is not channel:
                return
            header, payload = message
            kind = header[0]
            if kind == "call":
                _, target, number, op = header
                forward = (("call", shard, number, op), payload)
                self._pending[(shard, number)] = (target, forward)
                to = self._channels[target]
                if to is not None:
                    to.send(*forward)
            elif kind == "answer":
                _, caller, number, result = header
                if self._pending.pop((caller, number), None) is not None:
                    back = self._channels[caller]
                    if back is not None:
                        back.send(("answer", number, result))
            elif kind == "idle":
                self._idle[shard] = header[1]
            elif kind == "written":
                self.on_written(shard, header[1], header[2])
            elif kind == "closing":
                self.closing.add(shard)
            self._check()

    def _check(self) -> None:
        if self.over.is_set() or self.stopping or self._pending or not all(self._idle):
            return
        self.over.set()
        for channel in self._channels:
            if channel is not None:
                channel.send(("over",))


__all__ = ["Router"]
