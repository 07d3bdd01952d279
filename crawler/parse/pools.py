"""Where pages are parsed off the event loop: a thread pool for HTML parsing and plain spider
callbacks (``parse_threads``), and, with ``--parse-isolation process``, a pool of parser
processes a crashing parser cannot take the crawl down with (:mod:`crawler.parse.processes`);
with ``--extract``, the extraction processes (:mod:`crawler.parse.extractpool`)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from crawler.parse.extract import extraction_fields
from crawler.parse.extractpool import ExtractPool, processes_for
from crawler.parse.processes import ParsePool
from crawler.settings import Settings


class ParsePools:
    """The pools of one crawl; :meth:`close` them at its end."""

    def __init__(self, settings: Settings) -> None:
        self.threads = ThreadPoolExecutor(settings.parse_threads, thread_name_prefix="parse")
        self.processes = (ParsePool(settings.parse_threads, settings.parse_timeout)
                          if settings.parse_isolation == "process" else None)
        fields = extraction_fields(settings)
        self.extract = (ExtractPool(processes_for(settings.extract_processes), settings.parse_timeout, fields,
                                    settings.extract_engine) if fields else None)

    def close(self) -> None:
        """Stop them, without waiting for work nobody needs any more."""
        self.threads.shutdown(wait=False, cancel_futures=True)
        if self.processes is not None:
            self.processes.close()
        if self.extract is not None:
            self.extract.close()


__all__ = ["ParsePools"]
