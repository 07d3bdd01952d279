"""Running a spider from Python: ``await Crawler(spider, **settings).run()`` on any event loop,
or ``run_spider(spider, **settings)`` to block until it is done."""

from __future__ import annotations

import asyncio
from typing import Any

from crawler.core.engine import Engine
from crawler.settings import load_settings
from crawler.spider.api import Spider


class Crawler:
    """A crawl of ``spider``. Settings are the command line's options spelled with underscores
    (``per_host=4``, ``output="items.jsonl"``), over the spider's ``custom_settings``, over the
    built-in defaults."""

    def __init__(self, spider: Spider, **settings: Any) -> None:
        self.spider = spider
        merged = {"progress": False} | dict(getattr(spider, "custom_settings", {}) or {}) | settings
        self.settings = load_settings(merged)

    async def run(self, seeds: list[str] | None = None) -> dict[str, Any]:
        """Crawl until done; the final statistics. ``seeds`` are added to the spider's start."""
        stats = await Engine(self.settings, seeds or [], spider=self.spider).run()
        return stats.as_dict()


def run_spider(spider: Spider, **settings: Any) -> dict[str, Any]:
    """Run ``spider`` to the end in a new event loop; the final statistics."""
    return asyncio.run(Crawler(spider, **settings).run())
