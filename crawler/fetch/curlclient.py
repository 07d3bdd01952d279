"""The second transport (``--http-client curl``): libcurl through curl_cffi, which ships its own
libcurl built with BoringSSL: HTTP/2 over TLS (by ALPN, HTTP/1.1 where a server has no HTTP/2),
connections kept and shared, and with ``--impersonate`` a browser's TLS hello, HTTP/2 settings
and headers.

It keeps every promise of the default transport (:mod:`crawler.fetch.aiohttpclient`), the same
way where it can:

- the SSRF guard: each host name is resolved here, through the guard's resolver, and libcurl is
  handed the checked addresses (``CURLOPT_RESOLVE``), so it connects to nothing else (no
  rebinding between check and connect); the address connected to is checked again after;
  through a proxy, :class:`crawler.fetch.attempt.ProxiedTargets`, as for aiohttp;
- redirects are followed here, each hop checked against the scope; bodies come as sent
  (libcurl decodes nothing) and are decoded here, bounded (:class:`crawler.codings.Decoder`); a
  header block is bounded as aiohttp's is; cookies are the crawl's jar's;
- the exchange is captured for WARC with HTTP/1.1 status and request lines whatever the
  protocol (as wget and warcprox write HTTP/2), the body as it came.

The transfer itself is in :mod:`crawler.fetch.curltransfer`.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Mapping
from http.cookies import SimpleCookie
from urllib.parse import urlsplit

from aiohttp.abc import AbstractCookieJar
from curl_cffi import Curl, CurlError, CurlInfo, CurlOpt
from curl_cffi.aio import AsyncCurl
from curl_cffi.const import CurlECode, CurlHttpVersion, CurlMOpt
from curl_cffi.requests.impersonate import resolve_latest_browser_type
from yarl import URL

from crawler import errors
from crawler.codings import CodingError, TooLarge
from crawler.defaults import DEFAULTS
from crawler.fetch import guard
from crawler.fetch.attempt import (
    REDIRECT_STATUSES,
    ProxiedTargets,
    identity,
    is_ip,
    judge_status,
    next_hop,
    proxy_answered,
    trust,
)
from crawler.fetch.cabundle import CaBundle
from crawler.fetch.curltransfer import Transfer, failure_of, reason_of
from crawler.fetch.keepalive import HeadersTooLarge
from crawler.fetch.transport import FetchRequest
from crawler.result import FetchResult
from crawler.settings import Settings

log = logging.getLogger(__name__)

#: --impersonate: the browsers, each libcurl's newest fingerprint of it.
BROWSERS = ("chrome", "firefox", "safari", "edge")
HANDLES_KEPT = 256  # idle easy handles kept for the next requests (connections are the multi handle's)
RESOLVED_KEPT = 65536  # host names whose checked addresses are remembered, at most


class CurlTransport:
    """Fetches through one libcurl multi handle: :class:`crawler.fetch.transport.Transport` for
    curl_cffi. :meth:`open` before use, :meth:`aclose` after."""

    def __init__(self, settings: Settings, allows: Callable[[str], bool], private_ok: Callable[[str], bool],
                 headers: Mapping[str, str], seed_host: Callable[[str], bool] = lambda host: False) -> None:
        """As :class:`crawler.fetch.aiohttpclient.AiohttpTransport`: ``allows`` decides the
        redirects followed, ``private_ok`` which hosts may resolve privately, ``headers`` go with
        every request (with ``--impersonate``, the browser's own take the place of the crawl's
        User-Agent, Accept and Accept-Encoding, unless ``--user-agent`` was set), ``seed_host``
        says which hosts are presented ``--client-cert``."""
        self.settings = settings
        self.seed_host = seed_host
        self.allows = allows
        self.private_ok = private_ok
        # libcurl knows each browser's versions by name ("chrome152"): the newest of the one asked.
        self.impersonate: str = (resolve_latest_browser_type(settings.impersonate)  # type: ignore[no-untyped-call]
                                 if settings.impersonate else "")
        own_agent = settings.user_agent != DEFAULTS["user_agent"]
        self.headers = [f"{k}: {v}".encode("latin-1") for k, v in headers.items()
                        if not self.impersonate or (k.lower() == "user-agent" and own_agent)]
        self._proxies: set[str] = set()  # hosts of the proxies asked for: the user's own, trusted
        self._multi: AsyncCurl | None = None
        self._idle: list[Curl] = []
        self._jar: AbstractCookieJar | None = None
        self._verify = True
        self._bundle = CaBundle()
        self._resolver = guard.resolver(lambda host: host in self._proxies or self.private_ok(host),
                                        settings.dns_cache_ttl)
        self._targets = ProxiedTargets(self._resolver, self.private_ok, settings.dns_cache_ttl)
        self._resolved: dict[tuple[str, int], tuple[str, frozenset[str], float]] = {}

    async def open(self, jar: AbstractCookieJar) -> None:
        """Make the multi handle (cookies kept in ``jar``); a bad CA bundle is a
        :class:`crawler.errors.UsageError`."""
        self._verify = trust(self.settings) is not False
        identity(self.settings)  # a certificate or key that cannot be used is a usage error now
        if self._verify:
            await asyncio.to_thread(self._bundle.build, self.settings)
        self._jar = jar
        self._multi = AsyncCurl()
        if self.settings.max_idle_connections:
            self._multi.setopt(CurlMOpt.MAXCONNECTS, self.settings.max_idle_connections)  # type: ignore[no-untyped-call]

    async def aclose(self) -> None:
        """Close every connection and handle."""
        if self._multi is not None:
            await self._multi.close()  # type: ignore[no-untyped-call]
            self._multi = None
        for curl in self._idle:
            curl.close()
        self._idle.clear()
        await self._resolver.close()
        self._bundle.remove()

    def host_done(self, host: str) -> None:
        """Nothing to do: libcurl keeps at most ``max_idle_connections`` idle, the oldest go."""

    def prefetch(self, url: str) -> None:
        """``url``'s host will be wanted soon: look its name up now."""
        parts = urlsplit(url)
        if parts.hostname:
            self._resolver.prefetch(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))

    async def _pin(self, url: str, proxy: str | None) -> tuple[str | None, frozenset[str]]:
        """The ``CURLOPT_RESOLVE`` entry that makes libcurl connect to ``url``'s host at the
        addresses the guard allowed (None for an IP literal, or when a proxy resolves the name),
        and those addresses; :class:`guard.BlockedAddress` or :class:`OSError` when there are none."""
        if proxy is not None and not proxy.startswith("socks5://"):
            return None, frozenset()
        parts = urlsplit(url)
        host = parts.hostname or ""
        if not host or is_ip(host):
            return None, frozenset()  # an IP literal was checked by the scope
        port = parts.port or (443 if parts.scheme == "https" else 80)
        loop = asyncio.get_running_loop()
        known = self._resolved.get((host, port))
        if known is None or known[2] < loop.time():
            answers = await self._resolver.resolve(host, port, socket.AF_UNSPEC)
            addresses = [a["host"] for a in answers]
            listed = ",".join(f"[{a}]" if ":" in a else a for a in dict.fromkeys(addresses))
            if len(self._resolved) >= RESOLVED_KEPT:
                self._resolved.clear()
            known = (f"{host}:{port}:{listed}", frozenset(addresses), loop.time() + self.settings.dns_cache_ttl)
            self._resolved[(host, port)] = known
        return known[0], known[1]

    def _handle(self) -> Curl:
        return self._idle.pop() if self._idle else Curl()

    def _release(self, curl: Curl) -> None:
        if len(self._idle) < HANDLES_KEPT:
            _clear(curl)
            self._idle.append(curl)
        else:
            curl.close()

    def _cookie_header(self, url: str, cookies: Mapping[str, str] | None) -> bytes | None:
        """The Cookie header for ``url``: the jar's cookies for it, and this request's own."""
        assert self._jar is not None
        jar = self._jar.filter_cookies(URL(url, encoded=True))
        pairs = [f"{name}={morsel.value}" for name, morsel in jar.items()]
        if cookies:
            pairs += [f"{k}={v}" for k, v in cookies.items()]
        return ("Cookie: " + "; ".join(pairs)).encode("latin-1") if pairs else None

    def _prepare(self, curl: Curl, transfer: Transfer, url: str, request: FetchRequest, pin: str | None) -> None:
        """Set every option of one exchange (one hop) on ``curl``."""
        settings = self.settings
        if self.impersonate and curl.impersonate(self.impersonate, default_headers=True):
            raise CurlError(f"libcurl cannot impersonate {self.impersonate}")
        # HTTP/2 over TLS only: a browser never offers http:// an upgrade to cleartext HTTP/2 (h2c).
        curl.setopt(CurlOpt.HTTP_VERSION, CurlHttpVersion.V2TLS)
        if settings.http3 and request.proxy is None and url.startswith("https:"):
            curl.setopt(CurlOpt.HTTP_VERSION, CurlHttpVersion.V3)  # QUIC first, TCP if it does not answer
        curl.setopt(CurlOpt.URL, url.encode("latin-1"))
        lines = list(self.headers)
        if request.headers:
            lines += [f"{k}: {v}".encode("latin-1") for k, v in request.headers.items()]
        cookie = self._cookie_header(url, request.cookies)
        if cookie is not None:
            lines.append(cookie)
        lines.append(b"Expect:")  # never wait for a 100 Continue
        method = request.method.upper()
        if method == "HEAD":
            curl.setopt(CurlOpt.NOBODY, 1)
        elif method != "GET" or request.body is not None:
            curl.setopt(CurlOpt.CUSTOMREQUEST, method.encode("latin-1"))
            if request.body is not None:
                if not any(line[:13].lower() == b"content-type:" for line in lines):
                    lines.append(b"Content-Type: application/octet-stream")  # as aiohttp sends bytes
                curl.setopt(CurlOpt.POSTFIELDSIZE, len(request.body))
                curl.setopt(CurlOpt.POSTFIELDS, request.body)
        curl.setopt(CurlOpt.HTTPHEADER, lines)
        curl.setopt(CurlOpt.HTTP_CONTENT_DECODING, 0)  # the body as sent: decoded here, bounded
        curl.setopt(CurlOpt.FOLLOWLOCATION, 0)
        curl.setopt(CurlOpt.PIPEWAIT, 1)  # a host's requests wait to share its HTTP/2 connection, not open more
        curl.setopt(CurlOpt.NOSIGNAL, 1)
        curl.setopt(CurlOpt.PROXY, (request.proxy or "").encode("latin-1"))
        curl.setopt(CurlOpt.NOPROXY, b"")
        curl.setopt(CurlOpt.SUPPRESS_CONNECT_HEADERS, 1)
        curl.setopt(CurlOpt.DNS_CACHE_TIMEOUT, int(settings.dns_cache_ttl))
        if pin is not None:
            curl.setopt(CurlOpt.RESOLVE, [pin])
        if self._verify:
            curl.setopt(CurlOpt.CAINFO, self._bundle.path)
            curl.setopt(CurlOpt.PROXY_CAINFO, self._bundle.path)
        else:
            curl._skip_cacert = True
            for option in (CurlOpt.SSL_VERIFYPEER, CurlOpt.SSL_VERIFYHOST, CurlOpt.PROXY_SSL_VERIFYPEER,
                           CurlOpt.PROXY_SSL_VERIFYHOST):
                curl.setopt(option, 0)
        if settings.client_cert and self.seed_host((urlsplit(url).hostname or "").rstrip(".")):
            curl.setopt(CurlOpt.SSLCERT, settings.client_cert)
            curl.setopt(CurlOpt.SSLKEY, settings.client_key or settings.client_cert)
        curl.setopt(CurlOpt.HEADERFUNCTION, transfer.on_header)
        curl.setopt(CurlOpt.WRITEFUNCTION, transfer.on_data)
        if transfer.wire:
            curl.setopt(CurlOpt.DEBUGFUNCTION, transfer.on_debug)
            curl.setopt(CurlOpt.VERBOSE, 1)

    async def _exchange(self, curl: Curl, transfer: Transfer) -> None:
        """Run one exchange on ``curl`` to its end (or the consumer's), the body handed to the
        consumer as it comes, if there is one."""
        assert self._multi is not None
        multi = self._multi
        done = multi.add_handle(curl)
        try:
            if transfer.consumer is None:
                await done
            else:
                await transfer.consume(done, lambda: multi.process_data(-1, 0))
        except BaseException:
            if done.cancelled() or not done.done():  # abandoned (a timeout, a stop): its connection is closed
                multi.remove_handle(curl)
            raise

    async def fetch(self, request: FetchRequest) -> FetchResult:
        """One attempt at ``request`` (see :class:`FetchRequest`) through its ``proxy`` if any,
        following redirects, within ``timeout`` seconds in all."""
        url, proxy = request.url, request.proxy
        allows = request.allows or self.allows
        max_redirects = self.settings.max_redirects if request.max_redirects is None else request.max_redirects
        if proxy is not None:
            self._proxies.add(URL(proxy).host or "")
        result = FetchResult()
        transfer: Transfer | None = None
        curl = self._handle()
        try:
            async with asyncio.timeout(self.settings.timeout) as deadline:
                visited = {url}
                while True:
                    if proxy is not None and not await self._targets.allowed(url, proxy):
                        result.error = errors.DNS
                        log.warning("%s: not fetched: its host resolves only to private addresses", url)
                        return result
                    pin, addresses = await self._pin(url, proxy)
                    transfer = Transfer(curl, url, request, self.settings.max_bytes, deadline)
                    self._prepare(curl, transfer, url, request, pin)
                    try:
                        await self._exchange(curl, transfer)
                    except CurlError as e:
                        if not transfer.ended_early(e):
                            raise
                    finally:
                        if transfer.answered:  # even if the body then failed
                            result.final_url, result.status, result.headers = url, transfer.status, transfer.headers()
                    self._check_address(curl, url, addresses, proxy)
                    self._take_cookies(url, transfer)
                    if result.headers is None:  # the exchange ended without a whole header block
                        raise ValueError("no answer")
                    if proxy is not None and not proxy.startswith("socks") and \
                            proxy_answered(result, result.status or 0, result.headers):
                        return result
                    location = result.headers.get("Location")
                    if transfer.status in REDIRECT_STATUSES and location is not None:
                        if request.capture:
                            result.wire = transfer.capture()
                        target = next_hop(result, url, location, request, allows, visited, max_redirects,
                                          self.settings.max_url_length)
                        if target is None:
                            return result
                        url = target
                        _clear(curl)
                        continue
                    transfer.finish(result)
                    if request.capture:
                        result.wire = transfer.capture()
                    break
        except TimeoutError:
            result.error, result.retryable = errors.TIMEOUT, True
        except TooLarge:
            result.error = errors.TOO_LARGE
        except HeadersTooLarge as e:
            result.error = errors.TOO_LARGE
            log.warning("%s: %s", url, e.message)
        except guard.BlockedAddress as e:
            result.error = errors.DNS
            log.warning("%s: not fetched: %s", url, e)
        except CodingError as e:
            result.error = errors.CONTENT
            log.debug("%s: %s", url, e)
        except CurlError as e:
            failure_of(e, curl, result, proxy, transfer is not None and transfer.status is not None)
            if result.error == errors.TLS:
                verify = "certificate verify failed: " if e.code == CurlECode.PEER_FAILED_VERIFICATION else ""
                log.warning("%s: TLS failed: %s%s", url, verify, reason_of(e))
            else:
                log.debug("%s: %s: %s", url, result.error, reason_of(e))
        except ValueError as e:  # an answer that cannot be read (libcurl lets few by)
            result.error = errors.CONTENT
            log.debug("%s: bad response: %r", url, e)
        except OSError as e:  # the name did not resolve
            result.error, result.retryable = errors.DNS, True
            log.debug("%s: dns: %r", url, e)
        else:
            if result.error is None:
                judge_status(result)
        finally:
            self._release(curl)
        return result

    def _check_address(self, curl: Curl, url: str, addresses: frozenset[str], proxy: str | None) -> None:
        """The address libcurl connected to was one of those the guard allowed (it can only be:
        this is the belt to the braces)."""
        if proxy is not None or not addresses:
            return
        info = curl.getinfo(CurlInfo.PRIMARY_IP)
        ip = info.decode("ascii") if isinstance(info, bytes) else str(info)
        if ip and ip not in addresses:
            raise guard.BlockedAddress(f"{urlsplit(url).hostname} was connected at {ip}, not an address checked")

    def _take_cookies(self, url: str, transfer: Transfer) -> None:
        """The answer's Set-Cookie headers, into the jar (which decides what it keeps)."""
        if self._jar is None:
            return
        values = transfer.set_cookies()
        if not values:
            return
        cookies: SimpleCookie = SimpleCookie()
        for value in values:
            try:
                cookies.load(value)
            except Exception:
                continue
        if cookies:
            self._jar.update_cookies(cookies, URL(url, encoded=True))


def _clear(curl: Curl) -> None:
    """Make ``curl`` as new for the next exchange (its header and resolve lists freed, which
    libcurl's reset leaves to the wrapper)."""
    curl.clean_handles_and_buffers()
    curl.reset()


__all__ = ["BROWSERS", "CurlTransport"]
