"""Watching a crawl while it runs, for the engine: the live view or the JSON stats lines
(:mod:`crawler.monitor.progress`), the Prometheus endpoint (:mod:`crawler.monitor.metrics`), the timeline that
``--report`` draws (:mod:`crawler.monitor.measures`), and the report at the end (:mod:`crawler.monitor.report`).
All of them read the crawl through one snapshot of its figures, taken on the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from crawler.errors import FatalError
from crawler.monitor.measures import Timeline
from crawler.monitor.metrics import LATENCY_BUCKETS, Metrics
from crawler.monitor.progress import Progress, wants_live
from crawler.monitor.report import write_report
from crawler.monitor.stats import Stats
from crawler.settings import Settings


class Monitor:
    """The monitoring of one crawl. ``snapshot()`` gives the crawl's figures now (the stats
    without per-host detail, queue sizes, busy seconds); ``sizes()`` the frontier size, the
    requests in flight and the output-queue depth."""

    def __init__(self, settings: Settings, stats: Stats, snapshot: Callable[[], dict[str, Any]],
                 sizes: Callable[[], tuple[int, int, int]]) -> None:
        self.settings = settings
        self.stats = stats
        self.snapshot = snapshot
        self.sizes = sizes
        self.progress = Progress(snapshot, wants_live(settings.progress), settings.stats_interval, self.slowest_hosts,
                                 stats.host_blocked.most_common)
        self.metrics: Metrics | None = None
        self.timeline = Timeline() if settings.report else None
        self._sampler: asyncio.Task[None] | None = None

    def serve_metrics(self, loop: asyncio.AbstractEventLoop) -> None:
        """``--metrics-port``: start the endpoint (its scrapes read the crawl on ``loop``)."""
        if self.settings.metrics_port:
            self.metrics = Metrics(lambda: asyncio.run_coroutine_threadsafe(self._scraped(), loop).result(10))
            self.metrics.serve(self.settings.metrics_port)

    async def _scraped(self) -> dict[str, Any]:
        """The snapshot and the timing histograms, for a scrape (which runs in another thread)."""
        data = self.snapshot()
        measures = self.stats.measures
        data["histograms"] = {"fetch": measures.fetch.cumulative(LATENCY_BUCKETS),
                              "frontier_wait": measures.frontier_wait.cumulative(LATENCY_BUCKETS),
                              "handle": measures.handle.cumulative(LATENCY_BUCKETS)}
        return data

    def slowest_hosts(self, n: int) -> list[tuple[str, float]]:
        """The ``n`` hosts with the slowest fetches, with their p95 in seconds."""
        return [(host, d.quantile(0.95)) for host, d in self.stats.measures.slowest_hosts(n)]

    def start(self) -> None:
        """Begin showing progress and sampling the timeline."""
        self.progress.start()
        if self.timeline is not None:
            self._sampler = asyncio.get_running_loop().create_task(self._sample(self.timeline))

    def stop(self) -> None:
        """Stop showing progress and sampling (the crawl is over)."""
        self.progress.stop()
        if self._sampler is not None:
            self._sampler.cancel()
            self._sampler = None

    def close(self) -> None:
        """Stop the metrics endpoint."""
        if self.metrics is not None:
            self.metrics.close()
            self.metrics = None

    def _sample_now(self, timeline: Timeline) -> None:
        frontier, in_flight, queued = self.sizes()
        timeline.add(self.stats.elapsed, self.stats.measures.fetch.count, frontier, in_flight, queued)

    async def _sample(self, timeline: Timeline) -> None:
        while True:
            self._sample_now(timeline)
            await asyncio.sleep(timeline.interval)  # a timer, not a wait for work

    async def report(self, seeds: list[str]) -> FatalError | None:
        """Write ``--report`` (the figures of ``--stats``, after the crawl, with the crawl's
        ``seeds`` and main settings); the error if it cannot be written."""
        if self.timeline is None:
            return None
        self._sample_now(self.timeline)
        try:
            await write_report(self.settings.report, self.stats.as_dict(), self.timeline, seeds, self.settings)
        except OSError as e:
            return FatalError(f"--report: cannot write {self.settings.report}: {e.strerror}")
        return None


__all__ = ["Monitor"]
