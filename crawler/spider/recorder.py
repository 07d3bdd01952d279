"""The built-in page recorder: the spider the command line runs unless ``--spider`` names
another. It is written with the public spider API only, and writes exactly one record for
every URL the crawl accepted (SPEC: Records): a page, a sitemap document, or why it failed.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from crawler.spider import HTML_TYPES, Failure, FollowAll, Response, Spider, extraction_fields


class PageRecorder(Spider):
    """Records every page and follows every in-scope link (unless the page says nofollow)."""

    name = "pages"
    inline_callbacks = True  # parse() is quick and never blocks

    def wants_body(self, content_type: str | None) -> bool:
        """Only HTML bodies are looked into."""
        return content_type in HTML_TYPES

    def parse(self, response: Response) -> Iterator[dict[str, Any] | FollowAll]:
        """The page's record, and its links to crawl. (Should the parser fail, the errback
        writes the page's record, with the error ``content``.)"""
        links = response.links()
        record = _record(response, response.title, len(links), response.noindex)
        if self.settings is not None and self.settings.max_links_per_page:
            record["links_dropped"] = response.links_dropped
        if self._renders:
            record["rendered"] = response.rendered
        if response.request.method != "GET":
            record["method"] = response.request.method
        if self._fields:
            extracted = response.extract()
            record.update((field, extracted.get(field)) for field in self._fields)
        yield self._with_body(record, response)
        if links and not response.nofollow:
            yield response.follow_all()

    @functools.cached_property
    def _fields(self) -> tuple[str, ...]:
        """The fields ``--extract`` adds to each record."""
        return extraction_fields(self.settings) if self.settings is not None else ()

    @functools.cached_property
    def _renders(self) -> bool:
        """Do records say ``rendered`` (``--render auto`` or ``always``)?"""
        return self.settings is not None and self.settings.render != "never"

    def parse_sitemap(self, response: Response) -> Iterator[dict[str, Any]]:
        """The sitemap's record (its URLs are queued by the crawler)."""
        record = _record(response, None, len(response.links()), False) | dict.fromkeys(self._fields)
        if self._renders:
            record["rendered"] = False
        yield record

    def errback(self, failure: Failure) -> Iterator[dict[str, Any]]:
        """The record of a URL that could not be fetched."""
        response = failure.response
        request = failure.request
        record = {
            "url": request.url,
            "final_url": failure.final_url,
            "status": failure.status,
            "error": failure.error,
            "depth": failure.depth,
            "referrer": failure.referrer,
            "content_type": response.content_type if response is not None else None,
            "title": None,
            "links": 0,
            "bytes": response.size if response is not None else 0,
            "fetched_at": failure.fetched_at,
            "elapsed_ms": round(failure.elapsed_ms, 1),
            "noindex": False,
            "lastmod": failure.lastmod,
            "redirect_to": failure.redirect_to,
        }
        if self.settings is not None and self.settings.max_links_per_page:
            record["links_dropped"] = 0
        if self._renders:
            record["rendered"] = False
        if request.method != "GET":
            record["method"] = request.method
        record.update(dict.fromkeys(self._fields))  # nothing extracted from a page that failed
        yield self._with_body(record, response)

    def _with_body(self, record: dict[str, Any], response: Response | None) -> dict[str, Any]:
        """With ``--store-bodies``, the record's ``body_path`` (null when no body was saved)."""
        if self.settings is not None and self.settings.store_bodies:
            record["body_path"] = response.body_path if response is not None else None
        return record


def _record(response: Response, title: str | None, links: int, noindex: bool) -> dict[str, Any]:
    return {
        "url": response.request.url,
        "final_url": response.url,
        "status": response.status,
        "error": None,
        "depth": response.depth,
        "referrer": response.referrer,
        "content_type": response.content_type,
        "title": title,
        "links": links,
        "bytes": response.size,
        "fetched_at": response.fetched_at,
        "elapsed_ms": round(response.elapsed_ms, 1),
        "noindex": noindex,
        "lastmod": response.lastmod,
        "redirect_to": None,
    }
