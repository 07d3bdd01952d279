"""Messages between the processes of one machine's crawl (:mod:`crawler.shards.frontier`): a
small pickled header and a payload of bytes, each after their lengths, over a connected Unix
socket; what one turn of the event loop sends goes out in one write."""

from __future__ import annotations

import asyncio
import contextlib
import pickle
import socket
import struct
from typing import Any

_SIZES = struct.Struct(">II")  # a message's header and payload lengths


class Channel:
    """Framed messages over a connected stream socket: a header (a small pickled tuple) and a
    payload (bytes the router passes on unread)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self._out: list[bytes] = []  # messages of this turn of the loop, written together

    @classmethod
    async def over(cls, sock: socket.socket) -> Channel:
        """A channel on ``sock`` (a Unix socket, one end of a socketpair), in this event loop."""
        reader, writer = await asyncio.open_unix_connection(sock=sock, limit=1 << 24)
        return cls(reader, writer)

    def send(self, header: tuple[Any, ...], payload: bytes = b"") -> None:
        """Queue a message (in order with every other sent on this channel)."""
        if self.writer.is_closing():
            return
        head = pickle.dumps(header, pickle.HIGHEST_PROTOCOL)
        if not self._out:  # one write (one system call) for what this turn of the loop sends
            asyncio.get_running_loop().call_soon(self._flush)
        self._out += (_SIZES.pack(len(head), len(payload)), head, payload)

    def _flush(self) -> None:
        if self._out and not self.writer.is_closing():
            self.writer.write(b"".join(self._out))
        self._out = []

    def behind(self) -> bool:
        """Is more than a megabyte waiting to be written?"""
        return self.writer.transport.get_write_buffer_size() > 1 << 20

    async def drain(self) -> None:
        """Wait while the other end is behind (backpressure)."""
        self._flush()
        with contextlib.suppress(ConnectionError):
            await self.writer.drain()

    async def receive(self) -> tuple[tuple[Any, ...], bytes] | None:
        """The next message (header, payload); None once the other end has gone."""
        try:
            head, size = _SIZES.unpack(await self.reader.readexactly(_SIZES.size))
            header: tuple[Any, ...] = pickle.loads(await self.reader.readexactly(head))
            return header, await self.reader.readexactly(size) if size else b""
        except (asyncio.IncompleteReadError, ConnectionError):
            return None

    def close(self) -> None:
        """Close the connection (after writing what was sent)."""
        self._flush()
        self.writer.close()


__all__ = ["Channel"]
