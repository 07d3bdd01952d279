"""Running a :class:`crawler.spider.Spider` inside the engine: callbacks and errbacks (plain
ones in the parse thread pool, ``async def`` ones on the loop), item pipelines, and what the
callbacks yield sorted into items and requests."""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, cast

from crawler import errors
from crawler.agent import product_token
from crawler.monitor.measures import Measures
from crawler.parse.html import ParsedPage
from crawler.parse.treesize import TooComplex
from crawler.result import FetchResult
from crawler.settings import Settings
from crawler.spider import DropItem, Failure, FollowAll, Request, Response, Spider, item_dict
from crawler.spider.base import callback_outputs
from crawler.spider.failures import SpiderFailures
from crawler.timestamps import utc_now_iso
from crawler.work import CrawlRequest, Item

#: The robots.txt Content-Signal lines of a URL's host.
UsageLines = Callable[[str], list[tuple[str, str]]]

log = logging.getLogger("crawler")


class SpiderRunner:
    """Calls a spider's code for the engine and counts what goes wrong in it."""

    def __init__(self, spider: Spider, settings: Settings, allows: Callable[[str], bool],
                 measures: Measures | None = None) -> None:
        self.spider = spider
        self.measures = measures or Measures(1, 1)  # the parse pool's busy time goes here
        self.allows = allows
        self.max_url_length = settings.max_url_length
        self.obey_robots = settings.robots
        self.agent = product_token(settings.user_agent)
        # Plain callbacks on responses this small run on the loop (the spider says they may).
        self.inline_bytes = settings.inline_parse_bytes if getattr(spider, "inline_callbacks", False) else -1
        self.pipelines = list(getattr(spider, "pipelines", []) or [])
        self.hooks = list(getattr(spider, "hooks", []) or [])
        self.items = 0
        self.failures = SpiderFailures(spider, settings.max_callback_errors)
        self.links_dropped = 0  # in-scope links left out by max_links_per_page
        self.max_links = settings.max_links_per_page
        self.extract_engine = settings.extract_engine

    async def open(self) -> None:
        """Call each pipeline's ``open_spider``."""
        for pipeline in self.pipelines:
            await _maybe_await(getattr(pipeline, "open_spider", None), self.spider)

    async def close(self) -> None:
        """Call each pipeline's ``close_spider``."""
        for pipeline in self.pipelines:
            try:
                await _maybe_await(getattr(pipeline, "close_spider", None), self.spider)
            except Exception:
                log.exception("close_spider of %r failed", pipeline)

    async def before_fetch(self, request: CrawlRequest) -> Request | None:
        """Run the hooks' ``process_request`` on the spider's request; it, for the fetch (None
        when there are no hooks and the request is not the spider's own)."""
        if not self.hooks:
            return _own(request)
        public = _own(request)
        if public is None:
            public = Request(request.url)
            request.request = public
        for hook in self.hooks:
            await _maybe_await(getattr(hook, "process_request", None), public, self.spider)
        return public

    def response(self, request: CrawlRequest, public: Request, result: FetchResult, elapsed_ms: float,
                 fetched_at: str, listed: list[str] | None = None, body_path: str | None = None,
                 page: ParsedPage | None = None, extracted: dict[str, Any] | None = None,
                 usage_lines: UsageLines | None = None) -> Response:
        """The public response for ``result`` (``page``: its HTML, parsed already; ``extracted``:
        its ``--extract`` fields; ``usage_lines``: the robots.txt Content-Signal lines of a URL's
        host)."""
        return Response(
            result.final_url or request.fetch_url, result.status or 0, result.headers or {}, result.body,
            result.charset, public, self.allows, self.max_url_length, content_type=result.content_type,
            size=result.size, depth=request.depth, referrer=request.referrer, lastmod=request.lastmod,
            elapsed_ms=elapsed_ms, fetched_at=fetched_at, agent=self.agent, obey_robots=self.obey_robots,
            listed=listed, body_path=body_path, page=page, max_links=self.max_links, cached=result.cached,
            extracted=extracted, extract_engine=self.extract_engine, usage_lines=usage_lines,
            rendered=result.rendered is not None, blocked=result.blocked)

    async def handle(self, request: CrawlRequest, result: FetchResult | None, pool: Executor, *,
                     elapsed_ms: float, error: str | None = None,
                     listed: list[str] | None = None, body_path: str | None = None,
                     page: ParsedPage | None = None, redirect_to: str | None = None,
                     extracted: dict[str, Any] | None = None, usage_lines: UsageLines | None = None
                     ) -> tuple[list[Item], list[Request | FollowAll], str | None]:
        """Hand the end of ``request`` to the spider: ``result`` (None when it was not fetched)
        to its callback, or, when it failed (``error`` names why, else the fetch's error or a
        status of 400 or more) or ended at a redirect to ``redirect_to``, to its errback.
        ``listed``: the request was a sitemap, which listed these URLs; ``body_path``: where
        ``--store-bodies`` saved the body; ``usage_lines``: the robots.txt Content-Signal lines of
        a URL's host. Returns the items and requests made, and the URL's error name."""
        public = _own(request) or Request(request.url)
        fetched_at = utc_now_iso()
        if redirect_to is not None:  # no page for the callback: the errback says where it went
            response = None
            if result is not None and result.status is not None:
                response = self.response(request, public, result, elapsed_ms, fetched_at, None, body_path, page,
                                         usage_lines=usage_lines)
            final_url = response.url if response is not None else request.hop[0] if request.hop else None
            status = result.status if result is not None else request.hop[1] if request.hop else None
            errback = self._resolve(public.errback) if public.errback else self.spider.errback
            failure = Failure(public, error, status, request.fetch_url, response, request.depth, request.referrer,
                              request.lastmod, elapsed_ms, fetched_at, None, redirect_to, final_url)
            outputs, _ = await self._run(errback, failure, request, 0, pool)
            return await self._sort(outputs, request, error)
        if result is not None and error is None:
            error = result.error
            if error is None and (result.status is None or result.status >= 400):
                error = errors.HTTP
        response = None
        if result is not None and (error is None or result.status is not None):
            response = self.response(request, public, result, elapsed_ms, fetched_at, listed, body_path, page,
                                     extracted, usage_lines)
        if error is None:
            assert response is not None
            if listed is not None:
                fn: Callable[..., Any] = self.spider.parse_sitemap
            else:
                fn = self._resolve(public.callback) if public.callback else self.spider.parse
            outputs, exception = await self._run(fn, response, request, len(response.body), pool,
                                                 public.cb_kwargs if listed is None else None)
            if self.max_links and "_page" in response.__dict__:  # the links were looked at
                self.links_dropped += response.links_dropped
            if exception is None:
                return await self._sort(outputs, request, error)
            error = errors.CONTENT  # the callback failed: the errback hears of it
        else:
            exception = None
        fn = self._resolve(public.errback) if public.errback else self.spider.errback
        failure = Failure(public, error, result.status if result is not None else None, request.fetch_url,
                          response, request.depth, request.referrer, request.lastmod, elapsed_ms, fetched_at,
                          exception, None, response.url if response is not None else None)
        outputs, _ = await self._run(fn, failure, request, 0, pool)
        return await self._sort(outputs, request, error)

    def _pool_time(self, seconds: float) -> None:
        self.measures.pool_busy += seconds

    async def _run(self, fn: Callable[..., Any], arg: Any, request: CrawlRequest, size: int,
                   pool: Executor, kwargs: dict[str, Any] | None = None) -> tuple[list[Any], Exception | None]:
        """The response hooks, then ``fn(arg, **kwargs)``: what it made, or the exception it raised."""
        if getattr(fn, "__func__", None) in _DEFAULTS:
            return [], None  # Spider's own errback/parse_sitemap: nothing to do, no thread to wake
        try:
            for hook in self.hooks:
                if getattr(hook, "process_response", None) is not None:
                    arg = await _maybe_await(hook.process_response, arg, self.spider)
            if kwargs:
                fn = functools.partial(fn, **kwargs)
            outputs = await _call(fn, arg, None if size <= self.inline_bytes else pool, self._pool_time)
        except TooComplex as e:  # the page, not the callback: its markup is not parsed
            log.warning("%s: not parsed: %s", request.url, e)
            return [], e
        except Exception as e:
            self.failures.callback_failed(fn, e, request.url)
            return [], e
        self.failures.ok += 1
        return outputs, None

    async def _sort(self, outputs: list[Any], request: CrawlRequest,
                    error: str | None) -> tuple[list[Item], list[Request | FollowAll], str | None]:
        """Items (through the pipelines) and requests out of what a callback made."""
        items: list[Item] = []
        requests: list[Request | FollowAll] = []
        for output in outputs:
            if output is None:
                continue
            if isinstance(output, (Request, FollowAll)):
                requests.append(output)
                continue
            try:
                data = await self._pipe(output)
            except Exception as e:
                self.failures.callback_failed(self._pipe, e, request.url)
                continue
            if data is not None:
                items.append(Item(data))
        self.items += len(items)
        return items, requests, error

    def _resolve(self, fn: Any) -> Callable[..., Any]:
        """A callback: a callable, or the name of a spider method (a request from a resumed run)."""
        if isinstance(fn, str):
            method = getattr(self.spider, fn, None)
            if method is None:
                raise AttributeError(f"{type(self.spider).__name__} has no method {fn!r}")
            return method  # type: ignore[no-any-return]
        return fn  # type: ignore[no-any-return]

    @property
    def callback_errors(self) -> int:
        """Callbacks, errbacks and pipelines that raised."""
        return self.failures.errors

    @property
    def dropped(self) -> int:
        """Items the pipelines dropped."""
        return sum(self.failures.dropped.values())

    async def _pipe(self, item: Any) -> dict[str, Any] | None:
        """``item`` through the pipelines (each sees the item as the previous one left it: a
        dataclass, an attrs or pydantic object, a dict), then as a dict for the output."""
        if not self.pipelines:
            return item_dict(item)
        item_dict(item)  # not an item at all: said before any pipeline sees it
        for pipeline in self.pipelines:
            try:
                item = await _maybe_await(pipeline.process_item, item, self.spider)
            except DropItem as e:
                self.failures.item_dropped(str(e))
                log.debug("item dropped by %r: %s", pipeline, e)
                return None
        return item_dict(item)


