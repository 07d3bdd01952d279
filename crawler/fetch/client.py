"""Fetching: one attempt at one URL, redirects included, under one deadline.

The crawler follows redirects itself (each hop re-checked against the scope and the schemes),
decompresses bodies itself (so ``max_bytes`` bounds the memory a gzip bomb can take), and maps
every failure onto one of the SPEC's error names. Retrying is the engine's business: a result
says whether it is worth another try and how long the server asked us to wait.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import hashlib
import logging
import os
import random
import ssl
import time
from collections.abc import Awaitable, Callable, Collection
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy
from yarl import URL

from crawler import errors
from crawler._version import __version__
from crawler.errors import UsageError
from crawler.fetch import guard
from crawler.fetch.codings import CodingError, Decoder, TooLarge, codings_of
from crawler.fetch.keepalive import Connector
from crawler.fetch.shaping import Shaper
from crawler.settings import Settings
from crawler.timestamps import utc_now_iso
from crawler.urls import join_url
from crawler.work import Capture

log = logging.getLogger(__name__)

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Response header limits: what browsers and curl take (curl: 300 KB in all, Chromium 256 KiB),
# far above aiohttp's own 128 headers of 8 KiB; bounded, so one answer's headers cost at most
# MAX_HEADERS x MAX_HEADER_LINE (16 MiB), less than a body of --max-bytes could.
MAX_HEADERS = 512
MAX_HEADER_LINE = 32768
ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"


@dataclasses.dataclass(slots=True)
class FetchResult:
    """What one fetch attempt gave."""

    final_url: str | None = None
    status: int | None = None
    headers: CIMultiDictProxy[str] | None = None
    content_type: str | None = None  # media type, lower case, no parameters
    charset: str | None = None  # from the Content-Type header
    body: bytes = b""
    size: int = 0  # body bytes after decompression, counted even when the body is not kept
    error: str | None = None
    retryable: bool = False
    retry_after: float | None = None  # seconds, from a Retry-After header
    redirects: int = 0
    location: str | None = None  # with follow=False: the normalized target of a redirect
    cut: bool = False  # the consumer stopped the body before its end
    wire: Capture | None = None  # with capture=True: the exchange as it went over the wire
    _sha1: str | None = None

    def sha1(self) -> str | None:
        """The SHA-1 of the body (hex), computed once; None when there is no body."""
        if self._sha1 is None and self.body:
            self._sha1 = hashlib.sha1(self.body).hexdigest()
        return self._sha1


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def backoff_delay(attempt: int, settings: Settings, retry_after: float | None = None) -> float:
    """Seconds to wait before try ``attempt + 1``: exponential backoff with jitter
    (``retry_backoff`` doubling, at most ``retry_backoff_max``), at least what ``Retry-After``
    asked for (capped the same way)."""
    cap = settings.retry_backoff_max
    base = min(cap, settings.retry_backoff * 2.0 ** max(attempt - 1, 0))
    wait = base / 2 + random.uniform(0, base / 2)
    if retry_after is not None:
        wait = max(wait, min(retry_after, cap))
    return wait


def _media_type(header: str | None) -> tuple[str | None, str | None]:
    if not header:
        return None, None
    media, _, params = header.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip("\"'") or None
    return media.strip().lower() or None, charset


class Fetcher:
    """Fetches URLs through one shared aiohttp session. Use as an async context manager."""

    def __init__(self, settings: Settings, allows: Callable[[str], bool],
                 private_ok: Callable[[str], bool] = lambda host: True, seed_hosts: Collection[str] = ()) -> None:
        """``allows`` decides whether a redirect may go to a (normalized) URL; ``private_ok``
        whether a host name may resolve to a private address (:mod:`crawler.fetch.guard`);
        ``seed_hosts`` (kept up to date by the caller) are where the crawl's own headers,
        credentials and cookies go (:class:`crawler.fetch.shaping.Shaper`)."""
        self.settings = settings
        self.allows = allows
        self.private_ok = private_ok
        self.seed_hosts = seed_hosts
        self.shaper = Shaper(settings, seed_hosts.__contains__)
        self._proxies: set[str] = set()  # hosts of the proxies asked for: the user's own, trusted
        self.session: aiohttp.ClientSession | None = None
        self.headers = {
            "User-Agent": settings.user_agent.replace("{version}", __version__),
            "Accept": ACCEPT,
            "Accept-Encoding": "gzip, deflate, br, zstd",
        }

    def _tls(self) -> ssl.SSLContext | bool:
        """How servers' certificates are checked: against the system's CAs (and
        ``$SSL_CERT_FILE``), plus ``--ca-bundle``; not at all with ``--insecure``."""
        if self.settings.insecure:
            log.warning("--insecure: no server certificate is checked; anyone on the way can read and change "
                        "what is fetched")
            return False
        context = ssl.create_default_context()
        for option, path in (("SSL_CERT_FILE", os.environ.get("SSL_CERT_FILE", "")),
                             ("--ca-bundle", self.settings.ca_bundle)):
            if path:
                try:
                    context.load_verify_locations(cafile=path)
                except (OSError, ssl.SSLError) as e:
                    raise UsageError(f"{option}: cannot use {path} as a CA bundle: "
                                     f"{getattr(e, 'strerror', None) or e}") from None
        return context

    async def __aenter__(self) -> Fetcher:
        connector = Connector(
            ssl=self._tls(),
            limit=self.settings.concurrency,
            limit_per_host=0,  # per-host limits are the frontier's
            resolver=guard.resolver(lambda host: host in self._proxies or self.private_ok(host)),
            ttl_dns_cache=self.settings.dns_cache_ttl,
        )
        self.session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            timeout=aiohttp.ClientTimeout(total=None),
            cookie_jar=self.shaper.open_jar(sorted(self.seed_hosts)),
            headers=self.headers,
            max_headers=MAX_HEADERS,
            max_line_size=MAX_HEADER_LINE,
            max_field_size=MAX_HEADER_LINE,
        )
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self.settings.save_cookies:
            await asyncio.to_thread(self.shaper.save)
        if self.session is not None:
            await self.session.close()
            self.session = None

    async def fetch(
        self,
        url: str,
        keep_body: Callable[[str | None], bool] = lambda media_type: True,
        *,
        allows: Callable[[str], bool] | None = None,
        max_redirects: int | None = None,
        limit: int | None = None,
        truncate: bool = False,
        consumer: Callable[[bytes], Awaitable[bool | None]] | None = None,
        follow: bool = True,
        headers: dict[str, str] | None = None,
        proxy: str | None = None,
        capture: bool = False,
        method: str = "GET",
        body: bytes | None = None,
        cookies: dict[str, str] | None = None,
    ) -> FetchResult:
        """One attempt at ``url``, following redirects, within ``timeout`` seconds in all.

        ``keep_body(media_type)`` says whether the body is kept (it is counted either way).
        ``allows`` (default: the crawl's scope) and ``max_redirects`` govern redirects. A body
        over ``limit`` bytes (default ``max_bytes``) is ``too_large``, or with ``truncate`` cut
        there. ``consumer`` takes the decompressed body chunk by chunk instead of keeping it.
        With ``follow=False`` a redirect to an http(s) URL is not followed: ``location`` holds
        the normalized target for the caller to schedule (and check against its scope).
        ``headers`` are sent besides the session's (conditional GET, a spider's own);
        ``proxy`` is an HTTP proxy URL for this request. With ``capture``, ``wire`` holds the
        last exchange as it went over the wire (for WARC), its body before decompression.
        """
        allows = allows or self.allows
        if proxy is not None:
            self._proxies.add(URL(proxy).host or "")
        max_redirects = self.settings.max_redirects if max_redirects is None else max_redirects
        result = FetchResult()
        phase = "connect"
        try:
            async with asyncio.timeout(self.settings.timeout) as deadline:
                visited = {url}
                while True:
                    phase = "connect"
                    assert self.session is not None
                    # The URL is normalized (escaped already): yarl need not parse and quote it again.
                    async with self.session.request(method, URL(url, encoded=True), allow_redirects=False,
                                                    headers=headers, proxy=proxy, data=body,
                                                    cookies=cookies) as resp:
                        result.final_url = url
                        result.status = resp.status
                        result.headers = resp.headers
                        if capture:
                            result.wire = _capture(url, resp)
                        location = resp.headers.get("Location")
                        if resp.status in REDIRECT_STATUSES and location is not None:
                            target = join_url(url, location, self.settings.max_url_length)
                            if target is not None and not follow:
                                result.location = target
                                return result
                            if target is None or not allows(target):
                                log.debug("redirect from %s to %.200r blocked", url, location)
                                result.error = errors.REDIRECT_BLOCKED
                                return result
                            if target in visited or result.redirects >= max_redirects:
                                result.error = errors.TOO_MANY_REDIRECTS
                                return result
                            visited.add(target)
                            result.redirects += 1
                            url = target
                            continue
                        phase = "body"
                        result.content_type, result.charset = _media_type(
                            resp.headers.get("Content-Type"))
                        await self._read_body(resp, result, keep_body(result.content_type),
                                              limit or self.settings.max_bytes, truncate, consumer, deadline)
                        break
        except TimeoutError:
            result.error, result.retryable = errors.TIMEOUT, True
        except TooLarge:
            result.error = errors.TOO_LARGE
        except aiohttp.ClientConnectorDNSError as e:
            result.error = errors.DNS
            blocked = guard.blocked_by_guard(e)
            if blocked is None:
                result.retryable = True
            else:  # no use trying again: the guard would refuse it again
                log.warning("%s: not fetched: %s", url, blocked)
        except aiohttp.ClientSSLError as e:
            # A certificate that does not verify, or no TLS to agree on: trying again changes
            # nothing.
            result.error = errors.TLS
            cause = getattr(e, "certificate_error", None) or getattr(e, "os_error", None) or e
            verify = getattr(cause, "verify_message", None)
            log.warning("%s: TLS failed: %s", url, f"certificate verify failed: {verify}" if verify else cause)
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, ConnectionError) as e:
            result.error = errors.CONNECT if phase == "connect" else errors.CONTENT
            result.retryable = True
            log.debug("%s: %s: %r", url, result.error, e)
        except CodingError as e:
            # A body cut short inside its coding, not what its coding says, or of a coding
            # nobody knows: the bytes are not the page.
            result.error = errors.CONTENT
            log.debug("%s: %s", url, e)
        except (aiohttp.ClientResponseError, ValueError, OSError) as e:
            # A response aiohttp could not parse, and the like.
            result.error = errors.CONTENT
            log.debug("%s: bad response: %r", url, e)
        else:
            if result.status is not None and result.status >= 400:
                result.error = errors.HTTP
                if result.status >= 500 or result.status == 429:
                    result.retryable = True
                    result.retry_after = parse_retry_after(
                        result.headers.get("Retry-After") if result.headers else None)
        return result

    async def _read_body(
        self,
        resp: aiohttp.ClientResponse,
        result: FetchResult,
        keep: bool,
        limit: int,
        truncate: bool,
        consumer: Callable[[bytes], Awaitable[bool | None]] | None,
        deadline: asyncio.Timeout | None = None,
    ) -> None:
        """Read, decode (every coding of Content-Encoding) and count the body; keep it or hand it
        to ``consumer`` chunk by chunk (it returns False once it wants no more). The time
        ``consumer`` takes is added to ``deadline``: the fetch deadline covers the transfer, not
        what is done with the bytes."""
        codings = codings_of(resp.headers.get("Content-Encoding"))
        decoder = Decoder(codings, limit, truncate) if codings else None
        if decoder is None and not truncate and resp.content_length is not None and resp.content_length > limit:
            raise TooLarge
        parts: list[bytes] = []
        raw: list[bytes] | None = [] if result.wire is not None else None
        size = 0
        loop = asyncio.get_running_loop()
        async for chunk in resp.content.iter_any():
            if raw is not None:
                raw.append(chunk)
            data = decoder.feed(chunk) if decoder is not None else chunk
            if size + len(data) > limit:
                if not truncate:
                    raise TooLarge
                data = data[: limit - size]
            size += len(data)
            if consumer is not None:
                started = loop.time()
                wanted = await consumer(data)
                when = deadline.when() if deadline is not None else None
                if deadline is not None and when is not None:
                    deadline.reschedule(when + loop.time() - started)
                if wanted is False:
                    result.cut = True
                    break  # the consumer has all it takes
            elif keep:
                parts.append(data)
            if truncate and (size >= limit or (decoder is not None and decoder.full)):
                break
        else:
            if decoder is not None:
                decoder.end()
        result.size = size
        result.body = b"".join(parts) if keep and consumer is None else b""
        if raw is not None and result.wire is not None:
            result.wire.body = b"".join(raw)


def _capture(url: str, resp: aiohttp.ClientResponse) -> Capture:
    """The exchange of ``resp`` as sent and received (its body is added as it is read)."""
    version = resp.version
    return Capture(
        url, utc_now_iso(), resp.status, resp.reason or "",
        f"HTTP/{version.major}.{version.minor}" if version else "HTTP/1.1",
        [(k.decode("latin-1"), v.decode("latin-1")) for k, v in resp.raw_headers],
        list(resp.request_info.headers.items()), b"")
