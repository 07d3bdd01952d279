"""Declarative crawling, Scrapy's way: a :class:`CrawlSpider` whose :class:`Rule` objects say
which links to follow and which pages to hand to which callback, each rule picking its links
with a :class:`LinkExtractor`.

Scrapy's ``CrawlSpider`` was chosen over Crawlee's labelled router because the users this API
is for know it already, and because a rule holds both halves of the common spider ("follow
these, parse those") in one line, where a router needs a handler per label that enqueues the
next label by hand. A rule's requests name their callback by method and their rule by number
(``meta["rule"]``), so they survive a resumed ``--job-dir`` run and a Redis frontier.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

from crawler.request import Request
from crawler.spider.base import Spider, callback_outputs
from crawler.spider.response import Response, href_of

#: File extensions a :class:`LinkExtractor` leaves out by default (``deny_extensions``): pages
#: of these are not HTML, so a rules spider would only fetch them to throw them away.
IGNORED_EXTENSIONS = frozenset("""
    7z 7zip apk bz2 cab dmg gz jar rar tar tgz xz zip
    mng pct bmp gif jpg jpeg png pst psp tif tiff ai drw dxf eps ps svg cdr ico webp avif heic
    mp3 wma ogg wav ra aac mid au aiff flac m4a opus
    3gp asf asx avi mov mp4 mpg qt rm swf wmv m4v webm flv mkv
    css pdf exe bin rss dmg iso msi
    xls xlsx ppt pptx pps doc docx odt ods odg odp
