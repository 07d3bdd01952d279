"""A fetched page as a callback sees it (:class:`Response`), and the requests for many of its
links at once (:class:`FollowAll`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import cached_property
from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode

from crawler.parse.charsets import decode_html
from crawler.parse.html import ParsedPage, html_tree, is_html, page_of, robots_directives
from crawler.request import Request
from crawler.settings import EXTRACT_ENGINES, EXTRACT_FIELDS
from crawler.spider.selectors import Selector, SelectorError, SelectorList, select
from crawler.urls import join_url


class Response:
    """A fetched page, as a callback sees it.

    ``url`` is where the page was fetched from (after redirects); ``request.url`` is the URL as
    scheduled (normalized). ``depth``, ``referrer``, ``lastmod`` (from a sitemap),
    ``elapsed_ms`` (fetch time, retries and redirect hops included), ``fetched_at`` (ISO 8601
    UTC), ``content_type`` (the media type) and ``size`` (body bytes after decompression, also
    when the body was not kept) describe the fetch; ``body_path`` is where ``--store-bodies``
    saved the body (else None); ``cached`` is true when the HTTP cache answered
    (``--http-cache``), not the site; ``blocked`` names the bot screen (``cloudflare``,
    ``akamai``, ``datadome``, ``perimeterx``, ``imperva``, ``aws_waf``, ``captcha``) when the page
    is a block or challenge page (it then reaches the errback, ``failure.error == "blocked"``),
    else None.
    """

    def __init__(self, url: str, status: int, headers: Mapping[str, str], body: bytes, charset: str | None,
                 request: Request, allows: Callable[[str], bool], max_url_length: int, *,
                 content_type: str | None = None, size: int | None = None, depth: int = 0,
                 referrer: str | None = None, lastmod: str | None = None, elapsed_ms: float = 0.0,
                 fetched_at: str | None = None, agent: str | None = None, obey_robots: bool = True,
                 listed: list[str] | None = None, body_path: str | None = None,
                 page: ParsedPage | None = None, max_links: int = 0, cached: bool = False,
                 extracted: dict[str, Any] | None = None, extract_engine: str = EXTRACT_ENGINES[0],
                 usage_lines: Callable[[str], list[tuple[str, str]]] | None = None, rendered: bool = False,
                 blocked: str | None = None) -> None:
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
        self.cached = cached
        self.rendered = rendered  # the body is the DOM the browser made of the page (--render, render=True)
        self.blocked = blocked
        self._extracted = extracted
        self._extract_engine = extract_engine
        self._usage_lines = usage_lines
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

    def extract(self) -> dict[str, Any]:
        """The page's extraction (``--extract``): main ``text`` and ``markdown``, metadata,
        ``opengraph``, ``jsonld``, ``text_hash``, ``ai_usage``. In a crawl with ``--extract``
        these are the fields it extracted (off the event loop, in its worker processes);
        otherwise every field, extracted here the first time it is asked for, with the crawl's
        ``--extract-engine`` (CPU-heavy: call it from a plain callback, which runs in a thread).
        Every field is None for a response that is not HTML."""
        if self._extracted is None:
            self._extracted = self._extract_all()
        return self._extracted

    def _extract_all(self) -> dict[str, Any]:
        from crawler.parse.extract import empty_fields, extract_page

        if not self.body or not (self.content_type is None or is_html(self.content_type)):
            return empty_fields(EXTRACT_FIELDS)
        lines = self._usage_lines(self.url) if self._usage_lines is not None else []
        found = extract_page(self.text, self.url, EXTRACT_FIELDS, self._extract_engine, self.headers, lines,
                             tree=self._tree)
        found.pop("jsonld_invalid", None)
        return found

    def _field(self, name: str) -> Any:
        found = self.extract()
        if name not in found:  # the crawl extracts other fields: this one is made here
            self._extracted = found = {**self._extract_all(), **found}
        return found[name]

    @property
    def markdown(self) -> str | None:
        """The main content as Markdown (see :meth:`extract`)."""
        return self._field("markdown")  # type: ignore[no-any-return]

    @property
    def text_main(self) -> str | None:
        """The main content as plain text, boilerplate left out (see :meth:`extract`)."""
        return self._field("text")  # type: ignore[no-any-return]

    @property
    def jsonld(self) -> list[Any]:
        """Every JSON-LD block of the page, parsed (see :meth:`extract`)."""
        return self._field("jsonld") or []

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

    def css(self, selector: str) -> SelectorList:
        """Every match of a CSS selector, Scrapy's way: elements (selectolax nodes underneath:
        ``.attributes``, ``.text()``...), or strings with ``::text`` and ``::attr(name)``;
        ``.get()``, ``.getall()``, ``.re()``, ``.attrib`` on the result. A selector that cannot be
        parsed raises :class:`SelectorError` naming it."""
        return select(self._tree, selector, self._parsel_root)

    def css_first(self, selector: str) -> Selector | None:
        """The first match of a CSS selector, or None."""
        found = self.css(selector)
        return found[0] if found else None

    def xpath(self, query: str, **namespaces: Any) -> Any:
        """Matches of an XPath query (a parsel ``SelectorList``: ``.get()``, ``.getall()``,
        ``.re()``, ``.css()``...). The page is parsed for it (by lxml, through parsel) the first
        time a callback asks, and only then."""
        try:
            return self.selector.xpath(query, namespaces=namespaces or None)
        except ValueError as e:
            raise SelectorError(f"bad XPath selector {query!r}: {e}") from None

    @cached_property
    def selector(self) -> Any:
        """The page as a parsel ``Selector`` (Scrapy's ``response.selector``), made when first used."""
        import parsel

        return parsel.Selector(text=self.text, base_url=self.url)

    def _parsel_root(self) -> Any:
        return self.selector

    def form(self, *, css: str | None = None, formid: str | None = None, formname: str | None = None,
             formnumber: int = 0, formdata: Any = None, clickdata: Mapping[str, Any] | None = None,
             dont_click: bool = False, **kwargs: Any) -> Request:
        """The request that submits a form of this page as a browser would (Scrapy's
        ``FormRequest.from_response``): the form chosen by ``css``, ``formid``, ``formname`` or
        ``formnumber`` (default the first); its fields (hidden inputs included; checkboxes and
        radios when checked; selects' chosen options) with ``formdata`` over them (a value None
        leaves a field out); the first submit button clicked, or the one ``clickdata`` names
        (``dont_click=True``: none). ``kwargs`` go to the :class:`Request` (``callback``...)."""
        from crawler.spider.forms import form_request

        return form_request(self, css=css, formid=formid, formname=formname, formnumber=formnumber,
                            formdata=formdata, clickdata=clickdata, dont_click=dont_click, **kwargs)

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

    def follow(self, href: Any, callback: Callable[..., Any] | None = None, **kwargs: Any) -> Request | None:
        """A :class:`Request` for ``href`` relative to this page (None if it is not http(s)):
        a string, or a match of :meth:`css` or :meth:`xpath` (an ``<a>``, ``<area>`` or
        ``<link>`` element, whose ``href`` is taken, or an attribute's value)."""
        url = self.urljoin(href_of(href))
        return None if url is None else Request(url, callback, **kwargs)

    def follow_all(self, hrefs: Iterable[Any] | None = None, callback: Callable[..., Any] | None = None, *,
                   css: str | None = None, xpath: str | None = None, urls: Iterable[Any] | None = None,
                   **kwargs: Any) -> FollowAll:
        """Requests for ``hrefs`` (or ``urls``: strings or matches, relative to this page), for
        the links of the elements ``css`` or ``xpath`` select, or by default for all of
        :meth:`links`.

        Yield the result as it is (``yield response.follow_all()``): the crawler then skips the
        URLs it has already seen before making any request objects, the fast way to crawl a
        page's links. Iterating over it gives the :class:`Request` objects one by one.
        """
        given = hrefs if hrefs is not None else urls
        if css is not None:
            given = self.css(css)
        elif xpath is not None:
            given = self.xpath(xpath)
        if given is None:
            return FollowAll(self.links(), True, callback, kwargs)
        found = [url for url in (self.urljoin(href_of(href)) for href in given) if url is not None]
        return FollowAll(list(dict.fromkeys(found)), False, callback, kwargs)


def href_of(href: Any) -> str:
    """The URL a link-ish thing gives: a string as it is; an ``<a>``, ``<area>`` or ``<link>``
    (a match, a selectolax node, a parsel selector) its ``href``; an attribute's value."""
    if isinstance(href, str):
        return href
    root = getattr(href, "root", href)
    if isinstance(root, str):
        return root.strip()
    tag = getattr(root, "tag", None)
    if tag is None:
        raise TypeError(f"cannot follow {type(href).__name__}: give a URL, or an <a>, <area> or <link> element")
    attributes = root.attributes if isinstance(root, LexborNode) else root.attrib
    if tag not in ("a", "area", "link"):
        raise ValueError(f"cannot follow a <{tag}> element: only <a>, <area> and <link> have a link to follow")
    value = attributes.get("href")
    if value is None:
        raise ValueError(f"cannot follow this <{tag}>: it has no href")
    return str(value).strip()


class FollowAll:
    """Requests for many URLs of one page (see :meth:`Response.follow_all`)."""

    __slots__ = ("callback", "in_scope", "kwargs", "urls")

    def __init__(self, urls: list[str], in_scope: bool, callback: Callable[..., Any] | None,
                 kwargs: dict[str, Any]) -> None:
        self.urls = urls  # normalized absolute URLs
        self.in_scope = in_scope  # already checked against the crawl's scope
        self.callback = callback
        self.kwargs = kwargs

    def request(self, url: str) -> Request:
        """The request for one of the URLs (each its own ``meta`` and ``cb_kwargs``)."""
        kwargs = self.kwargs
        if "meta" in kwargs or "cb_kwargs" in kwargs:
            kwargs = dict(kwargs)
            for name in ("meta", "cb_kwargs"):
                if kwargs.get(name) is not None:
                    kwargs[name] = dict(kwargs[name])
        return Request(url, self.callback, **kwargs)

    def __iter__(self) -> Iterator[Request]:
        for url in self.urls:
            yield self.request(url)

    def __len__(self) -> int:
        return len(self.urls)


__all__ = ["FollowAll", "Response", "href_of"]
