"""Proxies: ``--proxy URL``, ``--proxy-file FILE`` (one a line), or the environment's
``HTTP_PROXY``/``HTTPS_PROXY``/``ALL_PROXY`` (``NO_PROXY`` honoured; ``--no-env-proxy`` turns them off).

- ``http://`` and ``https://`` proxies carry requests as aiohttp does (CONNECT for https
  targets); ``socks5://`` (names resolved here) and ``socks5h://`` (names resolved by the proxy)
  go through aiohttp-socks, one session a SOCKS proxy, sharing the crawl's cookie jar.
- Rotation: ``host`` (the default) gives each host one proxy, so its sessions and its politeness
  stay coherent; ``request`` takes the next proxy for every request.
- A proxy that fails (it cannot be reached, or answers 407) is benched, 1 s doubling to 60 s,
  and the request goes through the next one; after :data:`STRIKES` such failures in a row it is
  down, and when every proxy is, :class:`ProxiesDown` stops the crawl in one line instead of
  recording every URL as failed. A proxy that works but could not get the page (a 5xx of its
  own, without the ``Via`` header it puts on answers it forwards; a CONNECT answered 5xx; a
  SOCKS reply that the host is unreachable or refused) is passed over for that request, which
  goes through the next one; when every proxy says so it is the site's failure, recorded and
  retried as any. Such answers bench a proxy only after :data:`STRIKES` in a row with no page
  between (a proxy whose upstream is broken), and never make it down: one dead site behind a
  good proxy must not stall the crawl.
- A proxy that a host bans (it answers through it 403, 429 or a block page: see
  :mod:`crawler.fetch.blocked`) rests for that host, :data:`REST_FIRST` doubling to
  :data:`REST_MAX` seconds, and the request goes through the next proxy at once; the host's
  requests go through the others while it rests. When every proxy rests for a host, the host
  bans them all: its answers are recorded as they are, through the proxies as before.
- Tiers (``--proxy-tier FILE``, repeatable, in order): a host starts on the first tier (a file
  whose line ``direct`` means no proxy, or datacenter proxies) and moves up one tier each time it
  bans a proxy of its tier (or goes direct and is refused), at once, the request with it, as
  Crawlee's tiered proxies do; it never moves down in a run. On the top tier, bans rest proxies
  as above.
- The figures of each proxy (requests, failures, seconds benched, bans; its tier) and of each
  tier (its requests, bans and the hosts on it) go to ``--stats`` and the report, the proxy shown
  without its credentials.
"""

from __future__ import annotations

import asyncio
import logging
import urllib.request
import zlib
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp_socks import ProxyError

from crawler.errors import FatalError, UsageError
from crawler.fetch.blocked import block_page
from crawler.result import FetchResult
from crawler.settings import PROXY_SCHEMES, Settings
from crawler.settings.masking import mask_url

log = logging.getLogger("crawler")
STRIKES = 3  # failures in a row that make a proxy down
BENCH_FIRST, BENCH_MAX = 1.0, 60.0  # seconds a failed proxy sits out: the first time, and at most
REST_FIRST, REST_MAX = 30.0, 600.0  # seconds a proxy rests for a host that banned it: the first time, at most
BAN_STATUSES = frozenset({403, 429})  # answers through a proxy that say the host bans it (with block pages)
DIRECT = "direct"  # a tier file's line for "no proxy"


class ProxiesDown(FatalError):
    """Every proxy of the crawl is down."""


class Proxy:
    """One proxy and how it is doing."""

    __slots__ = ("bans", "benched", "benched_until", "failures", "misses", "requests", "shown", "strikes", "tier",
                 "url")

    def __init__(self, url: str, tier: int = 0) -> None:
        self.url = url  # with its credentials: only ever given to the transport; "" is a tier's "direct"
        self.shown = mask_url(url) if url else DIRECT
        self.tier = tier
        self.requests = 0
        self.failures = 0
        self.strikes = 0  # failures of its own in a row
        self.misses = 0  # pages it could not get, in a row
        self.benched_until = 0.0  # loop time
        self.benched = 0.0  # seconds benched in all
        self.bans = 0  # answers that said a host bans it


