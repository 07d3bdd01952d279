"""``--render``: which fetched pages the browser renders, and what comes of it.

A page is fetched over HTTP first, always (in the worker, in its host's slot). Then, still in
that slot, it is rendered when the spider's request says ``render=True``, with ``--render
always``, or with ``--render auto`` when its host's plan says so
(:class:`crawler.fetch.renderplan.RenderPlan`, fed by :func:`crawler.parse.scripted.page_shape`).
The rendered DOM replaces the body for what follows (links, title, the spider, extraction); the
record says ``rendered``, the WARC keeps the HTTP exchange and adds the DOM. A page the browser
failed on ends with error ``render``; the crawl goes on.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from concurrent.futures import Executor
from typing import Any

from crawler import errors
from crawler.core.scope import Scope
from crawler.errors import UsageError
from crawler.fetch.browser import BrowserPool
from crawler.fetch.client import Fetcher
from crawler.fetch.politeness import HostClock, Politeness
from crawler.fetch.render import Renderer, RenderFailed
from crawler.fetch.renderplan import RenderPlan
from crawler.parse.html import is_html
from crawler.parse.scripted import PageShape, changed, has_scripts, page_shape
from crawler.result import FetchResult
from crawler.settings import Settings
from crawler.work import PAGE, CrawlRequest

log = logging.getLogger("crawler")


class Rendering:
    """The render step of one crawl's workers. :meth:`aclose` it at the end."""

    def __init__(self, settings: Settings, fetcher: Fetcher, scope: Scope, politeness: Politeness,
                 clock: HostClock, threads: Executor) -> None:
        """A browser is found (and Playwright checked) now when ``--render`` is on: a missing one
        is a usage error before the crawl starts."""
        self.settings = settings
        self.fetcher = fetcher
        self.scope = scope
        self.politeness = politeness
        self.clock = clock
        self.threads = threads
        self.plan = RenderPlan()
        self.on = settings.render != "never"
        self._renderer: Renderer | None = self._make() if self.on else None
        self._unavailable: str | None = None  # why a spider's render=True cannot be had (--render never)
        self.failed = 0  # pages that ended with error render

    def _make(self) -> Renderer:
        pool = BrowserPool(self.settings, self.fetcher.headers["User-Agent"])
        return Renderer(self.settings, self.fetcher, pool, self.scope.host_allows, self.politeness.delay,
                        self.clock.hold)

    def wants_body(self, media_type: str | None) -> bool:
        """Must a response of ``media_type`` keep its body (it may be rendered)?"""
        return self.on and (media_type is None or is_html(media_type))

    async def after_fetch(self, request: CrawlRequest, result: FetchResult, fetched_at: float | None = None
                          ) -> FetchResult:
        """``result`` (the HTTP answer to ``request``, asked at loop time ``fetched_at``), or the
        page as the browser rendered it."""
        if request.kind != PAGE or result.error is not None or result.location is not None or not result.body \
                or result.status is None or result.status >= 400 or not (
                    result.content_type is None or is_html(result.content_type)):
            return result
        spider = request.request
        asked = spider.render if spider is not None else None
        mode = self.settings.render
        if asked is False or (asked is None and mode == "never"):
            return result
        url = result.final_url or request.fetch_url
        plain: PageShape | None = None
        if asked:
            why = "request"
        elif mode == "always":
            why = "always"
        else:
            if has_scripts(result.body):
                plain = await self._shape(result.body, result.charset, url)
            decided = self.plan.decide(request.host, plain.reason if plain is not None else None)
            if decided is None:
                return result
            why = decided
        renderer = self._renderer_for()
        if renderer is None:
            return dataclasses.replace(result, error=errors.RENDER)
        try:
            rendered = await renderer.render(url, result, spider.page_actions if spider is not None else (),
                                             fetched_at)
        except RenderFailed as e:
            self.failed += 1
            log.warning("%s: not rendered: %s", url, e)
            return dataclasses.replace(result, error=errors.RENDER)
        learned = None
        if mode == "auto" and not asked:
            after = await self._shape(rendered.html, None, url)
            learned = changed(plain if plain is not None else await self._shape(result.body, result.charset, url),
                              after)
        self.plan.learn(request.host, why, learned)
        body = rendered.html.encode("utf-8", errors="replace")
        if result.wire is not None:
            result.wire.rendered = rendered.html
        return dataclasses.replace(result, body=body, charset="utf-8", content_type="text/html", rendered=why,
                                   _sha1=None)

    def _renderer_for(self) -> Renderer | None:
        """The renderer; with ``--render never``, made at a spider's first ``render=True`` (None,
        said once, when there is no browser to be had)."""
        if self._renderer is None and self._unavailable is None:
            try:
                self._renderer = self._make()
            except UsageError as e:
                self._unavailable = str(e)
                log.error("a request asks to be rendered: %s", e)
        return self._renderer

    async def _shape(self, body: bytes | str, charset: str | None, url: str) -> PageShape:
        """:func:`page_shape`, in the parse threads for a big page."""
        if len(body) <= self.settings.inline_parse_bytes:
            return page_shape(body, charset, url, self.settings.max_url_length)
        return await asyncio.get_running_loop().run_in_executor(self.threads, page_shape, body, charset, url,
                                                                self.settings.max_url_length)

    def figures(self) -> dict[str, Any]:
        """For ``--stats`` and the report: pages rendered and why, per host too; what the pages
        asked for, and what was refused."""
        renderer = self._renderer
        hosts = self.plan.figures()
        why: dict[str, int] = {}
        for host in hosts.values():
            for reason, n in host["why"].items():
                why[reason] = why.get(reason, 0) + n
        data: dict[str, Any] = {"mode": self.settings.render, "pages": sum(why.values()), "why": why,
                                "failed": self.failed}
        if renderer is not None:
            data |= {"requests": renderer.requests, "reused": renderer.reused, "blocked": renderer.blocked,
                     "refused": dict(renderer.refused),
                     "unsettled": renderer.unsettled, "seconds": round(renderer.pool.seconds, 3),
                     "browsers_started": renderer.pool.started,
                     "browsers_lost": renderer.pool.lost}
        data["hosts"] = hosts
        return data

    async def aclose(self) -> None:
        """Close the browser (every process of it)."""
        if self._renderer is not None:
            await self._renderer.pool.close()


__all__ = ["Rendering"]
