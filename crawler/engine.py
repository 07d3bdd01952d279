"""The crawl engine: wires the stages together and counts work to know when it is over.

    seeds -> frontier -> fetch workers -> parse pool -> links back to the frontier
                                                     -> records -> output queue -> writer

Every URL accepted into the frontier is *outstanding* until the writer has written its record;
a page's links are accepted before its record is queued, so the count can only reach zero when
the frontier is empty and nothing is being fetched, parsed or written. Then the crawl is over.
"""

from __future__ import annotations

import asyncio
import logging
import random
import signal
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from crawler import errors
from crawler.config import Settings
from crawler.errors import FatalError
from crawler.fetch import Fetcher, FetchResult
from crawler.frontier import Frontier, MemoryFrontier
from crawler.parse import ParsedPage, is_html, parse_html
from crawler.progress import Progress, wants_live
from crawler.records import make_record
from crawler.request import CrawlRequest
from crawler.scope import Scope
from crawler.stats import Stats
from crawler.writer import STOP, open_sink, write_loop

log = logging.getLogger("crawler")


class Engine:
    """One crawl from ``seeds`` (normalized absolute URLs) under ``settings``."""

    def __init__(self, settings: Settings, seeds: Iterable[str], frontier: Frontier | None = None) -> None:
        self.settings = settings
        self.seeds = list(dict.fromkeys(seeds))
        self.scope = Scope(settings, self.seeds)
        self.frontier: Frontier = frontier or MemoryFrontier(settings.per_host, settings.delay)
        self.stats = Stats()
        self.in_flight = 0
        self.outstanding = 0
        self.fatal: FatalError | None = None
        self._finished = asyncio.Event()
        self._stopping = asyncio.Event()
        self._abort = asyncio.Event()
        self._queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(settings.output_queue_size)
        self._fetcher: Fetcher | None = None
        self._pool: ThreadPoolExecutor | None = None

    # -- control --------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop gracefully: take no new URLs, let fetches in flight finish (``shutdown_grace``
        seconds at most), write what is done. A second call stops at once."""
        if self._stopping.is_set():
            if not self._abort.is_set():
                log.warning("second stop: ending now, after writing what is already queued")
            self._abort.set()
            return
        log.warning("stopping: finishing fetches in flight (at most %.0f s); stop again to end now",
                    self.settings.shutdown_grace)
        self.stats.interrupted = True
        self._stopping.set()
        self.frontier.close()

    def snapshot(self) -> dict[str, Any]:
        """Figures for progress displays: the stats plus queue sizes."""
        data = self.stats.as_dict()
        data["in_flight"] = self.in_flight
        data["frontier"] = len(self.frontier)
        data["output_queue"] = self._queue.qsize()
        return data

    # -- running --------------------------------------------------------------------------

    async def run(self, *, handle_signals: bool = False) -> Stats:
        """Crawl until the frontier is exhausted or the crawl is stopped; return the stats.

        Raises :class:`FatalError` when the output cannot be written, and
        :class:`crawler.errors.UsageError` when it cannot be opened at all.
        """
        loop = asyncio.get_running_loop()
        sink = open_sink(self.settings.output, self.settings.format)
        await sink.open()
        if handle_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self.stop)
        progress = Progress(self.snapshot, wants_live(self.settings.progress), self.settings.log_interval)
        self._pool = ThreadPoolExecutor(self.settings.parse_threads, thread_name_prefix="parse")
        try:
            async with Fetcher(self.settings, self.scope.allows) as self._fetcher:
                self._accept(CrawlRequest(url) for url in self.seeds)
                if self.outstanding == 0:
                    self._finished.set()
                writer = loop.create_task(self._write(sink))
                workers = [loop.create_task(self._worker()) for _ in range(self.settings.concurrency)]
                progress.start()
                try:
                    await _first(self._finished.wait(), self._stopping.wait(), writer)
                    self.frontier.close()
                    await self._drain_workers(workers)
                    if not writer.done():
                        await self._queue.put(STOP)
                    await writer
                finally:
                    progress.stop()
                    for task in [*workers, writer]:
                        task.cancel()
                    await asyncio.gather(*workers, writer, return_exceptions=True)
        finally:
            self._pool.shutdown(wait=False, cancel_futures=True)
            if handle_signals:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.remove_signal_handler(sig)
            try:
                await sink.close()
            except FatalError as e:
                self.fatal = self.fatal or e
            self.stats.finish()
        if self.fatal is not None:
            raise self.fatal
        return self.stats

    async def _drain_workers(self, workers: list[asyncio.Task[None]]) -> None:
        """Wait for the workers to return; when stopping, give them ``shutdown_grace`` seconds
        (less after a second stop) and then cancel what is left."""
        pending = {task for task in workers if not task.done()}
        if not self._stopping.is_set():
            await asyncio.gather(*pending)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.shutdown_grace
        abort = loop.create_task(self._abort.wait())
        try:
            while pending and not self._abort.is_set():
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                done, _ = await asyncio.wait(
                    pending | {abort}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
                pending -= done
        finally:
            abort.cancel()
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def _accept(self, requests: Iterable[CrawlRequest]) -> None:
        requests = list(requests)
        if self.settings.max_pages:
            room = self.settings.max_pages - self.stats.discovered
            if room <= 0:
                return
            requests = [r for r in requests if not self.frontier.seen(r.url)][:room]
        accepted = self.frontier.add(requests)
        self.outstanding += len(accepted)
        self.stats.discovered += len(accepted)

    def _follow(self, page: ParsedPage, request: CrawlRequest) -> None:
        depth = request.depth + 1
        if not page.follow or (self.settings.max_depth >= 0 and depth > self.settings.max_depth):
            return
        seen = self.frontier.seen
        new = [url for url in page.links if not seen(url)]
        if new:
            self._accept(CrawlRequest(url, depth, request.url) for url in new)

    async def _worker(self) -> None:
        frontier = self.frontier
        while True:
            request = await frontier.get()
            if request is None:
                return
            self.in_flight += 1
            try:
                record = await self._process(request)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("unexpected error on %s", request.url)
                record = make_record(request, None, None, 0.0, errors.CONTENT)
            finally:
                self.in_flight -= 1
            if record is not None:
                await self._queue.put(record)

    async def _process(self, request: CrawlRequest) -> dict[str, Any] | None:
        """Fetch and parse one request; its record, or None when it goes back for a retry."""
        loop = asyncio.get_running_loop()
        assert self._fetcher is not None
        if request.started is None:
            request.started = loop.time()
        request.attempts += 1
        try:
            result = await self._fetcher.fetch(request.url, is_html)
        finally:
            self.frontier.release(request)
        if result.retryable and request.attempts <= self.settings.retries and not self._stopping.is_set():
            self.stats.retries += 1
            self.frontier.retry(request, self._backoff(request.attempts, result.retry_after))
            return None
        page: ParsedPage | None = None
        error = None
        if result.error is None and is_html(result.content_type) and result.final_url:
            try:
                page = await loop.run_in_executor(
                    self._pool, parse_html, result.body, result.charset, result.final_url,
                    self.scope.allows, self.settings.max_url_length)
            except Exception as e:  # a parser failure costs this page only
                log.warning("cannot parse %s: %r", request.url, e)
                error = errors.CONTENT
            else:
                self._follow(page, request)
        return make_record(request, result, page, (loop.time() - request.started) * 1000, error)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with jitter; at least what ``Retry-After`` asked (capped)."""
        cap = self.settings.retry_backoff_max
        base = min(cap, self.settings.retry_backoff * 2 ** (attempt - 1))
        wait = base / 2 + random.uniform(0, base / 2)
        if retry_after is not None:
            wait = max(wait, min(retry_after, cap))
        return wait

    async def _write(self, sink: Any) -> None:
        def written(records: list[dict[str, Any]]) -> None:
            for record in records:
                self.stats.count(record)
            self.outstanding -= len(records)
            if self.outstanding <= 0:
                self._finished.set()

        try:
            await write_loop(
                self._queue, sink, written,
                batch_size=self.settings.write_batch_size,
                flush_interval=self.settings.flush_interval,
                must_write=lambda waiting: waiting >= self.outstanding or self._stopping.is_set(),
            )
        except FatalError as e:
            log.error("%s", e)
            self.fatal = e
            self.stats.interrupted = True
            self._stopping.set()
            self._abort.set()
            self.frontier.close()


async def _first(*aws: Any) -> None:
    """Wait until the first of ``aws`` (coroutines or tasks) completes; cancel the others we made."""
    tasks = [a if isinstance(a, asyncio.Future) else asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task, aw in zip(tasks, aws, strict=True):
            if task is not aw:
                task.cancel()


__all__ = ["Engine", "FetchResult"]
