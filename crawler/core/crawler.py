"""Running a spider from Python: ``await Crawler(spider, **settings).run()`` on any event loop,
or ``run_spider(spider, **settings)`` to block until it is done. Both log as the command line
does (unless the program has set up logging itself) and end with the same summary."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from crawler.core.engine import Engine
from crawler.core.outcome import exit_status
from crawler.errors import EXIT_FATAL
from crawler.monitor.logs import logging_configured, setup_logging
from crawler.monitor.notify import notify
from crawler.monitor.stats import Stats
from crawler.settings import load_settings
from crawler.spider import Spider, custom_settings

log = logging.getLogger("crawler")


class Crawler:
    """A crawl of ``spider``. Settings are the command line's options spelled with underscores
    (``per_host=4``, ``output="items.jsonl"``), over the spider's ``custom_settings``, over the
    built-in defaults."""

    def __init__(self, spider: Spider, **settings: Any) -> None:
        self.spider = spider
        self.settings = load_settings({"progress": False} | settings, spider=custom_settings(spider),
                                      spider_source=f"{type(spider).__name__}.custom_settings")

    async def run(self, seeds: list[str] | None = None) -> Stats:
        """Crawl until done; the final statistics (:class:`crawler.Stats`: ``stats.pages`` or
        ``stats["pages"]``). ``seeds`` are added to the spider's start. ``notify`` is sent at the
        end, as the command line sends it (with the exit status the command line would have).
        Raises :class:`crawler.errors.FatalError` when the crawl had to stop (its callbacks kept
        failing, the output could not be written...), after the summary."""
        if not logging_configured():
            setup_logging(self.settings.log_level, self.settings.log_format, self.settings.log_time)
        engine = Engine(self.settings, seeds or [], spider=self.spider)
        status = EXIT_FATAL
        try:
            stats = await engine.run()
            status = exit_status(stats)
        finally:
            log.info("%s", engine.stats.summary())
            if self.settings.notify:  # as the command line does (never raises)
                await notify(self.settings, engine.stats, status)
        return stats


def run_spider(spider: Spider, **settings: Any) -> Stats:
    """Run ``spider`` to the end in a new event loop; the final statistics (:class:`crawler.Stats`)."""
    return asyncio.run(Crawler(spider, **settings).run())
