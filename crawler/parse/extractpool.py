"""``--extract`` off the event loop, on all cores: pages go to worker processes that run
:func:`crawler.parse.extract.extract_page` (trafilatura is pure Python over lxml: 10 to 60
times a plain parse). A worker that crashes or hangs on a page costs that page (error
``content``), never the crawl: the pool is renewed as the parser processes' is."""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from crawler.children import die_with_parent
from crawler.parse.charsets import decode_html
from crawler.parse.processes import WorkerProcesses
from crawler.parse.treesize import TooComplex

log = logging.getLogger(__name__)

# The function the workers extract with, as "module:function" (a test names one that crashes).
EXTRACTOR = "crawler.parse.extract:extract_page"
_extractor: Callable[..., dict[str, Any]] | None = None


def _start_extractor(extractor: str) -> None:
    """In each worker: ignore Ctrl-C (the crawler stops its workers itself), load the extractor."""
    global _extractor
    die_with_parent()
    module, _, name = extractor.partition(":")
    _extractor = getattr(importlib.import_module(module), name)


def _extract(body: bytes, charset: str | None, url: str, fields: tuple[str, ...], engine: str,
             headers: dict[str, str], robots_lines: list[tuple[str, str]]) -> dict[str, Any]:
    assert _extractor is not None
    return _extractor(decode_html(body, charset), url, fields, engine, headers, robots_lines)


def processes_for(setting: int) -> int:
    """How many workers ``--extract-processes`` asks for (0: one a core)."""
    return setting or os.cpu_count() or 1


class ExtractPool(WorkerProcesses):
    """Worker processes that extract pages' fields."""

    initializer = staticmethod(_start_extractor)

    def __init__(self, workers: int, timeout: float, fields: Iterable[str], engine: str) -> None:
        super().__init__(workers, timeout, (EXTRACTOR,))
        self.fields = tuple(fields)
        self.engine = engine

    async def extract(self, body: bytes, charset: str | None, url: str, headers: Mapping[str, str],
                      robots_lines: list[tuple[str, str]]) -> dict[str, Any] | None:
        """The page's fields; None when its extraction crashed, hung or met markup too complex
        to parse (the page then gets error ``content``)."""
        wanted = {k: v for k, v in headers.items() if k.lower() in _HEADERS}
        try:
            found: dict[str, Any] | None = await self.call("extraction", url, _extract, body, charset, url,
                                                           self.fields, self.engine, wanted, robots_lines)
        except TooComplex:
            return None
        except Exception as e:  # the engine choked on this page: it costs the page, not the crawl
            log.warning("%s: extraction failed: %s: %s", url, type(e).__name__, e)
            return None
        return found


# The response headers extraction looks at (the rest stay in the crawler's process).
_HEADERS = frozenset({"x-robots-tag", "tdm-reservation", "tdm-policy"})

__all__ = ["EXTRACTOR", "ExtractPool", "processes_for"]
