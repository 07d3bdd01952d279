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
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from functools import cached_property
from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode

from crawler.parse.charsets import decode_html
from crawler.parse.html import HTML_TYPES, ParsedPage, html_tree, is_html, page_of, robots_directives
from crawler.urls import join_url


class DropItem(Exception):
    """Raised by an item pipeline's ``process_item`` to drop the item."""


@dataclasses.dataclass
class Request:
    """A URL for the crawl to fetch, and what to call with the response.

    ``callback(response)`` defaults to the spider's ``parse``; ``errback(failure)`` is called
    instead when the fetch fails for good (an error, or a status of 400 or more). ``meta`` is
    handed on to the response; ``headers`` are sent with the request (besides the crawl's own,
    ``--header``). A positive ``priority`` puts the request at the front of its host's queue
    instead of the back (hosts themselves take turns by readiness).

    ``method`` (GET by default), ``body`` (bytes or text) or ``json`` (any JSON value, sent as
    JSON with its Content-Type) make other requests: a POST to an API, say. A request that is no
    plain GET is told apart from others to its URL by its method and body (both are part of its
    key in the frontier). ``cookies`` are sent with this request only (with the crawl's jar,
    ``--cookies``, when there is one); ``proxy`` sends it through that proxy (``http://``,
    ``https://``, ``socks5://``, ``socks5h://``; ``meta["proxy"]`` works too).
    """

    url: str
    callback: Callable[..., Any] | str | None = None  # a str: a method's name (a resumed request)
    errback: Callable[..., Any] | str | None = None
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)
    headers: dict[str, str] | None = None
    priority: int = 0
    method: str = "GET"
    body: bytes | str | None = None
    json: Any = None
    cookies: dict[str, str] | None = None
    proxy: str | None = None

    def __post_init__(self) -> None:
        self.method = self.method.upper()

    def payload(self) -> bytes | None:
        """The body to send: ``body`` (text as UTF-8), else ``json`` as JSON, else None."""
        if self.body is not None:
            return self.body.encode("utf-8") if isinstance(self.body, str) else self.body
        if self.json is not None:
            return json.dumps(self.json, ensure_ascii=False).encode("utf-8")
        return None


