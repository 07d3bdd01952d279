"""Fetching as the crawl asks for it: the crawl's headers, cookies, proxies and HTTP cache around
one transport (:mod:`crawler.fetch.transport`), which makes each attempt: ``--http-client``
aiohttp (the default, :class:`crawler.fetch.aiohttpclient.AiohttpTransport`) or curl
(:class:`crawler.fetch.curlclient.CurlTransport`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Collection
from typing import Any

from crawler._version import __version__, install_hint
from crawler.errors import UsageError
from crawler.fetch.aiohttpclient import AiohttpTransport
from crawler.fetch.cache import HttpCache, cache_key
from crawler.fetch.hostgate import HostGate
from crawler.fetch.proxies import ProxyPool, ban_of
from crawler.fetch.shaping import Shaper
from crawler.fetch.transport import FetchRequest, Transport
from crawler.result import FetchResult
from crawler.settings import Settings
from crawler.urls import host_of

log = logging.getLogger(__name__)

ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"


class Fetcher:
    """Fetches URLs for the crawl. Use as an async context manager."""

    def __init__(self, settings: Settings, allows: Callable[[str], bool],
                 private_ok: Callable[[str], bool] = lambda host: True, seed_hosts: Collection[str] = (),
                 gate: HostGate | None = None) -> None:
        """``allows`` decides whether a redirect may go to a (normalized) URL; ``private_ok``
        whether a host name may resolve to a private address (:mod:`crawler.fetch.guard`);
        ``seed_hosts`` (kept up to date by the caller) are where the crawl's own headers,
        credentials and cookies go (:class:`crawler.fetch.shaping.Shaper`); ``gate``: per-host
        limits shared with other crawls of this process (:mod:`crawler.fetch.hostgate`), each
        request waits its turn there."""
        self.settings = settings
        self.gate = gate
        self.seed_hosts = seed_hosts
        self.shaper = Shaper(settings, seed_hosts.__contains__)
        self.proxies = ProxyPool(settings)
        #: --http-cache: answers kept on disk (None when off).
        self.cache = HttpCache(settings.http_cache, settings.http_cache_expiry) if settings.http_cache else None
        self.headers = {
            "User-Agent": settings.user_agent.replace("{version}", __version__),
            "Accept": ACCEPT,
            "Accept-Encoding": "gzip, deflate, br, zstd",
        }
        self.transport: Transport = _transport(settings, allows, private_ok, self.headers,
                                               lambda host: host in self.seed_hosts)

    async def __aenter__(self) -> Fetcher:
        if self.cache is not None:
            try:
                await asyncio.to_thread(self.cache.open)
            except OSError as e:
                raise UsageError(f"--http-cache: cannot use {self.settings.http_cache}: {e.strerror or e}") from None
        await self.transport.open(self.shaper.open_jar(sorted(self.seed_hosts)))
        if self.proxies:
            log.info("proxies: %s", ", ".join(p.shown for p in self.proxies.all()))
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self.settings.save_cookies:
            await asyncio.to_thread(self.shaper.save)
        await self.transport.aclose()

    async def fetch(self, request: FetchRequest) -> FetchResult:
        """One attempt at ``request``, through its ``proxy`` (a spider request's own) or the
        crawl's proxies: a proxy that fails is benched and the attempt goes on through the next
        one; :class:`ProxiesDown` when every one is down. With ``--http-cache``, a request
        answered before is answered from the cache (``cached``), and an answer from the site is
        kept there (not for WARC captures nor streamed bodies)."""
        cache = self.cache
        if cache is None or request.capture or request.consumer is not None:
            return await self._fetch_through_proxies(request)
        key = cache_key(request.method, request.url, request.body, request.follow)
        result = await cache.get(key)
        if result is None:
            result = await self._fetch_through_proxies(request)
            await cache.put(key, result)
        elif not request.keep_body(result.content_type):
            result.body = b""
        return result

    async def _fetch_through_proxies(self, request: FetchRequest) -> FetchResult:
        if self.gate is None:
            return await self._through_proxies(request)
        async with self.gate.slot(host_of(request.url)):
            return await self._through_proxies(request)

    async def _through_proxies(self, request: FetchRequest) -> FetchResult:
        if request.proxy is not None or not self.proxies:
            return await self.transport.fetch(request)
        url = request.url
        result = FetchResult()
        count = len(self.proxies.all())
        answered: set[str] = set()  # proxies that said they could not get it
        for _ in range(2 * count):
            chosen = await self.proxies.pick(url, host_of(url))
            if chosen is None:
                return await self.transport.fetch(request)
            chosen.requests += 1
            result = await self.transport.fetch(dataclasses.replace(request, proxy=chosen.url or None))  # "": direct
            if result.proxy_failure is None:
                self.proxies.succeeded(chosen)
                ban = ban_of(result)
                if ban is not None and self.proxies.banned(chosen, host_of(url), ban):
                    continue  # the host bans this proxy: the next one tries, at once
                return result
            self.proxies.failed(chosen, result.proxy_failure, unusable=result.proxy_unusable)
            if not result.proxy_unusable:
                answered.add(chosen.url)
                if len(answered) == count:  # none of them can: the site's failure, as it stands
                    return result
        return result

    def host_done(self, host: str) -> None:
        """The crawl has nothing more for ``host`` (``host[:port]``) for now: close its idle
        connections (each holds buffers; a new one is made if its host has work again)."""
        self.transport.host_done(host)

    def prefetch(self, url: str) -> None:
        """``url`` was just accepted: if its host's name was never looked up, look it up now (not
        through a proxy, which resolves names itself)."""
        if not self.proxies:
            self.transport.prefetch(url)


def _transport(settings: Settings, allows: Callable[[str], bool], private_ok: Callable[[str], bool],
               headers: dict[str, str], seed_host: Callable[[str], bool]) -> Transport:
    """The transport ``--http-client`` names (curl's is imported only when asked for)."""
    if settings.http_client != "curl":
        return AiohttpTransport(settings, allows, private_ok, headers, seed_host)
    try:
        from crawler.fetch.curlclient import CurlTransport
    except ModuleNotFoundError as e:
        if not (e.name or "").startswith("curl_cffi"):
            raise
        raise UsageError(f"--http-client curl needs curl_cffi ({e}): {install_hint('curl')}") from None
    return CurlTransport(settings, allows, private_ok, headers, seed_host)


__all__ = ["ACCEPT", "Fetcher"]
