"""The fetch stage's seam: what is asked (:class:`FetchRequest`, typed and frozen) and what answers
it (:class:`Transport`: one attempt at a request, its redirects followed or handed back, an
answer of :class:`crawler.result.FetchResult`). The crawl asks through this seam only, so
another HTTP client is one more transport."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from aiohttp.abc import AbstractCookieJar

from crawler.result import FetchResult


def keep_every_body(media_type: str | None) -> bool:
    """Keep the body whatever its media type (the default)."""
    return True


@dataclasses.dataclass(frozen=True, slots=True)
class FetchRequest:
    """One request to fetch, and how.

    ``method``, ``headers`` (sent besides the crawl's own), ``body`` and ``cookies`` (this
    request's only) shape what goes out; ``proxy`` sends it through that proxy (else the
    crawl's proxies, if any). ``follow=False`` hands a redirect back (``location``) instead of
    following it; ``allows`` (default: the crawl's scope) and ``max_redirects`` (default: the
    setting) govern the redirects followed. ``keep_body(media_type)`` says whether the body is
    kept (it is counted either way); a body over ``limit`` bytes (default ``max_bytes``) is
    ``too_large``, or with ``truncate`` cut there; ``consumer`` takes the decompressed body
    chunk by chunk instead of keeping it (False from it stops the reading). With ``capture``,
    the answer's ``wire`` holds the last exchange as it went over the wire (for WARC). With
    ``digest``, a body that is not kept still has its SHA-1 (``sha1()``), taken as it streams."""

    url: str
    method: str = "GET"
    headers: Mapping[str, str] | None = None
    body: bytes | None = None
    cookies: Mapping[str, str] | None = None
    proxy: str | None = None
    follow: bool = True
    allows: Callable[[str], bool] | None = None
    max_redirects: int | None = None
    keep_body: Callable[[str | None], bool] = keep_every_body
    limit: int | None = None
    truncate: bool = False
    consumer: Callable[[bytes], Awaitable[bool | None]] | None = None
    capture: bool = False
    digest: bool = False


class Transport(Protocol):
    """What fetches: one attempt at ``request``, within the crawl's timeout. The crawl's
    :class:`crawler.fetch.client.Fetcher` opens it, sends every request through it (its headers,
    cookies, proxies and cache are the fetcher's) and closes it."""

    async def open(self, jar: AbstractCookieJar) -> None:
        """Get ready to fetch, keeping cookies in ``jar``; a setting that cannot be used is a
        :class:`crawler.errors.UsageError`."""
        ...

    async def aclose(self) -> None:
        """Let go of every connection."""
        ...

    async def fetch(self, request: FetchRequest) -> FetchResult:
        """The answer to ``request`` (an error named in it, never raised), through its ``proxy``
        if it names one, following its redirects unless told not to."""
        ...

    def host_done(self, host: str) -> None:
        """Nothing more for ``host`` (``host[:port]``) for now: its idle connections may go."""
        ...

    def prefetch(self, url: str) -> None:
        """``url``'s host will be wanted soon: its name may be looked up now."""
        ...


__all__ = ["FetchRequest", "Transport", "keep_every_body"]
