"""The examples/ spiders, each against a local site made for it."""

from __future__ import annotations

import gzip
from pathlib import Path

from aiohttp import web

from crawler import Crawler
from examples.articles import Articles
from examples.pipelines import Catalogue
from examples.products import Products
from tests.conftest import read_jsonl, run_cli
from tests.support.sites import app_of


def store() -> web.Application:
    routes = {}
    for page in (1, 2, 3):
        items = "".join(f'<li class="product"><a href="/item/{page}{i}">p</a></li>' for i in range(4))
        nxt = f'<a class="next" href="/list/{page + 1}">next</a>' if page < 3 else ""
        routes[f"/list/{page}"] = f"<ul>{items}</ul>{nxt}"
        for i in range(4):
            routes[f"/item/{page}{i}"] = f'<h2 class="name">Widget {page}{i}</h2><b class="price">${page}{i}.99</b>'
    return app_of(routes)


async def test_products_example_follows_pagination(serve, tmp_path: Path) -> None:
    server = serve(store())
    spider = Products()
    spider.start_urls = [server.url + "list/1"]
    out = tmp_path / "products.jsonl"
    stats = await Crawler(spider, output=str(out), per_host=4).run()
    items = sorted(read_jsonl(out), key=lambda i: i["name"])
    assert len(items) == 12 and stats["items"] == 12
    assert items[0] == {"url": server.url + "item/10", "name": "Widget 10", "price": 10.99}


def test_products_example_from_the_command_line(serve, tmp_path: Path) -> None:
    server = serve(store())
    (tmp_path / "seeds.txt").write_text(server.url + "list/3\n")
    proc = run_cli("--spider", "examples.products:Products", "--seeds", str(tmp_path / "seeds.txt"))
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 4


def news() -> web.Application:
    async def sitemap(request: web.Request) -> web.Response:
        base = f"http://{request.host}"
        urls = "".join(f"<url><loc>{base}/news/{i}</loc><lastmod>2026-11-0{i}</lastmod></url>" for i in (1, 2, 3))
        body = f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
        return web.Response(body=gzip.compress(body.encode()), content_type="application/gzip")

    routes = {"/sitemap.xml.gz": sitemap, "/news/3": "<p>no headline here</p>"}
    for i in (1, 2):
        routes[f"/news/{i}"] = (f'<meta name="author" content="Ann {i}"><h1>Story {i}</h1>'
                                f'<time datetime="2026-11-0{i}T08:00:00Z">Nov {i}</time><a href="/other">x</a>')
    return app_of(routes)


async def test_articles_example_reads_the_sitemap(serve, tmp_path: Path) -> None:
    server = serve(news())
    out = tmp_path / "articles.jsonl"
    await Crawler(Articles(), sitemap=[server.url + "sitemap.xml.gz"], output=str(out)).run()
    items = sorted(read_jsonl(out), key=lambda i: i["url"])
    assert items == [
        {"url": server.url + "news/1", "headline": "Story 1", "author": "Ann 1", "published": "2026-11-01T08:00:00Z"},
        {"url": server.url + "news/2", "headline": "Story 2", "author": "Ann 2", "published": "2026-11-02T08:00:00Z"},
    ]
    assert server.count("/other") == 0  # the sitemap's pages only


def catalogue() -> web.Application:
    return app_of({
        "/": '<li data-sku="B1">Book one</li><li data-sku="T1">Toy</li><a href="/more">more</a>',
        "/more": '<li data-sku="B1">Book one again</li><li data-sku="B2">Book two</li>',
    })


async def test_pipelines_example_drops_duplicates_and_enriches(serve, tmp_path: Path) -> None:
    server = serve(catalogue())
    spider = Catalogue()
    spider.start_urls = [server.url]
    out = tmp_path / "items.jsonl"
    stats = await Crawler(spider, output=str(out)).run()
    items = {i["sku"]: i for i in read_jsonl(out)}
    assert set(items) == {"B1", "T1", "B2"} and stats["dropped"] == 1
    assert items["B2"]["category"] == "books" and items["T1"]["category"] == "other"
