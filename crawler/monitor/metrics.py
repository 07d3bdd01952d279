"""Prometheus metrics (``--metrics-port``): the crawl's figures in the text exposition format on
127.0.0.1, through prometheus-client, with a registry of the crawl's own (nothing global, so
several crawls in one process do not mix).

Everything is read from the engine's snapshot when Prometheus scrapes, so counters always
equal ``--stats``. The histograms (fetch time, frontier wait, page handling) come from the
crawl's own log-bucket histograms (:mod:`crawler.monitor.measures`): counts and sums are exact, a value
within about 5% of a bucket edge may be counted on the other side of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from crawler.errors import UsageError

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class _Figures(Collector):
    """Counters and gauges from a snapshot of the crawl, made at scrape time."""

    def __init__(self, snapshot: Callable[[], dict[str, Any]]) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Any]:
        """The metric families of this moment."""
        s = self.snapshot()
        pages = CounterMetricFamily("crawler_pages", "URLs whose record was written", labels=["status"])
        for status, n in s["status"].items():
            pages.add_metric([status], n)
        pages.add_metric(["none"], s["pages"] - sum(s["status"].values()))
        yield pages
        errors = CounterMetricFamily("crawler_errors", "URLs that ended in an error, by kind", labels=["kind"])
        for kind, n in s["errors"].items():
            errors.add_metric([kind], n)
        yield errors
        yield CounterMetricFamily("crawler_bytes", "body bytes received (decompressed)", value=s["bytes"])
        yield CounterMetricFamily("crawler_retries", "fetches tried again", value=s["retries"])
        yield CounterMetricFamily("crawler_discovered", "URLs accepted into the frontier", value=s["discovered"])
        yield GaugeMetricFamily("crawler_in_flight", "requests being fetched or handled", value=s["in_flight"])
        yield GaugeMetricFamily("crawler_frontier_size", "URLs queued", value=s["frontier"])
        yield GaugeMetricFamily("crawler_output_queue", "entries waiting for the writer", value=s["output_queue"])
        yield GaugeMetricFamily("crawler_hosts", "hosts fetched from", value=s["hosts_seen"])
        yield GaugeMetricFamily("crawler_fetch_workers", "fetch workers (--concurrency)", value=s["workers"])
        yield CounterMetricFamily("crawler_fetch_workers_busy_seconds",
                                  "seconds the fetch workers spent on requests, summed (rate / workers = utilisation)",
                                  value=s["workers_busy_s"])
        yield GaugeMetricFamily("crawler_parse_threads", "threads of the parse pool", value=s["parse_threads"])
        yield CounterMetricFamily("crawler_parse_pool_busy_seconds", "seconds the parse pool's threads spent parsing, "
                                  "summed", value=s["parse_pool_busy_s"])
        for name, doc in (("fetch", "time of one fetch attempt"),
                          ("frontier_wait", "time from entering the frontier to a fetch worker"),
                          ("handle", "time to parse and handle one page (callback, pipelines)")):
            buckets, _, total = s["histograms"][name]
            yield HistogramMetricFamily(f"crawler_{name}_seconds", doc, sum_value=total,
                                        buckets=[("+Inf" if le == float("inf") else str(le), n) for le, n in buckets])


class Metrics:
    """The metrics of one crawl, served on ``127.0.0.1:port`` while it runs."""

    def __init__(self, snapshot: Callable[[], dict[str, Any]]) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_Figures(snapshot))
        self._server: Any = None

    def serve(self, port: int) -> None:
        """Start the HTTP endpoint (``/metrics``) on 127.0.0.1 only."""
        try:
            self._server, _ = start_http_server(port, addr="127.0.0.1", registry=self.registry)
        except OSError as e:
            raise UsageError(f"--metrics-port: cannot listen on 127.0.0.1:{port}: {e.strerror}") from None

    def close(self) -> None:
        """Stop the endpoint."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
