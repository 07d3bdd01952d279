"""Item pipelines: one drops items whose ``sku`` was seen already, one enriches each item with
an async call (here a stand-in for a lookup service: it derives a category).

    python -m examples.pipelines                    # serves the demo shop itself
    python -m examples.pipelines http://127.0.0.1:8000/ items.jsonl
"""

from __future__ import annotations

import asyncio
import sys

from crawler import DropItem, Response, Spider, run_spider


class DropDuplicates:
    """Drops an item whose ``field`` value was seen before in this crawl."""

    def __init__(self, field: str) -> None:
        self.field = field
        self.seen: set[object] = set()

    def open_spider(self, spider: Spider) -> None:
        self.seen.clear()

    def process_item(self, item: dict, spider: Spider) -> dict:
        key = item.get(self.field)
        if key in self.seen:
            raise DropItem(f"duplicate {self.field}")  # the reason is counted: keep it a category
        self.seen.add(key)
        return item


class Categorize:
    """Adds ``category``, as an async lookup would."""

    async def process_item(self, item: dict, spider: Spider) -> dict:
        await asyncio.sleep(0)  # the awaited call of a real lookup
        return item | {"category": "books" if str(item.get("sku", "")).startswith("B") else "other"}


class Catalogue(Spider):
    """Every page lists items as ``<li data-sku=...>name</li>``; the same item may appear on
    several pages."""

    name = "catalogue"
    pipelines = [DropDuplicates("sku"), Categorize()]  # noqa: RUF012

    def parse(self, response: Response):
        for li in response.css("li[data-sku]"):
            yield {"sku": li.attributes.get("data-sku"), "name": li.text(strip=True)}
        for href in response.links():
            yield response.follow(href)


if __name__ == "__main__":
    from crawler.cli.demoshop import demo_shop

    with demo_shop(sys.argv[1] if len(sys.argv) > 1 else None) as root:
        spider = Catalogue()
        spider.start_urls = [root]
        stats = run_spider(spider, output=sys.argv[2] if len(sys.argv) > 2 else "-")
    sys.exit(0 if stats["items"] else 1)