_DEFAULTS = (Spider.errback, Spider.parse_sitemap)


def _own(request: CrawlRequest) -> Request | None:
    """The spider's own request riding with ``request`` (always one of ours: a Request)."""
    return cast(Request | None, request.request)


async def _maybe_await(fn: Callable[..., Any] | None, *args: Any) -> Any:
    if fn is None:
        return None
    value = fn(*args)
    return await value if inspect.isawaitable(value) else value


async def _call(fn: Callable[..., Any], arg: Any, pool: Executor | None,
                busy: Callable[[float], None]) -> list[Any]:
    """Everything ``fn(arg)`` yields or returns, as a list. Plain functions run in ``pool``
    (on the loop when it is None); ``busy`` is told the seconds a pool thread spent on it."""
    if inspect.isasyncgenfunction(fn):
        return [x async for x in fn(arg)]
    if inspect.iscoroutinefunction(fn):
        return callback_outputs(await fn(arg))
    if pool is None:
        return callback_outputs(fn(arg))

    spent = [0.0]

    def timed() -> list[Any]:
        started = time.perf_counter()
        try:
            return callback_outputs(fn(arg))
        finally:
            spent[0] = time.perf_counter() - started

    try:
        return await asyncio.get_running_loop().run_in_executor(pool, timed)
    finally:
        busy(spent[0])


async def outputs_of(fn: Callable[..., Any], response: Response, kwargs: dict[str, Any] | None = None) -> list[Any]:
    """Everything callback ``fn`` makes of ``response`` (with ``kwargs``), run here, on the
    loop: for the tools (``python -m crawler parse``)."""
    if kwargs:
        fn = functools.partial(fn, **kwargs)
    return await _call(fn, response, None, lambda seconds: None)


