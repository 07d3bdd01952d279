"""crawler: a fast, polite, crash-safe asyncio web crawler.

Write a spider::

    from crawler import Spider, run_spider

    class Titles(Spider):
        start_urls = ["https://example.com/"]

        def parse(self, response):
            yield {"url": response.url, "title": response.css("title::text").get()}
            yield from response.follow_all(css="a")

    stats = run_spider(Titles(), output="titles.jsonl", per_host=2)
"""

from crawler._version import __version__
from crawler.core.crawler import Crawler, run_spider
from crawler.core.engine import Engine
from crawler.monitor.stats import Stats
from crawler.settings import Settings, load_settings
from crawler.spider import (
    HTML_TYPES,
    AsyncCallbackOutput,
    CallbackOutput,
    CrawlSpider,
    DropItem,
    Failure,
    FollowAll,
    FormRequest,
    LinkExtractor,
    Request,
    Response,
    Rule,
    Selector,
    SelectorError,
    Spider,
    extraction_fields,
)
from crawler.spider.recorder import PageRecorder

__all__ = [
    "HTML_TYPES", "AsyncCallbackOutput", "CallbackOutput", "CrawlSpider", "Crawler", "DropItem", "Engine", "Failure",
    "FollowAll", "FormRequest", "LinkExtractor", "PageRecorder", "Request", "Response", "Rule", "Selector",
    "SelectorError", "Settings", "Spider", "Stats", "__version__", "extraction_fields", "load_settings",
    "run_spider",
]
