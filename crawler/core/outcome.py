"""A crawl's outcome as the command line gives it: the crawl run to its end, its exit status, the
summary on stderr and ``--stats`` (for one process, and for each of ``--workers``)."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

from crawler.core.engine import Engine
from crawler.durable.job import JobLocked
from crawler.errors import (
    EXIT_EXPECTATIONS,
    EXIT_FATAL,
    EXIT_INTERRUPTED,
    EXIT_LOCKED,
    EXIT_OK,
    EXIT_PIPE,
    FatalError,
    OutputClosed,
)
from crawler.frontier import Frontier
from crawler.monitor.logs import stamp
from crawler.monitor.notify import notify
from crawler.monitor.stats import NOTHING_DUE, Stats
from crawler.output.files import make_parent
from crawler.settings import Settings
from crawler.spider import Request, Spider

log = logging.getLogger("crawler")


async def crawl(settings: Settings, seeds: list[str | Request], spider: Spider | None,
                frontier: Frontier | None = None, judged: bool = True) -> tuple[Engine, int]:
    """Run one crawl on this event loop (on ``frontier`` instead of the settings' store, if
    given; ``judged``: see :class:`Engine`); the engine and the exit status (errors logged)."""
    engine = Engine(settings, seeds, frontier, spider=spider, judged=judged)
    try:
        await engine.run(handle_signals=True)
    except OutputClosed:
        return engine, EXIT_PIPE
    except FatalError as e:
        log.error("%s", e)
        return engine, EXIT_FATAL
    except JobLocked as e:
        log.error("%s", e)
        return engine, EXIT_LOCKED
    return engine, exit_status(engine.stats, whole=judged)


def exit_status(stats: Stats, whole: bool = True) -> int:
    """The exit status of a run that ended (a fatal error aside): stopped by a signal (130),
    failed expectations (3), no page at all (1: for a ``whole`` crawl, not one of ``--workers``'
    processes, whose hosts may all fail while the others' do not), else 0."""
    if stats.interrupted:
        return EXIT_INTERRUPTED
    if stats.expectations_failed:
        return EXIT_EXPECTATIONS
    return EXIT_FATAL if whole and stats.no_page else EXIT_OK


def run_crawl(settings: Settings, seeds: list[str | Request], spider: Spider | None = None) -> int:
    """Run a crawl to its end, print the summary, write ``--stats``; the exit status."""
    if settings.stats:
        make_parent("--stats", settings.stats)  # checked before the crawl, not after it
    engine, status = asyncio.run(crawl(settings, seeds, spider))
    if status == EXIT_LOCKED:
        return status
    if status == EXIT_PIPE:  # a quiet stop, as `cmd | head` expects: no summary, no error
        quiet_stdout()
        write_stats(settings, engine.stats)
        return status
    return end_of_crawl(settings, engine.stats, status)


def end_of_crawl(settings: Settings, stats: Stats, status: int) -> int:
    """Print the summary (a log line with ``--log-format json``), write ``--stats``, send the
    notifications (``--notify``); the exit status (an error if the stats could not be
    written)."""
    if settings.log_format == "json":
        log.info("%s", stats.summary().splitlines()[0], extra={"stats": stats.as_dict()})
    else:
        print(stamp() + stats.summary(), file=sys.stderr)
    if stats.nothing_due:
        log.warning("%s", NOTHING_DUE)
    if stats.no_page and status in (EXIT_OK, EXIT_FATAL):  # (a worker's coordinator passes 0)
        log.error("no page: all %d URLs of this run failed (%s): exit status 1", stats.pages,
                  ", ".join(f"{k} {v}" for k, v in sorted(stats.errors.items())))
        status = EXIT_FATAL
    if not write_stats(settings, stats):
        status = status or EXIT_FATAL
    if settings.notify:
        asyncio.run(notify(settings, stats, status))  # never changes the status
    return status


def quiet_stdout() -> None:
    """Stdout's reader has gone: send what is left to /dev/null, so that nothing (Python's own
    flush at exit included) complains about the closed pipe."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def write_stats(settings: Settings, stats: Stats) -> bool:
    """Write ``--stats`` (if asked); False when it cannot be written (said in one line)."""
    if settings.stats:
        try:
            Path(settings.stats).write_text(stats.to_json(), encoding="utf-8")
        except OSError as e:
            log.error("cannot write --stats file %s: %s", settings.stats, e.strerror)
            return False
    return True


