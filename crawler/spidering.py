"""Running a :class:`crawler.spider.Spider` inside the engine: callbacks and errbacks (plain
ones in the parse thread pool, ``async def`` ones on the loop), item pipelines, and what the
callbacks yield sorted into items and requests."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from crawler import errors
from crawler.fetch import FetchResult
from crawler.request import CrawlRequest
from crawler.spider import DropItem, Failure, Request, Response, Spider, item_dict

log = logging.getLogger("crawler")


class Item:
    """An item on its way to the output queue (written, not counted as a URL's record)."""

    __slots__ = ("data",)

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data


class SpiderRunner:
    """Calls a spider's code for the engine and counts what goes wrong in it."""

    def __init__(self, spider: Spider, allows: Callable[[str], bool], max_url_length: int) -> None:
        self.spider = spider
        self.allows = allows
        self.max_url_length = max_url_length
        self.pipelines = list(getattr(spider, "pipelines", []) or [])
        self.hooks = list(getattr(spider, "hooks", []) or [])
        self.items = 0
        self.dropped = 0
        self.callback_errors = 0

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

    async def before_fetch(self, request: CrawlRequest) -> Request:
        """Run the hooks' ``process_request`` on the spider's request; it, for the fetch."""
        public = request.request
        if public is None:
            public = request.request = Request(request.url)
        for hook in self.hooks:
            await _maybe_await(getattr(hook, "process_request", None), public, self.spider)
        return public

    async def handle(self, request: CrawlRequest, result: FetchResult,
                     pool: Executor) -> tuple[list[Item], list[Request], str | None]:
        """The callback's (or, on failure, the errback's) items and requests, and the URL's
        error name (None on success)."""
        public = request.request or Request(request.url)
        failed = result.error is not None or result.status is None or result.status >= 400
        if failed:
            if public.errback is None:
                return [], [], result.error
            fn: Callable[..., Any] = self._resolve(public.errback)
            arg: Any = Failure(public, result.error or errors.HTTP, result.status, request.fetch_url)
        else:
            fn = self._resolve(public.callback) if public.callback else self.spider.parse
            arg = Response(result.final_url or request.fetch_url, result.status or 0,
                           result.headers or {}, result.body, result.charset, public, self.allows,
                           self.max_url_length)
        try:
            for hook in self.hooks:
                if getattr(hook, "process_response", None) is not None:
                    arg = await _maybe_await(hook.process_response, arg, self.spider)
            outputs = await _call(fn, arg, pool)
        except Exception as e:
            self.callback_errors += 1
            log.warning("%s raised on %s: %r", getattr(fn, "__qualname__", fn), request.url, e)
            return [], [], errors.CONTENT
        items: list[Item] = []
        requests: list[Request] = []
        for output in outputs:
            if output is None:
                continue
            if isinstance(output, Request):
                requests.append(output)
                continue
            try:
                data = await self._pipe(item_dict(output))
            except Exception as e:
                self.callback_errors += 1
                log.warning("item from %s failed: %r", request.url, e)
                continue
            if data is not None:
                items.append(Item(data))
        self.items += len(items)
        return items, requests, result.error

    def _resolve(self, fn: Any) -> Callable[..., Any]:
        """A callback: a callable, or the name of a spider method (a request from a resumed run)."""
        if isinstance(fn, str):
            method = getattr(self.spider, fn, None)
            if method is None:
                raise AttributeError(f"{type(self.spider).__name__} has no method {fn!r}")
            return method  # type: ignore[no-any-return]
        return fn  # type: ignore[no-any-return]

    async def _pipe(self, item: dict[str, Any]) -> dict[str, Any] | None:
        for pipeline in self.pipelines:
            try:
                item = await _maybe_await(pipeline.process_item, item, self.spider)
            except DropItem as e:
                self.dropped += 1
                log.debug("item dropped by %r: %s", pipeline, e)
                return None
            item = item_dict(item)
        return item


async def _maybe_await(fn: Callable[..., Any] | None, *args: Any) -> Any:
    if fn is None:
        return None
    value = fn(*args)
    return await value if inspect.isawaitable(value) else value


async def _call(fn: Callable[..., Any], arg: Any, pool: Executor) -> list[Any]:
    """Everything ``fn(arg)`` yields or returns, as a list. Plain functions run in ``pool``."""
    if inspect.isasyncgenfunction(fn):
        return [x async for x in fn(arg)]
    if inspect.iscoroutinefunction(fn):
        return _as_list(await fn(arg))
    return await asyncio.get_running_loop().run_in_executor(pool, lambda: _as_list(fn(arg)))


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (dict, Request)) or not hasattr(value, "__iter__"):
        return [value]
    return list(value)
