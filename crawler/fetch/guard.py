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

import ipaddress
import socket
from collections.abc import Callable

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult


class BlockedAddress(OSError):
    """A host name resolved only to addresses the guard refuses."""


def is_blocked(address: str) -> bool:
    """Is ``address`` (an IP address, IPv6 with or without brackets) one that a crawl must not
    reach without leave: anything not globally routable, multicast included?"""
    try:
        ip = ipaddress.ip_address(address.strip("[]").split("%", 1)[0])
    except ValueError:
        return False  # a name, not an address: the resolver checks what it resolves to
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            ip = mapped
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
        if ip.ipv4_mapped is None:
            return False
        ip = ip.ipv4_mapped
    return ip.packed[0] == 0


class GuardedResolver(AbstractResolver):
    """Resolves through ``inner`` and keeps only the answers the guard allows; hosts for which
    ``allowed(host)`` is true (the seeds' hosts, or every host with ``--allow-private``) keep all
    of theirs."""

    def __init__(self, inner: AbstractResolver, allowed: Callable[[str], bool]) -> None:
        self.inner = inner
        self.allowed = allowed

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
                      ) -> list[ResolveResult]:
        """The checked addresses of ``host``; :class:`BlockedAddress` when none is left."""
        answers = [a for a in await self.inner.resolve(host, port, family) if not _this_host(a["host"])]
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
        """Close the inner resolver."""
        await self.inner.close()


# What the guard resolves through: aiodns, by aiohttp's AsyncResolver (a test puts a stub here).
base_resolver: Callable[[], AbstractResolver] = aiohttp.AsyncResolver


def resolver(allowed: Callable[[str], bool]) -> GuardedResolver:
    """The crawl's resolver: :data:`base_resolver` behind the guard."""
    return GuardedResolver(base_resolver(), allowed)


def blocked_by_guard(error: BaseException) -> BlockedAddress | None:
    """The :class:`BlockedAddress` behind an aiohttp connection error, if that is what it is."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, BlockedAddress):
            return seen
        seen = getattr(seen, "os_error", None) or seen.__cause__
    return None


__all__ = ["BlockedAddress", "GuardedResolver", "blocked_by_guard", "is_blocked", "resolver"]
