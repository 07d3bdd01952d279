"""What the parts of one run share: the counts of work (URLs outstanding, fetches in flight),
the stop and abort events, and the fatal error, if one came.

Every URL accepted into the frontier is *outstanding* from before the frontier can hand it out
until the writer has written its record; a page's links are accepted before its record is
queued, so the count can only reach zero when the frontier is empty and nothing is being
fetched, parsed or written. Then the crawl is over (``finished``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

from crawler.errors import FatalError
from crawler.frontier import Frontier
from crawler.monitor.stats import Stats
from crawler.monitor.traces import Traces
from crawler.settings import Settings

log = logging.getLogger("crawler")


class RunState:
    """The counters and events of one run."""

    def __init__(self, settings: Settings, stats: Stats, frontier: Frontier) -> None:
        self.settings = settings
        self.stats = stats
        self.frontier = frontier
        self.in_flight = 0  # requests being fetched or handled by a worker
        self.fetching: Counter[str] = Counter()  # requests on the wire (holding their host's slot), by host
        self.outstanding = 0  # URLs of this process not written yet (see the module's docstring)
        self.fatal: FatalError | None = None
        self.finished = asyncio.Event()  # nothing outstanding, and the store agrees
        self.stopping = asyncio.Event()  # take no new work: a signal, --max-runtime, a fatal error
        self.abort = asyncio.Event()  # end what is in flight now: a second stop, a fatal error
        self.traces = Traces(False)  # --otel: the run's spans (the engine sets them)

    # -- the counting rule: in a store of this process alone a URL is outstanding from its
    # acceptance; in a shared one (other processes take from it), from the moment this process
    # leases it until it writes its record or gives it back. ---------------------------------

    def queued(self, n: int) -> None:
        """``n`` URLs are going into (or, negative, were turned away by) the store: outstanding
        here unless the store is shared."""
        if not self.frontier.shared:
            self.outstanding += n

    def ended_unqueued(self, n: int) -> None:
        """``n`` URLs accepted without being queued (ended here: robots.txt forbids them):
        outstanding here whatever the store, until their records are written."""
        self.outstanding += n

    def leased(self) -> None:
        """This process took a URL from the store: on a shared store, it is now its to finish."""
        if self.frontier.shared:
            self.outstanding += 1

    def given_back(self) -> None:
        """A URL went back to the store (a retry, a hop): on a shared store, whoever leases it
        next counts it."""
        if self.frontier.shared:
            self.outstanding -= 1

    def idle_here(self) -> bool:
        """Is nothing outstanding in this process, on a store it alone works on (then the crawl
        may be over: the store is asked)?"""
        return self.outstanding <= 0 and not self.frontier.shared

    def stop(self, reason: str = "signal") -> None:
        """Stop gracefully: take no new URLs, let fetches in flight finish (``shutdown_grace``
        seconds at most), write what is done. A second call stops at once. ``reason`` is
        ``"signal"`` (the run counts as interrupted), ``"max_runtime"`` or ``"limit"`` (a caller
        has what it wanted: said at debug) (they do not)."""
        if self.stopping.is_set():
            if not self.abort.is_set() and reason == "signal":
                log.warning("second stop: ending now, after writing what is already queued")
                self.abort.set()
            return
        if reason == "limit":
            log.debug("stopping: the caller's limit is reached")
        elif reason == "max_runtime":
            resumes = "; the same command resumes" if self.frontier.job is not None else ""
            log.warning("--max-runtime spent: finishing fetches in flight (at most %.0f s)%s",
                        self.settings.shutdown_grace, resumes)
        else:
            resumes = "; the same command resumes" if self.frontier.job is not None else ""
            log.warning("stopping: finishing fetches in flight (at most %.0f s); stop again to end now%s",
                        self.settings.shutdown_grace, resumes)
            self.stats.interrupted = True
        self.stats.stopped_by = reason
        self.stopping.set()
        self.frontier.close()

    def fail(self, error: FatalError) -> None:
        """Stop at once on an error that makes going on pointless (the output or the store
        cannot be written): what is committed stays, the rest is pending for the next run."""
        if self.fatal is None:
            self.fatal = error  # raised by Engine.run(); the command line prints it
            self.stats.failed = str(error)
        self.stats.interrupted = True
        self.stopping.set()
        self.abort.set()
        self.frontier.close()


__all__ = ["RunState"]