class Response:
    """A fetched page, as a callback sees it.

    ``url`` is where the page was fetched from (after redirects); ``request.url`` is the URL as
    scheduled (normalized). ``depth``, ``referrer``, ``lastmod`` (from a sitemap),
    ``elapsed_ms`` (fetch time, retries and redirect hops included), ``fetched_at`` (ISO 8601
    UTC), ``content_type`` (the media type) and ``size`` (body bytes after decompression, also
    when the body was not kept) describe the fetch; ``body_path`` is where ``--store-bodies``
    saved the body (else None).
    """

    def __init__(self, url: str, status: int, headers: Mapping[str, str], body: bytes, charset: str | None,
                 request: Request, allows: Callable[[str], bool], max_url_length: int, *,
                 content_type: str | None = None, size: int | None = None, depth: int = 0,
                 referrer: str | None = None, lastmod: str | None = None, elapsed_ms: float = 0.0,
                 fetched_at: str | None = None, agent: str | None = None, obey_robots: bool = True,
                 listed: list[str] | None = None, body_path: str | None = None,
                 page: ParsedPage | None = None, max_links: int = 0) -> None:
        self.url = url
        self.status = status
        self.headers = headers
        self.body = body
        self.request = request
        self.meta = request.meta
        self.content_type = content_type
        self.size = len(body) if size is None else size
        self.depth = depth
        self.referrer = referrer
        self.lastmod = lastmod
        self.elapsed_ms = elapsed_ms
        self.fetched_at = fetched_at
        self.body_path = body_path
        self._charset = charset
        self._allows = allows
        self._max_url_length = max_url_length
        self._agent = agent
        self._obey_robots = obey_robots
        self._listed = listed
        self._max_links = max_links
        if page is not None:  # parsed already (in a parser process: --parse-isolation process)
            self.__dict__["_page"] = page

    @cached_property
    def text(self) -> str:
        """The body decoded (BOM, header charset, ``<meta charset>``, else UTF-8)."""
        return decode_html(self.body, self._charset)

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)

    @cached_property
    def _tree(self) -> LexborHTMLParser:
        return html_tree(self.text)

    @cached_property
    def _page(self) -> ParsedPage:
        """Title, links and meta robots in one pass (HTML responses; nothing for others)."""
        if self._listed is not None or not self.body or not (self.content_type is None or is_html(self.content_type)):
            return ParsedPage(None, self._listed or [], True, False)
        # From the tree css() uses too: a callback that asks for both parses the page once.
        return page_of(self._tree, self.url, self._allows, self._max_url_length, self._obey_robots, self._max_links)

    @property
    def links_dropped(self) -> int:
        """In-scope links :meth:`links` leaves out (``max_links_per_page``; 0 without it)."""
        return self._page.dropped

    @cached_property
    def _header_directives(self) -> set[str]:
        value = self.headers.get("X-Robots-Tag", "")
        return robots_directives(value, self._agent) if value else set()

    def css(self, selector: str) -> list[LexborNode]:
        """Every element matching a CSS selector (selectolax nodes)."""
        return self._tree.css(selector)

    def css_first(self, selector: str) -> LexborNode | None:
        """The first element matching a CSS selector, or None."""
        return self._tree.css_first(selector)

    def urljoin(self, href: str) -> str | None:
        """``href`` made absolute against this page and normalized (None if not http(s))."""
        return join_url(self.url, href, self._max_url_length)

    @property
    def title(self) -> str | None:
        """The HTML title, text only (None when there is none or the response is not HTML)."""
        return self._page.title

    def links(self) -> list[str]:
        """The page's links (``a`` and ``area``, against ``<base href>``), normalized, in scope,
        each once; ``rel=nofollow`` links are left out unless robots rules are off
        (``--no-robots``). For a sitemap document: the in-scope URLs it lists. Empty for other
        responses that are not HTML."""
        return self._page.links

    @property
    def noindex(self) -> bool:
        """Does the page ask not to be indexed (meta robots, or ``X-Robots-Tag`` for all
        crawlers or for this one)?"""
        return self._page.noindex or "noindex" in self._header_directives

    @property
    def nofollow(self) -> bool:
        """Does the page ask not to follow its links? Always False with ``--no-robots``."""
        return self._obey_robots and (not self._page.follow or "nofollow" in self._header_directives)

    def follow(self, href: str, callback: Callable[..., Any] | None = None, **kwargs: Any) -> Request | None:
        """A :class:`Request` for ``href`` relative to this page (None if it is not http(s))."""
        url = self.urljoin(href)
        return None if url is None else Request(url, callback, **kwargs)

    def follow_all(self, hrefs: Iterable[str] | None = None, callback: Callable[..., Any] | None = None,
                   **kwargs: Any) -> FollowAll:
        """Requests for ``hrefs`` (relative to this page), by default for all of :meth:`links`.

        Yield the result as it is (``yield response.follow_all()``): the crawler then skips the
        URLs it has already seen before making any request objects, the fast way to crawl a
        page's links. Iterating over it gives the :class:`Request` objects one by one.
        """
        if hrefs is None:
            return FollowAll(self.links(), True, callback, kwargs)
        urls = [url for url in (self.urljoin(href) for href in hrefs) if url is not None]
        return FollowAll(list(dict.fromkeys(urls)), False, callback, kwargs)


class FollowAll:
    """Requests for many URLs of one page (see :meth:`Response.follow_all`)."""

    __slots__ = ("callback", "in_scope", "kwargs", "urls")

    def __init__(self, urls: list[str], in_scope: bool, callback: Callable[..., Any] | None,
                 kwargs: dict[str, Any]) -> None:
        self.urls = urls  # normalized absolute URLs
        self.in_scope = in_scope  # already checked against the crawl's scope
        self.callback = callback
        self.kwargs = kwargs

    def __iter__(self) -> Iterator[Request]:
        for url in self.urls:
            yield Request(url, self.callback, **self.kwargs)

    def __len__(self) -> int:
        return len(self.urls)


