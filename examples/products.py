"""A product-listing scraper: follows the listing's pagination, visits each product page and
extracts its fields into a dataclass item.

    python -m examples.products                     # serves the demo shop itself
    python -m examples.products http://127.0.0.1:8000/catalog/1 products.jsonl
    # or: python -m crawler --spider examples.products:Products --seeds listing-urls.txt -o products.jsonl
"""

from __future__ import annotations

import dataclasses
import sys

from crawler import Response, Spider, run_spider


@dataclasses.dataclass
class Product:
    """One product as scraped."""

    url: str
    name: str
    price: float | None


class Products(Spider):
    """Listing pages (``li.product a`` links, an ``a.next`` link) and product pages
    (``.name``, ``.price``)."""

    name = "products"

    def parse(self, response: Response):
        yield from response.follow_all(css="li.product a", callback=self.parse_product)
        next_page = response.css("a.next::attr(href)").get()
        if next_page is not None:
            yield response.follow(next_page)

    def parse_product(self, response: Response):
        price = response.css(".price::text").re_first(r"[\d.]+")
        yield Product(url=response.url, name=response.css(".name::text").get("").strip(),
                      price=float(price) if price else None)


if __name__ == "__main__":
    from crawler.cli.demoshop import demo_shop

    with demo_shop(sys.argv[1] if len(sys.argv) > 1 else None) as root:
        spider = Products()
        spider.start_urls = [root if len(sys.argv) > 1 else root + "catalog/1"]
        stats = run_spider(spider, output=sys.argv[2] if len(sys.argv) > 2 else "-")
    sys.exit(0 if stats["items"] else 1)
