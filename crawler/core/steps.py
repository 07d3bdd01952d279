"""What comes of one request in a fetch worker: one typed value, acted on in one place
(:meth:`crawler.core.worker.Worker.process`).

The worker walks a request through three steps: the *gate* (robots.txt: read it first for a new
host, or refuse the URL), the *fetch* (the page, or a sitemap streamed into the frontier), and
the *outcome* it comes to:

- :class:`Retry`: back to the frontier, not before ``wait`` seconds (a failure worth another
  try, a page that waited for its host's robots.txt, a redirect's next hop);
- :class:`Hop`: a redirect, to be followed through the frontier or ended where it points;
- :class:`Same`: a recrawled page that has not changed, under ``--changed-only`` (no record);
- :class:`Page`: a page fetched, for the spider (its body stored first with ``--store-bodies``);
- :class:`End`: the URL ends without a page for the callback: refused, failed, a redirect
  ended, or a sitemap and the URLs it listed (``listed``).
"""

from __future__ import annotations

import dataclasses

from crawler.result import FetchResult


@dataclasses.dataclass(frozen=True, slots=True)
class Retry:
    """Back to the frontier after ``wait`` seconds; then the ``sitemaps`` (of a host whose
    robots.txt was just read) are accepted."""

    wait: float = 0.0
    sitemaps: list[str] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Hop:
    """A redirect (``result.location``) answered."""

    result: FetchResult


@dataclasses.dataclass(frozen=True, slots=True)
class Same:
    """Not changed since the last run, and ``--changed-only``: the URL ends without a record."""


@dataclasses.dataclass(frozen=True, slots=True)
class Page:
    """A page fetched (whatever its status), for the spider."""

    result: FetchResult


@dataclasses.dataclass(frozen=True, slots=True)
class End:
    """The URL ends with ``result`` (None when not fetched) and ``error``; ``listed``: it was a
    sitemap that listed these URLs; ``redirect_to``: it ended at a redirect to that URL."""

    result: FetchResult | None
    error: str | None = None
    listed: list[str] | None = None
    redirect_to: str | None = None


Outcome = Retry | Hop | Same | Page | End

__all__ = ["End", "Hop", "Outcome", "Page", "Retry", "Same"]