class ProxyPool:
    """The proxies of a crawl; :meth:`pick` one for a request."""

    def __init__(self, settings: Settings) -> None:
        urls = [settings.proxy] if settings.proxy else []
        if settings.proxy_file:
            urls += _read_list(settings.proxy_file, "--proxy-file")
        self.rotate = settings.proxy_rotate
        self.proxies = [Proxy(url) for url in dict.fromkeys(urls)]
        #: The tiers, lowest first (one, of every proxy, without --proxy-tier).
        self.tiers = [self.proxies]
        if settings.proxy_tier:
            self.tiers = [[Proxy("" if url == DIRECT else url, tier) for url in dict.fromkeys(
                _read_list(path, "--proxy-tier", direct=True))] for tier, path in enumerate(settings.proxy_tier)]
            self.proxies = [p for tier in self.tiers for p in tier]
        self._tier_of: dict[str, int] = {}  # host -> its tier, when above the first
        self.by_scheme: dict[str, Proxy] = {}  # the environment's, when none is given
        if not self.proxies and settings.env_proxy:
            found = urllib.request.getproxies_environment()
            for scheme in ("http", "https"):
                url = found.get(scheme) or found.get("all")
                if url and url.startswith(PROXY_SCHEMES):
                    self.by_scheme[scheme] = Proxy(url)
        self._turn = 0
        self._hosts: dict[tuple[int, str], int] = {}  # (tier, host) -> its proxy in that tier (rotate = host)
        self._rests: dict[tuple[str, str], tuple[float, int]] = {}  # (proxy, host) -> (rests until, bans in a row)

    def __bool__(self) -> bool:
        return bool(self.proxies or self.by_scheme)

    def all(self) -> list[Proxy]:
        """Every proxy of the crawl."""
        return self.proxies or list(self.by_scheme.values())

    async def pick(self, url: str, host: str) -> Proxy | None:
        """The proxy for a request of ``url`` (to ``host``): None when it goes direct. Waits
        while every proxy sits on the bench; :class:`ProxiesDown` when every one is down."""
        if not self.proxies:
            scheme = url.partition(":")[0]
            proxy = self.by_scheme.get(scheme)
            if proxy is None or _bypassed(host):
                return None
            await self._wait(proxy)
            return proxy
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            tier = self._tier_of.get(host, 0)
            proxies = self.tiers[tier]
            count = len(proxies)
            key = (tier, host)
            if self.rotate == "host":
                start = self._hosts.get(key)
                if start is None:
                    start = self._hosts[key] = zlib.crc32(host.encode()) % count
            else:
                start = self._turn % count
                self._turn += 1
            order = [(start + i) % count for i in range(count)]
            usable = [i for i in order if proxies[i].benched_until <= now]
            if usable:
                # Not one the host bans, while it rests; any, when the host bans them all.
                chosen = next((i for i in usable if not self.resting(proxies[i], host, now)), usable[0])
                if self.rotate == "host":
                    self._hosts[key] = chosen  # the host stays with its new proxy
                return proxies[chosen]
            self._down()
            await asyncio.sleep(min(p.benched_until for p in proxies) - now)

    async def _wait(self, proxy: Proxy) -> None:
        if proxy.strikes >= STRIKES:
            self._down()
        delay = proxy.benched_until - asyncio.get_running_loop().time()
        if delay > 0:
            await asyncio.sleep(delay)

    def _down(self) -> None:
        proxies = self.all()
        if all(p.strikes >= STRIKES for p in proxies):
            raise ProxiesDown(f"every proxy is down ({', '.join(p.shown for p in proxies)}): "
                              "the crawl stops here; the same command resumes a --job-dir crawl")

    def failed(self, proxy: Proxy, reason: str, unusable: bool) -> None:
        """``proxy`` did not get a page: bench it, for longer each time, when it is ``unusable``
        itself (not reached, 407), or when it could not get :data:`STRIKES` pages in a row."""
        proxy.failures += 1
        if unusable:
            proxy.strikes += 1
            wait = min(BENCH_FIRST * 2 ** (proxy.strikes - 1), BENCH_MAX)
        else:
            proxy.misses += 1
            if proxy.misses < STRIKES:
                log.info("proxy %s could not get a page (%s): the next proxy tries", proxy.shown, reason)
                return
            wait = min(BENCH_FIRST * 2 ** (proxy.misses - STRIKES), BENCH_MAX)
        now = asyncio.get_running_loop().time()
        proxy.benched += max(0.0, now + wait - max(proxy.benched_until, now))  # overlaps counted once
        proxy.benched_until = max(proxy.benched_until, now + wait)
        log.warning("proxy %s failed (%s): benched for %.0f s", proxy.shown, reason, wait)

    def resting(self, proxy: Proxy, host: str, now: float) -> bool:
        """Whether ``host`` banned ``proxy`` and it still rests for it."""
        rest = self._rests.get((proxy.url, host))
        return rest is not None and rest[0] > now

    def banned(self, proxy: Proxy, host: str, reason: str) -> bool:
        """``host`` answered through ``proxy`` as a ban (``reason``): it rests for that host, for
        longer each time. True when another proxy can take the host's requests now."""
        now = asyncio.get_running_loop().time()
        proxy.bans += 1
        _, times = self._rests.get((proxy.url, host), (0.0, 0))
        wait = min(REST_FIRST * 2 ** times, REST_MAX)
        self._rests[(proxy.url, host)] = (now + wait, times + 1)
        tier = self._tier_of.get(host, 0)
        if proxy.tier == tier and tier + 1 < len(self.tiers):
            self._tier_of[host] = tier + 1
            log.info("%s bans %s (%s): it moves up to proxy tier %d", host, proxy.shown, reason, tier + 2)
            return True
        others = [p for p in self.tiers[tier]
                  if p is not proxy and p.benched_until <= now and not self.resting(p, host, now)]
        if others:
            log.info("%s bans proxy %s (%s): it rests for that host %.0f s", host, proxy.shown, reason, wait)
        return bool(others)

    @staticmethod
    def succeeded(proxy: Proxy) -> None:
        """``proxy`` carried a request."""
        proxy.strikes = proxy.misses = 0

    def figures(self) -> list[dict[str, Any]]:
        """Each proxy's requests, failures, seconds benched and bans, and with tiers its tier (1
        the first) (``--stats``: ``proxies``)."""
        tiered = len(self.tiers) > 1
        return [{"proxy": p.shown, "requests": p.requests, "failures": p.failures, "benched_s": round(p.benched, 1),
                 "bans": p.bans, **({"tier": p.tier + 1} if tiered else {})} for p in self.all()]

    def tier_figures(self) -> list[dict[str, Any]]:
        """With ``--proxy-tier``, each tier's proxies, requests and bans, and the hosts that moved
        up to it (``--stats``: ``proxy_tiers``); else nothing."""
        if len(self.tiers) < 2:
            return []
        moved = [0] * len(self.tiers)  # hosts that moved up to each tier (every host starts on the first)
        for tier in self._tier_of.values():
            moved[tier] += 1
        return [{"tier": i + 1, "proxies": [p.shown for p in tier], "requests": sum(p.requests for p in tier),
                 "bans": sum(p.bans for p in tier), "hosts_moved_up": moved[i]} for i, tier in enumerate(self.tiers)]


