"""The crawl engine: builds the stages of one crawl, runs them, and stops them.

    seeds -> accept (core/accept.py) -> frontier -> fetch workers (core/worker.py)
          -> handler: parse, the spider's callbacks (core/handle.py) -> links back to accept
                                                                   -> output queue -> writer
          -> commit (core/commit.py): the frontier is told, the stats count, the crawl ends

It counts work to know when the crawl is over (:mod:`crawler.core.state`), never guesses from
idle time. Which frontier store it has, it never asks: only what its ``durable`` and ``shared``
flags say.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from collections.abc import Callable, Collection, Iterable
from typing import Any

from crawler.children import take_stop_signal
from crawler.core.accept import Acceptor
from crawler.core.commit import Committer
from crawler.core.handle import Handler
from crawler.core.lane import CacheLane
from crawler.core.rendering import Rendering
from crawler.core.scope import Scope
from crawler.core.stages import Stages
from crawler.core.state import RunState
from crawler.core.worker import Worker
from crawler.durable.changes import Tracker
from crawler.durable.job import JobLock, lock_path, log_run, open_job_output
from crawler.durable.recrawl import Remembered
from crawler.errors import FatalError, UsageError
from crawler.fetch.browser import browser_for
from crawler.fetch.client import Fetcher
from crawler.fetch.hostgate import HostGate
from crawler.fetch.politeness import BothClocks, Politeness
from crawler.fetch.robots import Robots
from crawler.frontier import Frontier, JobStore, frontier_for
from crawler.monitor.expect import judge
from crawler.monitor.measures import Measures
from crawler.monitor.stats import Stats
from crawler.monitor.traces import Traces
from crawler.monitor.watch import Monitor
from crawler.output.files import expand_output, make_parent, sink_for
from crawler.output.writer import STOP, Sink, write_loop
from crawler.parse.extract import extraction_fields, require_extraction
from crawler.parse.pools import ParsePools
from crawler.settings import RECRAWL_AUTO, Settings
from crawler.spider import Request, Spider, check_callbacks, has_start
from crawler.spider.recorder import PageRecorder
from crawler.spider.runner import SpiderRunner
from crawler.urls import normalize_url, origin_of
from crawler.work import CrawlRequest, OutputQueue

log = logging.getLogger("crawler")
# Signals that stop a crawl gracefully: Ctrl-C, kill and systemd's stop, and a closed terminal.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Engine:
    """One crawl from ``seeds`` (normalized absolute URLs) under ``settings``."""

    def __init__(self, settings: Settings, seeds: Iterable[str | Request], frontier: Frontier | None = None,
                 spider: Spider | None = None, judged: bool = True, gate: HostGate | None = None,
                 private_hosts: Collection[str] | None = None, patterns: Callable[[str], Any] | None = None
                 ) -> None:
        """``seeds``: normalized absolute URLs, or requests (a seeds file's JSON lines: a POST
        to an API...); ``frontier``: this store instead of the one the settings ask for;
        ``spider``: run this spider instead of the built-in page recorder
        (:class:`PageRecorder`). Its items are the output; each URL's end is counted in the
        stats. ``judged``: the run's expectations (``expect``) are checked at its end (not in
        one of ``--workers``' processes: the whole crawl is judged). ``gate``: politeness shared
        with the other crawls of this process (:mod:`crawler.fetch.hostgate`: the service's API
        calls); ``private_hosts``: the hosts that may be at a private address, instead of the
        seeds' hosts (the service's calls, whose seeds are anyone's); ``patterns``: what compiles
        ``include`` and ``exclude`` instead of ``re`` (the service's RE2, :class:`Scope`)."""
        self.gate = gate
        self.settings = settings
        self.judged = judged
        seeds = list(seeds)
        self.seeds = list(dict.fromkeys(s for s in seeds if isinstance(s, str)))
        self.seed_requests = [s for s in seeds if isinstance(s, Request)]
        self.sitemaps = [url for url in (normalize_url(u, settings.max_url_length) for u in settings.sitemap) if url]
        self.scope = Scope(settings, self.seeds + self.sitemaps + [r.url for r in self.seed_requests],
                           private_hosts, patterns)
        self.worker = settings.worker or f"{socket.gethostname()}-{os.getpid()}"
        self.frontier: Frontier = frontier if frontier is not None else frontier_for(settings, self.worker)
        self.output = settings.output
        self.spider = spider if spider is not None else PageRecorder()
        self.spider.settings = settings
        self.stats = Stats(Measures(settings.concurrency, settings.parse_threads))
        self.state = RunState(settings, self.stats, self.frontier)
        self.state.traces = Traces(settings.otel, settings.crawl_id or (os.path.basename(settings.job_dir.rstrip("/"))
                                                                         if settings.job_dir else ""))
        self._runner = SpiderRunner(self.spider, settings, self.scope.allows, self.stats.measures)
        self._queue: OutputQueue = asyncio.Queue(settings.output_queue_size)
        self.acceptor: Acceptor | None = None  # while running: where new URLs go in
        self.monitor = Monitor(settings, self.stats, self.snapshot,
                               lambda: (len(self.frontier), self.state.in_flight, self._queue.qsize()))

    def _job(self) -> JobStore | None:
        """The job the frontier keeps, when it is durable."""
        return self.frontier.job

    def stop(self, reason: str = "signal") -> None:
        """Stop gracefully (see :meth:`RunState.stop`); a second call stops at once."""
        self.state.stop(reason)

    @property
    def fatal(self) -> FatalError | None:
        """The error that stopped the crawl, if one did."""
        return self.state.fatal

    def snapshot(self) -> dict[str, Any]:
        """Figures for progress displays: the stats (without the per-host and per-depth
        detail), queue sizes, and the busy seconds of the fetch workers and parse pool."""
        data = self.stats.as_dict(detail=False)
        measures = self.stats.measures
        data["in_flight"] = self.state.in_flight
        fetching = self.state.fetching
        data["fetching"] = sum(fetching.values())  # on the wire: in_flight less those being handled
        data["fetching_hosts"] = len(fetching)
        data["per_host"] = self.settings.per_host
        data["frontier"] = len(self.frontier)
        data["output_queue"] = self._queue.qsize()
        data["workers"] = measures.workers
        data["workers_busy_s"] = measures.workers_busy
        data["parse_threads"] = measures.parse_threads
        data["parse_pool_busy_s"] = measures.pool_busy
        data["hosts_seen"] = len(measures.hosts)
        data["records_only"] = self.stats.records_only
        return data

    async def run(self, *, handle_signals: bool = False) -> Stats:
        """Crawl until the frontier is exhausted or the crawl is stopped; return the stats.

        Raises :class:`FatalError` when the output or the store cannot be written, and
        :class:`crawler.errors.UsageError` when something cannot be opened at all.
        """
        job = self.frontier.job
        lock = JobLock(lock_path(self.settings, job)) if job is not None else None
        if lock is not None:
            lock.acquire()
        try:
            pending = await self.frontier.open()
            try:
                return await self._run(pending, handle_signals)
            finally:
                await self.frontier.give_back()  # what this process took and did not write
                await self.frontier.aclose()
        finally:
            if lock is not None:
                lock.release()

    async def _open_output(self, pending: int) -> Sink:
        """The sink, opened (for a durable crawl: the job's output, resumed)."""
        job = self._job()
        if job is not None:
            sink: Sink = await open_job_output(job, self.settings, pending)
            self.state.queued(pending)  # in the store from an earlier run
            self.stats.resumed = pending
            self.stats.due_again = job.made_due
            self.stats.job_known, self.stats.job_done = await job.counts()
            self.stats.resumable = True
        else:
            sink = sink_for(self.settings, expand_output(self.settings.output, 1).replace("{worker}", self.worker))
            await sink.open()
        self.output = sink.path
        return sink

    def _check_start(self, pending: int) -> None:
        """A crawl with nowhere to start, or a spider that cannot handle what it is given, is a
        usage error, not a quiet run of no pages."""
        if not (pending or self.frontier.shared or self.seeds or self.seed_requests or self.sitemaps):
            if type(self.spider) is PageRecorder and not has_start(self.spider):
                raise UsageError("nothing to crawl: no seed URLs (--seeds) and no sitemap (--sitemap)")
            if not has_start(self.spider):
                raise UsageError(f"{type(self.spider).__name__} has nothing to crawl: it has no start_urls, start() "
                                 "or start_requests(), and no --seeds or --sitemap were given")
        check_callbacks(self.spider, bool(self.seeds or self.seed_requests or self.sitemaps))

    async def _run(self, pending: int, handle_signals: bool) -> Stats:
        loop = asyncio.get_running_loop()
        settings, state = self.settings, self.state
        self._check_start(pending)
        for option, path in (("--report", settings.report), ("--save-cookies", settings.save_cookies)):
            if path:
                make_parent(option, path)  # checked now, not after a long crawl
        if settings.render != "never":
            browser_for(settings)  # no browser or no Playwright: a usage line before anything is opened
        require_extraction(extraction_fields(settings))  # the extract extra, when the fields need it
        sink = await self._open_output(pending)
        budget = loop.call_later(settings.max_runtime, self.stop, "max_runtime") if settings.max_runtime else None
        if handle_signals:
            for sig in STOP_SIGNALS:
                loop.add_signal_handler(sig, self.stop)
            take_stop_signal()  # one held since the process started (crawler serve's cancel) stops it now
        monitor = self.monitor
        monitor.serve_metrics(loop)
        pools = ParsePools(settings)
        traces = state.traces
        traces.start(**{"crawler.seeds": len(self.seeds) + len(self.seed_requests)})
        try:
            async with Fetcher(settings, self.scope.allows, self.scope.private_ok, self.scope.hosts,
                                 self.gate) as fetcher:
                await self._crawl(fetcher, pools, sink)
        finally:
            traces.end(**{"crawler.pages": self.stats.pages, "crawler.ok": self.stats.ok})
            if budget is not None:
                budget.cancel()
            await self._runner.close()
            pools.close()
            monitor.close()
            if handle_signals:
                for sig in STOP_SIGNALS:
                    loop.remove_signal_handler(sig)
            try:
                await sink.close()
            except FatalError as e:
                state.fail(e)
            self.stats.finish()
            if settings.expect and self.judged and state.fatal is None and not self.stats.interrupted:
                judge(settings.expect, self.stats)
            if settings.job_dir:
                log_run(settings.job_dir, self.output, self.stats, state.outstanding)
            failed = await monitor.report(self.seeds + self.sitemaps)
            if failed is not None:
                state.fatal = state.fatal or failed
                self.stats.failed = self.stats.failed or str(failed)
        if state.fatal is None and not self.stats.interrupted:
            failing = self._runner.failures.verdict()  # every callback raised: the run failed (it was not cut short)
            if failing is not None:
                state.fatal, self.stats.failed = failing, str(failing)
        if state.fatal is not None:
            raise state.fatal
        return self.stats

    async def _crawl(self, fetcher: Fetcher, pools: ParsePools, sink: Sink) -> None:
        """Build the stages on ``fetcher``, start from the seeds, and run until the crawl is over
        or stopped."""
        loop = asyncio.get_running_loop()
        settings, state, frontier = self.settings, self.state, self.frontier
        self.stats.proxy_figures = fetcher.proxies.figures
        self.stats.proxy_tier_figures = fetcher.proxies.tier_figures
        self.stats.spider_figures = self._runner.failures.figures
        self.stats.records_only = type(self.spider) is PageRecorder
        job = self._job()
        kept_robots = self.gate if self.gate is not None else job  # shared with the gate's other crawls
        robots = Robots(settings, fetcher, kept_robots, self.scope.reachable) if settings.robots else None
        kept = await job.meta("cookies") if job is not None else None
        if kept:  # the job's cookies come back (they are kept with each commit)
            fetcher.shaper.restore(kept)
        lane = None
        if fetcher.cache is not None and sink.captures:
            log.warning("--http-cache: a WARC output records what the site sends, so pages are fetched, not "
                        "answered from the cache")
        elif fetcher.cache is not None and not (frontier.shared or frontier.job is not None):
            lane = CacheLane(fetcher.cache, robots)
        # A new host's name is looked up as soon as it is found (fetcher.prefetch).
        acceptor = self.acceptor = Acceptor(settings, state, frontier, self.scope, robots, lane, fetcher.prefetch)
        # A durable job's records (or a spider's items) say what changed since its last run.
        schedule = (settings.recrawl_min, settings.recrawl_max) if settings.recrawl_after == RECRAWL_AUTO else None
        tracker = Tracker(job, pools.threads, settings.max_diff_bytes, schedule) if job is not None else None
        handler = Handler(settings, state, self.scope, self._runner, acceptor, pools, robots, tracker)
        validators = Remembered()  # a durable crawl's page validators, until committed
        politeness = Politeness(settings, frontier if self.gate is None else BothClocks(frontier, self.gate))
        rendering = Rendering(settings, fetcher, self.scope, politeness, frontier, pools.threads)
        self.stats.render_figures = rendering.figures if rendering.on else dict
        worker = Worker(Stages(settings, state, frontier, self.scope, fetcher, robots, politeness, acceptor, handler,
                               self._runner, self.spider, self._queue, sink.captures, validators, rendering,
                               tracker))
        await self._runner.open()
        refused = await acceptor.accept(CrawlRequest(url) for url in self.seeds)
        refused += await acceptor.accept_requests(list(self.seed_requests), None)
        refused += await acceptor.start(self.spider)
        if not acceptor.started and not (self.seeds or self.seed_requests or self.sitemaps or frontier.shared) \
                and state.outstanding == 0:
            log.warning("%s: its start (start_urls, start() or start_requests()) gave no request: nothing to crawl",
                        type(self.spider).__name__)
        refused += await acceptor.accept_sitemaps(self.sitemaps)
        if settings.use_sitemaps and not settings.robots:
            refused += await acceptor.accept_sitemaps(origin_of(url) + "/sitemap.xml" for url in self.seeds)
        start = await handler.finish_refused(refused)
        if state.idle_here():
            state.finished.set()
        committer = Committer(state, frontier, sink, self._runner, validators, fetcher.shaper.jar_text, tracker)
        writer = loop.create_task(self._write(sink, committer))
        if start:
            await self._queue.put(start)
        workers = [loop.create_task(worker.run()) for _ in range(settings.concurrency)]
        if lane is not None:
            workers += [loop.create_task(worker.run_lane(lane)) for _ in range(lane.tasks)]
        self.monitor.start()
        try:
            await _first(state.finished.wait(), state.stopping.wait(), writer, asyncio.wait(workers))
            frontier.close()
            if lane is not None:
                lane.close()
            await self._drain_workers(workers)
            if not writer.done():
                await _first(self._queue.put(STOP), writer)  # a dead writer takes nothing
            await writer
            if schedule is not None and job is not None and state.fatal is None:
                freshness = await job.freshness()
                self.stats.recrawl = {"due": job.made_due, "fetched": self.stats.pages + self.stats.unchanged,
                                      "changed": self.stats.changes["changed"] + self.stats.changes["removed"],
                                      "freshness": round(freshness, 3) if freshness is not None else None}
        finally:
            self.monitor.stop()
            for task in [*workers, writer]:
                task.cancel()
            await asyncio.gather(*workers, writer, return_exceptions=True)
            await rendering.aclose()

    async def _drain_workers(self, workers: list[asyncio.Task[None]]) -> None:
        """Wait for the workers to return. From the moment the crawl is stopping (a signal,
        --max-runtime, a fatal error), they have ``shutdown_grace`` seconds (none after a second
        stop or a fatal error); then what is left is cancelled. No wait here is unbounded."""
        state = self.state
        pending = {task for task in workers if not task.done()}
        loop = asyncio.get_running_loop()
        stopping = loop.create_task(state.stopping.wait())
        abort = loop.create_task(state.abort.wait())
        watching = {stopping, abort}
        deadline: float | None = None
        try:
            while pending and not state.abort.is_set():
                if deadline is None and state.stopping.is_set():
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

    async def _write(self, sink: Sink, committed: Committer) -> None:
        """The writer task: the output queue into ``sink``, each batch committed."""
        state = self.state
        try:
            await write_loop(
                self._queue, sink, committed,
                batch_size=self.settings.write_batch_size,
                flush_interval=self.settings.flush_interval,
                must_write=lambda waiting: waiting >= state.outstanding or state.stopping.is_set(),
            )
        except FatalError as e:
            state.fail(e)


async def _first(*aws: Any) -> None:
    """Wait until the first of ``aws`` (coroutines or tasks) completes; cancel the others we made."""
    tasks = [a if isinstance(a, asyncio.Future) else asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task, aw in zip(tasks, aws, strict=True):
            if task is not aw:
                task.cancel()


__all__ = ["STOP_SIGNALS", "Engine"]
