"""What every transport does the same way around one attempt: the servers' certificates it
trusts (and the client certificate it presents), the SSRF guard for a request sent through a
proxy, an HTTP proxy's own answers told apart, a redirect's next hop checked, and an answer's
status judged."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import ssl
from collections.abc import Callable, Mapping

from crawler import errors
from crawler.errors import UsageError
from crawler.fetch import guard
from crawler.fetch.transport import FetchRequest
from crawler.result import FetchResult, parse_retry_after
from crawler.settings import Settings
from crawler.urls import hostname_of, join_url

log = logging.getLogger(__name__)

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


def trust(settings: Settings) -> ssl.SSLContext | bool:
    """How servers' certificates are checked: against the system's CAs (and
    ``$SSL_CERT_FILE``), plus ``--ca-bundle``; not at all with ``--insecure`` (False, with one
    warning). A bundle that cannot be used is a :class:`UsageError`."""
    if settings.insecure:
        log.warning("--insecure: no server certificate is checked; anyone on the way can read and change "
                    "what is fetched")
        return False
    return _verifying(settings)


def identity(settings: Settings) -> ssl.SSLContext | None:
    """With ``--client-cert``: a context that checks servers as :func:`trust` does and presents
    the client certificate (its key in ``--client-key``, else in the same file); None without.
    A certificate or key that cannot be used (an encrypted key among them: nothing may prompt)
    is a :class:`UsageError`."""
    if not settings.client_cert:
        return None
    if settings.insecure:
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    else:
        context = _verifying(settings)
    try:
        context.load_cert_chain(settings.client_cert, settings.client_key or None, password=lambda: b"")
    except (OSError, ssl.SSLError) as e:
        key = f" with the key {settings.client_key}" if settings.client_key else ""
        raise UsageError(f"--client-cert: cannot use {settings.client_cert}{key}: "
                         f"{getattr(e, 'strerror', None) or e} (a PEM certificate and its unencrypted key)") from None
    return context


def _verifying(settings: Settings) -> ssl.SSLContext:
    context = ssl.create_default_context()
    for option, path in extra_bundles(settings):
        try:
            context.load_verify_locations(cafile=path)
        except (OSError, ssl.SSLError) as e:
            raise UsageError(f"{option}: cannot use {path} as a CA bundle: "
                             f"{getattr(e, 'strerror', None) or e}") from None
    return context


def extra_bundles(settings: Settings) -> list[tuple[str, str]]:
    """The CA bundles trusted besides the system's: (where it was named, its path)."""
    return [(option, path) for option, path in (("SSL_CERT_FILE", os.environ.get("SSL_CERT_FILE", "")),
                                                ("--ca-bundle", settings.ca_bundle)) if path]


class ProxiedTargets:
    """The SSRF guard for requests sent through a proxy, which resolves the target's name
    itself: the name is resolved here too (through the guard's ``resolver``), and one that turns
    out private is not fetched. ``socks5h://`` resolves at the proxy only, as asked; a name that
    does not resolve here is the proxy's to resolve. A public answer holds for ``ttl`` seconds."""

    def __init__(self, resolver: guard.GuardedResolver, private_ok: Callable[[str], bool], ttl: float) -> None:
        self.resolver = resolver
        self.private_ok = private_ok
        self.ttl = ttl
        self._checked: dict[str, float] = {}  # hosts found public, until (loop time)

    async def allowed(self, url: str, proxy: str) -> bool:
        """May ``url`` be fetched through ``proxy``?"""
        host = hostname_of(url)
        if proxy.startswith("socks5h://") or self.private_ok(host) or is_ip(host):
            return True  # an IP literal was checked by the scope
        loop = asyncio.get_running_loop()
        if self._checked.get(host, 0.0) > loop.time():
            return True
        try:
            await self.resolver.resolve(host, 0)
        except guard.BlockedAddress:
            return False
        except OSError:
            return True  # not known here: the proxy's to resolve
        if len(self._checked) > guard.PREFETCH_KEPT * 16:
            self._checked.clear()
        self._checked[host] = loop.time() + self.ttl
        return True


def proxy_answered(result: FetchResult, status: int, headers: Mapping[str, str]) -> bool:
    """Is an HTTP proxy's answer its own? 407: it wants other credentials (the proxy is
    unusable; the attempt ends here, True). A 5xx without the ``Via`` header a proxy puts on the
    answers it forwards: it could not get the page, another proxy may (``proxy_failure`` set,
    the answer kept)."""
    if status == 407:
        result.proxy_failure = "407: the proxy wants other credentials"
        result.error, result.retryable, result.proxy_unusable = errors.CONNECT, True, True
        return True
    if status >= 500 and "Via" not in headers:
        result.proxy_failure = f"{status} from the proxy"
    return False


def next_hop(result: FetchResult, url: str, location: str, request: FetchRequest, allows: Callable[[str], bool],
             visited: set[str], max_redirects: int, max_url_length: int) -> str | None:
    """Where a redirect from ``url`` to ``location`` goes next, each hop checked: None when the
    attempt ends here, ``result`` saying why (the target handed back with ``follow=False``,
    ``redirect_blocked`` out of scope or not a URL, ``too_many_redirects`` for a loop or too many
    hops)."""
    target = join_url(url, location, max_url_length)
    if target is not None and not request.follow:
        result.location = target
        return None
    if target is None or not allows(target):
        log.debug("redirect from %s to %.200r blocked", url, location)
        result.error = errors.REDIRECT_BLOCKED
        return None
    if target in visited or result.redirects >= max_redirects:
        result.error = errors.TOO_MANY_REDIRECTS
        return None
    visited.add(target)
    result.redirects += 1
    return target


def is_ip(host: str) -> bool:
    """Is ``host`` an IP address (v4, or v6 with or without brackets), not a name? (A name may
    end with a digit: ``db1``.)"""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def judge_status(result: FetchResult) -> None:
    """An answer that came: a 4xx or 5xx status is the error ``http``, worth another try when
    5xx or 429 (after the Retry-After it names, if any)."""
    if result.status is not None and result.status >= 400:
        result.error = errors.HTTP
        if result.status >= 500 or result.status == 429:
            result.retryable = True
            result.retry_after = parse_retry_after(result.headers.get("Retry-After") if result.headers else None)


__all__ = ["REDIRECT_STATUSES", "ProxiedTargets", "extra_bundles", "identity", "is_ip", "judge_status", "next_hop",
           "proxy_answered", "trust"]
