"""Which discovered URLs a crawl follows: ``--scope``, ``--allow-domain``/``--deny-domain``,
``--include``/``--exclude``, and the SSRF guard on IP literals (:mod:`crawler.fetch.guard`). Checked on
normalized URLs before anything is resolved or fetched.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable, Iterable
from typing import Any

from publicsuffixlist import PublicSuffixList

from crawler.fetch.guard import is_blocked
from crawler.settings import Settings
from crawler.urls import hostname_of

_psl: PublicSuffixList | None = None


def registered_domain(host: str) -> str:
    """The registrable domain of ``host`` by the bundled public suffix list (``a.b.co.uk`` ->
    ``b.co.uk``); an IP address or a bare public suffix stands for itself."""
    global _psl
    host = host.rstrip(".")
    if host.startswith("[") or _is_ip(host):
        return host
    if _psl is None:
        _psl = PublicSuffixList()  # the list shipped inside the package; never downloaded
    return _psl.privatesuffix(host) or host


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _under(host: str, domains: frozenset[str]) -> bool:
    """Is ``host`` one of ``domains`` or a subdomain of one?"""
    if host in domains:
        return True
    dot = host.find(".")
    while dot >= 0:
        if host[dot + 1:] in domains:
            return True
        dot = host.find(".", dot + 1)
    return False


def repeats_too_often(url: str, limit: int) -> bool:
    """Does the path of ``url`` hold a segment, or a run of 2 or 3 segments, more than ``limit``
    times in a row (``/a/a/a/``, ``/x/y/x/y/x/y/``: a link trap, as Heritrix's
    PathologicalPathDecideRule sees it)?"""
    path = url.split("/", 3)[3].partition("?")[0]
    segments = path.split("/")
    n = len(segments)
    for size in (1, 2, 3):
        span = size * (limit + 1)
        for start in range(n - span + 1):
            group = segments[start:start + size]
            if all(segments[start + k * size:start + (k + 1) * size] == group for k in range(1, limit + 1)):
                return True
    return False


class Scope:
    """Decides whether a normalized URL may be crawled. Thread-safe (read only after creation)."""

    def __init__(self, settings: Settings, seeds: Iterable[str] = (), private_hosts: Iterable[str] | None = None,
                 patterns: Callable[[str], Any] | None = None) -> None:
        """``private_hosts``: the hosts that may be at a private address (besides all of them
        with ``--allow-private``); None: the seeds' hosts. ``patterns``: what compiles
        ``--include`` and ``--exclude`` (an object with ``search``): Python's ``re``, or the
        service's RE2 for its callers' patterns."""
        self.mode = settings.scope
        self.trusted = None if private_hosts is None else frozenset(h.rstrip(".").lower() for h in private_hosts)
        self.allow_private = settings.allow_private
        self.hosts: set[str] = set()
        self.domains: set[str] = set()
        self.allow = frozenset(d.strip(".").lower() for d in settings.allow_domain)
        self.deny = frozenset(d.strip(".").lower() for d in settings.deny_domain)
        self.max_repeats = settings.max_path_repeats
        compiled = patterns or re.compile
        self.include = [compiled(p) for p in settings.include]
        self.exclude = [compiled(p) for p in settings.exclude]
        for seed in seeds:
            self.add_seed(seed)

    def add_seed(self, url: str) -> None:
        """Widen a host or domain scope to take in ``url``'s host."""
        host = hostname_of(url).rstrip(".")
        self.hosts.add(host)
        self.domains.add(registered_domain(host))
        self._host_allowed.cache_clear()

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - one Scope per crawl, cleared on change
    def _host_allowed(self, netloc: str) -> bool:
        host = hostname_of("//" + netloc + "/").rstrip(".")
        if not self.private_ok(host) and is_blocked(host):
            return False  # a private address, named by an IP literal
        if self.deny and _under(host, self.deny):
            return False
        if self.mode == "any":  # --allow-domain narrows it to those domains (and the seeds' hosts), as wget -H -D
            return not self.allow or _under(host, self.allow) or host in self.hosts
        if self.allow and _under(host, self.allow):
            return True
        if self.mode == "host":
            return host in self.hosts
        return registered_domain(host) in self.domains

    def private_ok(self, host: str) -> bool:
        """May ``host`` be at a private address? Only a seed's host (or one of the
        ``private_hosts`` given instead), or any with ``--allow-private``."""
        trusted = self.hosts if self.trusted is None else self.trusted
        return self.allow_private or host.rstrip(".") in trusted or f"[{host}]" in trusted

    def reachable(self, url: str) -> bool:
        """May the crawl connect to ``url``'s host at all, whatever the scope: not an IP
        literal of a private address, unless :meth:`private_ok` (what robots.txt redirects,
        which may go to any host, are held to)."""
        host = hostname_of(url).rstrip(".")
        return self.private_ok(host) or not is_blocked(host)

    def is_trap(self, url: str) -> bool:
        """Does ``url``'s path repeat itself (``/a/a/a/``: see :func:`repeats_too_often`)?
        Asked of new links only, after dedupe (a few a page, not every link)."""
        return bool(self.max_repeats) and url.count("/") > 3 + self.max_repeats and repeats_too_often(
            url, self.max_repeats)

    def host_allows(self, url: str) -> bool:
        """True when the normalized ``url``'s host is in scope (not a private address named by
        an IP literal), whatever the URL filters say: what a rendered page may ask for (its
        scripts, styles and API calls are no pages, for --include and --exclude)."""
        return self._host_allowed(url.split("/", 3)[2])

    def allows(self, url: str) -> bool:
        """True when the normalized ``url`` is in scope and passes the URL filters."""
        if not self._host_allowed(url.split("/", 3)[2]):
            return False
        if self.include and not any(p.search(url) for p in self.include):
            return False
        return not (self.exclude and any(p.search(url) for p in self.exclude))
