"""``--parse-isolation process``: HTML parsed in a pool of worker processes, so a parser that
crashes (lexbor has had segfaults on malformed input) or hangs takes down one worker, never the
crawl.

A page whose parser process died, or that took longer than ``parse_timeout`` seconds, gets error
``content``; the pool is renewed, and the other pages that were in the dead pool are parsed
again in the new one (a page that kills the parser twice is the culprit). Links come back
unfiltered and are held against the scope in the crawler's process.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import multiprocessing
import signal
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

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
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    module, _, name = parser.partition(":")
    _parser = getattr(importlib.import_module(module), name)


def _parse(body: bytes, charset: str | None, url: str, max_url_length: int, obey_nofollow: bool) -> ParsedPage:
    assert _parser is not None
    return _parser(body, charset, url, _everything, max_url_length, obey_nofollow)


def _everything(url: str) -> bool:
    return True


class ParsePool:
    """Worker processes that parse HTML pages into :class:`ParsedPage`."""

    def __init__(self, workers: int, timeout: float) -> None:
        self.workers = workers
        self.timeout = timeout
        self._pool = self._new()

    def _new(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_start_worker, initargs=(PARSER,))

    async def parse(self, body: bytes, charset: str | None, url: str, allows: Callable[[str], bool],
                    max_url_length: int, obey_nofollow: bool, max_links: int = 0) -> ParsedPage | None:
        """The page parsed in a worker, its links held against ``allows`` (the first
        ``max_links`` kept, unless 0); None when its parser died or hung (twice, for a page that
        was in a pool another page broke) or its markup is too complex to parse."""
        for attempt in (1, 2):
            pool = self._pool
            future = asyncio.get_running_loop().run_in_executor(pool, _parse, body, charset, url, max_url_length,
                                                                obey_nofollow)
            try:
                page: ParsedPage = await asyncio.wait_for(future, self.timeout)
            except BrokenProcessPool:
                log.warning("%s: a parser process died%s", url, "" if attempt == 1 else " again: error content")
                self._renew(pool)
                continue
            except TimeoutError:
                log.warning("%s: parsing took more than %.0f s: error content", url, self.timeout)
                self._renew(pool, kill=True)
                return None
            except TooComplex as e:
                log.warning("%s: not parsed: %s", url, e)
                return None
            page.links = [link for link in page.links if allows(link)]
            return page.cap(max_links)
        return None

    def _renew(self, pool: ProcessPoolExecutor, kill: bool = False) -> None:
        """Replace ``pool`` (if it is still the current one) by a new one; with ``kill``, end
        its workers now (one of them is stuck)."""
        if pool is not self._pool:
            return  # another page renewed it already
        self._pool = self._new()
        if kill:
            processes: dict[Any, Any] = getattr(pool, "_processes", None) or {}
            for process in list(processes.values()):
                process.kill()
        pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the workers."""
        self._pool.shutdown(wait=False, cancel_futures=True)


__all__ = ["PARSER", "ParsePool"]
