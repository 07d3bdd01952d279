"""The names ``crawler serve`` answers to. A web page its operator visits can rebind its own
name to 127.0.0.1 (DNS rebinding) and then talk to the service as if it were that page's site:
the browser sends the page's name in ``Host``. So every request's ``Host`` must be one the
service is reached by: an IP address it listens on (any, when it listens on all of them: an
address in ``Host`` means the browser really went to that address), ``localhost`` and names
under ``.localhost`` (which browsers keep on loopback themselves), the ``--host`` name it was
given, and the names of ``--allowed-host``. A request without ``Host`` (HTTP/1.0) is no
browser's: it is answered."""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Iterable

ANY = "*"  # --allowed-host '*': every name (behind a proxy that checks them itself)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def host_name(host: str) -> str:
    """The name or address of a ``Host`` header, without its port, lower-case, without a final
    dot (``[::1]:8700`` -> ``::1``)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host[1:]
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


@dataclasses.dataclass(frozen=True)
class HostNames:
    """The ``Host`` values the service answers: ``listen``, the ``--host`` it listens on;
    ``allowed``, the names of ``--allowed-host`` (``*``: any)."""

    listen: str = "127.0.0.1"
    allowed: frozenset[str] = frozenset()

    @classmethod
    def of(cls, listen: str, allowed: Iterable[str] = ()) -> HostNames:
        return cls(host_name(listen), frozenset(host_name(name) if name != ANY else ANY for name in allowed))

    def allows(self, host: str) -> bool:
        """May a request with this ``Host`` header be answered?"""
        if ANY in self.allowed:
            return True
        name = host_name(host)
        if not name:
            return False
        address = _address(name)
        if address is not None:
            listen = _address(self.listen)
            return address.is_loopback or address == listen or (listen is not None and listen.is_unspecified)
        return name == "localhost" or name.endswith(".localhost") or name == self.listen or name in self.allowed

    def described(self) -> str:
        """The names, for an error message."""
        listen = _address(self.listen)
        own = [] if self.listen == "localhost" or (listen is not None and listen.is_loopback) else \
            ["any of its addresses"] if listen is not None and listen.is_unspecified else [self.listen]
        return ", ".join(["localhost", "loopback addresses", *own, *sorted(self.allowed)])


__all__ = ["ANY", "HostNames", "host_name"]
