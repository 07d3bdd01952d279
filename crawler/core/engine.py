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
import os
import signal
import socket
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from crawler import errors
from crawler.core.scope import Scope
from crawler.durable.job import JobLock, expand_output, log_run, open_job_output, output_sink, store_path
from crawler.durable.recrawl import Remembered, conditional_headers
from crawler.errors import FatalError
from crawler.fetch.client import Fetcher, FetchResult
from crawler.fetch.politeness import Politeness
from crawler.fetch.robots import Robots, RobotsRules, origin_of
from crawler.frontier import Frontier, MemoryFrontier, RedisFrontier, SQLiteFrontier
from crawler.monitor.measures import Measures
from crawler.monitor.stats import Stats
from crawler.monitor.watch import Monitor
from crawler.output.bodies import store_body
from crawler.output.files import make_parent
from crawler.output.writer import STOP, write_loop
from crawler.parse.html import is_html
from crawler.parse.processes import ParsePool
from crawler.parse.sitemaps import SitemapParser
from crawler.settings import REDIS_SCHEMES, Settings
from crawler.spider.api import FollowAll, Request, Spider
from crawler.spider.recorder import PageRecorder
from crawler.spider.runner import SpiderRunner
from crawler.urls import normalize_url
from crawler.work import PAGE, SITEMAP, CrawlRequest, Done, Unchanged

log = logging.getLogger("crawler")
# Signals that stop a crawl gracefully: Ctrl-C, kill and systemd's stop, and a closed terminal.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
CREDENTIALS = frozenset({"authorization", "cookie", "proxy-authorization"})  # dropped off the origin


