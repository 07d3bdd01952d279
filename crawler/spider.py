"""The public API for writing spiders: :class:`Spider`, :class:`Request`, :class:`Response`,
:class:`Failure` and :class:`DropItem`.

A spider names where to start and what to do with each response; its callbacks yield items
(dicts or dataclasses), which are written to the output as they come, and :class:`Request`
objects, which are crawled under the same scope, politeness and dedupe as links. Plain
callbacks run in the parse thread pool; ``async def`` callbacks run on the event loop.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Callable, Mapping
from functools import cached_property
from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode

from crawler.parse import decode_html, parse_html
from crawler.urls import join_url


class DropItem(Exception):
    """Raised by an item pipeline's ``process_item`` to drop the item."""


@dataclasses.dataclass
class Request:
    """A URL for the crawl to fetch, and what to call with the response.

    ``callback(response)`` defaults to the spider's ``parse``; ``errback(failure)`` is called
    instead when the fetch fails for good (an error, or a status of 400 or more). ``meta`` is
    handed on to the response (``meta["proxy"]`` sends the request through that HTTP proxy);
    ``headers`` are sent with the request. A positive ``priority`` puts the request at the front
    of its host's queue instead of the back (hosts themselves take turns by readiness).
    """

    url: str
    callback: Callable[..., Any] | None = None
    errback: Callable[..., Any] | None = None
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)
    headers: dict[str, str] | None = None
    priority: int = 0


class Response:
    """A fetched page, as a callback sees it."""

    def __init__(self, url: str, status: int, headers: Mapping[str, str], body: bytes, charset: str | None,
                 request: Request, allows: Callable[[str], bool], max_url_length: int) -> None:
        self.url = url
        self.status = status
        self.headers = headers
        self.body = body
        self.request = request
        self.meta = request.meta
        self._charset = charset
        self._allows = allows
        self._max_url_length = max_url_length

    @cached_property
    def text(self) -> str:
        """The body decoded (BOM, header charset, ``<meta charset>``, else UTF-8)."""
        return decode_html(self.body, self._charset)

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)

    @cached_property
    def _tree(self) -> LexborHTMLParser:
        return LexborHTMLParser(self.text)

    def css(self, selector: str) -> list[LexborNode]:
        """Every element matching a CSS selector (selectolax nodes)."""
        return self._tree.css(selector)

    def css_first(self, selector: str) -> LexborNode | None:
        """The first element matching a CSS selector, or None."""
        return self._tree.css_first(selector)

    def urljoin(self, href: str) -> str | None:
        """``href`` made absolute against this page and normalized (None if not http(s))."""
        return join_url(self.url, href, self._max_url_length)

    def links(self) -> list[str]:
        """The page's links (``a`` and ``area``), normalized, in scope, each once."""
        return parse_html(self.body, self._charset, self.url, self._allows, self._max_url_length).links

    def follow(self, href: str, callback: Callable[..., Any] | None = None, **kwargs: Any) -> Request | None:
        """A :class:`Request` for ``href`` relative to this page (None if it is not http(s))."""
        url = self.urljoin(href)
        return None if url is None else Request(url, callback, **kwargs)


@dataclasses.dataclass
class Failure:
    """Why a request ended without a response for its callback."""

    request: Request
    error: str  # a record error name: timeout, connect, dns, http, ...
    status: int | None
    url: str


class Spider:
    """Subclass it: set ``start_urls`` (or override :meth:`start`), write :meth:`parse`."""

    name: str = "spider"
    start_urls: list[str] = []  # noqa: RUF012 - overridden by subclasses, read only
    custom_settings: dict[str, Any] = {}  # noqa: RUF012
    pipelines: list[Any] = []  # noqa: RUF012
    #: Objects with ``process_request(request, spider)`` (change ``request.headers``, set
    #: ``request.meta["proxy"]``) and/or ``process_response(response, spider)`` (return the
    #: response, or another one for the callback); plain or ``async def``.
    hooks: list[Any] = []  # noqa: RUF012

    async def start(self) -> AsyncIterator[str | Request]:
        """The first URLs or requests; by default ``start_urls``."""
        for url in self.start_urls:
            yield url

    def parse(self, response: Response) -> Any:
        """Handle a response: yield items and requests. The default yields nothing."""
        return ()


def item_dict(item: Any) -> dict[str, Any]:
    """An item as a JSON-ready dict (dataclasses converted)."""
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        return dataclasses.asdict(item)
    if isinstance(item, Mapping):
        return dict(item)
    raise TypeError(f"a callback yielded {type(item).__name__}: items are dicts or dataclasses")
