"""Crawl statistics: counted as records are written, so they always agree with the output."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any


class Stats:
    """Counters of one crawl. ``pages`` counts records written."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.ended: float | None = None
        self.pages = 0
        self.ok = 0
        self.errors: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.bytes = 0
        self.retries = 0
        self.discovered = 0  # URLs accepted into the frontier
        self.interrupted = False
        self.stopped_by: str | None = None  # "signal" or "max_runtime"
        self.resumed = 0  # URLs a durable crawl took over from an earlier run
        self.unchanged = 0  # --changed-only: pages done without a record
        self.items = 0  # a spider's items written
        self.dropped = 0  # items dropped by pipelines
        self.callback_errors = 0  # exceptions in spider callbacks and pipelines

    def count(self, record: dict[str, Any]) -> None:
        """Account for one written record."""
        self.pages += 1
        error = record["error"]
        if error is None:
            self.ok += 1
        else:
            self.errors[error] += 1
        status = record["status"]
        if status is not None:
            self.statuses[status] += 1
        self.bytes += record["bytes"]

    def finish(self) -> None:
        """Stop the clock."""
        self.ended = time.monotonic()

    @property
    def elapsed(self) -> float:
        """Seconds since the crawl started (until it ended)."""
        return (self.ended or time.monotonic()) - self.started

    @property
    def pages_per_second(self) -> float:
        """Records written per second of the crawl."""
        elapsed = self.elapsed
        return self.pages / elapsed if elapsed > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """The statistics as plain JSON-ready data (``--stats FILE``)."""
        return {
            "pages": self.pages,
            "ok": self.ok,
            "errors": dict(sorted(self.errors.items())),
            "status": {str(k): v for k, v in sorted(self.statuses.items())},
            "bytes": self.bytes,
            "retries": self.retries,
            "discovered": self.discovered,
            "elapsed_s": round(self.elapsed, 3),
            "pages_per_s": round(self.pages_per_second, 1),
            "interrupted": self.interrupted,
            "stopped_by": self.stopped_by,
            "resumed": self.resumed,
            "unchanged": self.unchanged,
            "items": self.items,
            "dropped": self.dropped,
            "callback_errors": self.callback_errors,
        }

    def to_json(self) -> str:
        """``as_dict`` as indented JSON text."""
        return json.dumps(self.as_dict(), indent=2) + "\n"

    def summary(self) -> str:
        """A few lines for a person, printed on stderr at the end."""
        errors = ", ".join(f"{k} {v}" for k, v in sorted(self.errors.items())) or "none"
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items())) or "none"
        head = ("crawl interrupted" if self.interrupted
                else "run ended at --max-runtime" if self.stopped_by == "max_runtime" else "crawl finished")
        return (
            f"{head}: {self.pages} pages ({self.ok} ok) in {self.elapsed:.1f} s, "
            f"{self.pages_per_second:.1f} pages/s, {_size(self.bytes)}\n"
            f"  errors: {errors}\n"
            f"  status: {statuses}\n"
            f"  retries: {self.retries}, URLs discovered: {self.discovered}"
        )


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover
