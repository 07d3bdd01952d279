"""Reading a response's body: decoded (every coding of Content-Encoding, bounded), counted,
kept or handed to a consumer, and the exchange captured as it went over the wire (WARC)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable

import aiohttp

from crawler.codings import Decoder, TooLarge, codings_of
from crawler.result import FetchResult
from crawler.timestamps import utc_now_iso
from crawler.work import Capture


async def read_body(
    resp: aiohttp.ClientResponse,
    result: FetchResult,
    keep: bool,
    limit: int,
    truncate: bool,
    consumer: Callable[[bytes], Awaitable[bool | None]] | None,
    deadline: asyncio.Timeout | None = None,
    digest: bool = False,
) -> None:
    """Read, decode (every coding of Content-Encoding) and count the body; keep it or hand it
    to ``consumer`` chunk by chunk (it returns False once it wants no more). The time
    ``consumer`` takes is added to ``deadline``: the fetch deadline covers the transfer, not
    what is done with the bytes. ``digest``: a body not kept is hashed (SHA-1) as it streams."""
    codings = codings_of(resp.headers.get("Content-Encoding"))
    decoder = Decoder(codings, limit, truncate) if codings else None
    if decoder is None and not truncate and resp.content_length is not None and resp.content_length > limit:
        raise TooLarge
    parts: list[bytes] = []
    raw: list[bytes] | None = [] if result.wire is not None else None
    size = 0
    loop = asyncio.get_running_loop()
    hasher = hashlib.sha1() if digest and not keep and consumer is None else None
    async for chunk in resp.content.iter_any():
        if raw is not None:
            raw.append(chunk)
        data = decoder.feed(chunk) if decoder is not None else chunk
        if size + len(data) > limit:
            if not truncate:
                raise TooLarge
            data = data[: limit - size]
        size += len(data)
        if consumer is not None:
            started = loop.time()
            wanted = await consumer(data)
            when = deadline.when() if deadline is not None else None
            if deadline is not None and when is not None:
                deadline.reschedule(when + loop.time() - started)
            if wanted is False:
                result.cut = True
                break  # the consumer has all it takes
        elif keep:
            parts.append(data)
        elif hasher is not None:
            hasher.update(data)
        if truncate and (size >= limit or (decoder is not None and decoder.full)):
            break
    else:
        if decoder is not None:
            decoder.end()
    result.size = size
    if hasher is not None and size:
        result.digested(hasher.hexdigest())
    result.body = b"".join(parts) if keep and consumer is None else b""
    if raw is not None and result.wire is not None:
        result.wire.body = b"".join(raw)


def capture(url: str, resp: aiohttp.ClientResponse) -> Capture:
    """The exchange of ``resp`` as sent and received (its body is added as it is read)."""
    version = resp.version
    return Capture(
        url, utc_now_iso(), resp.status, resp.reason or "",
        f"HTTP/{version.major}.{version.minor}" if version else "HTTP/1.1",
        [(k.decode("latin-1"), v.decode("latin-1")) for k, v in resp.raw_headers],
        list(resp.request_info.headers.items()), b"")


__all__ = ["capture", "read_body"]
