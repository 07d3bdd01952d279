"""The sessions of SOCKS proxies: aiohttp reaches a SOCKS proxy through a connector of its own,
so each proxy asked for (the crawl's, or a spider request's ``proxy``) gets a session. At most
:data:`MAX_SESSIONS` are kept: past that, the least recently used one with no request under way
is closed (a spider naming a new proxy for every request would otherwise open sessions, and
their connection pools, without end)."""

from __future__ import annotations

import asyncio
from collections import Counter, OrderedDict
from collections.abc import Callable

import aiohttp

MAX_SESSIONS = 32


class SocksSessions:
    """A session for each SOCKS proxy, made by ``make(proxy)`` the first time it is taken."""

    def __init__(self, make: Callable[[str], aiohttp.ClientSession], limit: int = MAX_SESSIONS) -> None:
        self._make = make
        self.limit = limit
        self._sessions: OrderedDict[str, aiohttp.ClientSession] = OrderedDict()
        self._busy: Counter[str] = Counter()
        self._closing: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._sessions)

    def take(self, proxy: str) -> aiohttp.ClientSession:
        """The session of ``proxy`` for one request (give it back with :meth:`give_back`)."""
        session = self._sessions.get(proxy)
        if session is None:
            session = self._sessions[proxy] = self._make(proxy)
        self._sessions.move_to_end(proxy)
        self._busy[proxy] += 1
        return session

    def give_back(self, proxy: str) -> None:
        """The request through ``proxy`` is over; close idle sessions past the bound."""
        self._busy[proxy] -= 1
        if self._busy[proxy] <= 0:
            del self._busy[proxy]
        excess = len(self._sessions) - self.limit
        for name in list(self._sessions):
            if excess <= 0:
                break
            if name not in self._busy:
                task = asyncio.ensure_future(self._sessions.pop(name).close())
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
                excess -= 1

    async def close(self) -> None:
        """Close every session."""
        for session in self._sessions.values():
            await session.close()
        self._sessions.clear()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)


__all__ = ["MAX_SESSIONS", "SocksSessions"]