""".split())

Patterns = str | re.Pattern[str] | Iterable[str | re.Pattern[str]]


def _patterns(given: Patterns | None) -> list[re.Pattern[str]]:
    if given is None:
        return []
    if isinstance(given, (str, re.Pattern)):
        given = [given]
    return [re.compile(p) if isinstance(p, str) else p for p in given]


def _strings(given: str | Iterable[str] | None) -> tuple[str, ...]:
    if given is None:
        return ()
    return (given,) if isinstance(given, str) else tuple(given)


def _in_domains(host: str, domains: tuple[str, ...]) -> bool:
    return any(host == d or host.endswith("." + d) for d in domains)


class LinkExtractor:
    """Picks links out of a page, as Scrapy's ``LinkExtractor`` does.

    ``allow`` / ``deny``: regular expressions (one or a list) searched in the absolute URL; a
    link is kept when it matches one of ``allow`` (or ``allow`` is empty) and none of
    ``deny``. ``allow_domains`` / ``deny_domains``: hosts, their subdomains included.
    ``restrict_css`` / ``restrict_xpaths``: only links inside the elements these select.
    ``deny_extensions``: file extensions left out (default :data:`IGNORED_EXTENSIONS`; pass
    ``()`` to keep all).

    Links are the page's ``<a>`` and ``<area>`` links as :meth:`Response.links` gives them:
    absolute, normalized, in the crawl's scope, ``rel=nofollow`` left out (unless
    ``--no-robots``), each once. Unlike Scrapy's, :meth:`extract_links` returns URLs (strings),
    not ``Link`` objects.
    """

    def __init__(self, allow: Patterns | None = None, deny: Patterns | None = None,
                 allow_domains: str | Iterable[str] | None = None, deny_domains: str | Iterable[str] | None = None,
                 restrict_css: str | Iterable[str] | None = None, restrict_xpaths: str | Iterable[str] | None = None,
                 deny_extensions: Iterable[str] | None = None) -> None:
        self.allow = _patterns(allow)
        self.deny = _patterns(deny)
        self.allow_domains = tuple(d.lower() for d in _strings(allow_domains))
        self.deny_domains = tuple(d.lower() for d in _strings(deny_domains))
        self.restrict_css = _strings(restrict_css)
        self.restrict_xpaths = _strings(restrict_xpaths)
        ignored = IGNORED_EXTENSIONS if deny_extensions is None else deny_extensions
        self.deny_extensions = frozenset(e.lower().lstrip(".") for e in ignored)

    def matches(self, url: str) -> bool:
        """Does ``url`` pass the filters (patterns, domains, extensions)?"""
        if self.allow and not any(p.search(url) for p in self.allow):
            return False
        if any(p.search(url) for p in self.deny):
            return False
        if self.allow_domains or self.deny_domains:
            host = (urlsplit(url).hostname or "").lower()
            if self.allow_domains and not _in_domains(host, self.allow_domains):
                return False
            if _in_domains(host, self.deny_domains):
                return False
        if self.deny_extensions:
            path = urlsplit(url).path
            dot = path.rfind(".")
            if dot > path.rfind("/") and path[dot + 1:].lower() in self.deny_extensions:
                return False
        return True

    def extract_links(self, response: Response) -> list[str]:
        """The URLs of ``response`` that this extractor keeps, in page order."""
        links = response.links()
        if self.restrict_css or self.restrict_xpaths:
            links = self._restricted(response, set(links))
        return [url for url in links if self.matches(url)]

    def _restricted(self, response: Response, allowed: set[str]) -> list[str]:
        hrefs: list[Any] = []
        for query in self.restrict_css:
            for region in response.css(query):
                if getattr(region.root, "tag", None) in ("a", "area"):
                    hrefs.append(region)
                hrefs += region.css("a[href], area[href]")
        for query in self.restrict_xpaths:
            for region in response.xpath(query):
                hrefs += region.xpath("self::a[@href] | self::area[@href] | .//a[@href] | .//area[@href]")
        found = (response.urljoin(href_of(h)) for h in hrefs)
        return [url for url in dict.fromkeys(found) if url is not None and url in allowed]


@dataclasses.dataclass
class Rule:
    """One rule of a :class:`CrawlSpider`: the links ``link_extractor`` picks (default: every
    link of the page) are fetched; their responses go to ``callback`` (a method's name, or a
    method) with ``cb_kwargs``, and their links are followed when ``follow`` is true (by
    default when there is no callback). ``errback`` hears of those that fail.
    ``process_links(urls)`` may filter or change the URLs of a page, ``process_request(request,
    response)`` each request (return None to drop it); both may be method names too."""

    link_extractor: LinkExtractor | None = None
    callback: Callable[..., Any] | str | None = None
    cb_kwargs: dict[str, Any] | None = None
    follow: bool | None = None
    process_links: Callable[..., Any] | str | None = None
    process_request: Callable[..., Any] | str | None = None
    errback: Callable[..., Any] | str | None = None

    def __post_init__(self) -> None:
        if self.link_extractor is None:
            self.link_extractor = LinkExtractor()
        if self.follow is None:
            self.follow = self.callback is None


class CrawlSpider(Spider):
    """A spider driven by :attr:`rules`. Start pages go to :meth:`parse_start_url` and their
    links through the rules; each link is taken by the first rule whose extractor picks it.
    Do not override :meth:`parse` (the rules run there); write the rules' callbacks instead.

    A rules spider in full::

        class Books(CrawlSpider):
            start_urls = ["http://127.0.0.1:8000/"]
            rules = [
                Rule(LinkExtractor(allow=r"/catalog/page-\\d+")),              # follow
                Rule(LinkExtractor(allow=r"/book/"), callback="parse_book"),  # parse
            ]

            def parse_book(self, response):
                yield {"title": response.css("h1::text").get()}
    """

    rules: Sequence[Rule] = ()

    def parse(self, response: Response) -> Iterator[Any]:
        """Start pages: :meth:`parse_start_url`, then the rules."""
        yield from callback_outputs(self.parse_start_url(response))
        yield from self.follow_rules(response)

    def parse_start_url(self, response: Response) -> Any:
        """What to make of a start page besides following its links; nothing by default."""
        return ()

    def follow_rules(self, response: Response) -> Iterator[Request]:
        """The requests the rules make for ``response``'s links."""
        seen: set[str] = set()
        for index, rule in enumerate(self.rules):
            assert rule.link_extractor is not None
            urls = [url for url in rule.link_extractor.extract_links(response) if url not in seen]
            seen.update(urls)
            if rule.process_links is not None:
                urls = list(self._method(rule.process_links)(urls))
            callback = "_rule_async" if _is_async(self._callback_of(rule)) else "_rule_page"
            for url in urls:
                request: Request | None = Request(url, callback, rule.errback, meta={"rule": index})
                if rule.process_request is not None:
                    request = self._method(rule.process_request)(request, response)
                if request is not None:
                    yield request

    def _rule_page(self, response: Response) -> Iterator[Any]:
        rule = self.rules[response.meta["rule"]]
        callback = self._callback_of(rule)
        if callback is not None:
            yield from callback_outputs(callback(response, **(rule.cb_kwargs or {})))
        if rule.follow:
            yield from self.follow_rules(response)

    async def _rule_async(self, response: Response) -> AsyncIterator[Any]:
        rule = self.rules[response.meta["rule"]]
        callback = self._callback_of(rule)
        if callback is not None:
            made = callback(response, **(rule.cb_kwargs or {}))
            if inspect.isasyncgen(made):
                async for output in made:
                    yield output
            else:
                for output in callback_outputs(await made):
                    yield output
        if rule.follow:
            for request in self.follow_rules(response):
                yield request

    def _callback_of(self, rule: Rule) -> Callable[..., Any] | None:
        return None if rule.callback is None else self._method(rule.callback)

    def _method(self, fn: Callable[..., Any] | str) -> Callable[..., Any]:
        if isinstance(fn, str):
            method = getattr(self, fn, None)
            if method is None:
                raise AttributeError(f"{type(self).__name__} has no method {fn!r} (named by a Rule)")
            return method  # type: ignore[no-any-return]
        return fn


def _is_async(fn: Callable[..., Any] | None) -> bool:
    return fn is not None and (inspect.isasyncgenfunction(fn) or inspect.iscoroutinefunction(fn))


__all__ = ["IGNORED_EXTENSIONS", "CrawlSpider", "LinkExtractor", "Rule"]
