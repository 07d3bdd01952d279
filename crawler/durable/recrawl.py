"""What a durable crawl keeps of each page to know it again on a recrawl: its validators (ETag,
Last-Modified, the SHA-1 of its body), sent back as a conditional GET, and compared to tell an
unchanged page (the WARC revisit profiles)."""

from __future__ import annotations

from crawler.result import FetchResult
from crawler.work import CrawlRequest

Validators = tuple[str | None, str | None, str | None]  # ETag, Last-Modified, body SHA-1 (hex)


def conditional_headers(request: CrawlRequest) -> dict[str, str] | None:
    """If-None-Match and If-Modified-Since from the request's last fetch (not for a redirect
    hop: the validators are the first URL's)."""
    if request.validators is None or request.redirects:
        return None
    etag, last_modified, _ = request.validators
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers or None


class Remembered:
    """Validators of the pages fetched in this run, until their records are committed."""

    def __init__(self) -> None:
        self._pending: dict[str, Validators] = {}

    def remember(self, request: CrawlRequest, result: FetchResult) -> str | None:
        """Keep the page's validators. When the page is unchanged since the last fetch, how that
        is known (the WARC revisit profile): ``server-not-modified`` (a 304) or
        ``identical-payload-digest`` (the same body); else None."""
        old = request.validators
        if result.status == 304 and result.error is None:
            if old is not None:
                self._pending[request.key] = old
            return "server-not-modified"
        if result.status != 200 or result.error is not None or result.headers is None:
            return None
        digest = result.sha1()
        self._pending[request.key] = (result.headers.get("ETag"), result.headers.get("Last-Modified"), digest)
        if old is not None and digest is not None and digest == old[2]:
            return "identical-payload-digest"
        return None

    def take(self, keys: list[str]) -> dict[str, Validators]:
        """The validators of the requests known by ``keys`` (those that have some), forgotten here."""
        pending = self._pending
        return {key: pending.pop(key) for key in keys if key in pending}


__all__ = ["Remembered", "Validators", "conditional_headers"]
