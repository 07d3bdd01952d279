"""robots.txt per RFC 9309, parsed with protego.

Fetched once per origin (scheme, host, port) before the origin's first page, kept for
``robots_ttl`` in an LRU cache of ``robots_cache_size`` origins. Up to 5 redirects are followed
and ``robots_max_bytes`` are read. A 4xx answer (but 429) allows everything; a 5xx or 429 answer
or a network error is retried (``retries``, with backoff), and then disallows the whole origin
for ``robots_error_ttl`` seconds, after which robots.txt is tried again. ``/robots.txt`` itself
is always allowed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from protego import Protego

from crawler import errors
from crawler.agent import product_token
from crawler.fetch.backoff import backoff_delay
from crawler.fetch.client import Fetcher
from crawler.fetch.transport import FetchRequest
from crawler.settings import Settings

log = logging.getLogger(__name__)

ALLOW, DISALLOW, PARSED = "allow", "disallow", "parsed"
#: The failures of robots.txt that are the host's, not its rules': its pages carry them as their error.
TRANSPORT_ERRORS = (errors.CONNECT, errors.DNS, errors.TIMEOUT, errors.TLS)
MAX_REDIRECTS = 5


#: robots.txt lines kept for a page's ``ai_usage`` (``--extract``): lower case, no colon.
USAGE_LINES = ("content-signal", "content-usage")


def usage_lines(robots_txt: str) -> list[tuple[str, str]]:
    """The ``Content-Signal`` and ``Content-Usage`` lines of a robots.txt, as (name, value)."""
    out = []
    for line in robots_txt.splitlines():
        name, colon, value = line.partition("#")[0].partition(":")
        if colon and name.strip().lower() in USAGE_LINES and value.strip():
            out.append((name.strip().lower(), value.strip()))
    return out


class RobotsRules:
    """The rules of one origin (``usage``: its :func:`usage_lines`)."""

    __slots__ = ("agent", "crawl_delay", "expires", "mode", "parser", "reason", "sitemaps", "usage")

    def __init__(self, mode: str, agent: str, expires: float, parser: Protego | None = None,
                 reason: str = errors.ROBOTS, text: str = "") -> None:
        self.mode = mode
        self.usage = usage_lines(text) if text and "ontent-" in text else []
        self.reason = reason  # the error of a URL refused: robots, or why robots.txt was unreachable
        self.parser = parser
        self.agent = agent
        self.expires = expires
        self.crawl_delay = 0.0
        self.sitemaps: list[str] = []
        if parser is not None:
            delay = parser.crawl_delay(agent) or 0.0
            rate = parser.request_rate(agent)
            if rate is not None and rate.requests:
                delay = max(delay, rate.seconds / rate.requests)
            self.crawl_delay = float(delay)
            self.sitemaps = list(parser.sitemaps)

    def allowed(self, url: str) -> bool:
        """May ``url`` (of this origin) be fetched?"""
        if self.mode == ALLOW:
            return True
        path_start = url.find("/", url.find("//") + 2)
        if path_start >= 0 and url[path_start:] == "/robots.txt":
            return True
        if self.mode == DISALLOW:
            return False
        assert self.parser is not None
        return bool(self.parser.can_fetch(url, self.agent))


class RobotsStore(Protocol):
    """Where a durable crawl keeps robots.txt answers between runs."""

    async def robots_get(self, origin: str) -> tuple[str, str, float, str] | None:
        """(mode, robots.txt text, expiry as a Unix time, reason) of ``origin``, if kept."""
        ...

    async def robots_put(self, origin: str, mode: str, text: str, expires: float, reason: str) -> None:
        """Keep the answer of ``origin``."""
        ...


class Robots:
    """The robots.txt rules of every origin a crawl meets (kept in ``store`` too, if given)."""

    def __init__(self, settings: Settings, fetcher: Fetcher, store: RobotsStore | None = None,
                 reachable: Callable[[str], bool] = lambda url: True) -> None:
        """``reachable(url)``: may a robots.txt redirect go there (any host, but not a private
        address the crawl may not reach: the SSRF guard holds for robots.txt too)?"""
        self.settings = settings
        self.fetcher = fetcher
        self.store = store
        self.reachable = reachable
        self.agent = product_token(fetcher.headers["User-Agent"])
        self._cache: OrderedDict[str, RobotsRules] = OrderedDict()
        self._loading: dict[str, asyncio.Future[RobotsRules]] = {}

    def _may_redirect(self, url: str) -> bool:
        return url.startswith(("http://", "https://")) and self.reachable(url)

    def usage(self, origin: str) -> list[tuple[str, str]]:
        """The :func:`usage_lines` of ``origin``'s robots.txt as last read (a plain look-up: no
        expiry check, safe from any thread)."""
        rules = self._cache.get(origin)
        return rules.usage if rules is not None else []

    def cached(self, origin: str) -> RobotsRules | None:
        """The rules of ``origin`` if known and fresh."""
        rules = self._cache.get(origin)
        if rules is None:
            return None
        if rules.expires <= asyncio.get_running_loop().time():
            del self._cache[origin]
            return None
        self._cache.move_to_end(origin)
        return rules

    async def load(self, origin: str) -> RobotsRules:
        """Fetch (once, however many ask at the same time) and cache the rules of ``origin``."""
        future = self._loading.get(origin)
        if future is None:
            future = self._loading[origin] = asyncio.ensure_future(self._load(origin))
        return await asyncio.shield(future)

    async def _load(self, origin: str) -> RobotsRules:
        """The fetch of ``origin``'s rules, as one task: the rules are in the cache the moment
        the task is done, so no caller can find the fetch over and the cache still empty (a
        worker that did would requeue its page and take it again, round and round)."""
        try:
            rules = await self._fetch(origin)
        finally:
            del self._loading[origin]
        self._cache[origin] = rules
        while len(self._cache) > self.settings.robots_cache_size:
            self._cache.popitem(last=False)
        return rules

    async def _fetch(self, origin: str) -> RobotsRules:
        loop = asyncio.get_running_loop()
        if self.store is not None:
            kept = await self.store.robots_get(origin)
            if kept is not None and kept[2] > time.time():
                mode, text, expires, reason = kept
                parser = Protego.parse(text) if mode == PARSED else None
                return RobotsRules(mode, self.agent, loop.time() + expires - time.time(), parser, reason, text)
        rules, text = await self._fetch_fresh(origin)
        if self.store is not None:
            await self.store.robots_put(origin, rules.mode, text, time.time() + rules.expires - loop.time(),
                                        rules.reason)
        return rules

    async def _fetch_fresh(self, origin: str) -> tuple[RobotsRules, str]:
        loop = asyncio.get_running_loop()
        url = origin + "/robots.txt"
        attempt = 0
        while True:
            attempt += 1
            result = await self.fetcher.fetch(FetchRequest(
                url, allows=self._may_redirect, max_redirects=MAX_REDIRECTS,
                limit=self.settings.robots_max_bytes, truncate=True))
            status = result.status
            now = loop.time()
            if result.error is None and status is not None and 200 <= status < 300:
                # RFC 9309 2.2: UTF-8; a byte order mark is no part of the first line.
                text = result.body.decode("utf-8", errors="replace").removeprefix("\ufeff")
                try:
                    parser = Protego.parse(text)
                except Exception as e:  # protego is lenient; this is a last resort
                    log.warning("%s: robots.txt unparsable (%r): allowing all", url, e)
                    return RobotsRules(ALLOW, self.agent, now + self.settings.robots_ttl), ""
                log.debug("%s: robots.txt loaded", url)
                return RobotsRules(PARSED, self.agent, now + self.settings.robots_ttl, parser, text=text), text
            unavailable = (
                result.error in (errors.TOO_MANY_REDIRECTS, errors.REDIRECT_BLOCKED)
                or (status is not None and status != 429 and (status < 200 or 300 <= status < 500))
            )
            if unavailable:  # RFC 9309 2.3.1.3: crawl without restriction
                log.debug("%s: robots.txt unavailable (%s): allowing all", url, status or result.error)
                return RobotsRules(ALLOW, self.agent, now + self.settings.robots_ttl), ""
            # A transport failure names the pages' error (tls, connect, dns, timeout): the user
            # learns the real cause, not "robots". What trying again cannot change (TLS, an
            # address the guard refuses) is not tried again, as for pages.
            network = result.error in TRANSPORT_ERRORS
            if attempt > self.settings.retries or not result.retryable:
                # RFC 9309 2.3.1.4: unreachable, disallow all
                log.warning("%s: robots.txt failed (%s): not crawling %s for %.0f s",
                            url, status or result.error, origin, self.settings.robots_error_ttl)
                return RobotsRules(DISALLOW, self.agent, now + self.settings.robots_error_ttl,
                                   reason=result.error if network and result.error else errors.ROBOTS), ""
            await asyncio.sleep(backoff_delay(attempt, self.settings, result.retry_after))
