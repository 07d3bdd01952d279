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
# An answer's status line and headers in all, as Chromium takes them (256 KiB; curl 300 KB): the
# bound is on their size, not their number, so a thousand short headers are read like any answer.
MAX_HEADER_BYTES = 256 * 1024


class HeadersTooLarge(HttpProcessingError):
    """An answer's header block went past :data:`MAX_HEADER_BYTES`."""


class _Handler(ResponseHandler):
    """A connection's protocol that asks to be closed after an answer that cannot have a body,
    and that fails an answer whose header block is larger than :data:`MAX_HEADER_BYTES`."""

    _head_bytes = 0  # bytes received for the answer under way while its headers are not all in
    _head_done = True  # no answer under way, or its headers are parsed

    def set_response_params(self, **kwargs: Any) -> None:
        """A request is sent: its answer's header block is counted from here."""
        self._head_bytes, self._head_done = 0, False
        super().set_response_params(**kwargs)

    def data_received(self, data: bytes) -> None:
        """Bytes from the server, parsed; while the answer's headers are not all in, the parser
        is given no more than :data:`MAX_HEADER_BYTES` of them in all."""
        if self._head_done or self._head_bytes + len(data) <= MAX_HEADER_BYTES:
            self._head_bytes += len(data)
            super().data_received(data)
            return
        room = MAX_HEADER_BYTES - self._head_bytes
        self._head_bytes = MAX_HEADER_BYTES
        super().data_received(data[:room])
        if self._headers_in():  # the headers ended within the bound: the rest is the body
            super().data_received(data[room:])
            return
        self._head_done = True
        if self.transport is not None:
            self.transport.close()
        self.set_exception(HeadersTooLarge(
            code=400, message=f"response headers larger than {MAX_HEADER_BYTES // 1024} KiB"))

    def _headers_in(self) -> bool:
        """Are the headers of the answer under way all parsed (read again after parsing)?"""
        return self._head_done

    def feed_data(self, data: Any, size: int = 0) -> None:
        """Take a parsed answer (status line, headers, payload)."""
        message = data[0] if isinstance(data, tuple) else None
        if message is not None:
            self._head_done = True
        if getattr(message, "code", None) in NO_BODY:
            self._should_close = True
        super().feed_data(data, size)


def guard_protocol(connector: aiohttp.TCPConnector) -> None:
    """Give ``connector``'s connections (another connector's: a SOCKS proxy's) the same protocol:
    closed after a 204 or 304, header blocks bounded."""
    connector._factory = functools.partial(_Handler, loop=connector._loop)  # type: ignore[assignment]


COUNT_EVERY = 32  # releases between two counts of the idle connections
# asyncio gives every TLS connection a 256 KiB receive buffer, written over in full when it is
# made: 310 KB a connection in all, the most of a broad crawl's memory. A TLS record is 16 KiB
# at most; two of them a read is plenty (bench/bench_connections.py: 310 -> 87 KB).
TLS_READ_BUFFER = 32 * 1024


class Connector(aiohttp.TCPConnector):
    """aiohttp's TCP connector, reusing a connection only when nothing arrived on it since its
    last answer was read, and never after a 204 or 304.

    Idle connections cost memory (a TLS one about 87 KB), so a broad crawl keeps only those it
    will use: :meth:`close_idle` closes a host's as soon as the frontier has nothing more for it,
    and at most ``max_idle`` are kept (0: no bound): once the pool holds that many, a connection
    given back is closed instead of kept. (Closing the longest idle instead would be the worst
    choice for a crawl, which serves its hosts in turn: each would find its connection gone.)"""

    def __init__(self, *, max_idle: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        asyncio.sslproto.SSLProtocol.max_size = TLS_READ_BUFFER
        self._factory = cast("functools.partial[ResponseHandler]", functools.partial(_Handler, loop=self._loop))
        self._distrusted: set[Any] = set()  # connection keys (host, port, TLS...) not kept alive
        self.max_idle = max_idle
        self._releases = 0
        self._idle = 0  # connections in the pool: counted every COUNT_EVERY releases, added to between
        self._keys: dict[str, set[Any]] = {}  # host[:port], as the frontier names it -> its connection keys

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
        did not), or the pool is full."""
        if _overran(protocol):
            self._distrusted.add(key)
        self._releases += 1
        if self._releases % COUNT_EVERY == 0:
            self._idle = sum(map(len, self._conns.values()))
        full = bool(self.max_idle) and self._idle >= self.max_idle
        if not full:
            self._idle += 1
        self._keys.setdefault(_host_of(key), set()).add(key)
        super()._release(key, protocol, *args, should_close=should_close or full or key in self._distrusted, **kwargs)

    def close_idle(self, host: str) -> None:
        """Close the idle connections to ``host`` (``host[:port]``, the port only when it is not
        the scheme's): the crawl has nothing more for it."""
        for key in self._keys.pop(host, ()):
            for protocol, _ in self._conns.pop(key, ()):
                protocol.close()


def _host_of(key: Any) -> str:
    """A connection key's ``host[:port]``, spelled as :func:`crawler.urls.host_of` spells it."""
    name = f"[{key.host}]" if ":" in key.host else key.host
    return name if key.port == (443 if key.is_ssl else 80) else f"{name}:{key.port}"


def _overran(protocol: Any) -> bool:
    """Has ``protocol`` received bytes after its last answer's end (an answer nobody asked for,
    or bytes that are no answer)? A server closing an idle connection is not that."""
    return bool(getattr(protocol, "_buffer", None) or getattr(protocol, "_tail", None)
                or isinstance(getattr(protocol, "_exception", None), HttpProcessingError))


__all__ = ["MAX_HEADER_BYTES", "Connector", "HeadersTooLarge", "guard_protocol"]
