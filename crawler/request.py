"""The unit of work that moves through the pipeline."""

from __future__ import annotations

from crawler.urls import host_of


class CrawlRequest:
    """One URL accepted into the frontier, and what is known of its fetch so far."""

    __slots__ = ("attempts", "depth", "host", "referrer", "retry_after", "started", "url")

    def __init__(self, url: str, depth: int = 0, referrer: str | None = None) -> None:
        self.url = url
        self.depth = depth
        self.referrer = referrer
        self.host = host_of(url)
        self.attempts = 0  # fetch attempts made
        self.started: float | None = None  # loop time of the first attempt
        self.retry_after: float | None = None  # seconds the server asked us to wait

    def __repr__(self) -> str:
        return f"CrawlRequest({self.url!r}, depth={self.depth})"