@dataclasses.dataclass
class Failure:
    """Why a request ended without a response for its callback.

    ``error`` is the record error name (``timeout``, ``connect``, ``dns``, ``tls``,
    ``too_large``, ``too_many_redirects``, ``redirect_blocked``, ``http``, ``content``,
    ``robots``); ``url`` the URL of the failed fetch; ``response`` the response when there was
    one (an ``http`` error's page, a redirect that was refused, a body cut short, a page whose
    callback raised), else None; ``exception`` what the callback raised (the error is then
    ``content``); ``final_url`` the last URL that answered (the response's, or the redirect
    before a refused hop).

    ``redirect_to`` is set when the request ended at a redirect: its target was refused (by
    the scope, robots.txt or the hop limit: ``error`` says which), or it is a URL the crawl
    has on its own (linked directly, or where another redirect went), fetched once under that
    URL: then ``error`` is None and ``status`` the redirect's.
    """

    request: Request
    error: str | None
    status: int | None
    url: str
    response: Response | None = None
    depth: int = 0
    referrer: str | None = None
    lastmod: str | None = None
    elapsed_ms: float = 0.0
    fetched_at: str | None = None
    exception: Exception | None = None
    redirect_to: str | None = None
    final_url: str | None = None


class Spider:
    """Subclass it: set ``start_urls`` (or override :meth:`start`), write :meth:`parse`."""

    name: str = "spider"
    start_urls: list[str] = []  # noqa: RUF012 - overridden by subclasses, read only
    custom_settings: dict[str, Any] = {}  # noqa: RUF012
    #: The crawl's effective :class:`crawler.settings.Settings`, set when the crawl starts.
    settings: Any = None
    pipelines: list[Any] = []  # noqa: RUF012
    #: Objects with ``process_request(request, spider)`` (change ``request.headers``, set
    #: ``request.meta["proxy"]``) and/or ``process_response(response, spider)`` (return the
    #: response, or another one for the callback); plain or ``async def``.
    hooks: list[Any] = []  # noqa: RUF012

    async def start(self) -> AsyncIterator[str | Request]:
        """The first URLs or requests; by default ``start_urls``."""
        for url in self.start_urls:
            yield url

    #: Run plain (not ``async``) callbacks on the event loop, not in the thread pool, for
    #: responses of at most the ``inline_parse_bytes`` setting (64 KiB): there the hand-off to a
    #: thread costs more than a quick callback. Only for callbacks that never block.
    inline_callbacks: bool = False

    def parse(self, response: Response) -> Any:
        """Handle a response: yield items and requests. The default yields nothing."""
        return ()

    def errback(self, failure: Failure) -> Any:
        """Handle a request that failed for good and names no errback of its own (its URL
        could not be fetched, robots.txt forbids it, the status was 400 or more, or its
        callback raised): yield items and requests. The default yields nothing."""
        return ()

    def parse_sitemap(self, response: Response) -> Any:
        """Handle a sitemap document the crawl read (``--sitemap``, ``--use-sitemaps``). The
        crawler itself queues the URLs it lists (``response.links()``); the default yields
        nothing."""
        return ()

    def wants_body(self, content_type: str | None) -> bool:
        """Keep the body of responses of this media type for the callback? (Bodies not kept
        are still read to the end and counted in ``response.size``.) The default keeps all."""
        return True


def item_dict(item: Any) -> dict[str, Any]:
    """An item as a JSON-ready dict (dataclasses converted; a dict is taken as it is)."""
    if type(item) is dict:
        return item
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        return dataclasses.asdict(item)
    if isinstance(item, Mapping):
        return dict(item)
    raise TypeError(f"a callback yielded {type(item).__name__}: items are dicts or dataclasses")


__all__ = ["HTML_TYPES", "DropItem", "Failure", "FollowAll", "Request", "Response", "Spider", "item_dict"]
