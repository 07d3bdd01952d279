"""Progress on stderr: a live line (rich) on a terminal, else one JSON stats line every
``stats_interval`` seconds, ready for a log shipper."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.text import Text


def wants_live(setting: bool | str) -> bool:
    """Live progress: on when asked, or (``"auto"``) when stderr is a terminal."""
    if setting == "auto":
        return sys.stderr.isatty()
    return bool(setting)


class Progress:
    """Shows ``snapshot()`` (a mapping of figures) while the crawl runs."""

    def __init__(self, snapshot: Callable[[], dict[str, Any]], live: bool, interval: float) -> None:
        self.snapshot = snapshot
        self.live = live
        self.interval = interval
        self._live: Live | None = None
        self._task: asyncio.Task[None] | None = None
        self._samples: deque[tuple[float, int, int]] = deque(maxlen=64)  # (time, pages, bytes)

    def rates(self, s: dict[str, Any]) -> tuple[float, float]:
        """Pages/s and bytes/s over the last 10 s or so (a moving window), from ``s``."""
        now = time.monotonic()
        samples = self._samples
        samples.append((now, s["pages"], s["bytes"]))
        while len(samples) > 2 and now - samples[1][0] >= 10.0:
            samples.popleft()
        then, pages, size = samples[0]
        span = now - then
        if span <= 0:
            return 0.0, 0.0
        return (s["pages"] - pages) / span, (s["bytes"] - size) / span

    def line(self) -> str:
        """The progress line."""
        s = self.snapshot()
        errors = sum(s["errors"].values())
        pages_per_s, _ = self.rates(s)
        return (
            f"pages {s['pages']} | {pages_per_s:.1f} pages/s | in flight {s['in_flight']} | "
            f"frontier {s['frontier']} | errors {errors} | {s['elapsed_s']:.0f} s"
        )

    def stats_line(self) -> str:
        """One JSON object: the figures now, rates over the last seconds."""
        s = self.snapshot()
        pages_per_s, bytes_per_s = self.rates(s)
        return json.dumps({
            "event": "stats", "elapsed_s": s["elapsed_s"], "pages": s["pages"], "ok": s["ok"],
            "discovered": s["discovered"], "pages_per_s": round(pages_per_s, 1), "bytes_per_s": round(bytes_per_s),
            "in_flight": s["in_flight"], "frontier": s["frontier"], "output_queue": s["output_queue"],
            "retries": s["retries"], "errors": s["errors"], "status": s["status"],
        })

    def start(self) -> None:
        """Begin showing progress."""
        if self.live:
            self._live = Live(
                get_renderable=lambda: Text(self.line()),
                console=Console(stderr=True),
                refresh_per_second=4,
                transient=False,
            )
            self._live.start()
        else:
            self._task = asyncio.get_running_loop().create_task(self._log_loop())

    async def _log_loop(self) -> None:
        self.rates(self.snapshot())  # the window starts now
        while True:
            await asyncio.sleep(self.interval)  # a timer, not a wait for work
            print(self.stats_line(), file=sys.stderr, flush=True)

    def stop(self) -> None:
        """Stop showing progress (the live line stays with its final figures)."""
        if self._live is not None:
            self._live.stop()
            self._live = None
        if self._task is not None:
            self._task.cancel()
            self._task = None
