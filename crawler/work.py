"""What travels between the stages: the unit of work (:class:`CrawlRequest`, one URL accepted
into the frontier, from the frontier to a fetch worker and back) and the results on their way to
the output (:class:`Item`, a spider's item; :class:`Done`, a URL's end; :class:`Unchanged`;
:class:`Capture`, an HTTP exchange for a WARC)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from crawler.urls import host_of

PAGE = "page"
SITEMAP = "sitemap"


class SpiderRequest(Protocol):
    """What the pipeline reads of a spider's own request (:class:`crawler.spider.api.Request`),
    which rides along with the :class:`CrawlRequest` it made."""

    url: str
    callback: Callable[..., Any] | str | None
    errback: Callable[..., Any] | str | None
    meta: dict[str, Any]
    headers: dict[str, str] | None
    priority: int


class CrawlRequest:
    """One URL accepted into the frontier, and what is known of its fetch so far.

    ``url`` is the URL as accepted (the record's key); ``fetch_url`` is the one to fetch next,
    which moves along a redirect chain. ``host`` (``host[:port]`` of ``fetch_url``) is the key
    of per-host scheduling, so every hop waits for its own host's slot and delay.
    """

    __slots__ = (
        "attempts",
        "depth",
        "fetch_url",
        "hop",
        "host",
        "kind",
        "lastmod",
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
        self.started: float | None = None  # loop time of the first attempt
        self.queued: float | None = None  # loop time it went into the frontier (this process)
        self.request: SpiderRequest | None = None  # the spider's own request, if it made this one
        # From the last fetch of a durable crawl: (ETag, Last-Modified, SHA-1 of the body).
        self.validators: tuple[str | None, str | None, str | None] | None = None

    def redirect(self, target: str, status: int = 302) -> None:
        """Make ``target`` the next URL to fetch (``status``: of the answer that said so)."""
        self.hop = (self.fetch_url, status)
        if self.visited is None:
            self.visited = {self.url}
        self.visited.add(target)
        self.redirects += 1
        self.fetch_url = target
        self.host = host_of(target)

    def __repr__(self) -> str:
        return f"CrawlRequest({self.url!r}, depth={self.depth}, kind={self.kind!r})"


class Done(dict):  # type: ignore[type-arg]
    """A URL's end: its ``url``, ``status``, ``error``, ``bytes``, ``depth``, ``host`` (fetched
    from) and ``referrer``, counted in the stats (and committed or acked), never written: the
    output is the spider's items."""

    __slots__ = ()


class Item:
    """A spider's item on its way to the output: written, not counted as a URL's end."""

    __slots__ = ("data",)

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data


class Unchanged:
    """Put on the queue instead of a record: the URL is done, but nothing is written for it
    (``--changed-only`` and an unchanged page)."""

    __slots__ = ("url",)

    def __init__(self, url: str) -> None:
        self.url = url


class Capture:
    """One HTTP exchange as it went over the wire, for a WARC output: the request's headers,
    the response's status line and headers, and the body bytes as received (before
    decompression). ``revisit`` names a WARC revisit profile when the page is unchanged since
    the last crawl (``server-not-modified``, ``identical-payload-digest``)."""

    __slots__ = ("body", "date", "ip", "reason", "request_headers", "response_headers", "revisit", "status",
                 "url", "version")

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