class Engine:
    """One crawl from ``seeds`` (normalized absolute URLs) under ``settings``."""

    def __init__(self, settings: Settings, seeds: Iterable[str], frontier: Frontier | None = None,
                 spider: Spider | None = None) -> None:
        """``spider``: run this spider instead of the built-in page recorder
        (:class:`crawler.spider.recorder.PageRecorder`). Its items are the output; each URL's end is
        counted in the stats."""
        self.settings = settings
        self.seeds = list(dict.fromkeys(seeds))
        self.sitemaps = [url for url in (normalize_url(u, settings.max_url_length) for u in settings.sitemap) if url]
        self.scope = Scope(settings, self.seeds + self.sitemaps)
        self.store_path = store_path(settings)
        self.worker = settings.worker or f"{socket.gethostname()}-{os.getpid()}"
        if frontier is None:
            if settings.frontier.startswith(REDIS_SCHEMES):
                frontier = RedisFrontier(settings.frontier, settings.crawl_id, settings.per_host, settings.delay,
                                         lease_timeout=settings.lease_timeout, retries=settings.retries,
                                         worker=self.worker, reconnect_for=settings.redis_reconnect)
            elif self.store_path:
                frontier = SQLiteFrontier(self.store_path, settings.per_host, settings.delay,
                                          label=f"job dir {settings.job_dir}" if settings.job_dir else None)
            else:
                frontier = MemoryFrontier(settings.per_host, settings.delay)
        self.frontier: Frontier = frontier
        # Shared by several processes (Redis): a URL is this process's work only once it has
        # leased it, and the crawl is over when the frontier says so for all of them.
        self.shared = bool(getattr(frontier, "shared", False))
        self.output = settings.output
        self.politeness = Politeness(settings, self.frontier)
        self.robots: Robots | None = None
        self._sitemap_origins: set[str] = set()
        self._validators = Remembered()  # a durable crawl's page validators, until committed
        self._host_pages: Counter[str] = Counter()  # URLs accepted from each host (--max-pages-per-host)
        self.spider = spider if spider is not None else PageRecorder()
        self.spider.settings = settings
        self.stats = Stats(Measures(settings.concurrency, settings.parse_threads))
        self._runner = SpiderRunner(self.spider, settings, self.scope.allows, self.stats.measures)
        self.in_flight = 0
        self.outstanding = 0
        self.fatal: FatalError | None = None
        self._finished = asyncio.Event()
        self._stopping = asyncio.Event()
        self._abort = asyncio.Event()
        self._queue: asyncio.Queue[Any] = asyncio.Queue(settings.output_queue_size)
        self._fetcher: Fetcher | None = None
        self._captures = False  # does the output want each HTTP exchange (WARC)?
        self._bodies = settings.store_bodies or None
        self.monitor = Monitor(settings, self.stats, self.snapshot,
                               lambda: (len(self.frontier), self.in_flight, self._queue.qsize()))
        self._pool: ThreadPoolExecutor | None = None
        self._parse_pool: ParsePool | None = None  # --parse-isolation process

    # -- control --------------------------------------------------------------------------

    def stop(self, reason: str = "signal") -> None:
        """Stop gracefully: take no new URLs, let fetches in flight finish (``shutdown_grace``
        seconds at most), write what is done. A second call stops at once. ``reason`` is
        ``"signal"`` (the run counts as interrupted) or ``"max_runtime"`` (it does not)."""
        if self._stopping.is_set():
            if not self._abort.is_set() and reason == "signal":
                log.warning("second stop: ending now, after writing what is already queued")
                self._abort.set()
            return
        if reason == "max_runtime":
            log.warning("--max-runtime spent: finishing fetches in flight (at most %.0f s)%s",
                        self.settings.shutdown_grace, "; the same command resumes" if self.durable else "")
        else:
            log.warning("stopping: finishing fetches in flight (at most %.0f s); stop again to end now",
                        self.settings.shutdown_grace)
            self.stats.interrupted = True
        self.stats.stopped_by = reason
        self._stopping.set()
        self.frontier.close()

    @property
    def durable(self) -> bool:
        """Is the frontier kept on disk (``--job-dir``, ``--frontier sqlite``)?"""
        return isinstance(self.frontier, SQLiteFrontier)

    def snapshot(self) -> dict[str, Any]:
        """Figures for progress displays: the stats (without the per-host and per-depth
        detail), queue sizes, and the busy seconds of the fetch workers and parse pool."""
        data = self.stats.as_dict(detail=False)
        measures = self.stats.measures
        data["in_flight"] = self.in_flight
        data["frontier"] = len(self.frontier)
        data["output_queue"] = self._queue.qsize()
        data["workers"] = measures.workers
        data["workers_busy_s"] = measures.workers_busy
        data["parse_threads"] = measures.parse_threads
        data["parse_pool_busy_s"] = measures.pool_busy
        data["hosts_seen"] = len(measures.hosts)
        return data

    # -- running --------------------------------------------------------------------------

    async def run(self, *, handle_signals: bool = False) -> Stats:
        """Crawl until the frontier is exhausted or the crawl is stopped; return the stats.

        Raises :class:`FatalError` when the output cannot be written, and
        :class:`crawler.errors.UsageError` when it cannot be opened at all.
        """
        loop = asyncio.get_running_loop()
        lock = None
        if isinstance(self.frontier, SQLiteFrontier):
            db = self.frontier.path
            lock = JobLock(Path(self.settings.job_dir) / "lock" if self.settings.job_dir
                           else db.with_name(db.name + ".lock"))
            lock.acquire()
        if isinstance(self.frontier, RedisFrontier):
            await self.frontier.open()
        try:
            return await self._run(loop, handle_signals)
        finally:
            if isinstance(self.frontier, SQLiteFrontier):
                await self.frontier.aclose()
            if isinstance(self.frontier, RedisFrontier):
                await self.frontier.give_back()  # leased here and not written: back to the queue
                await self.frontier.aclose()
            if lock is not None:
                lock.release()

    async def _open_output(self) -> Any:
        """The sink, opened (for a durable crawl: the job's output, resumed)."""
        if not isinstance(self.frontier, SQLiteFrontier):
            sink = output_sink(self.settings, expand_output(self.settings.output, 1).replace("{worker}", self.worker))
            await sink.open()
        else:
            sink, pending = await open_job_output(self.frontier, self.settings)
            self.outstanding += pending
            self.stats.resumed = pending
            self.stats.job_known, self.stats.job_done = await self.frontier.counts()
        self.output = sink.path
        self._captures = sink.captures
        return sink

    async def _run(self, loop: asyncio.AbstractEventLoop, handle_signals: bool) -> Stats:
        if self.settings.report:
            make_parent("--report", self.settings.report)  # checked now, not after a long crawl
        sink = await self._open_output()
        budget = (loop.call_later(self.settings.max_runtime, self.stop, "max_runtime")
                  if self.settings.max_runtime else None)
        if handle_signals:
            for sig in STOP_SIGNALS:
                loop.add_signal_handler(sig, self.stop)
        monitor = self.monitor
        monitor.serve_metrics(loop)
        self._pool = ThreadPoolExecutor(self.settings.parse_threads, thread_name_prefix="parse")
        if self.settings.parse_isolation == "process":
            self._parse_pool = ParsePool(self.settings.parse_threads, self.settings.parse_timeout)
        try:
            async with Fetcher(self.settings, self.scope.allows, self.scope.private_ok) as self._fetcher:
                if self.settings.robots:
                    store = self.frontier if isinstance(self.frontier, SQLiteFrontier) else None
                    self.robots = Robots(self.settings, self._fetcher, store, self.scope.reachable)
                await self._runner.open()
                start = await self._accept(CrawlRequest(url) for url in self.seeds)
                start += await self._start_spider()
                start += await self._accept_sitemaps(self.sitemaps)
                if self.settings.use_sitemaps and not self.settings.robots:
                    start += await self._accept_sitemaps(origin_of(url) + "/sitemap.xml" for url in self.seeds)
                if self.outstanding == 0 and not self.shared:
                    self._finished.set()
                writer = loop.create_task(self._write(sink))
                if start:
                    await self._queue.put(start)
                workers = [loop.create_task(self._worker()) for _ in range(self.settings.concurrency)]
                monitor.start()
                try:
                    await _first(self._finished.wait(), self._stopping.wait(), writer, asyncio.wait(workers))
                    self.frontier.close()
                    await self._drain_workers(workers)
                    if not writer.done():
                        await _first(self._queue.put(STOP), writer)  # a dead writer takes nothing
                    await writer
                finally:
                    monitor.stop()
                    for task in [*workers, writer]:
                        task.cancel()
                    await asyncio.gather(*workers, writer, return_exceptions=True)
        finally:
            if budget is not None:
                budget.cancel()
            await self._runner.close()
            self._pool.shutdown(wait=False, cancel_futures=True)
            if self._parse_pool is not None:
                self._parse_pool.close()
            monitor.close()
            if handle_signals:
                for sig in STOP_SIGNALS:
                    loop.remove_signal_handler(sig)
            try:
                await sink.close()
            except FatalError as e:
                self._fatal(e)
            self.stats.finish()
            if self.settings.job_dir:
                log_run(self.settings.job_dir, self.output, self.stats, self.outstanding)
            failed = await monitor.report(self.seeds + self.sitemaps)
            if failed is not None:
                self.fatal = self.fatal or failed
                self.stats.failed = self.stats.failed or str(failed)
        if self.fatal is not None:
            raise self.fatal
        return self.stats

    async def _drain_workers(self, workers: list[asyncio.Task[None]]) -> None:
        """Wait for the workers to return. From the moment the crawl is stopping (a signal,
        --max-runtime, a fatal error), they have ``shutdown_grace`` seconds (none after a second
        stop or a fatal error); then what is left is cancelled. No wait here is unbounded."""
        pending = {task for task in workers if not task.done()}
        loop = asyncio.get_running_loop()
        stopping = loop.create_task(self._stopping.wait())
        abort = loop.create_task(self._abort.wait())
        watching = {stopping, abort}
        deadline: float | None = None
        try:
            while pending and not self._abort.is_set():
                if deadline is None and self._stopping.is_set():
                    deadline = loop.time() + self.settings.shutdown_grace
                remaining = None if deadline is None else deadline - loop.time()
                if remaining is not None and remaining <= 0:
                    break
                done, _ = await asyncio.wait(pending | watching, timeout=remaining,
                                             return_when=asyncio.FIRST_COMPLETED)
                pending -= done
                watching -= done
        finally:
            stopping.cancel()
            abort.cancel()
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _accept(self, requests: Iterable[CrawlRequest]) -> list[Any]:
        """Accept new URLs (each counted until its record is written; at most ``max_pages`` in
        all). Those that robots.txt already forbids are not queued: they end at once, and what
        the spider made of that is returned, to be written."""
        requests = list(requests)
        room = None
        if self.settings.max_pages:
            room = self.settings.max_pages - self.stats.discovered
            if room <= 0:
                return []
        denied: list[CrawlRequest] = []
        reasons: dict[str, str] = {}
        if self.robots is not None:
            rules_of: dict[str, RobotsRules | None] = {}  # one cache look-up per origin
            allowed = []
            for r in requests:
                origin = origin_of(r.url)
                if origin not in rules_of:
                    rules_of[origin] = self.robots.cached(origin)
                rules = rules_of[origin]
                if rules is not None and not rules.allowed(r.url):
                    denied.append(r)
                    reasons[r.url] = rules.reason
                else:
                    allowed.append(r)
            requests = allowed
        budget = self.settings.max_pages_per_host
        if budget:
            requests = self._within_host_budget(requests, budget)
        now = asyncio.get_running_loop().time()
        for r in requests:
            r.queued = now
        # Counted before the store sees them: a store may hand a URL out (and the writer end
        # it) before add() returns, and the crawl must not look over meanwhile. What the store
        # turns away (seen already, over the limit) is taken off the count afterwards.
        reserved = (0 if self.shared else len(requests)) + len(denied)
        self.outstanding += reserved
        accepted: list[CrawlRequest] = []
        refused: list[CrawlRequest] = []
        try:
            accepted = await self.frontier.add(requests, limit=room)
            if denied:
                room = None if room is None else room - len(accepted)
                refused = await self.frontier.add(denied, queue=False, limit=room)
        finally:
            self.outstanding -= reserved - ((0 if self.shared else len(accepted)) + len(refused))
        denied = refused
        if budget:
            for r in accepted:
                self._host_pages[r.host] += 1
        self.stats.discovered += len(accepted) + len(denied)
        ended = []
        for r in denied:
            ended += await self._end(r, None, reasons[r.url])
        return ended

    async def _end(self, request: CrawlRequest, result: FetchResult | None, error: str | None = None,
                   listed: list[str] | None = None, body_path: str | None = None,
                   redirect_to: str | None = None) -> list[Any]:
        """The end of ``request``: the spider's callback or errback (see
        :meth:`SpiderRunner.handle`) makes items and requests; returns what is to go to the
        output queue: records of URLs those requests found forbidden, the items, and the URL's
        own :class:`Done` (counted, not written). ``redirect_to``: the request ends at a
        redirect to that URL (refused, or another URL's)."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        page = None
        if (self._parse_pool is not None and result is not None and error is None and listed is None
                and result.error is None and result.body and result.status is not None and result.status < 400
                and (result.content_type is None or is_html(result.content_type))):
            page = await self._parse_pool.parse(result.body, result.charset, result.final_url or request.fetch_url,
                                                self.scope.allows, self.settings.max_url_length, self.settings.robots,
                                                self.settings.max_links_per_page)
            if page is None:  # the parser died or hung on this page
                error = errors.CONTENT
        items, requests, error = await self._runner.handle(
            request, result, self._pool, elapsed_ms=self._elapsed_ms(request), error=error, listed=listed,  # type: ignore[arg-type]
            body_path=body_path, page=page, redirect_to=redirect_to)
        if result is not None and result.body:
            self.stats.measures.handle.add(loop.time() - started)
        found = await self._accept_requests(requests, request) if requests else []
        status = result.status if result is not None else request.hop[1] if redirect_to and request.hop else None
        done = Done(url=request.url, status=status, error=error, bytes=result.size if result is not None else 0,
                    depth=request.depth, host=request.host, referrer=request.referrer)
        return [*found, *items, done]

    async def _accept_sitemaps(self, urls: Iterable[str], referrer: str | None = None) -> list[Any]:
        """Accept sitemap documents (normalized, in scope) to read seeds from."""
        found = []
        for url in urls:
            url = normalize_url(url, self.settings.max_url_length)
            if url is not None and self.scope.allows(url):
                found.append(CrawlRequest(url, 0, referrer, SITEMAP))
        return await self._accept(found)

    def _within_host_budget(self, requests: list[CrawlRequest], budget: int) -> list[CrawlRequest]:
        """Those of ``requests`` that fit in their hosts' ``--max-pages-per-host`` budget (some
        may be known already, so a host can end up a little under it, never over)."""
        kept = []
        left: dict[str, int] = {}
        for r in requests:
            room = left.get(r.host)
            if room is None:
                room = budget - self._host_pages[r.host]
            if room > 0:
                kept.append(r)
            left[r.host] = room - 1
        return kept

    async def _worker(self) -> None:
        frontier = self.frontier
        measures = self.stats.measures
        loop = asyncio.get_running_loop()
        while True:
            try:
                request = await frontier.get()
            except FatalError as e:  # the frontier's store is gone
                self._fatal(e)
                return
            if request is None:
                return
            if self.shared:
                self.outstanding += 1  # leased: this process's to finish
                if request.depth == 0 and request.referrer is None:
                    self.scope.add_seed(request.url)  # a seed another process (or `seed`) added
            started = loop.time()
            if request.queued is not None:
                measures.frontier_wait.add(started - request.queued)
                request.queued = None
            self.in_flight += 1
            try:
                records = await self._process(request)
            except asyncio.CancelledError:
                raise
            except FatalError as e:
                self._fatal(e)
                return
            except Exception:
                log.exception("unexpected error on %s", request.url)
                try:
                    records = await self._end(request, None, errors.CONTENT)
                except Exception:
                    records = [Done(url=request.url, status=None, error=errors.CONTENT, bytes=0, depth=request.depth,
                                    host=request.host, referrer=request.referrer)]
            finally:
                self.in_flight -= 1
                measures.workers_busy += loop.time() - started
            if records:
                await self._queue.put(records)  # one entry a URL: its items, its Done, ...

    async def _process(self, request: CrawlRequest) -> list[Any]:
        """Fetch and handle one request, holding a slot of its host. Returns the records to
        write: its own (unless it goes back to the frontier for a retry, a redirect hop or
        after its host's robots.txt was read) and those of URLs it found that robots.txt
        forbids."""
        loop = asyncio.get_running_loop()
        assert self._fetcher is not None
        if request.started is None:
            request.started = loop.time()
        if self.robots is not None:
            origin = origin_of(request.fetch_url)
            rules = self.robots.cached(origin)
            if rules is None:
                # This slot fetches robots.txt; the page waits its turn (and the host's delay).
                try:
                    rules = await self.robots.load(origin)
                finally:
                    await self.frontier.release(request)
                await self.politeness.apply_robots(request.host, rules)
                await self._requeue(request, 0.0)
                if self.settings.use_sitemaps and origin not in self._sitemap_origins:
                    self._sitemap_origins.add(origin)
                    return await self._accept_sitemaps(rules.sitemaps or [origin + "/sitemap.xml"])
                return []
            if not rules.allowed(request.fetch_url):
                await self.frontier.release(request)
                # A redirect hop refused: the record says which (the hop's URL is redirect_to).
                return await self._end(request, None, rules.reason,
                                       redirect_to=request.fetch_url if request.redirects else None)
        request.attempts += 1
        sitemap = (SitemapParser(self.settings.sitemap_max_bytes, self.settings.sitemap_max_urls)
                   if request.kind == SITEMAP else None)
        found: list[Any] = []
        listed: list[str] = []
        started = loop.time()
        try:
            if sitemap is not None:
                result = await self._fetch_sitemap(request, sitemap, found, listed)
            else:
                public = await self._runner.before_fetch(request)
                proxy = public.meta.get("proxy") if public is not None else None
                result = await self._fetcher.fetch(
                    request.fetch_url, self._keep_body, follow=False, headers=self._headers(request), proxy=proxy,
                    capture=self._captures)
        finally:
            await self.frontier.release(request)
        wire = result.wire
        if wire is not None and result.error in (None, errors.HTTP):  # whole exchanges only
            found.append(wire)
        seconds = loop.time() - started
        self.stats.measures.fetched(request.host, seconds)
        wait = await self.politeness.after_fetch(request.host, result, seconds)
        if result.retryable and request.attempts <= self.settings.retries and not self._stopping.is_set():
            self.stats.retries += 1
            await self._requeue(request, wait)
            return found
        if result.location is not None:
            ended = await self._redirect(request, result)
            return found if ended is None else [*found, *ended]
        if sitemap is not None:
            return [*found, *await self._end(request, result, listed=listed)]
        if self.durable:
            unchanged = self._validators.remember(request, result)
            if unchanged is not None and wire is not None:
                wire.revisit = unchanged
            if unchanged is not None and self.settings.changed_only:
                return [*found, Unchanged(request.url)]  # the spider is not called
        body_path = None
        if self._bodies is not None and result.body and result.error in (None, errors.HTTP):
            body_path = await store_body(self._bodies, result.body, result.sha1() or "")
        return [*found, *await self._end(request, result, body_path=body_path)]

    def _keep_body(self, media_type: str | None) -> bool:
        return (self.settings.changed_only or self._bodies is not None or self.spider.wants_body(media_type))

    def _headers(self, request: CrawlRequest) -> dict[str, str] | None:
        """A spider request's own headers, and conditional GET headers on a recrawl. Once a
        redirect has left the request's origin, its credentials (Authorization, Cookie,
        Proxy-Authorization) are not sent on: they were meant for the first site only."""
        conditional = conditional_headers(request) if self.durable else None
        own = request.request.headers if request.request is not None else None
        if own and request.redirects and origin_of(request.fetch_url) != origin_of(request.url):
            own = {k: v for k, v in own.items() if k.lower() not in CREDENTIALS}
        return (own or {}) | (conditional or {}) if own or conditional else None

    async def _start_spider(self) -> list[Any]:
        """Accept the spider's start URLs and requests (their hosts join the scope)."""
        requests = []
        async for start in self.spider.start():
            requests.append(start if isinstance(start, Request) else Request(start))
        for r in requests:
            url = normalize_url(r.url, self.settings.max_url_length)
            if url is not None:
                self.scope.add_seed(url)
        return await self._accept_requests(requests, None)

    async def _accept_requests(self, requests: list[Request | FollowAll], parent: CrawlRequest | None) -> list[Any]:
        """Accept requests a spider made (scope and depth apply to those found on pages). Each
        :class:`Request`'s URL is normalized in place; a :class:`FollowAll`'s URLs already seen
        are skipped before any request is made for them."""
        depth = 0 if parent is None else parent.depth + 1
        if not requests or (parent is not None and 0 <= self.settings.max_depth < depth):
            return []
        referrer = parent.url if parent is not None else None
        accepted = []
        for r in requests:
            if type(r) is FollowAll:
                urls = r.urls if r.in_scope or parent is None else [u for u in r.urls if self.scope.allows(u)]
                new = await self.frontier.unseen(urls) if urls else []
                if parent is not None:
                    new = [url for url in new if not self.scope.is_trap(url)]
                if r.callback is None and not r.kwargs:
                    accepted += [CrawlRequest(url, depth, referrer) for url in new]
                    continue
                for url in new:
                    crawl_request = CrawlRequest(url, depth, referrer)
                    crawl_request.request = Request(url, r.callback, **r.kwargs)
                    accepted.append(crawl_request)
                continue
            assert isinstance(r, Request)
            url = normalize_url(r.url, self.settings.max_url_length)
            if url is None or (parent is not None and (not self.scope.allows(url) or self.scope.is_trap(url))):
                log.debug("spider request dropped (not http(s), out of scope or a trap): %.200s", r.url)
                continue
            r.url = url
            crawl_request = CrawlRequest(url, depth, referrer)
            crawl_request.request = r
            accepted.append(crawl_request)
        return await self._accept(accepted) if accepted else []

    async def _requeue(self, request: CrawlRequest, wait: float) -> None:
        """Send ``request`` back to the frontier, not to be handed out before ``wait`` seconds
        (a retry, a redirect hop, a page that waited for robots.txt). On a shared frontier it
        is no longer this process's to finish: whoever leases it next counts it."""
        request.queued = asyncio.get_running_loop().time()
        await self.frontier.retry(request, wait)
        if self.shared:
            self.outstanding -= 1
        # A requeued request can be ready again at once, and an in-memory frontier hands it out
        # without suspending: yield here, so a worker can never cycle requeue -> get and starve
        # the task it waits for.
        await asyncio.sleep(0)

    async def _redirect(self, request: CrawlRequest, result: FetchResult) -> list[Any] | None:
        """Send ``request`` on to the redirect's target through the frontier (so the target's
        host slot, delay and robots.txt apply to the hop); None then. When the hop is refused
        (scope, too many) or the target is another URL's (linked itself, or where another
        redirect went), the request ends here: what its end makes, its record saying where the
        redirect pointed (``redirect_to``)."""
        target = result.location
        assert target is not None
        error = None
        if not self.scope.allows(target):
            log.debug("redirect from %s to %s blocked by the scope", request.fetch_url, target)
            error = errors.REDIRECT_BLOCKED
        elif (target == request.fetch_url or (request.visited is not None and target in request.visited)
                or request.redirects >= self.settings.max_redirects):
            error = errors.TOO_MANY_REDIRECTS
        elif not await self.frontier.claim(target, request.url, request.depth):
            log.debug("redirect from %s to %s: a URL of the crawl already, not fetched again",
                      request.fetch_url, target)
            return await self._end(request, result, redirect_to=target)
        if error is not None:
            return await self._end(request, result, error, redirect_to=target)
        request.redirect(target, result.status or 302)
        await self._requeue(request, 0.0)
        return None

    async def _fetch_sitemap(self, request: CrawlRequest, parser: SitemapParser,
                             found: list[Any], listed: list[str]) -> FetchResult:
        """Fetch a sitemap, accepting the URLs it lists as they are parsed (the in-scope ones
        are added to ``listed``); the result."""

        async def take() -> None:
            pages: list[CrawlRequest] = []
            for entry in parser.take():
                url = normalize_url(entry.loc, self.settings.max_url_length)
                if url is None or not self.scope.allows(url):
                    continue
                listed.append(url)
                kind = SITEMAP if entry.is_sitemap else PAGE
                pages.append(CrawlRequest(url, 0, request.url, kind, None if entry.is_sitemap else entry.lastmod))
            found.extend(await self._accept(pages))

        async def consume(data: bytes) -> bool:
            parser.feed(data)
            await take()
            return not parser.full  # at the cap, the rest is not read

        assert self._fetcher is not None
        result = await self._fetcher.fetch(request.fetch_url, follow=False, consumer=consume,
                                           limit=self.settings.sitemap_max_bytes, capture=self._captures)
        if result.error is None and result.location is None and result.status is not None and result.status < 300:
            parser.close()
            await take()
            if parser.full:
                log.warning("sitemap %s lists more than %d URLs (sitemap_max_urls, the protocol's limit): "
                            "the rest are left out", request.fetch_url, parser.max_urls)
            elif parser.error is not None:
                log.warning("sitemap %s: %s", request.fetch_url, parser.error)
                result.error = errors.CONTENT
        return result

    def _elapsed_ms(self, request: CrawlRequest) -> float:
        started = request.started
        return 0.0 if started is None else (asyncio.get_running_loop().time() - started) * 1000

    async def _write(self, sink: Any) -> None:
        frontier = self.frontier

        async def written(entries: list[Any]) -> None:
            records = [e for e in entries if type(e) is Done or type(e) is Unchanged]
            self.stats.items = self._runner.items
            self.stats.dropped = self._runner.dropped
            self.stats.callback_errors = self._runner.callback_errors
            self.stats.links_dropped = self._runner.links_dropped
            if isinstance(frontier, SQLiteFrontier):  # output synced, then URLs done: one transaction
                await sink.sync()
                urls = [r.url if isinstance(r, Unchanged) else r["url"] for r in records]
                validators = self._validators.take(urls)
                await frontier.commit(urls, sink.state(), validators)
            if isinstance(frontier, RedisFrontier):
                await frontier.ack(r.url if isinstance(r, Unchanged) else r["url"] for r in records)
            for record in records:
                if isinstance(record, Unchanged):
                    self.stats.unchanged += 1
                else:
                    self.stats.count(record)  # a Done
            self.outstanding -= len(records)
            if self.outstanding <= 0 and not self.shared and not self._stopping.is_set():
                # Nothing outstanding here: over only if the store agrees it holds nothing.
                left = await frontier.settle()
                if left:
                    log.warning("the frontier still holds %d URLs not done: crawling them too", left)
                    self.outstanding += left
                else:
                    self._finished.set()

        try:
            await write_loop(
                self._queue, sink, written,
                batch_size=self.settings.write_batch_size,
                flush_interval=self.settings.flush_interval,
                must_write=lambda waiting: waiting >= self.outstanding or self._stopping.is_set(),
            )
        except FatalError as e:
            self._fatal(e)

    def _fatal(self, error: FatalError) -> None:
        """Stop at once on an error that makes going on pointless (the output cannot be
        written): what is committed stays, the rest is pending for the next run."""
        if self.fatal is None:
            self.fatal = error  # raised by run(); the command line prints it
            self.stats.failed = str(error)
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


__all__ = ["Engine"]
