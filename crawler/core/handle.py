"""The consumer: the end of a URL. A fetched page (or the reason there is none) goes to the
spider's callback or errback (:class:`crawler.spider.runner.SpiderRunner`), parsed in a parser
process first with ``--parse-isolation process``; what comes out is the URL's items and its
:class:`Done`, for the output queue, and the requests the spider made, which are accepted here
(those robots.txt already forbids end in turn, in the same loop, never by recursion)."""

from __future__ import annotations

import asyncio
from typing import Any

from crawler import errors
from crawler.core.accept import Acceptor, Refused
from crawler.core.scope import Scope
from crawler.core.state import RunState
from crawler.durable.changes import SAME, Tracker
from crawler.fetch.robots import Robots
from crawler.parse.html import is_html
from crawler.parse.pools import ParsePools
from crawler.result import FetchResult
from crawler.settings import Settings
from crawler.spider import FollowAll, Request
from crawler.spider.recorder import PageRecorder
from crawler.spider.runner import SpiderRunner
from crawler.urls import origin_of
from crawler.work import CrawlRequest, Done, Unchanged


class Handler:
    """Ends URLs: the spider's code, then the URL's record-to-be (:class:`Done`)."""

    def __init__(self, settings: Settings, state: RunState, scope: Scope, runner: SpiderRunner,
                 acceptor: Acceptor, pools: ParsePools, robots: Robots | None = None,
                 tracker: Tracker | None = None) -> None:
        self.settings = settings
        self.state = state
        self.scope = scope
        self.runner = runner
        self.acceptor = acceptor
        self.pools = pools
        self.robots = robots  # robots.txt on: its Content-Signal lines go to ai_usage
        self.tracker = tracker  # a durable job's records: what changed since its last run
        self.records_only = type(runner.spider) is PageRecorder  # the items are the records

    def usage_lines(self, url: str) -> list[tuple[str, str]]:
        """The ``Content-Signal``/``Content-Usage`` lines of the robots.txt of ``url``'s host
        (safe to call from a callback's thread)."""
        return self.robots.usage(origin_of(url)) if self.robots is not None else []

    async def finish(self, request: CrawlRequest, result: FetchResult | None, error: str | None = None, *,
                     listed: list[str] | None = None, body_path: str | None = None,
                     redirect_to: str | None = None) -> list[Any]:
        """End ``request`` (see :meth:`end`), accept the requests its callback made, and end
        those of them robots.txt forbids; everything for the output queue."""
        outputs, made = await self.end(request, result, error, listed=listed, body_path=body_path,
                                       redirect_to=redirect_to)
        refused = await self.acceptor.accept_requests(made, request) if made else []
        return [*await self.finish_refused(refused), *outputs]

    async def finish_refused(self, refused: Refused) -> list[Any]:
        """End URLs accepted but never to be fetched (robots.txt forbids them), and what their
        errbacks make, until nothing is left."""
        out: list[Any] = []
        pending = list(refused)
        while pending:
            request, reason = pending.pop(0)
            outputs, made = await self.end(request, None, reason)
            if made:
                pending += await self.acceptor.accept_requests(made, request)
            out += outputs
        return out

    async def end(self, request: CrawlRequest, result: FetchResult | None, error: str | None = None, *,
                  listed: list[str] | None = None, body_path: str | None = None,
                  redirect_to: str | None = None) -> tuple[list[Any], list[Request | FollowAll]]:
        """The end of ``request``: the spider's callback or errback (see
        :meth:`SpiderRunner.handle`) makes items and requests; returns the items and the URL's
        own :class:`Done` (counted, not written), and the requests. ``listed``: it was a sitemap
        listing these URLs; ``body_path``: where --store-bodies put the body; ``redirect_to``:
        the request ends at a redirect to that URL (refused, or another URL's)."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        page = extracted = None
        # An HTML page that came whole: what the parser and the extraction processes take.
        whole_html = (result is not None and error is None and listed is None and result.error is None
                      and bool(result.body) and result.status is not None and result.status < 400
                      and (result.content_type is None or is_html(result.content_type)))
        processes = self.pools.processes
        if whole_html and processes is not None:
            assert result is not None
            page = await processes.parse(result.body, result.charset, result.final_url or request.fetch_url,
                                         self.scope.allows, self.settings.max_url_length, self.settings.robots,
                                         self.settings.max_links_per_page)
            if page is None:  # the parser died or hung on this page
                error = errors.CONTENT
        extractor = self.pools.extract
        if whole_html and extractor is not None and error is None:
            assert result is not None
            url = result.final_url or request.fetch_url
            with self.state.traces.span("extract", url):
                extracted = await extractor.extract(result.body, result.charset, url, result.headers or {},
                                                    self.usage_lines(url))
            if extracted is None:  # the extractor died, hung or choked on this page
                error = errors.CONTENT
            else:
                self.state.stats.extracted += 1
                self.state.stats.jsonld_invalid += extracted.pop("jsonld_invalid", 0)
                if result.wire is not None and extracted.get("markdown"):
                    result.wire.conversion = extracted["markdown"]  # the WARC's conversion record
        elapsed_ms = 0.0 if request.started is None else (started - request.started) * 1000
        items, requests, error = await self.runner.handle(
            request, result, self.pools.threads, elapsed_ms=elapsed_ms, error=error, listed=listed,
            body_path=body_path, page=page, redirect_to=redirect_to, extracted=extracted, usage_lines=self.usage_lines)
        if result is not None and result.body:
            self.state.stats.measures.handle.add(loop.time() - started)
        if self.tracker is not None and listed is None and items:
            if self.records_only:  # the built-in recorder: its one item is the page's record
                change = await self.tracker.mark(request, result, items[0].data, extracted)
            else:
                change = await self.tracker.mark_items(request, result, [item.data for item in items])
            if change == SAME and self.settings.changed_only:
                return [Unchanged(request.key)], requests  # the same as last time: no record
            if change is not None:
                self.state.stats.changed(change, request.url)
        required = self.settings.expect.get("required_fields")
        if required:  # expect: the share of the items written that have each field
            fields = self.state.stats.fields
            for item in items:
                for field in required:
                    if item.data.get(field) not in (None, "", [], {}):
                        fields[field] += 1
        status = result.status if result is not None else request.hop[1] if redirect_to and request.hop else None
        done = Done.of(request, status, error, result.size if result is not None else 0)
        return [*items, done], requests


__all__ = ["Handler"]
