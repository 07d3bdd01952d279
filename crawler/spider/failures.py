"""What goes wrong in a spider's code, counted so a run says it loudly: callback errors by
exception type with the spider's ``file:line`` where each type first struck, items dropped by
their pipeline's reason, and the end of a run whose callbacks keep failing
(``max_callback_errors``)."""

from __future__ import annotations

import inspect
import logging
import os
import traceback
from collections import Counter
from typing import Any

from crawler.errors import FatalError

log = logging.getLogger("crawler")
LOGGED_A_TYPE = 10  # warnings for one exception type; the rest are counted only
MAX_REASONS = 50  # distinct reasons kept for dropped items; the others are counted under OTHER
OTHER = "(other reasons)"
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


class CallbacksFailing(FatalError):
    """The spider's callbacks keep raising (``max_callback_errors``): the run stops."""


def where(error: BaseException, spider_file: str | None) -> str:
    """``file:line`` in the spider's code where ``error`` was raised: the innermost frame of
    the spider's own file, else the innermost outside the crawler package."""
    frames = traceback.extract_tb(error.__traceback__)
    chosen = None
    if spider_file is not None:
        mine = [f for f in frames if os.path.abspath(f.filename) == spider_file]
        chosen = mine[-1] if mine else None
    if chosen is None:
        outside = [f for f in frames if not os.path.abspath(f.filename).startswith(_PACKAGE)]
        chosen = outside[-1] if outside else (frames[-1] if frames else None)
    return f"{_shown_path(chosen.filename)}:{chosen.lineno}" if chosen is not None else "?"


def _shown_path(filename: str) -> str:
    """A source file as a person would name it: relative to the current directory when it is
    under it, else its name alone."""
    path = os.path.abspath(filename)
    here = os.getcwd() + os.sep
    return path[len(here):] if path.startswith(here) else os.path.basename(path)


class SpiderFailures:
    """The counts of one spider's failures."""

    def __init__(self, spider: Any, max_errors: int) -> None:
        try:
            found = inspect.getsourcefile(type(spider))
        except TypeError:
            found = None
        self.spider_file = os.path.abspath(found) if found else None
        self.max_errors = max_errors
        self.errors = 0
        self.ok = 0  # callbacks that returned without raising
        self.by_type: dict[str, dict[str, Any]] = {}
        self.dropped: Counter[str] = Counter()
        self.stop: CallbacksFailing | None = None  # set when the run should end

    def callback_failed(self, fn: Any, error: BaseException, url: str) -> None:
        """``fn`` raised ``error`` on ``url``: counted, logged (the first few of a type); once
        failures are ``max_errors`` and outnumber successes, :attr:`stop` says why the run ends."""
        self.errors += 1
        name = type(error).__name__
        entry = self.by_type.get(name)
        place = where(error, self.spider_file)
        if entry is None:
            entry = self.by_type[name] = {"count": 0, "where": place, "message": str(error)[:300], "url": url}
        entry["count"] += 1
        callback = getattr(fn, "__qualname__", None) or getattr(getattr(fn, "func", None), "__qualname__", repr(fn))
        if entry["count"] <= LOGGED_A_TYPE:
            log.warning("%s raised %s at %s on %s: %s", callback, name, place, url, error)
            if entry["count"] == LOGGED_A_TYPE:
                log.warning("more %s from the spider are counted, not logged (--stats: callback_errors_by_type)",
                            name)
        if self.max_errors and self.errors >= self.max_errors and self.errors > self.ok and self.stop is None:
            first = max(self.by_type.items(), key=lambda kv: kv[1]["count"])
            self.stop = CallbacksFailing(
                f"the spider's callbacks keep failing: {self.errors} raised, {self.ok} did not; most often "
                f"{first[0]} at {first[1]['where']} ({first[1]['message'][:120]}): the crawl stops here "
                f"(--max-callback-errors {self.max_errors}; 0 never stops)")

    def verdict(self) -> CallbacksFailing | None:
        """At the end of a run: the error to end it with when callbacks raised and none returned
        normally (the spider did nothing right: exit 1, not a quiet empty output), else None."""
        if not self.errors or self.ok:
            return None
        name, first = max(self.by_type.items(), key=lambda kv: kv[1]["count"])
        return CallbacksFailing(
            f"every callback of the spider raised ({self.errors}): {name} at {first['where']} "
            f"({first['message'][:120]}) on {first['url']}")

    def item_dropped(self, reason: str) -> None:
        """A pipeline dropped an item, saying ``reason``."""
        reason = reason or "DropItem"
        if reason not in self.dropped and len(self.dropped) >= MAX_REASONS:
            reason = OTHER
        self.dropped[reason] += 1

    def figures(self) -> dict[str, Any]:
        """For ``--stats``: ``callback_errors_by_type`` and ``dropped_by_reason``."""
        return {"callback_errors_by_type": {k: dict(v) for k, v in sorted(self.by_type.items())},
                "dropped_by_reason": dict(self.dropped.most_common())}


__all__ = ["LOGGED_A_TYPE", "MAX_REASONS", "OTHER", "CallbacksFailing", "SpiderFailures", "where"]
