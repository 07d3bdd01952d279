"""A raw HTTP/1.1 server on 127.0.0.1 for what aiohttp's server refuses to send: answers that do
not end where they say (a 204 or 304 with a body, bytes after the declared end), each on a kept-
alive connection, so that a client which reuses the connection reads the extra bytes as the
answer to its next request. Each path maps to a function of (path) -> (bytes now, bytes later).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiohttp import web

from crawler.cli.testsite import ServerThread

Answer = tuple[bytes, bytes]  # sent at once; sent 50 ms later (after the client has its answer)


def response(status: str, body: bytes, headers: str = "", length: int | None = None) -> bytes:
    """An HTTP/1.1 response, kept alive, with a Content-Length (``length``, else the body's)."""
    size = len(body) if length is None else length
    return (f"HTTP/1.1 {status}\r\nContent-Type: text/html\r\nContent-Length: {size}\r\n{headers}\r\n"
            .encode() + body)


class RawServer(ServerThread):
    """Serves ``routes`` (path -> answer) on a free port from a thread; the paths asked for are
    in ``hits``."""

    def __init__(self, routes: Callable[[str], Answer]) -> None:
        super().__init__(web.Application())
        self.routes = routes
        self.hits: list[str] = []
        self.connections = 0
        self._server: asyncio.Server | None = None

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._client, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        self.ports = [self.port]

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode()
                self.hits.append(path)
                now, later = self.routes(path)
                writer.write(now)
                await writer.drain()
                if later:
                    await asyncio.sleep(0.05)
                    writer.write(later)
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()
