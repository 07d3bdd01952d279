"""``--parse-isolation process``: HTML parsed in a pool of worker processes, so a parser that
crashes (lexbor has had segfaults on malformed input) or hangs takes down one worker, never the
crawl.

A page whose parser process died, or that took longer than ``parse_timeout`` seconds, gets error
``content``; the pool is renewed, and the pages that were in the dead pool are parsed again, each
alone (a page that kills the parser by itself is the culprit). Links come back
unfiltered and are held against the scope in the crawler's process.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from crawler.children import die_with_parent
from crawler.parse.html import ParsedPage
from crawler.parse.treesize import TooComplex

log = logging.getLogger(__name__)

# The function the worker processes parse with, as "module:function" (a test names a parser
# that crashes on purpose). Called as parse_html is, with a scope that allows every link.
PARSER = "crawler.parse.html:parse_html"

_parser: Callable[..., ParsedPage] | None = None


def _start_worker(parser: str) -> None:
    """In each worker: ignore Ctrl-C (the crawler stops its workers itself) and load the parser."""
    global _parser
    die_with_parent()
    module, _, name = parser.partition(":")
    _parser = getattr(importlib.import_module(module), name)


def _parse(body: bytes, charset: str | None, url: str, max_url_length: int, obey_nofollow: bool) -> ParsedPage:
    assert _parser is not None
    return _parser(body, charset, url, _everything, max_url_length, obey_nofollow)


def _everything(url: str) -> bool:
    return True


class WorkerProcesses:
    """A pool of spawned worker processes whose work may crash or hang one of them: a dead pool
    is renewed (the page it held is tried once more: one that kills it twice is the culprit),
    a hung one killed. Subclasses say what the workers load (``initializer``, ``initargs``)."""

    initializer: Callable[..., None] = staticmethod(_start_worker)

    def __init__(self, workers: int, timeout: float, initargs: tuple[Any, ...] | None = None) -> None:
        self.workers = workers
        self.timeout = timeout
        self.initargs = (PARSER,) if initargs is None else initargs  # read now: a test may name another
        self._pool = self._new()
        self._solo: ProcessPoolExecutor | None = None  # where pages of a pool that died are tried again
        self._alone: asyncio.Lock | None = None  # ... one at a time

    def _new(self, workers: int = 0) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(workers or self.workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=self.initializer, initargs=self.initargs)

    async def call(self, what: str, url: str, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` in a worker; None when the worker died (twice) or took longer than the
        timeout (each logged, naming the ``what`` process and ``url``). Other exceptions pass.

        A page whose pool died is tried again alone, in a one-worker pool, one page at a time:
        the pages that were in the pool with the one that killed it get their answer, and only
        a page that kills a worker by itself is lost."""
        pool = self._pool
        future = asyncio.get_running_loop().run_in_executor(pool, fn, *args)
        try:
            return await asyncio.wait_for(future, self.timeout)
        except BrokenProcessPool:
            log.warning("%s: the %s process died", url, what)
            self._renew(pool)
        except TimeoutError:
            log.warning("%s: the %s process took more than %.0f s: error content", url, what, self.timeout)
            self._renew(pool, kill=True)
            return None
        if self._alone is None:
            self._alone = asyncio.Lock()
        async with self._alone:
            solo = self._solo = self._solo or self._new(1)
            future = asyncio.get_running_loop().run_in_executor(solo, fn, *args)
            try:
                return await asyncio.wait_for(future, self.timeout)
            except (BrokenProcessPool, TimeoutError) as e:
                died = isinstance(e, BrokenProcessPool)
                log.warning("%s: the %s process %s: error content", url, what,
                            "died again, alone" if died else f"took more than {self.timeout:.0f} s")
                self._solo = None
                _stop(solo, kill=True)
                return None

    def _renew(self, pool: ProcessPoolExecutor, kill: bool = False) -> None:
        """Replace ``pool`` (if it is still the current one) by a new one; with ``kill``, end
        its workers now (one of them is stuck)."""
        if pool is not self._pool:
            return  # another page renewed it already
        self._pool = self._new()
        _stop(pool, kill)

    def close(self) -> None:
        """Stop the workers."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._solo is not None:
            self._solo.shutdown(wait=False, cancel_futures=True)


def _stop(pool: ProcessPoolExecutor, kill: bool = False) -> None:
    """Shut ``pool`` down; with ``kill``, end its workers now (one of them is stuck)."""
    if kill:
        processes: dict[Any, Any] = getattr(pool, "_processes", None) or {}
        for process in list(processes.values()):
            process.kill()
    pool.shutdown(wait=False, cancel_futures=True)


class ParsePool(WorkerProcesses):
    """Worker processes that parse HTML pages into :class:`ParsedPage`."""

    async def parse(self, body: bytes, charset: str | None, url: str, allows: Callable[[str], bool],
                    max_url_length: int, obey_nofollow: bool, max_links: int = 0) -> ParsedPage | None:
        """The page parsed in a worker, its links held against ``allows`` (the first
        ``max_links`` kept, unless 0); None when its parser died or hung (twice, for a page that
        was in a pool another page broke) or its markup is too complex to parse."""
        try:
            page: ParsedPage | None = await self.call("parser", url, _parse, body, charset, url, max_url_length,
                                                      obey_nofollow)
        except TooComplex as e:
            log.warning("%s: not parsed: %s", url, e)
            return None
        if page is None:
            return None
        page.links = [link for link in page.links if allows(link)]
        return page.cap(max_links)


__all__ = ["PARSER", "ParsePool", "WorkerProcesses"]
