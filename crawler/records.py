"""The built-in page recorder's records: one per accepted URL (SPEC: Records)."""

from __future__ import annotations

import time
from typing import Any

from crawler.fetch import FetchResult
from crawler.parse import ParsedPage
from crawler.request import CrawlRequest

_second: list[Any] = [None, ""]  # the last whole second formatted, and its text


def utc_now_iso() -> str:
    """The current UTC time in ISO 8601 with milliseconds and a ``Z``."""
    now = time.time()
    second = int(now)
    if second != _second[0]:
        _second[:] = [second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))]
    return f"{_second[1]}.{int((now - second) * 1000):03d}Z"


def make_record(
    request: CrawlRequest,
    result: FetchResult | None,
    page: ParsedPage | None,
    elapsed_ms: float,
    error: str | None = None,
    *,
    links: int | None = None,
    noindex: bool = False,
) -> dict[str, Any]:
    """The record of ``request``; ``error`` overrides the fetch's own, ``links`` the page's
    link count, and ``noindex`` adds to what the page itself says."""
    if result is None:
        result = FetchResult()
    return {
        "url": request.url,
        "final_url": result.final_url,
        "status": result.status,
        "error": error or result.error,
        "depth": request.depth,
        "referrer": request.referrer,
        "content_type": result.content_type,
        "title": page.title if page is not None else None,
        "links": links if links is not None else len(page.links) if page is not None else 0,
        "bytes": result.size,
        "fetched_at": utc_now_iso(),
        "elapsed_ms": round(elapsed_ms, 1),
        "noindex": noindex or (page is not None and page.noindex),
        "lastmod": request.lastmod,
    }
