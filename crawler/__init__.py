"""crawler: a fast, polite, crash-safe asyncio web crawler.

Write a spider::

    from crawler import Spider, run_spider

    class Titles(Spider):
        start_urls = ["https://example.com/"]

        def parse(self, response):
            yield {"url": response.url, "title": response.css_first("title").text()}
            for href in response.links():
                yield response.follow(href)

    stats = run_spider(Titles(), output="titles.jsonl", per_host=2)
"""

__version__ = "0.1.0"

from crawler.api import Crawler, run_spider
from crawler.config import Settings, load_settings
from crawler.engine import Engine
from crawler.recorder import PageRecorder
from crawler.spider import DropItem, Failure, FollowAll, Request, Response, Spider
from crawler.stats import Stats

__all__ = [
    "Crawler", "DropItem", "Engine", "Failure", "FollowAll", "PageRecorder", "Request", "Response", "Settings",
    "Spider", "Stats",
    "__version__", "load_settings", "run_spider",
]
