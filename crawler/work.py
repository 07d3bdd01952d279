"""What travels between the stages: the unit of work (:class:`CrawlRequest`, one URL accepted
into the frontier, from the frontier to a fetch worker and back) and the results on their way to
the output (:class:`Item`, a spider's item; :class:`Done`, a URL's end; :class:`Unchanged`;
:class:`Capture`, an HTTP exchange for a WARC)."""

from __future__ import annotations

import asyncio
import hashlib
import zlib
from collections.abc import Callable
from typing import Any, Protocol

from crawler.urls import host_of

PAGE = "page"
SITEMAP = "sitemap"


class SpiderRequest(Protocol):
    """What the pipeline reads of a spider's own request (:class:`crawler.spider.Request`),
    which rides along with the :class:`CrawlRequest` it made."""

    url: str
    callback: Callable[..., Any] | str | None
    errback: Callable[..., Any] | str | None
    meta: dict[str, Any]
    headers: dict[str, str] | None
    priority: int
    method: str
    body: bytes | str | None
    json: Any
    cookies: dict[str, str] | None
    proxy: str | None
    cb_kwargs: dict[str, Any]
    dont_filter: bool
    repeat: str
    render: bool | None
    page_actions: list[Any]

    def payload(self) -> bytes | None:
        """The body to send, if any."""
        ...


def key_host(key: str) -> str:
    """The host of a request key (:func:`request_key`: a URL, or ``METHOD URL [digest]``)."""
    return host_of(key.split(" ", 2)[1] if " " in key else key)


def shard_of(host: str, shards: int) -> int:
    """Which of ``shards`` parts of a crawl owns ``host`` (``host[:port]``): the same in every
    process and run (CRC-32), for ``--workers`` shards and Redis Cluster parts alike."""
    return zlib.crc32(host.encode("utf-8", "surrogatepass")) % shards


def request_key(url: str, method: str = "GET", body: bytes | None = None) -> str:
    """What the frontier knows a request by: its URL for a plain GET; else its method, URL and
    the SHA-1 of its body, so that two POSTs to one URL with different bodies are two requests."""
    if method == "GET" and not body:
        return url
    digest = f" {hashlib.sha1(body).hexdigest()[:20]}" if body else ""
    return f"{method} {url}{digest}"


class CrawlRequest:
    """One URL accepted into the frontier, and what is known of its fetch so far.

    ``url`` is the URL as accepted (the record's key); ``fetch_url`` is the one to fetch next,
    which moves along a redirect chain. ``host`` (``host[:port]`` of ``fetch_url``) is the key
    of per-host scheduling, so every hop waits for its own host's slot and delay.
    """

    __slots__ = (
        "_key",
        "attempts",
        "depth",
        "downgraded",
        "fetch_url",
        "hop",
        "host",
        "kind",
        "lastmod",
        "previous",
        "queued",
        "redirects",
        "referrer",
        "request",
        "started",
        "url",
        "validators",
        "visited",
    )

    def __init__(self, url: str, depth: int = 0, referrer: str | None = None, kind: str = PAGE,
                 lastmod: str | None = None) -> None:
        self.url = url
        self.depth = depth
        self.referrer = referrer
        self.kind = kind
        self.lastmod = lastmod  # from a sitemap
        self.fetch_url = url
        self.host = host_of(url)
        self.attempts = 0  # fetch attempts made
        self.redirects = 0  # redirect hops followed
        self.visited: set[str] | None = None  # URLs of the redirect chain so far
        self.hop: tuple[str, int] | None = None  # (URL, status) of the last redirect answer
        self._key: str | None = None
        self.downgraded = False  # a redirect (301, 302, 303) turned the spider's POST into a GET
        self.started: float | None = None  # loop time of the first attempt
        self.queued: float | None = None  # loop time it went into the frontier (this process)
        self.request: SpiderRequest | None = None  # the spider's own request, if it made this one
        # From the last fetch of a durable crawl: (ETag, Last-Modified, SHA-1 of the body).
        self.validators: tuple[str | None, str | None, str | None] | None = None
        # From the last record of a durable crawl: (its fetched_at, the hash of what it kept, the
        # page's recrawl interval in seconds with --recrawl-after auto).
        self.previous: tuple[str, str | None, float | None] | None = None

    @property
    def key(self) -> str:
        """What the frontier and the job know this request by (:func:`request_key`): its URL,
        unless the spider's request is no plain GET."""
        key = self._key
        if key is None:
            spider = self.request
            if spider is None:
                key = self.url
            else:
                key = request_key(self.url, spider.method, spider.payload())
                if spider.repeat:  # a dont_filter request: this asking of the URL is its own
                    key = f"{key} #{spider.repeat}"
            self._key = key
        return key

    @property
    def method(self) -> str:
        """The HTTP method of the next fetch (a redirect may turn a POST into a GET)."""
        spider = self.request
        return "GET" if spider is None or self.downgraded else spider.method

    def payload(self) -> bytes | None:
        """The body of the next fetch, if any."""
        spider = self.request
        return None if spider is None or self.downgraded else spider.payload()

    def redirect(self, target: str, status: int = 302) -> None:
        """Make ``target`` the next URL to fetch (``status``: of the answer that said so; after
        a 301, 302 or 303 a request other than GET or HEAD goes on as a GET without its body, as
        browsers and curl do; 307 and 308 keep the method and the body)."""
        if status in (301, 302, 303) and self.method not in ("GET", "HEAD"):
            self.downgraded = True
        self.hop = (self.fetch_url, status)
        if self.visited is None:
            self.visited = {self.url}
        self.visited.add(target)
        self.redirects += 1
        self.fetch_url = target
        self.host = host_of(target)

    def __repr__(self) -> str:
        return f"CrawlRequest({self.url!r}, depth={self.depth}, kind={self.kind!r})"


