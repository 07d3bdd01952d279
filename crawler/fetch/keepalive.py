"""Kept-alive connections that are reused only while their answers end where they say.

An HTTP/1.1 client reads the answer to its next request from whatever follows the last one on
the connection. A server that sends bytes after an answer's declared end (a body after a 204 or
304, more than its Content-Length) would have the next answer on that connection read from them,
and a page's record would carry another's content. aiohttp already closes a connection that has
bytes waiting when it is released; on top of that:

- a 204 or 304 answer ends its connection (a body the server sends after it, at once or a moment
  later, is never read as an answer);
- a connection that received anything while it sat idle in the pool is closed, not reused;
- once any connection to a host (host, port, TLS) has had bytes past an answer's end, that
  host's connections are closed after every answer for the rest of the crawl.

One case is beyond any client: a server that holds the extra bytes back until the next request is
on its way can answer that request with them. The answer that follows then arrives as extra
bytes, so the connection is closed there and the host is no longer kept alive: the confusion
ends at that one page of that server.
"""

from __future__ import annotations

import asyncio.sslproto
import functools
from typing import Any, cast

import aiohttp
from aiohttp.client_proto import ResponseHandler
from aiohttp.http_exceptions import HttpProcessingError

NO_BODY = frozenset({204, 304})


class _Handler(ResponseHandler):
    """A connection's protocol that asks to be closed after an answer that cannot have a body."""

    def feed_data(self, data: Any, size: int = 0) -> None:
        """Take a parsed answer (status line, headers, payload)."""
        message = data[0] if isinstance(data, tuple) else None
        if getattr(message, "code", None) in NO_BODY:
            self._should_close = True
        super().feed_data(data, size)


TRIM_EVERY = 32  # releases between two counts of the idle connections
# asyncio gives every TLS connection a 256 KiB receive buffer, written over in full when it is
# made: 310 KB a connection in all, the most of a broad crawl's memory. A TLS record is 16 KiB
# at most; two of them a read is plenty (bench/bench_connections.py: 310 -> 100 KB).
TLS_READ_BUFFER = 32 * 1024


class Connector(aiohttp.TCPConnector):
    """aiohttp's TCP connector, reusing a connection only when nothing arrived on it since its
    last answer was read, and never after a 204 or 304; at most ``max_idle`` connections are
    kept idle (0: no bound), the ones idle longest closed first, so memory does not grow with
    the number of hosts a broad crawl has visited (a TLS connection holds its buffers and
    OpenSSL state: bench/bench_connections.py measures it)."""

    def __init__(self, *, max_idle: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        asyncio.sslproto.SSLProtocol.max_size = TLS_READ_BUFFER
        self._factory = cast("functools.partial[ResponseHandler]", functools.partial(_Handler, loop=self._loop))
        self._distrusted: set[Any] = set()  # connection keys (host, port, TLS...) not kept alive
        self.max_idle = max_idle
        self._releases = 0
        self.closed_idle = 0  # connections closed for the bound

    async def _get(self, key: Any, *args: Any, **kwargs: Any) -> Any:
        """A pooled connection for ``key``, leaving out those that have bytes waiting (sent after
        the last answer ended) or are otherwise unfit for reuse."""
        conns = self._conns.get(key)
        if conns:
            for entry in list(conns):
                protocol = entry[0]
                if protocol.should_close:
                    if _overran(protocol):
                        self._distrusted.add(key)
                    conns.remove(entry)
                    protocol.close()
        return await super()._get(key, *args, **kwargs)

    def _release(self, key: Any, protocol: Any, *args: Any, should_close: bool = False, **kwargs: Any) -> None:
        """Back to the pool, unless the answer did not end where it said (or its host's once
        did not)."""
        if _overran(protocol):
            self._distrusted.add(key)
        super()._release(key, protocol, *args, should_close=should_close or key in self._distrusted, **kwargs)
        self._releases += 1
        if self.max_idle and self._releases % TRIM_EVERY == 0:
            self._trim()

    def _trim(self) -> None:
        """Close the connections idle longest beyond ``max_idle``."""
        extra = sum(map(len, self._conns.values())) - self.max_idle
        if extra <= 0:
            return
        idle = sorted(((entry[1], key, entry) for key, conns in self._conns.items() for entry in conns),
                      key=lambda row: row[0])
        for _, key, entry in idle[:extra]:
            conns = self._conns.get(key)
            if conns is None:
                continue
            conns.remove(entry)
            entry[0].close()
            if not conns:
                del self._conns[key]
        self.closed_idle += extra


def _overran(protocol: Any) -> bool:
    """Has ``protocol`` received bytes after its last answer's end (an answer nobody asked for,
    or bytes that are no answer)? A server closing an idle connection is not that."""
    return bool(getattr(protocol, "_buffer", None) or getattr(protocol, "_tail", None)
                or isinstance(getattr(protocol, "_exception", None), HttpProcessingError))


__all__ = ["Connector"]
