"""A sitemap-driven article extractor: every URL a site's sitemap lists is fetched and its
headline, author and publication date are extracted (with the sitemap's ``lastmod``).

    python -m examples.articles                     # serves the demo shop itself
    python -m examples.articles http://127.0.0.1:8000/sitemap.xml articles.jsonl
"""

from __future__ import annotations

import sys

from crawler import Response, Spider, run_spider


class Articles(Spider):
    """Reads ``h1``, ``meta[name=author]`` and ``time[datetime]`` from each article page. The
    sitemap itself comes from the ``sitemap`` setting; its URLs go to :meth:`parse`."""

    name = "articles"
    custom_settings = {"max_depth": 0}  # noqa: RUF012 - the sitemap's pages, not their links

    def parse(self, response: Response):
        headline = response.css_first("h1")
        author = response.css_first('meta[name="author"]')
        published = response.css_first("time[datetime]")
        if headline is None:
            return  # not an article
        yield {
            "url": response.url,
            "headline": headline.text(strip=True),
            "author": author.attributes.get("content") if author is not None else None,
            "published": published.attributes.get("datetime") if published is not None else None,
        }


if __name__ == "__main__":
    from crawler.cli.demoshop import demo_shop

    with demo_shop(sys.argv[1] if len(sys.argv) > 1 else None) as root:
        sitemap = root if len(sys.argv) > 1 else root + "sitemap.xml"
        stats = run_spider(Articles(), sitemap=[sitemap], output=sys.argv[2] if len(sys.argv) > 2 else "-")
    sys.exit(0 if stats["items"] else 1)