class Done:
    """A URL's end: its ``url`` and ``key`` (:attr:`CrawlRequest.key`), ``status``, ``error``,
    ``bytes``, ``depth``, ``host`` (fetched from) and ``referrer``, counted in the stats (and
    committed or acked by its key), never written: the output is the spider's items."""

    __slots__ = ("bytes", "depth", "error", "host", "key", "referrer", "status", "url")

    def __init__(self, *, url: str, key: str = "", status: int | None = None, error: str | None = None, bytes: int = 0,
                 depth: int = 0, host: str = "", referrer: str | None = None) -> None:
        self.url = url
        self.key = key
        self.status = status
        self.error = error
        self.bytes = bytes
        self.depth = depth
        self.host = host
        self.referrer = referrer

    @classmethod
    def of(cls, request: CrawlRequest, status: int | None, error: str | None, size: int = 0) -> Done:
        """The end of ``request``: its answer's ``status`` and ``size``, or ``error``."""
        return cls(url=request.url, key=request.key, status=status, error=error, bytes=size, depth=request.depth,
                   host=request.host, referrer=request.referrer)


#: What a durable job keeps of a page's record for the next run's change tracking: its
#: ``fetched_at``, the hash of what the record kept (main text, or body), that text zlib-
#: compressed for the next diff (None: keep the last), and the page's next recrawl interval in
#: seconds (``--recrawl-after auto``; None: keep the last).
Tracked = tuple[str, str | None, bytes | None, float | None]


class Item:
    """A spider's item on its way to the output: written, not counted as a URL's end."""

    __slots__ = ("data",)

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data


class Unchanged:
    """Put on the queue instead of a record: the URL (known by ``key``) is done, but nothing is
    written for it (``--changed-only`` and an unchanged page)."""

    __slots__ = ("key",)

    def __init__(self, key: str) -> None:
        self.key = key


class Capture:
    """One HTTP exchange as it went over the wire, for a WARC output: the request's headers,
    the response's status line and headers, and the body bytes as received (before
    decompression). ``revisit`` names a WARC revisit profile when the page is unchanged since
    the last crawl (``server-not-modified``, ``identical-payload-digest``); ``conversion`` is
    the page's Markdown when ``--extract`` made it."""

    __slots__ = ("body", "conversion", "date", "ip", "reason", "rendered", "request_headers", "response_headers",
                 "revisit", "status", "url", "version")

    def __init__(self, url: str, date: str, status: int, reason: str, version: str,
                 response_headers: list[tuple[str, str]], request_headers: list[tuple[str, str]], body: bytes,
                 ip: str | None = None) -> None:
        self.url = url
        self.date = date  # ISO 8601 UTC
        self.status = status
        self.reason = reason
        self.version = version  # "HTTP/1.1"
        self.response_headers = response_headers
        self.request_headers = request_headers
        self.body = body
        self.ip = ip
        self.revisit: str | None = None
        self.conversion: str | None = None  # --extract markdown: the page as Markdown (a conversion record)
        self.rendered: str | None = None  # --render: the DOM the browser made of the page (a resource record)


#: What goes on the output queue, a list a URL (its items, captures and end); ``None`` stops it.
Entry = Item | Done | Unchanged | Capture
OutputQueue = asyncio.Queue[list[Entry] | None]
