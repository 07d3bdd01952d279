"""A rules spider, Scrapy's CrawlSpider way: follow the catalogue's pages, parse the product
pages, leave everything else alone; ten lines of spider.

    python -m examples.rules                        # serves the demo shop itself
    python -m examples.rules http://127.0.0.1:8000/ products.jsonl
    # or, with python -m crawler demo --serve running:
    python -m crawler --spider examples.rules:Catalogue --seeds seeds.txt -o products.jsonl
"""

from __future__ import annotations

import dataclasses
import sys

from crawler import CrawlSpider, LinkExtractor, Response, Rule, run_spider


@dataclasses.dataclass
class Product:
    url: str
    name: str
    price: float


class Catalogue(CrawlSpider):
    name = "catalogue"
    rules = (
        Rule(LinkExtractor(allow=r"/catalog/\d+$")),  # no callback: follow
        Rule(LinkExtractor(allow=r"/product/\d+$", restrict_css="main"), callback="parse_product"),
    )

    def parse_product(self, response: Response):
        yield Product(response.url, response.css("h1.name::text").get(""),
                      float(response.css("p.price::text").re_first(r"[\d.]+") or 0))


if __name__ == "__main__":
    from crawler.cli.demoshop import demo_shop

    with demo_shop(sys.argv[1] if len(sys.argv) > 1 else None) as root:
        spider = Catalogue()
        spider.start_urls = [root + "catalog/1"]
        stats = run_spider(spider, output=sys.argv[2] if len(sys.argv) > 2 else "-")
    sys.exit(0 if stats["items"] else 1)
