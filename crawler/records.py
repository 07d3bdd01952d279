"""The built-in page recorder's records: one per accepted URL (SPEC: Records)."""

from __future__ import annotations

import datetime
from typing import Any

from crawler.fetch import FetchResult
from crawler.parse import ParsedPage
from crawler.request import CrawlRequest

FIELDS = (
    "url", "final_url", "status", "error", "depth", "referrer", "content_type", "title",
    "links", "bytes", "fetched_at", "elapsed_ms",
)


def utc_now_iso() -> str:
    """The current UTC time in ISO 8601 with milliseconds and a ``Z``."""
    now = datetime.datetime.now(datetime.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def make_record(
    request: CrawlRequest,
    result: FetchResult | None,
    page: ParsedPage | None,
    elapsed_ms: float,
    error: str | None = None,
) -> dict[str, Any]:
    """The record of ``request``; ``error`` overrides the fetch's own."""
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
        "links": len(page.links) if page is not None else 0,
        "bytes": result.size,
        "fetched_at": utc_now_iso(),
        "elapsed_ms": round(elapsed_ms, 1),
    }
