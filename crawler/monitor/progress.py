"""Progress on stderr: a live line (rich) on a terminal, else one JSON stats line every
``stats_interval`` seconds, ready for a log shipper."""

from __future__ import annotations

import asyncio
import json
import math
import sys
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.text import Text

from crawler.monitor.stats import size as _size
from crawler.monitor.stats import spider_line

REDRAW = 0.25  # seconds between two redraws of the live view: at most 4 a second


def wants_live(setting: bool | str) -> bool:
    """Live progress: on when asked, or (``"auto"``) when stderr is a terminal."""
    if setting == "auto":
        return sys.stderr.isatty()
    return bool(setting)


class Progress:
    """Shows ``snapshot()`` (a mapping of figures) while the crawl runs; ``slowest(n)`` names
    the hosts with the slowest fetches (host, p95 seconds), asked at most every 2 s;
    ``blocking(n)`` those that answered the most block pages, shown once there are any."""

    def __init__(self, snapshot: Callable[[], dict[str, Any]], live: bool, interval: float,
                 slowest: Callable[[int], list[tuple[str, float]]] | None = None,
                 blocking: Callable[[int], list[tuple[str, int]]] | None = None) -> None:
        self.snapshot = snapshot
        self.blocking = blocking  # the hosts that answered the most block pages (host, count)
        self.live = live
        self.interval = interval
        self.slowest = slowest
        self._slowest: list[tuple[str, float]] = []
        self._slowest_at = -math.inf
        self._live: Live | None = None
        self._task: asyncio.Task[None] | None = None
        # (time, pages, bytes, fetch workers' busy seconds, parse pool's busy seconds)
        self._samples: deque[tuple[float, int, int, float, float]] = deque(maxlen=64)

    def rates(self, s: dict[str, Any]) -> dict[str, float]:
        """Over the last 10 s or so (a moving window), from ``s``: pages/s, bytes/s, and the
        busy share of the fetch workers and of the parse pool."""
        now = time.monotonic()
        samples = self._samples
        samples.append((now, s["pages"], s["bytes"], s["workers_busy_s"], s["parse_pool_busy_s"]))
        while len(samples) > 2 and now - samples[1][0] >= 10.0:
            samples.popleft()
        then, pages, size, workers, pool = samples[0]
        span = now - then
        if span <= 0:
            return {"pages_per_s": 0.0, "bytes_per_s": 0.0, "workers_busy": 0.0, "parse_pool_busy": 0.0}
        return {
            "pages_per_s": (s["pages"] - pages) / span,
            "bytes_per_s": (s["bytes"] - size) / span,
            "workers_busy": min((s["workers_busy_s"] - workers) / span / max(s["workers"], 1), 1.0),
            "parse_pool_busy": min((s["parse_pool_busy_s"] - pool) / span / max(s["parse_threads"], 1), 1.0),
        }

    def slowest_hosts(self) -> list[tuple[str, float]]:
        """The slowest hosts, looked up at most every 2 s (it goes over every host)."""
        now = time.monotonic()
        if self.slowest is not None and now - self._slowest_at >= 2.0:
            self._slowest = self.slowest(3)
            self._slowest_at = now
        return self._slowest

    def lines(self) -> str:
        """The live view: figures, rates, errors by kind, timings, the slowest hosts."""
        s = self.snapshot()
        r = self.rates(s)
        t = s["timings"]
        errors = ", ".join(f"{k} {v}" for k, v in s["errors"].items()) or "none"
        slowest = ", ".join(f"{host} {_duration(p95)}" for host, p95 in self.slowest_hosts()) or "-"
        spider = spider_line(s)
        if s["errors"].get("blocked") and self.blocking is not None:
            hosts = ", ".join(f"{host} {n}" for host, n in self.blocking(3))
            spider = f"block pages by host: {hosts}" + (f"\n{spider}" if spider else "")
        return (
            f"pages {s['job']['done']}/{s['job']['known']}"
            f"{' (' + str(s['unchanged']) + ' unchanged)' if s['unchanged'] else ''} | "
            f"{r['pages_per_s']:.0f} pages/s | {_size(r['bytes_per_s'])}/s | "
            f"{_on_the_wire(s)} | frontier {s['frontier']} | out queue {s['output_queue']} | "
            f"{s['elapsed_s']:.0f} s\n"
            f"errors: {errors}\n"
            f"{spider + chr(10) if spider else ''}"
            f"fetch p50 {_duration(t['fetch']['p50_ms'] / 1000)} p95 {_duration(t['fetch']['p95_ms'] / 1000)} | "
            f"frontier wait p95 {_duration(t['frontier_wait']['p95_ms'] / 1000)} | busy: workers "
            f"{r['workers_busy']:.0%}, parse {r['parse_pool_busy']:.0%}\n"
            f"slowest hosts (p95): {slowest}"
        )

    def stats_line(self) -> str:
        """One JSON object: the figures now, rates and busy shares over the last seconds, the
        crawl-long timings."""
        s = self.snapshot()
        r = self.rates(s)
        return json.dumps({
            "event": "stats", "elapsed_s": s["elapsed_s"], "pages": s["pages"], "ok": s["ok"],
            "discovered": s["discovered"], "unchanged": s["unchanged"], "job": s["job"],
            "pages_per_s": round(r["pages_per_s"], 1),
            "bytes_per_s": round(r["bytes_per_s"]), "in_flight": s["in_flight"],
            "fetching": s.get("fetching", s["in_flight"]),
            "handling": max(0, s["in_flight"] - s.get("fetching", s["in_flight"])), "frontier": s["frontier"],
            "output_queue": s["output_queue"], "retries": s["retries"], "errors": s["errors"], "status": s["status"],
            "workers_busy": round(r["workers_busy"], 3), "parse_pool_busy": round(r["parse_pool_busy"], 3),
            "hosts": s["hosts_seen"], "items": s["items"], "dropped": s["dropped"],
            "callback_errors": s["callback_errors"], "timings": s["timings"],
            "slowest_hosts": [{"host": h, "fetch_p95_ms": round(p95 * 1000, 1)} for h, p95 in self.slowest_hosts()],
        })

    def start(self) -> None:
        """Begin showing progress."""
        if self.live:
            # Drawn from the loop, not from rich's refresh thread: the figures are the loop's
            # to read (a thread could see a dict change size under it).
            self._live = Live(Text(""), console=Console(stderr=True), auto_refresh=False, transient=False)
            self._live.start()
            self._task = asyncio.get_running_loop().create_task(self._draw_loop(self._live))
        else:
            self._task = asyncio.get_running_loop().create_task(self._log_loop())

    def draw(self, live: Live) -> None:
        """Redraw the live view with the figures of now."""
        live.update(Text(self.lines()), refresh=True)

    async def _draw_loop(self, live: Live) -> None:
        while True:
            self.draw(live)
            await asyncio.sleep(REDRAW)  # a timer, not a wait for work

    async def _log_loop(self) -> None:
        self.rates(self.snapshot())  # the window starts now
        while True:
            await asyncio.sleep(self.interval)  # a timer, not a wait for work
            print(self.stats_line(), file=sys.stderr, flush=True)

    def stop(self) -> None:
        """Stop showing progress (the live view stays with its final figures)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self._live is not None:
            self._slowest_at = -math.inf  # the final figures, all of them
            self.draw(self._live)
            self._live.stop()
            self._live = None


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def _on_the_wire(s: dict[str, Any]) -> str:
    """``fetching 2 (1 host, at most 2 a host) | handling 62``: requests on the wire, and those
    fetched and being parsed or handled (``in flight`` is both)."""
    fetching = s.get("fetching", s["in_flight"])
    hosts = s.get("fetching_hosts", 0)
    limit = f", at most {s['per_host']} a host" if s.get("per_host") else ""
    wire = f"fetching {fetching} ({hosts} host{'' if hosts == 1 else 's'}{limit})" if fetching else "fetching 0"
    return f"{wire} | handling {max(0, s['in_flight'] - fetching)}"
