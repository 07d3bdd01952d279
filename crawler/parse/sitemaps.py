"""Sitemaps (sitemaps.org): ``urlset`` and ``sitemapindex``, plain or gzipped, parsed as the
bytes arrive so that a 50,000-URL sitemap is never held whole in memory. Entities are refused
(expat's limits: no external entities, no "billion laughs"): such a sitemap breaks off there."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import cast

from crawler.codings import GZIP_MAGIC, CodingError, Decoder, TooLarge


class SitemapError(ValueError):
    """Not a sitemap, or one that breaks off."""


@dataclasses.dataclass(slots=True)
class SitemapEntry:
    """A ``<url>`` (``is_sitemap`` False) or a ``<sitemap>`` of an index."""

    loc: str
    lastmod: str | None
    is_sitemap: bool


class SitemapParser:
    """Feed it the body chunk by chunk; take the entries found so far with :meth:`take`.

    A gzipped body (a ``.xml.gz`` served without Content-Encoding) is recognised by its magic
    bytes and inflated on the way (every member), at most ``limit`` bytes. The first problem is
    kept in ``error`` and the rest of the body ignored: what was parsed before it stands. At most
    ``max_urls`` entries are taken (the protocol's 50,000); then ``full`` is set.
    """

    def __init__(self, limit: int, max_urls: int = 50_000) -> None:
        self.limit = limit
        self.max_urls = max_urls
        self.kind: str | None = None  # "urlset" or "sitemapindex" once seen
        self.count = 0
        self.full = False  # max_urls entries taken: the rest of the document is not read
        self._head = b""
        self._inflate: Decoder | None = None
        self._started = False
        self._parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("start", "end"))
        self._root: ET.Element | None = None
        self._entries: list[SitemapEntry] = []
        self.error: SitemapError | None = None

    def feed(self, data: bytes) -> None:
        """Parse the next piece of the body (problems are kept in ``error``)."""
        if self.error is None and not self.full:
            try:
                self._feed(data)
            except SitemapError as e:
                self.error = e

    def _feed(self, data: bytes) -> None:
        if not self._started:
            self._head += data
            if len(self._head) < 2:
                return
            self._started = True
            data, self._head = self._head, b""
            if data.startswith(GZIP_MAGIC):
                self._inflate = Decoder(["gzip"], self.limit)
        if self._inflate is not None:
            try:
                data = self._inflate.feed(data)
            except TooLarge:
                raise SitemapError(f"more than {self.limit} bytes once inflated") from None
            except CodingError as e:
                raise SitemapError(str(e)) from None
        self._parse(data)

    def _parse(self, data: bytes | None) -> None:
        """Feed ``data`` to the XML parser (None: the end) and take the entries it completes.
        expat may report a problem at the feed or only when the events are read: both end here."""
        try:
            if data is None:
                self._parser.close()
            else:
                self._parser.feed(data)
            self._drain()
        except ET.ParseError as e:
            raise SitemapError(f"not well-formed XML or not allowed in a sitemap: {e}") from None

    def close(self) -> None:
        """The body is complete (problems are kept in ``error``)."""
        if self.error is None and not self.full:
            try:
                self._close()
            except SitemapError as e:
                self.error = e

    def _close(self) -> None:
        if self._head:
            self._started = True
            data, self._head = self._head, b""
            self._feed(data)
        if self._inflate is not None:
            try:
                self._inflate.end()
            except CodingError as e:
                raise SitemapError(str(e)) from None
        self._parse(None)
        if self.kind not in ("urlset", "sitemapindex"):
            raise SitemapError("neither a urlset nor a sitemapindex")

    def take(self) -> list[SitemapEntry]:
        """The entries parsed since the last call."""
        entries, self._entries = self._entries, []
        return entries

    def _drain(self) -> None:
        # Only start and end events were asked for: each is (event, element).
        for event, elem in cast("Iterator[tuple[str, ET.Element]]", self._parser.read_events()):
            tag = elem.tag.rpartition("}")[2]
            if event == "start":
                if self._root is None:
                    self._root = elem
                    self.kind = tag
                continue
            if tag not in ("url", "sitemap"):
                continue
            loc = lastmod = None
            for child in elem:
                name = child.tag.rpartition("}")[2]
                if name == "loc":
                    loc = (child.text or "").strip()
                elif name == "lastmod":
                    lastmod = (child.text or "").strip() or None
            if loc:
                self.count += 1
                self._entries.append(SitemapEntry(loc, lastmod, tag == "sitemap"))
            assert self._root is not None
            self._root.clear()  # keep memory flat: drop what has been read
            if self.count >= self.max_urls:
                self.full = True
                return
