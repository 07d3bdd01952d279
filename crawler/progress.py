"""Progress on stderr: a live line (rich) on a terminal, else a log line now and then."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.text import Text

log = logging.getLogger("crawler")


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

    def line(self) -> str:
        """The progress line."""
        s = self.snapshot()
        errors = sum(s["errors"].values())
        return (
            f"pages {s['pages']} | {s['pages_per_s']:.1f} pages/s | in flight {s['in_flight']} | "
            f"frontier {s['frontier']} | errors {errors} | {s['elapsed_s']:.0f} s"
        )

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
        while True:
            await asyncio.sleep(self.interval)
            log.info("%s", self.line())

    def stop(self) -> None:
        """Stop showing progress (the live line stays with its final figures)."""
        if self._live is not None:
            self._live.stop()
            self._live = None
        if self._task is not None:
            self._task.cancel()
            self._task = None
