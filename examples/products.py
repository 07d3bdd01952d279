"""A product-listing scraper: follows the listing's pagination, visits each product page and
extracts its fields into a dataclass item.

    python -m examples.products http://127.0.0.1:8080/list/1 products.jsonl
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
        for link in response.css("li.product a"):
            yield response.follow(link.attributes.get("href") or "", callback=self.parse_product)
        nxt = response.css_first("a.next")
        if nxt is not None:
            yield response.follow(nxt.attributes.get("href") or "")

    def parse_product(self, response: Response):
        name = response.css_first(".name")
        price = response.css_first(".price")
        yield Product(
            url=response.url,
            name=name.text(strip=True) if name is not None else "",
            price=float(price.text(strip=True).lstrip("$")) if price is not None else None,
        )


if __name__ == "__main__":
    spider = Products()
    spider.start_urls = [sys.argv[1]]
    print(run_spider(spider, output=sys.argv[2] if len(sys.argv) > 2 else "-"), file=sys.stderr)
