"""Prometheus metrics (``--metrics-port``): the crawl's figures in the text exposition format on
127.0.0.1, through prometheus-client, with a registry of the crawl's own (nothing global, so
several crawls in one process do not mix).

Counters and gauges are read from the engine's snapshot when Prometheus scrapes, so they always
equal ``--stats``; the fetch-latency histogram is observed as fetches end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
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


class Metrics:
    """The metrics of one crawl, served on ``127.0.0.1:port`` while it runs."""

    def __init__(self, snapshot: Callable[[], dict[str, Any]]) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_Figures(snapshot))
        self.fetch_seconds = Histogram("crawler_fetch_seconds", "time of one fetch attempt",
                                       buckets=LATENCY_BUCKETS, registry=self.registry)
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
