"""Content codings (``Content-Encoding``): every coding a response lists is undone, in the reverse
of the order it was applied, each with a bound on what it may produce, so a bomb of any coding
costs at most ``limit`` bytes of memory.

- ``gzip`` (and ``x-gzip``): every member of a multi-member stream, as gzip(1) reads them;
- ``deflate``: zlib-wrapped, as the standard says, or raw deflate, as some servers send;
- ``br`` (the ``brotli`` package's bounded decoder) and ``zstd`` (``backports.zstd``, the
  standard library's ``compression.zstd`` before Python 3.14), every frame;
- ``identity`` is nothing to undo.

A stream that stops before its end (a gzip member cut short) raises :class:`Truncated`; bytes
that are not what their coding says raise :class:`BadCoding`; a coding nobody knows raises
:class:`UnknownCoding`: each is a ``content`` error for the crawler. Output past ``limit`` raises
:class:`TooLarge`.
"""

from __future__ import annotations

import zlib
from typing import Protocol

import brotli

try:
    from compression import zstd  # type: ignore[import-not-found]  # Python 3.14 and later
except ImportError:
    from backports import zstd  # the same module, for older Pythons

GZIP_MAGIC = b"\x1f\x8b"


class CodingError(ValueError):
    """A body that cannot be decoded."""


class Truncated(CodingError):
    """The coded stream ended before its end."""


class BadCoding(CodingError):
    """The bytes are not what their coding says."""


class UnknownCoding(CodingError):
    """A coding this crawler does not know."""


class TooLarge(Exception):
    """Decoding would make more than the limit."""


class _Stage(Protocol):
    def feed(self, data: bytes, room: int) -> bytes:
        """The output of ``data``: at most ``room + 1`` bytes (more than ``room`` means there
        was more to make, which the caller refuses or cuts)."""
        ...

    def end(self) -> None:
        """The input is over (:class:`Truncated` if the stream did not end)."""
        ...


class _Gzip:
    """gzip members one after another (RFC 1952 2.2: a file may hold several)."""

    def __init__(self) -> None:
        self._member = zlib.decompressobj(31)
        self._between = b""  # bytes after a member's end, waiting to be seen as another member
        self._started = False

    def feed(self, data: bytes, room: int) -> bytes:
        out = []
        while data and room >= 0:
            if self._member.eof:
                data = self._between + data
                self._between = b""
                if len(data) < 2:
                    self._between = data
                    break
                if not data.startswith(GZIP_MAGIC):
                    if data.strip(b"\0\r\n"):
                        raise BadCoding("bytes after the end of the gzip stream are no gzip member")
                    break  # padding, which gzip(1) ignores too
                self._member = zlib.decompressobj(31)
            try:
                piece = self._member.decompress(data, room + 1)
            except zlib.error as e:
                raise BadCoding(f"bad gzip data: {e}") from None
            self._started = True
            out.append(piece)
            room -= len(piece)
            data = self._member.unused_data if self._member.eof else b""
        return b"".join(out)

    def end(self) -> None:
        if not self._member.eof:
            raise Truncated("the gzip stream is cut short" if self._started else "an empty gzip stream")


class _Deflate:
    """zlib-wrapped deflate (RFC 1950), or raw deflate when the first bytes say so."""

    def __init__(self) -> None:
        self._stream = zlib.decompressobj(15)
        self._first = True

    def feed(self, data: bytes, room: int) -> bytes:
        if self._stream.eof:
            return b""
        try:
            piece = self._stream.decompress(data, room + 1)
        except zlib.error:
            if not self._first:
                raise BadCoding("bad deflate data") from None
            self._stream = zlib.decompressobj(-15)  # raw deflate
            try:
                piece = self._stream.decompress(data, room + 1)
            except zlib.error as e:
                raise BadCoding(f"bad deflate data: {e}") from None
        self._first = False
        return piece

    def end(self) -> None:
        if not self._stream.eof:
            raise Truncated("the deflate stream is cut short")


class _Brotli:
    def __init__(self) -> None:
        self._decoder = brotli.Decompressor()

    def feed(self, data: bytes, room: int) -> bytes:
        try:
            return self._decoder.process(data, output_buffer_limit=room + 1)  # type: ignore[no-any-return]
        except brotli.error as e:
            raise BadCoding(f"bad brotli data: {e}") from None

    def end(self) -> None:
        if not self._decoder.is_finished():
            raise Truncated("the brotli stream is cut short")


class _Zstd:
    """zstd frames one after another."""

    def __init__(self) -> None:
        self._frame = zstd.ZstdDecompressor()

    def feed(self, data: bytes, room: int) -> bytes:
        out = []
        while data and room >= 0:
            if self._frame.eof:
                self._frame = zstd.ZstdDecompressor()
            try:
                piece = self._frame.decompress(data, max_length=room + 1)
            except zstd.ZstdError as e:
                raise BadCoding(f"bad zstd data: {e}") from None
            out.append(piece)
            room -= len(piece)
            data = self._frame.unused_data if self._frame.eof else b""
        return b"".join(out)

    def end(self) -> None:
        if not self._frame.eof:
            raise Truncated("the zstd stream is cut short")


_STAGES: dict[str, type[_Stage]] = {"gzip": _Gzip, "x-gzip": _Gzip, "deflate": _Deflate, "br": _Brotli, "zstd": _Zstd}


def codings_of(header: str | None) -> list[str]:
    """The codings a ``Content-Encoding`` value lists, in the order they were applied, lower
    case, ``identity`` left out."""
    if not header:
        return []
    return [c for c in (part.strip().lower() for part in header.split(",")) if c and c != "identity"]


class Decoder:
    """Undoes ``codings`` (as :func:`codings_of` gives them) chunk by chunk; each stage may make
    at most ``limit`` bytes in all: beyond, :class:`TooLarge`, or with ``truncate`` the output
    is cut there and ``full`` is set (read no more)."""

    def __init__(self, codings: list[str], limit: int, truncate: bool = False) -> None:
        unknown = [c for c in codings if c not in _STAGES]
        if unknown:
            raise UnknownCoding(f"unknown Content-Encoding {', '.join(unknown)}")
        self.limit = limit
        self.truncate = truncate
        self.full = False
        self._stages: list[_Stage] = [_STAGES[c]() for c in reversed(codings)]
        self._made = [0] * len(self._stages)

    def feed(self, data: bytes) -> bytes:
        """The decoded bytes of the next chunk."""
        for i, stage in enumerate(self._stages):
            if not data or self.full:
                return b""
            room = self.limit - self._made[i]
            data = stage.feed(data, room)
            if len(data) > room:
                if not self.truncate:
                    raise TooLarge
                data = data[:room]
                self.full = True
            self._made[i] += len(data)
        return data

    def end(self) -> None:
        """The body is over (:class:`Truncated` if a stream did not end; not asked once
        ``full``)."""
        if not self.full:
            for stage in self._stages:
                stage.end()


__all__ = [
    "GZIP_MAGIC",
    "BadCoding",
    "CodingError",
    "Decoder",
    "TooLarge",
    "Truncated",
    "UnknownCoding",
    "codings_of",
    "zstd",
]
