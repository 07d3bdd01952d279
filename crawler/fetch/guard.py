"""The SSRF guard: a crawl of public sites never reaches loopback, private (RFC 1918, CGNAT
100.64/10), link-local (169.254/16, the cloud metadata address among them), unique-local IPv6
or other non-global addresses, unless that exact host is one of the seeds' hosts or
``--allow-private`` is given.

Two checks, one for each way an address can be named:

- an IP literal in a URL (every spelling: the URL normalizer turns ``127.1``, ``2130706433``,
  ``0x7f.1`` into ``127.0.0.1``, and IPv4-mapped IPv6 is unwrapped) is refused by the scope,
  before anything is resolved or connected (:meth:`crawler.core.scope.Scope.allows`);
- a host name is resolved through :class:`GuardedResolver`, which drops private answers, so the
  connection goes only to an address that was checked: a name that resolves to a public address
  once and to a private one later (DNS rebinding) is refused the second time.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

PREFETCH_KEPT = 4096  # early look-ups and answers waiting for their host's first connection, at most


class BlockedAddress(OSError):
    """A host name resolved only to addresses the guard refuses."""


#: IPv6 prefixes whose last 32 bits are an IPv4 address that reaches it: NAT64's well-known
#: prefix (RFC 6052), IPv4-translated (SIIT, RFC 2765), IPv4-compatible (RFC 4291, deprecated).
_LOW_32 = tuple(ipaddress.IPv6Network(n) for n in ("64:ff9b::/96", "::ffff:0:0:0/96", "::/96"))
#: NAT64's local-use prefix (RFC 8215): for a network's own translator, never a public site's.
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address that an IPv6 address carries and reaches (IPv4-mapped, IPv4-translated,
    IPv4-compatible, NAT64, 6to4, Teredo's client), None when it carries none. ``::`` and
    ``::1`` are IPv6's own."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if int(ip) > 1 and any(ip in net for net in _LOW_32):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_blocked(address: str) -> bool:
    """Is ``address`` (an IP address, IPv6 with or without brackets) one that a crawl must not
    reach without leave: anything not globally routable, multicast included, and an IPv6
    address that carries such an IPv4 address (:func:`embedded_ipv4`) or is NAT64's local-use?"""
    try:
        ip = ipaddress.ip_address(address.strip("[]").split("%", 1)[0])
    except ValueError:
        return False  # a name, not an address: the resolver checks what it resolves to
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _LOCAL_NAT64:
            return True
        inner = embedded_ipv4(ip)
        if inner is not None:
            ip = inner
    return not ip.is_global or ip.is_multicast


def _this_host(address: str) -> bool:
    """Is ``address`` in 0.0.0.0/8 or ``::`` ("this host"), never to be connected to, whatever
    the settings (on Linux a connection there reaches this machine)?"""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.is_unspecified:
            return True
        inner = embedded_ipv4(ip)
        if inner is None:
            return False
        ip = inner
    return ip.packed[0] == 0


class GuardedResolver(AbstractResolver):
    """Resolves through ``inner`` and keeps only the answers the guard allows; hosts for which
    ``allowed(host)`` is true (the seeds' hosts, or every host with ``--allow-private``) keep all
    of theirs."""

    def __init__(self, inner: AbstractResolver, allowed: Callable[[str], bool], ttl: float = 300.0) -> None:
        self.inner = inner
        self.allowed = allowed
        self.ttl = ttl  # how long an early answer may wait for its use
        # Early look-ups (:meth:`prefetch`): (host, port) -> (task, when it started).
        self._early: dict[tuple[str, int], tuple[asyncio.Task[list[ResolveResult]], float]] = {}
        self.prefetched = 0  # early answers used
        self._asked: set[str] = set()  # names looked up already (their answers are in aiohttp's cache)

    def prefetch(self, host: str, port: int) -> None:
        """Look ``host`` up now (a host just discovered), so that its first connection finds the
        answer ready: a round trip off each new host's start. At most :data:`PREFETCH_KEPT` are
        kept (a look-up is one small UDP exchange, and a connection waiting for its host's must
        never queue behind others: they all go at once); an IP address is not looked up."""
        key = (host, port)
        if key in self._early or host in self._asked or len(self._early) >= PREFETCH_KEPT or \
                not host[-1:].isalpha():
            return
        loop = asyncio.get_running_loop()
        self._early[key] = (loop.create_task(self.inner.resolve(host, port, socket.AF_UNSPEC)), loop.time())

    async def _answers(self, host: str, port: int, family: socket.AddressFamily) -> list[ResolveResult]:
        if len(self._asked) >= PREFETCH_KEPT * 16:
            self._asked.clear()  # a bound: at worst a name is looked up early once more
        self._asked.add(host)
        early = self._early.pop((host, port), None) if family == socket.AF_UNSPEC else None
        if early is not None:
            task, started = early
            if asyncio.get_running_loop().time() - started < self.ttl:
                try:
                    answers = await task
                    self.prefetched += 1
                    return answers
                except OSError:
                    pass  # asked again, as if it had never been looked up early
            else:
                task.cancel()
        return await self.inner.resolve(host, port, family)

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
                      ) -> list[ResolveResult]:
        """The checked addresses of ``host``; :class:`BlockedAddress` when none is left."""
        answers = [a for a in await self._answers(host, port, family) if not _this_host(a["host"])]
        if not answers:
            raise BlockedAddress(f"{host} resolves only to 0.0.0.0/8 or ::, addresses of no site")
        if self.allowed(host):
            return answers
        kept = [a for a in answers if not is_blocked(a["host"])]
        if not kept:
            addresses = ", ".join(sorted({a["host"] for a in answers}))
            raise BlockedAddress(f"{host} resolves only to private addresses ({addresses}); "
                                 "--allow-private lets a crawl reach them")
        return kept

    async def close(self) -> None:
        """Close the inner resolver (early look-ups not used are dropped)."""
        for task, _ in self._early.values():
            task.cancel()
        await asyncio.gather(*(task for task, _ in self._early.values()), return_exceptions=True)
        self._early.clear()
        await self.inner.close()


# What the guard resolves through: aiodns, by aiohttp's AsyncResolver (a test puts a stub here).
base_resolver: Callable[[], AbstractResolver] = aiohttp.AsyncResolver


def resolver(allowed: Callable[[str], bool], ttl: float = 300.0) -> GuardedResolver:
    """The crawl's resolver: :data:`base_resolver` behind the guard (``ttl``: the DNS cache's)."""
    return GuardedResolver(base_resolver(), allowed, ttl)


def blocked_by_guard(error: BaseException) -> BlockedAddress | None:
    """The :class:`BlockedAddress` behind an aiohttp connection error, if that is what it is."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, BlockedAddress):
            return seen
        seen = getattr(seen, "os_error", None) or seen.__cause__
    return None


__all__ = ["BlockedAddress", "GuardedResolver", "blocked_by_guard", "embedded_ipv4", "is_blocked", "resolver"]
