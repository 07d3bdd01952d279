"""What a program or an agent asks of the service, one call at a time: a page as clean data
(:meth:`Desk.scrape`), a site's URLs (:meth:`Desk.map`), a page's named fields
(:meth:`Desk.extract`). The HTTP endpoints (:mod:`crawler.service.firecrawl`) and the MCP tools
(:mod:`crawler.service.mcptools`) both call a :class:`Desk`.

Every call is a polite crawl of its own (:func:`crawler.core.fetchone.fetch_one`: robots.txt,
retries, redirects, the body and decompression bounds), and every crawl of the service goes
through one :class:`crawler.fetch.hostgate.HostGate`, so the per-host limits and delays hold
across concurrent calls. Each URL given is checked by the SSRF guard before anything is sent
(:meth:`Desk.check_url`), and the crawl holds every redirect and every address it connects to to
the same rule. Each call is bounded: its time, its bytes, the calls in flight, and the calls a
minute of each token (:class:`RateLimiter`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import ipaddress
import math
import re
import time
from collections.abc import Iterable
from typing import Any

from crawler import errors
from crawler.core.discover import discover
from crawler.core.fetchone import Fetched, fetch_one
from crawler.core.scope import registered_domain
from crawler.fetch.guard import BlockedAddress, is_blocked, resolver
from crawler.fetch.hostgate import HostGate
from crawler.parse.extract import require_extraction
from crawler.parse.sitemaps import SitemapParser
from crawler.service.callerror import CallError
from crawler.service.documents import document, response_of
from crawler.settings import EXTRACT_FIELDS, Settings
from crawler.urls import hostname_of, normalize_url, origin_of

FORMATS = ("markdown", "html", "rawHtml", "links", "metadata")  # what /v1/scrape's formats may name
#: Why Firecrawl's extraction by a language model is refused (its format and its keys).
NO_MODEL = "extraction by a language model is not offered (ask for metadata, or the extract tool's jsonld)"
REFUSED_FORMATS = {"json": NO_MODEL, "screenshot": "screenshots are not offered",
                   "changeTracking": "change tracking is a durable job's (crawler serve's jobs: change, diff)"}
RENDER_MODES = ("never", "auto", "always")
MAP_SITEMAPS = 20  # sitemap documents a map reads, at most (an index's children included)
MAP_ENOUGH = 100  # URLs of a site's sitemaps below which a map follows the site's links too
MAP_PAGES = 200  # pages a map's discovery fetches, at most
MAP_TIME_SHARE = 0.8  # of a map's time, what its discovery may take (the rest: the answer)
MAP_LIMIT = 30_000  # URLs a map gives at most (Firecrawl's most)
#: The fields of a page the extract tool gives when none are named: its metadata.
METADATA_FIELDS = ("description", "canonical", "lang", "author", "published", "modified", "site_name", "image",
                   "feeds", "opengraph", "jsonld")
@dataclasses.dataclass(frozen=True)
class Bounds:
    """What one call may take (the service's options, see ``crawler serve --help``)."""

    timeout: float = 60.0  # seconds a scrape, a map or an extract takes at most
    max_pages: int = 1000  # pages a crawl fetches at most
    max_runtime: float = 3600.0  # seconds a crawl runs at most
    max_bytes: int = 10 * 1024 * 1024  # bytes of one page's body
    rate: int = 120  # calls a minute for each token (0: no limit)
    in_flight: int = 16  # scrapes, maps and extracts at once (the others wait their turn)
    max_chars: int = 20_000  # characters of Markdown an MCP tool's answer carries at most


class RateLimiter:
    """``rate`` calls a minute for each key (a token, or the client's address without one): a
    token bucket of ``rate`` calls, refilled continuously."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._buckets: collections.OrderedDict[str, tuple[float, float]] = collections.OrderedDict()

    def take(self, key: str) -> None:
        """Count one call of ``key``; :class:`CallError` ``rate_limited`` past the rate."""
        if self.rate <= 0:
            return
        now = time.monotonic()
        tokens, then = self._buckets.pop(key, (float(self.rate), now))
        tokens = min(float(self.rate), tokens + (now - then) * self.rate / 60.0)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            wait = math.ceil((1.0 - tokens) * 60.0 / self.rate)
            error = CallError("rate_limited", f"more than {self.rate} calls a minute with this token; try again in "
                                              f"{wait} s")
            error.retry_after = wait
            raise error
        self._buckets[key] = (tokens - 1.0, now)
        while len(self._buckets) > 10_000:
            self._buckets.popitem(last=False)


@dataclasses.dataclass
class ScrapeAsk:
    """One scrape, as the endpoint and the tool take it (Firecrawl's names)."""

    url: str
    formats: tuple[str, ...] = ("markdown",)
    only_main_content: bool = True
    render: str | None = None  # None: the service's default
    timeout: float | None = None  # seconds (the endpoint takes milliseconds, as Firecrawl)
    headers: dict[str, str] = dataclasses.field(default_factory=dict)

    def headers_lines(self) -> tuple[str, ...]:
        """The headers as the crawl's ``Name: value`` lines (checked)."""
        return header_lines(self.headers)


def header_lines(headers: Any, where: str = "headers") -> tuple[str, ...]:
    """``headers`` (a JSON object of strings) as the crawl's ``Name: value`` lines."""
    if headers is None:
        return ()
    if not isinstance(headers, dict):
        raise CallError("bad_request", f"{where} must be an object of header names and values")
    lines = []
    for name, value in headers.items():
        if not isinstance(value, str) or not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name) \
                or any(c in value for c in "\r\n\0"):
            raise CallError("bad_request", f"{where}: {name!r} is not a header name with a one-line text value")
        lines.append(f"{name}: {value}")
    return tuple(lines)


class Desk:
    """Answers the calls, under ``settings`` (the service's crawl settings), through ``gate``."""

    def __init__(self, settings: Settings, bounds: Bounds, *, allow_private: bool = False,
                 private_hosts: Iterable[str] = (), render: str = "never") -> None:
        """``allow_private``: URLs at private, loopback and link-local addresses may be asked
        for; ``private_hosts``: these hosts may be (an intranet's); ``render``: the default of a
        scrape's ``render``."""
        self.settings = settings.replace(allow_private=True) if allow_private else settings
        self.bounds = bounds
        self.allow_private = allow_private
        self.private_hosts = frozenset(h.lower().rstrip(".") for h in private_hosts)
        self.render = render
        self.gate = HostGate(settings.per_host, settings.delay)
        self.rates = RateLimiter(bounds.rate)
        self._calls = asyncio.Semaphore(bounds.in_flight)

    # The SSRF guard, before anything is sent.
    def trusted(self) -> frozenset[str]:
        """The hosts a crawl of the service may find at a private address, whatever its seeds
        (with ``allow_private``, its settings let every one)."""
        return self.private_hosts

    async def check_url(self, url: Any, what: str = "url") -> str:
        """``url`` normalized; :class:`CallError` when it is no http(s) URL, or its host is (or
        resolves to) a private, loopback, link-local or metadata address the service may not
        reach."""
        if not isinstance(url, str) or not url.strip():
            raise CallError("bad_request", f"{what} is required: an http(s) URL")
        normalized = normalize_url(url.strip(), self.settings.max_url_length)
        if normalized is None or not normalized.startswith(("http://", "https://")):
            raise CallError("bad_request", f"{what}: {url[:200]!r} is not an http(s) URL")
        host = hostname_of(normalized).rstrip(".")
        if self.allow_private or host in self.private_hosts or host.strip("[]") in self.private_hosts:
            return normalized
        refused = CallError("blocked_address", f"{host} is a private, loopback or link-local address: the service "
                                               "does not fetch it (start it with --allow-private to let it)")
        if is_blocked(host):
            raise refused
        with contextlib.suppress(ValueError):
            ipaddress.ip_address(host.strip("[]"))
            return normalized  # a public address, named by its digits: nothing to resolve
        names = resolver(lambda name: False, 0)
        try:
            await names.resolve(host, 0, 0)  # type: ignore[arg-type]  # 0: any family
        except BlockedAddress:
            raise refused from None
        except OSError as e:
            raise CallError(errors.DNS, f"{host}: the name does not resolve ({e.strerror or e})") from None
        finally:
            await names.close()
        return normalized

    def _settings(self, **changes: Any) -> Settings:
        try:
            return self.settings.replace(**changes)
        except errors.UsageError as e:
            raise CallError("bad_request", str(e)) from None

    @contextlib.asynccontextmanager
    async def _bounded(self, timeout: float | None) -> Any:
        """One call's turn (at most ``in_flight`` at once) and its deadline, counted from now:
        the wait for a turn is within it."""
        limit = min(timeout or self.bounds.timeout, self.bounds.timeout)
        try:
            async with asyncio.timeout(limit), self._calls:
                yield limit
        except TimeoutError:
            raise CallError("call_timeout", f"not done in {limit:g} s (timeout; the service's most is "
                                            f"{self.bounds.timeout:g} s)") from None

    async def _fetch(self, url: str, settings: Settings) -> Fetched:
        return await fetch_one(settings, url, gate=self.gate, private_hosts=self.trusted())

    # The calls.
    async def scrape(self, ask: ScrapeAsk) -> dict[str, Any]:
        """One page in Firecrawl's ``data`` shape: ``markdown``, ``html``, ``rawHtml``,
        ``links`` as ``formats`` ask, and ``metadata`` always."""
        async with self._bounded(ask.timeout) as limit:
            url = await self.check_url(ask.url)
            unknown = [f for f in ask.formats if f not in FORMATS]
            for name in unknown:
                if name in REFUSED_FORMATS:
                    raise CallError("bad_request", f"format {name}: {REFUSED_FORMATS[name]}")
                raise CallError("bad_request", f"unknown format {name!r}: formats are {', '.join(FORMATS)}")
            render = ask.render or self.render
            if render not in RENDER_MODES:
                raise CallError("bad_request", f"render must be one of {', '.join(RENDER_MODES)}, got {render!r}")
            if "markdown" in ask.formats:
                try:
                    require_extraction(["markdown"])
                except errors.UsageError as e:
                    raise CallError("unavailable", str(e)) from None
            settings = self._settings(timeout=limit, header=self.settings.header + ask.headers_lines(),
                                      render=render, scope="any", max_bytes=self.bounds.max_bytes)
            fetched = await self._fetch(url, settings)
            return await asyncio.to_thread(document, fetched, url, ask.formats, ask.only_main_content)

    async def extract(self, url: Any, fields: Iterable[str] | None = None, render: str | None = None
                      ) -> dict[str, Any]:
        """A page's named extraction fields (:data:`crawler.settings.EXTRACT_FIELDS`; its
        metadata, :data:`METADATA_FIELDS`, when none are named), with ``url``, ``status`` and
        ``title``."""
        wanted = tuple(fields) if fields else METADATA_FIELDS
        bad = [f for f in wanted if f not in EXTRACT_FIELDS]
        if bad:
            raise CallError("bad_request", f"unknown field {bad[0]!r}: fields are {', '.join(EXTRACT_FIELDS)}")
        try:
            require_extraction(wanted)
        except errors.UsageError as e:
            raise CallError("unavailable", str(e)) from None
        async with self._bounded(None):
            url = await self.check_url(url)
            settings = self._settings(render=render or self.render, max_bytes=self.bounds.max_bytes)
            fetched = await self._fetch(url, settings)
            response = response_of(fetched)
            found = await asyncio.to_thread(response.extract)
        return {"url": url, "status": response.status, "title": response.title,
                **{f: found.get(f) for f in wanted}}

    async def map(self, url: Any, search: str | None = None, limit: int = 5000) -> tuple[list[str], dict[str, int]]:
        """The site's URLs, and how many came from where (``page``, ``sitemap``, ``links``, each
        counting the URLs it added, and ``pages_fetched`` by the discovery): the links of the
        page at ``url`` and those its sitemaps list (robots.txt's ``Sitemap:`` lines, else
        ``/sitemap.xml``, indexes followed up to :data:`MAP_SITEMAPS` documents), on its
        registered domain, each once; when the sitemaps list
        fewer than :data:`MAP_ENOUGH`, a polite breadth-first discovery of the site's links
        (:func:`crawler.core.discover.discover`: at most :data:`MAP_PAGES` pages, within the
        call's time). With ``search``, the URLs whose URL holds every word of it (case-blind)."""
        async with self._bounded(None) as deadline:
            began = asyncio.get_running_loop().time()
            url = await self.check_url(url)
            domain = registered_domain(hostname_of(url).rstrip("."))
            found: dict[str, None] = {url: None}
            settings = self._settings(max_bytes=self.bounds.max_bytes, scope="domain")
            page = await self._fetch(url, settings)
            if page.response is not None:
                found.update(dict.fromkeys(page.response.links()))
            sources = {"page": len(found) - 1}
            before = len(found)
            listed = await self._sitemap_urls(url, settings, domain, found)
            sources["sitemap"] = len(found) - before
            sources["links"] = sources["pages_fetched"] = 0
            wanted = min(limit, MAP_LIMIT)
            if listed < MAP_ENOUGH and len(found) < wanted:
                left = deadline * MAP_TIME_SHARE - (asyncio.get_running_loop().time() - began)
                before = len(found)
                starts = [u for u in found if u != url and registered_domain(hostname_of(u).rstrip(".")) == domain]
                if left >= 1.0:
                    sources["pages_fetched"] = await discover(
                        settings, starts, found, limit=wanted, max_pages=MAP_PAGES, max_runtime=left, gate=self.gate,
                        private_hosts=self.trusted())
                sources["links"] = len(found) - before
        words = [w.lower() for w in (search or "").split()]
        urls = [u for u in found if all(w in u.lower() for w in words)]
        return urls[:limit], sources

    async def _sitemap_urls(self, url: str, settings: Settings, domain: str, found: dict[str, None]) -> int:
        """Add the URLs of the site's sitemaps to ``found``; how many they list."""
        listed = 0
        origin = origin_of(url)
        text = self.gate.robots_text(origin)  # read for the page already (robots.txt obeyed)
        if text is None:
            robots = await self._fetch(origin + "/robots.txt", settings)
            text = robots.response.text if robots.response is not None and robots.status == 200 else ""
        queue: list[str] = []
        if text:
            for line in text.splitlines():
                name, colon, value = line.partition("#")[0].partition(":")
                if colon and name.strip().lower() == "sitemap" and value.strip():
                    queue.append(value.strip())
        if not queue:
            queue.append(origin + "/sitemap.xml")
        read: set[str] = set()
        while queue and len(read) < MAP_SITEMAPS:
            where = normalize_url(queue.pop(0), settings.max_url_length)
            if where is None or where in read or registered_domain(hostname_of(where).rstrip(".")) != domain:
                continue
            read.add(where)
            try:
                await self.check_url(where, "a sitemap")
            except CallError:
                continue
            fetched = await self._fetch(where, settings)
            if fetched.response is None or fetched.status != 200:
                continue
            parser = SitemapParser(settings.sitemap_max_bytes, settings.sitemap_max_urls)
            parser.feed(fetched.response.body)
            parser.close()
            for entry in parser.take():
                loc = normalize_url(entry.loc, settings.max_url_length)
                if loc is None or registered_domain(hostname_of(loc).rstrip(".")) != domain:
                    continue
                if entry.is_sitemap:
                    queue.append(loc)
                else:
                    found[loc] = None
                    listed += 1
        return listed


__all__ = ["FORMATS", "NO_MODEL", "RENDER_MODES", "Bounds", "Desk", "RateLimiter", "ScrapeAsk", "header_lines"]