def ban_of(result: FetchResult) -> str | None:
    """Why an answer that came through a proxy says the host bans it (403, 429, a block page's
    screen), or None."""
    if result.status in BAN_STATUSES:
        return str(result.status)
    return block_page(result.status, result.headers, result.body)


SOCKS_TARGET_REPLIES = frozenset({3, 4, 5, 6})  # RFC 1928: network, host unreachable; refused; TTL expired


def target_failed(error: BaseException) -> bool:
    """Was it the target a proxy could not reach (a CONNECT answered 5xx, a SOCKS reply that the
    host is unreachable or refused), not the proxy that failed?"""
    if isinstance(error, aiohttp.ClientHttpProxyError):
        return error.status >= 500
    return isinstance(error, ProxyError) and getattr(error, "error_code", None) in SOCKS_TARGET_REPLIES


def _bypassed(host: str) -> bool:
    """Does ``NO_PROXY`` name ``host`` (host[:port])?"""
    name = host.rpartition(":")[0] if host.count(":") == 1 else host
    return bool(urllib.request.proxy_bypass_environment(name))  # type: ignore[attr-defined]


def _read_list(path: str, option: str, direct: bool = False) -> list[str]:
    """The proxies of a ``--proxy-file`` (``option``): one URL a line, ``#`` comments and blank
    lines left out; with ``direct`` (a tier's file), the line ``direct`` too (no proxy)."""
    try:
        lines = Path(path).read_text("utf-8").splitlines()
    except OSError as e:
        raise UsageError(f"{option}: cannot read {path}: {e.strerror}") from None
    urls = []
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if not text.startswith(PROXY_SCHEMES) and not (direct and text == DIRECT):
            also = ", or 'direct'" if direct else ""
            raise UsageError(f"{option}: {path}:{number}: not an http://, https://, socks5:// or socks5h:// "
                             f"URL{also}: {mask_url(text)[:100]}")
        urls.append(text)
    if not urls:
        raise UsageError(f"{option}: no proxy in {path}")
    return urls


__all__ = ["STRIKES", "ProxiesDown", "Proxy", "ProxyPool", "ban_of", "target_failed"]
