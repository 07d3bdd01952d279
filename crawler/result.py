"""What one fetch attempt gives (:class:`FetchResult`), the server's ``Retry-After`` and a
``Content-Type``'s media type: the vocabulary the fetch stage shares with those that read its
answers."""

from __future__ import annotations

import dataclasses
import email.utils
import hashlib
import time

from multidict import CIMultiDictProxy

from crawler.work import Capture


@dataclasses.dataclass(slots=True)
class FetchResult:
    """What one fetch attempt gave."""

    final_url: str | None = None
    status: int | None = None
    headers: CIMultiDictProxy[str] | None = None
    content_type: str | None = None  # media type, lower case, no parameters
    charset: str | None = None  # from the Content-Type header
    body: bytes = b""
    size: int = 0  # body bytes after decompression, counted even when the body is not kept
    error: str | None = None
    retryable: bool = False
    retry_after: float | None = None  # seconds, from a Retry-After header
    redirects: int = 0
    location: str | None = None  # with follow=False: the normalized target of a redirect
    proxy_failure: str | None = None  # the proxy could not get the page (why)
    proxy_unusable: bool = False  # ... because the proxy itself failed (not reached, 407), not the site
    cut: bool = False  # the consumer stopped the body before its end
    wire: Capture | None = None  # with capture=True: the exchange as it went over the wire
    cached: bool = False  # answered by the HTTP cache (--http-cache), not the site
    rendered: str | None = None  # --render: the body is the DOM a browser made of the page, for this reason
    blocked: str | None = None  # the bot screen whose block or challenge page this is (error ``blocked``)
    _sha1: str | None = None

    def digested(self, hexdigest: str) -> None:
        """The body's SHA-1, taken as it streamed by (a body not kept still has one)."""
        self._sha1 = hexdigest

    def sha1(self) -> str | None:
        """The SHA-1 of the body (hex), computed once; None when there is no body."""
        if self._sha1 is None and self.body:
            self._sha1 = hashlib.sha1(self.body).hexdigest()
        return self._sha1


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def media_type(header: str | None) -> tuple[str | None, str | None]:
    if not header:
        return None, None
    media, _, params = header.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip("\"'") or None
    return media.strip().lower() or None, charset


__all__ = ["FetchResult", "media_type", "parse_retry_after"]
