"""The default transport: aiohttp, HTTP/1.1, one attempt at one request under one deadline.

The crawler follows redirects itself (each hop re-checked against the scope and the schemes),
decompresses bodies itself (so ``max_bytes`` bounds the memory a gzip bomb can take), and maps
every failure onto one of the SPEC's error names. Retrying is the engine's business: a result
says whether it is worth another try and how long the server asked us to wait. Connections go
through the SSRF guard's resolver (:mod:`crawler.fetch.guard`) and are kept alive only while
their answers end where they say (:mod:`crawler.fetch.keepalive`).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp_socks import ProxyConnectionError, ProxyConnector, ProxyError, ProxyTimeoutError
from yarl import URL

from crawler import errors
from crawler.codings import CodingError, TooLarge
from crawler.fetch import guard
from crawler.fetch.attempt import (
    REDIRECT_STATUSES,
    ProxiedTargets,
    identity,
    judge_status,
    next_hop,
    proxy_answered,
    trust,
)
from crawler.fetch.body import capture as capture_exchange
from crawler.fetch.body import read_body
from crawler.fetch.keepalive import MAX_HEADER_BYTES, Connector, HeadersTooLarge, guard_protocol
from crawler.fetch.proxies import target_failed
from crawler.fetch.socks import SocksSessions
from crawler.fetch.transport import FetchRequest
from crawler.result import FetchResult, media_type
from crawler.settings import Settings
from crawler.urls import hostname_of

log = logging.getLogger(__name__)

# Response header limits: the header block is bounded in size (keepalive.MAX_HEADER_BYTES, 256
# KiB, as Chromium), not in number: aiohttp's own count and line limits (128 headers of 8 KiB)
# are lifted to what fits in that size.
MAX_HEADERS = MAX_HEADER_BYTES // 4  # "a:\r\n" is the shortest header line


class AiohttpTransport:
    """Fetches through one shared aiohttp session (and one a SOCKS proxy, for each in use):
    :class:`crawler.fetch.transport.Transport` for aiohttp. :meth:`open` before use,
    :meth:`aclose` after."""

    def __init__(self, settings: Settings, allows: Callable[[str], bool], private_ok: Callable[[str], bool],
                 headers: Mapping[str, str], seed_host: Callable[[str], bool] = lambda host: False) -> None:
        """``allows``: whether a redirect may go to a (normalized) URL; ``private_ok``: whether a
        host name may resolve to a private address; ``headers``: sent with every request;
        ``seed_host``: whether a host name is a seed's (``--client-cert`` is presented to those)."""
        self.settings = settings
        self.seed_host = seed_host
        self._identity: ssl.SSLContext | None = None  # --client-cert's
        self.allows = allows
        self.private_ok = private_ok
        self.headers = headers
        self._proxies: set[str] = set()  # hosts of the proxies asked for: the user's own, trusted
        self._socks = SocksSessions(self._socks_session)  # a session for each SOCKS proxy (a bounded number)
        self._tls_context: ssl.SSLContext | bool = True
        self._resolver: Any = None
        self._targets: ProxiedTargets  # made by open()
        self._connector: Connector | None = None  # the direct connections' (SOCKS sessions have their own)
        self.session: aiohttp.ClientSession | None = None

    async def open(self, jar: aiohttp.abc.AbstractCookieJar) -> None:
        """Make the session (cookies kept in ``jar``); a bad CA bundle is a :class:`UsageError`."""
        self._tls_context = trust(self.settings)
        self._identity = identity(self.settings)
        connector = Connector(
            ssl=self._tls_context,
            limit=self.settings.concurrency,
            limit_per_host=0,  # per-host limits are the frontier's
            resolver=guard.resolver(lambda host: host in self._proxies or self.private_ok(host),
                                    self.settings.dns_cache_ttl),
            ttl_dns_cache=self.settings.dns_cache_ttl,
            max_idle=self.settings.max_idle_connections,
        )
        self._connector = connector
        self._resolver = connector._resolver  # the guarded one: a proxied request's target is checked too
        self._targets = ProxiedTargets(self._resolver, self.private_ok, self.settings.dns_cache_ttl)
        self.session = self._session(connector, jar)

    async def aclose(self) -> None:
        """Close every session."""
        await self._socks.close()
        if self.session is not None:
            await self.session.close()
            self.session = self._connector = None

    def _session(self, connector: aiohttp.BaseConnector, jar: aiohttp.abc.AbstractCookieJar) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            timeout=aiohttp.ClientTimeout(total=None),
            cookie_jar=jar,
            headers=dict(self.headers),
            max_headers=MAX_HEADERS,
            max_line_size=MAX_HEADER_BYTES,
            max_field_size=MAX_HEADER_BYTES,
        )

    def _route(self, proxy: str | None) -> tuple[aiohttp.ClientSession, str | None]:
        """The session to fetch through and the HTTP proxy to name to it: a SOCKS proxy has a
        session of its own (given back by :meth:`fetch` when done)."""
        assert self.session is not None
        if proxy is None or not proxy.startswith("socks"):
            return self.session, proxy
        return self._socks.take(proxy), None

    def _socks_session(self, proxy: str) -> aiohttp.ClientSession:
        """A new session through SOCKS proxy ``proxy``, sharing the crawl's cookie jar."""
        assert self.session is not None
        # python-socks knows socks5:// only: socks5h:// is that with the name sent to the proxy.
        connector = ProxyConnector.from_url("socks5://" + proxy.split("://", 1)[1], rdns=proxy.startswith("socks5h://"),
                                            ssl=self._tls_context, limit=self.settings.concurrency, limit_per_host=0)
        guard_protocol(connector)  # 204/304 end the connection, header blocks bounded, as direct ones
        return self._session(connector, self.session.cookie_jar)

    def host_done(self, host: str) -> None:
        """The crawl has nothing more for ``host`` (``host[:port]``) for now: close its idle
        connections (each holds buffers; a new one is made if its host has work again)."""
        if self._connector is not None:
            self._connector.close_idle(host)

    def prefetch(self, url: str) -> None:
        """``url`` was just accepted: if its host's name was never looked up, look it up now."""
        parts = urlsplit(url)
        if parts.hostname:
            self._resolver.prefetch(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))

    async def fetch(self, request: FetchRequest) -> FetchResult:
        """One attempt at ``request`` (see :class:`FetchRequest`) through its ``proxy`` if any,
        following redirects, within ``timeout`` seconds in all."""
        url, method, body, proxy = request.url, request.method, request.body, request.proxy
        headers = dict(request.headers) if request.headers else None
        cookies = dict(request.cookies) if request.cookies else None
        keep_body, limit, truncate, consumer, capture = (request.keep_body, request.limit, request.truncate,
                                                         request.consumer, request.capture)
        allows, max_redirects = request.allows, request.max_redirects
        allows = allows or self.allows
        if proxy is not None:
            self._proxies.add(URL(proxy).host or "")
        session, http_proxy = self._route(proxy)
        max_redirects = self.settings.max_redirects if max_redirects is None else max_redirects
        result = FetchResult()
        phase = "connect"
        try:
            async with asyncio.timeout(self.settings.timeout) as deadline:
                visited = {url}
                while True:
                    phase = "connect"
                    if proxy is not None and not await self._targets.allowed(url, proxy):
                        result.error = errors.DNS
                        log.warning("%s: not fetched: its host resolves only to private addresses", url)
                        return result
                    # The URL is normalized (escaped already): yarl need not parse and quote it again.
                    tls: ssl.SSLContext | bool = True  # the session's
                    if self._identity is not None and self.seed_host(hostname_of(url).rstrip(".")):
                        tls = self._identity  # --client-cert, for the seeds' hosts
                    async with session.request(method, URL(url, encoded=True), allow_redirects=False,
                                               headers=headers, proxy=http_proxy, data=body, cookies=cookies,
                                               ssl=tls) as resp:
                        if http_proxy is not None and proxy_answered(result, resp.status, resp.headers):
                            return result
                        result.final_url = url
                        result.status = resp.status
                        result.headers = resp.headers
                        if capture:
                            result.wire = capture_exchange(url, resp)
                        location = resp.headers.get("Location")
                        if resp.status in REDIRECT_STATUSES and location is not None:
                            target = next_hop(result, url, location, request, allows, visited, max_redirects,
                                              self.settings.max_url_length)
                            if target is None:
                                return result
                            url = target
                            continue
                        phase = "body"
                        result.content_type, result.charset = media_type(
                            resp.headers.get("Content-Type"))
                        await read_body(resp, result, keep_body(result.content_type),
                                        limit or self.settings.max_bytes, truncate, consumer, deadline, request.digest)
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
        except (aiohttp.ClientProxyConnectionError, aiohttp.ClientHttpProxyError, ProxyError,
                ProxyConnectionError, ProxyTimeoutError) as e:
            result.proxy_failure = str(e) or type(e).__name__
            result.error, result.retryable = errors.CONNECT, True
            result.proxy_unusable = not target_failed(e)
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
        except aiohttp.ClientResponseError as e:
            if isinstance(e.__cause__, HeadersTooLarge):
                result.error = errors.TOO_LARGE
                log.warning("%s: %s", url, e.message)
            else:  # a response aiohttp could not parse
                result.error = errors.CONTENT
                log.debug("%s: bad response: %r", url, e)
        except (ValueError, OSError) as e:
            result.error = errors.CONTENT
            log.debug("%s: bad response: %r", url, e)
        else:
            judge_status(result)
        finally:
            if session is not self.session:
                self._socks.give_back(proxy or "")
        return result


__all__ = ["REDIRECT_STATUSES", "AiohttpTransport"]
