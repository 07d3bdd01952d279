"""Where a crawl's time goes: how long URLs wait in the frontier, how long fetches take (in all
and per host), how long pages take to handle (parse and callback), how busy the fetch workers
and the parse pool are, and the crawl's figures over time (for ``--report``).

Distributions are log-bucket histograms: adding a value is O(1), memory is fixed, and a
quantile is read to within half a bucket (about 5% with the default growth of 1.1 a bucket;
per host, about 20% in 28 buckets, ~170 bytes a host).
"""

from __future__ import annotations

import heapq
import math
from array import array
from math import log as _log
from typing import Any

DISTRIBUTION_EDGES = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)  # seconds: the ranges in --stats


class Histogram:
    """Counts of durations (seconds) in buckets that grow by ``factor`` from ``low``."""

    __slots__ = ("_inverse_low", "_per_log", "_top", "count", "counts", "factor", "low", "max", "total")

    def __init__(self, low: float = 0.00005, factor: float = 1.1, buckets: int = 160) -> None:
        self.low = low
        self.factor = factor
        self._inverse_low = 1 / low
        self._per_log = 1 / math.log(factor)
        self._top = buckets - 1
        self.counts = array("I", bytes(4 * buckets))
        self.count = 0
        self.total = 0.0
        self.max = 0.0

    def add(self, seconds: float) -> None:
        """Count one duration (a few times a page: kept to plain arithmetic)."""
        if seconds > self.low:
            i = int(_log(seconds * self._inverse_low) * self._per_log) + 1
            if i > self._top:
                i = self._top
        else:
            i = 0
        self.counts[i] += 1
        self.count += 1
        self.total += seconds
        if seconds > self.max:
            self.max = seconds

    def middle(self, i: int) -> float:
        """The value bucket ``i`` stands for: its geometric middle (``low`` for the first)."""
        return self.low if i == 0 else self.low * self.factor ** (i - 0.5)

    def quantile(self, q: float) -> float:
        """The duration that a share ``q`` of those counted did not exceed (0 when empty)."""
        if not self.count:
            return 0.0
        rank = q * self.count
        seen = 0
        for i, n in enumerate(self.counts):
            seen += n
            if n and seen >= rank:
                return min(self.middle(i), self.max)
        return self.max  # pragma: no cover

    @property
    def mean(self) -> float:
        """The mean duration (0 when empty)."""
        return self.total / self.count if self.count else 0.0

    def summary(self) -> dict[str, Any]:
        """Count, p50, p95, mean and max in milliseconds, JSON-ready."""
        return {"count": self.count, "p50_ms": _ms(self.quantile(0.5)), "p95_ms": _ms(self.quantile(0.95)),
                "mean_ms": _ms(self.mean), "max_ms": _ms(self.max)}

    def distribution(self, edges: tuple[float, ...] = DISTRIBUTION_EDGES) -> dict[str, int]:
        """Counts by range, keyed by each range's upper edge in milliseconds (``"inf"`` for the
        last): ``{"10": 3, "50": 12, ...}`` means 3 under 10 ms, 12 from 10 to 50 ms."""
        keys = [f"{e * 1000:g}" for e in edges] + ["inf"]
        return dict(zip(keys, self.ranges(edges), strict=True))

    def ranges(self, edges: tuple[float, ...]) -> list[int]:
        """Counts in the ranges ``[0, edges[0])``, ``[edges[0], edges[1])``, ... ``[edges[-1],
        inf)``, each bucket counted in the range its middle falls in."""
        out = [0] * (len(edges) + 1)
        for i, n in enumerate(self.counts):
            if n:
                middle = self.middle(i)
                out[sum(1 for e in edges if middle >= e)] += n
        return out


    def cumulative(self, edges: tuple[float, ...]) -> tuple[list[tuple[float, int]], int, float]:
        """For a Prometheus histogram: (upper edge, count at or below it) for each of ``edges``
        and +inf, the count and the sum (bucket edges as in :meth:`ranges`)."""
        counts = self.ranges(edges)
        out = []
        total = 0
        for edge, n in zip((*edges, math.inf), counts, strict=True):
            total += n
            out.append((edge, total))
        return out, self.count, self.total


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def host_histogram() -> Histogram:
    """A coarse histogram for one host's fetches: 1 ms to ~3 minutes in 28 buckets."""
    return Histogram(low=0.001, factor=1.5, buckets=28)


class Measures:
    """The timings of one crawl. The engine adds to them; :meth:`as_dict` is their part of
    ``--stats``."""

    def __init__(self, workers: int, parse_threads: int) -> None:
        self.frontier_wait = Histogram()  # accepted (or sent back) -> handed to a fetch worker
        self.fetch = Histogram()  # one fetch attempt
        self.handle = Histogram()  # parse + callback + pipelines of one page
        self.hosts: dict[str, Histogram] = {}  # fetch attempts, per host
        self.workers = workers
        self.parse_threads = parse_threads
        self.workers_busy = 0.0  # seconds the fetch workers spent on requests, summed
        self.pool_busy = 0.0  # seconds the parse pool's threads spent parsing, summed

    def fetched(self, host: str, seconds: float) -> None:
        """Count one fetch attempt of ``host``."""
        self.fetch.add(seconds)
        per_host = self.hosts.get(host)
        if per_host is None:
            per_host = self.hosts[host] = host_histogram()
        per_host.add(seconds)

    def slowest_hosts(self, n: int, least: int = 3) -> list[tuple[str, Histogram]]:
        """The ``n`` hosts with the highest mean fetch time among those fetched ``least`` times."""
        return heapq.nlargest(n, ((h, d) for h, d in self.hosts.items() if d.count >= least),
                              key=lambda hd: hd[1].mean)

    def utilisation(self, elapsed: float) -> tuple[float, float]:
        """The busy share of the fetch workers and of the parse pool over ``elapsed`` seconds."""
        if elapsed <= 0:
            return 0.0, 0.0
        return (min(self.workers_busy / (elapsed * self.workers), 1.0),
                min(self.pool_busy / (elapsed * self.parse_threads), 1.0))

    def as_dict(self, elapsed: float) -> dict[str, Any]:
        """JSON-ready: the distributions' summaries and the crawl-long utilisation."""
        workers, pool = self.utilisation(elapsed)
        return {
            "frontier_wait": self.frontier_wait.summary(),
            "fetch": self.fetch.summary() | {"distribution": self.fetch.distribution()},
            "handle": self.handle.summary(),
            "fetch_workers_busy": round(workers, 3),
            "parse_pool_busy": round(pool, 3),
        }


class Timeline:
    """The crawl's figures sampled over time, for ``--report``: at most ``points`` samples;
    when full, every other one is dropped and the sampling interval doubles."""

    def __init__(self, interval: float = 0.1, points: int = 720) -> None:
        self.interval = interval
        self.points = points
        # elapsed_s, fetches completed, frontier, in flight, output queue
        self.samples: list[tuple[float, int, int, int, int]] = []

    def add(self, elapsed: float, fetches: int, frontier: int, in_flight: int, output_queue: int) -> None:
        """Record one sample (the caller waits :attr:`interval` between samples)."""
        self.samples.append((round(elapsed, 3), fetches, frontier, in_flight, output_queue))
        if len(self.samples) >= self.points:
            self.samples = self.samples[::2]
            self.interval *= 2


__all__ = ["Histogram", "Measures", "Timeline", "host_histogram"]
