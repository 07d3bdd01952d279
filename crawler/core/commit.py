"""What happens once the writer has written a batch: the URLs it ends are committed to the
frontier (a durable store: after the output is synced, in one transaction with the output's
length; Redis: their leases acked), counted in the stats, and taken off the outstanding count;
when nothing is outstanding and the store agrees, the crawl is over."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from crawler.core.state import RunState
from crawler.durable.changes import Tracker
from crawler.durable.recrawl import Remembered
from crawler.frontier import Frontier
from crawler.output.writer import Sink
from crawler.spider.runner import SpiderRunner
from crawler.work import Done, Unchanged

log = logging.getLogger("crawler")


class Committer:
    """The writer's callback (:func:`crawler.output.writer.write_loop`'s ``on_written``)."""

    def __init__(self, state: RunState, frontier: Frontier, sink: Sink, runner: SpiderRunner,
                 validators: Remembered, cookies: Callable[[], str | None] = lambda: None,
                 tracker: Tracker | None = None) -> None:
        self.state = state
        self.frontier = frontier
        self.sink = sink
        self.runner = runner
        self.validators = validators  # the pages' ETag, Last-Modified and hash, to commit with them
        self.cookies = cookies  # the cookie jar as text when it changed (a job keeps it: resume brings it back)
        self.tracker = tracker  # what change tracking keeps of each page, to commit with it

    async def __call__(self, entries: list[Any]) -> None:
        """``entries`` are written: commit, count, and see whether the crawl is over."""
        state, stats, frontier, runner = self.state, self.state.stats, self.frontier, self.runner
        records = [e for e in entries if type(e) is Done or type(e) is Unchanged]
        stats.items = runner.items
        stats.dropped = runner.dropped
        stats.callback_errors = runner.callback_errors
        stats.links_dropped = runner.links_dropped
        keys = [r.key for r in records]
        if frontier.job is not None:  # the output synced, then its URLs done: one transaction
            await self.sink.sync()
            meta = self.sink.state()
            cookies = self.cookies()
            if cookies is not None:
                meta["cookies"] = cookies
            tracked = self.tracker.take(keys) if self.tracker is not None else None
            await frontier.commit(keys, meta, self.validators.take(keys), tracked)
        else:  # the output's state goes too: a store may say how far the output is (shards)
            await frontier.commit(keys, self.sink.state())
        for record in records:
            if isinstance(record, Unchanged):
                stats.unchanged += 1
            else:
                stats.count(record)  # a Done
        state.outstanding -= len(records)
        if state.idle_here() and not state.stopping.is_set():
            # Nothing outstanding here: over only if the store agrees it holds nothing.
            left = await frontier.settle()
            if left:
                log.warning("the frontier still holds %d URLs not done: crawling them too", left)
                state.outstanding += left
            else:
                state.finished.set()


__all__ = ["Committer"]
