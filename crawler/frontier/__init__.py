"""Where a URL waits: the frontier, one interface (:class:`Frontier`, in :mod:`.base`) and three
stores behind it, in memory (the default), SQLite (``--job-dir``, ``--frontier sqlite:///``) and
Redis (``--frontier redis://``, shared by many processes). :func:`frontier_for` picks the one a
crawl's settings ask for; nothing else needs to know which it is."""

from __future__ import annotations

import time
from pathlib import Path

from crawler.frontier.base import Frontier, JobStore
from crawler.frontier.memory import MemoryFrontier
from crawler.frontier.redis import RedisFrontier
from crawler.frontier.scheduler import HostScheduler
from crawler.frontier.sqlite import SQLiteFrontier
from crawler.settings import RECRAWL_AUTO, REDIS_SCHEMES, Settings


def sqlite_path(settings: Settings) -> Path | None:
    """Where a durable frontier lives: ``--frontier sqlite:///PATH`` (SQLAlchemy's spelling:
    ``sqlite:///rel.db`` is relative, ``sqlite:////abs.db`` absolute), else inside
    ``--job-dir``; None for another crawl."""
    if settings.frontier.startswith("sqlite:///"):
        return Path(settings.frontier[len("sqlite:///"):])
    if settings.job_dir:
        return Path(settings.job_dir) / "frontier.db"
    return None


def frontier_for(settings: Settings, worker: str) -> Frontier:
    """The store ``settings`` ask for (not opened yet); ``worker`` names this process in a
    shared crawl."""
    if settings.frontier.startswith(REDIS_SCHEMES):
        return RedisFrontier(settings.frontier, settings.crawl_id, settings.per_host, settings.delay,
                             lease_timeout=settings.lease_timeout, retries=settings.retries, worker=worker,
                             reconnect_for=settings.redis_reconnect, max_pages=settings.max_pages)
    path = sqlite_path(settings)
    if path is not None:
        auto = settings.recrawl_after == RECRAWL_AUTO
        due = time.time() - settings.recrawl_after if settings.recrawl_after and not auto else None
        return SQLiteFrontier(path, settings.per_host, settings.delay, due_before=due,
                              first_interval=settings.recrawl_min if auto else None,
                              label=f"job dir {settings.job_dir}" if settings.job_dir else None)
    return MemoryFrontier(settings.per_host, settings.delay, settings.memory_window, settings.spill_dir or None)


__all__ = ["Frontier", "HostScheduler", "JobStore", "MemoryFrontier", "RedisFrontier", "SQLiteFrontier",
           "frontier_for", "sqlite_path"]
