"""The spider API against real servers: callbacks, items, requests, errbacks, pipelines,
running from Python and from the command line."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from crawler import Crawler, DropItem, PageRecorder, Request, Response, Spider, run_spider
from tests.conftest import read_jsonl, run_cli
from tests.support.sites import app_of


def shop_app(delay: float = 0.0) -> web.Application:
    """Two listing pages with pagination, product pages (each answering after ``delay``), and a
    404 product."""
    def listing(page: int) -> str:
        products = "".join(f'<li class="p"><a href="/product/{page * 10 + i}">Item {page * 10 + i}</a></li>'
                           for i in range(3))
        nxt = f'<a class="next" href="/list/{page + 1}">next</a>' if page < 2 else ""
        return f"<ul>{products}</ul>{nxt}"

    routes: dict[str, Any] = {f"/list/{p}": listing(p) for p in range(1, 3)}

    async def product(request: web.Request) -> web.Response:
        await asyncio.sleep(delay)
        n = int(request.match_info["n"])
        if n == 22:
            raise web.HTTPNotFound()
        return web.Response(text=f'<h1 class="name">Item {n}</h1><span class="price">{n}.50</span>',
                            content_type="text/html")

    app = app_of(routes)
    app.router.add_get("/product/{n}", product)
    return app


@dataclasses.dataclass
class Product:
    name: str
    price: float
    listing: int


class ShopSpider(Spider):
    name = "shop"

    def __init__(self, base: str) -> None:
        self.start_urls = [base + "list/1"]
        self.threads: set[str] = set()
        self.failures: list[tuple[str, str, int | None]] = []

    def parse(self, response: Response):
        self.threads.add(threading.current_thread().name)
        page = int(response.url.rsplit("/", 1)[1])
        for a in response.css("li.p a"):
            yield response.follow(a.attributes["href"], callback=self.parse_product, meta={"listing": page},
                                  errback=self.failed)
        nxt = response.css_first("a.next")
        if nxt is not None:
            yield response.follow(nxt.attributes["href"])

    async def parse_product(self, response: Response):
        self.threads.add(threading.current_thread().name)
        yield Product(response.css_first(".name").text(), float(response.css_first(".price").text()),
                      response.meta["listing"])

    def failed(self, failure):
        self.failures.append((failure.url, failure.error, failure.status))


async def test_spider_follows_pagination_and_extracts_dataclass_items(serve, tmp_path: Path) -> None:
    server = serve(shop_app())
    spider = ShopSpider(server.url)
    out = tmp_path / "items.jsonl"
    stats = await Crawler(spider, output=str(out), per_host=4).run()  # awaited inside a running loop
    items = read_jsonl(out)
    assert sorted(i["name"] for i in items) == sorted(f"Item {n}" for n in (10, 11, 12, 20, 21))
    assert {i["name"]: i["listing"] for i in items}["Item 21"] == 2
    assert {i["name"]: i["price"] for i in items}["Item 11"] == 11.5
    assert spider.failures == [(server.url + "product/22", "http", 404)]
    assert stats["items"] == 5 and stats["pages"] == 2 + 6  # every URL counted once
    assert any(name.startswith("parse") for name in spider.threads)  # plain callbacks: the pool
    assert threading.main_thread().name in spider.threads  # async callbacks: the loop


class Boom(Spider):
    def __init__(self, base: str) -> None:
        self.start_urls = [base + "list/1"]

    def parse(self, response: Response):
        for a in response.css("li.p a"):
            yield Request(response.urljoin(a.attributes["href"]), callback=self.product)

    def product(self, response: Response):
        if response.url.endswith("/11"):
            raise ValueError("bad page")
        yield {"url": response.url}


def test_callback_exceptions_are_counted_not_fatal_and_run_spider_runs_twice(serve, tmp_path: Path) -> None:
    server = serve(shop_app())
    for run in (1, 2):
        out = tmp_path / f"run{run}.jsonl"
        stats = run_spider(Boom(server.url), output=str(out))
        assert sorted(i["url"] for i in read_jsonl(out)) == [server.url + "product/10", server.url + "product/12"]
        assert stats["callback_errors"] == 1 and stats["errors"] == {"content": 1}


class Dedupe:
    def open_spider(self, spider: Spider) -> None:
        self.seen: set[str] = set()
        self.opened = True

    def process_item(self, item: dict, spider: Spider) -> dict:
        if item["kind"] in self.seen:
            raise DropItem(item["kind"])
        self.seen.add(item["kind"])
        return item

    def close_spider(self, spider: Spider) -> None:
        self.closed = True


class Enrich:
    async def process_item(self, item: dict, spider: Spider) -> dict:
        await asyncio.sleep(0)
        return item | {"enriched": True}


class Kinds(Spider):
    def __init__(self, base: str, pipelines: list) -> None:
        self.start_urls = [base + "list/1", base + "list/2"]
        self.pipelines = pipelines

    async def parse(self, response: Response):
        yield {"kind": "listing", "url": response.url}
        yield {"kind": "listing-" + response.url[-1], "url": response.url}


async def test_pipelines_drop_and_enrich(serve, tmp_path: Path) -> None:
    server = serve(shop_app())
    dedupe = Dedupe()
    out = tmp_path / "items.jsonl"
    stats = await Crawler(Kinds(server.url, [dedupe, Enrich()]), output=str(out), max_depth=0).run()
    items = read_jsonl(out)
    assert sorted(i["kind"] for i in items) == ["listing", "listing-1", "listing-2"]
    assert all(i["enriched"] for i in items)
    assert stats["dropped"] == 1 and dedupe.opened and dedupe.closed


@pytest.mark.slow
def test_cli_runs_a_spider_from_a_module(serve, tmp_path: Path) -> None:
    server = serve(shop_app())
    (tmp_path / "myspiders.py").write_text(
        "from crawler import Spider\n\n"
        "class Titles(Spider):\n"
        "    def parse(self, response):\n"
        "        yield {'url': response.url, 'links': len(response.links())}\n")
    (tmp_path / "seeds.txt").write_text(server.url + "list/1\n")
    proc = run_cli("--spider", "myspiders:Titles", "--seeds", "seeds.txt", "--max-depth", "0", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f'{{"url": "{server.url}list/1", "links": 4}}'
    bad = run_cli("--spider", "myspiders:Nope", "--seeds", "seeds.txt", cwd=tmp_path)
    assert bad.returncode == 2 and "--spider: myspiders has no 'Nope' (its spiders: " in bad.stderr


class Auth:
    def process_request(self, request: Request, spider: Spider) -> None:
        request.headers = (request.headers or {}) | {"X-Token": "secret", "Cookie": "session=1"}

    async def process_response(self, response: Response, spider: Spider) -> Response:
        response.meta["checked"] = response.status == 200
        return response


class Hooked(Spider):
    def __init__(self, base: str, proxy: str | None = None) -> None:
        self.start_urls = [base + "list/1"]
        self.hooks = [Auth()]
        self.proxy = proxy

    async def start(self):
        for url in self.start_urls:
            yield Request(url, meta={"proxy": self.proxy} if self.proxy else {})

    def parse(self, response: Response):
        yield {"url": response.url, "checked": response.meta.get("checked"), "body": response.text[:20]}


async def test_hooks_add_headers_and_see_responses(serve, tmp_path: Path) -> None:
    server = serve(shop_app())
    out = tmp_path / "items.jsonl"
    await Crawler(Hooked(server.url), output=str(out), max_depth=0).run()
    assert [i["checked"] for i in read_jsonl(out)] == [True]
    page = next(h for h in server.hits if h.path == "/list/1")
    assert page.headers.get("X-Token") == "secret" and page.headers.get("Cookie") == "session=1"


@pytest.mark.parametrize("proxy_host", ["127.0.0.1", "localhost"])  # a private name: the user's own proxy
async def test_meta_proxy_sends_the_request_through_the_proxy(serve, tmp_path: Path, proxy_host: str) -> None:
    async def proxy(request: web.Request) -> web.Response:
        return web.Response(text=f"via proxy for {request.url}", content_type="text/html")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", proxy)
    through = serve(app)
    target = "http://127.0.0.1:9/"  # nothing listens there: only the proxy can answer
    out = tmp_path / "items.jsonl"
    await Crawler(Hooked(target, proxy=f"http://{proxy_host}:{through.port}/"), output=str(out), max_depth=0,
                  robots=False).run()
    assert read_jsonl(out)[0]["body"].startswith("via proxy for http")
    assert [h.path for h in through.hits] == ["/list/1"]


class Prioritized(Spider):
    def __init__(self, base: str) -> None:
        self.start_urls = [base + "list/1"]

    def parse(self, response: Response):
        if response.url.endswith("list/1"):
            for n in (10, 11, 12):
                yield Request(response.urljoin(f"/product/{n}"), priority=1 if n == 12 else 0)


async def test_priority_goes_to_the_front_of_the_hosts_queue(serve, tmp_path: Path) -> None:
    server = serve(shop_app())
    await Crawler(Prioritized(server.url), output=str(tmp_path / "o.jsonl"), per_host=1, robots=False).run()
    assert [h.path for h in server.hits] == ["/list/1", "/product/12", "/product/10", "/product/11"]


@pytest.mark.slow
async def test_a_resumed_spider_crawl_calls_the_same_methods(serve, tmp_path: Path) -> None:
    app = shop_app(delay=0.15)
    server = serve(app)
    out = tmp_path / "items.jsonl"
    settings = {"output": str(out), "job_dir": str(tmp_path / "job"), "per_host": 1, "robots": False}
    first = await Crawler(ShopSpider(server.url), max_runtime=0.4, **settings).run()
    assert first["stopped_by"] == "max_runtime" and first["items"] < 5
    second_spider = ShopSpider(server.url)
    await Crawler(second_spider, **settings).run()
    items = read_jsonl(out)
    assert sorted(i["name"] for i in items) == sorted(f"Item {n}" for n in (10, 11, 12, 20, 21))
    assert all(i["listing"] in (1, 2) for i in items)  # meta survived the restart
    assert second_spider.failures == [(server.url + "product/22", "http", 404)]  # the errback, by name


def describing_app() -> web.Application:
    async def home(request: web.Request) -> web.Response:
        base = f"http://{request.host}"
        return web.Response(text=f'<title>Home</title><a href="/a">a</a><a href="/private">p</a>'
                                 f'<a href="{base}/missing">m</a>',
                            content_type="text/html", headers={"X-Robots-Tag": "noindex"})

    async def sitemap(request: web.Request) -> web.Response:
        base = f"http://{request.host}"
        return web.Response(text=f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                                 f'<url><loc>{base}/d</loc></url><url><loc>{base}/c</loc>'
                                 f'<lastmod>2026-01-02</lastmod></url><url><loc>http://elsewhere.invalid/</loc></url>'
                                 f'</urlset>', content_type="application/xml")

    app = app_of({"/a": '<meta name="robots" content="nofollow"><a href="/b">b</a>', "/c": "c", "/d": "d"})
    app.router.add_get("/", home)
    app.router.add_get("/sitemap.xml", sitemap)

    async def robots(request: web.Request) -> web.Response:
        return web.Response(text="User-agent: *\nDisallow: /private\n")

    app.router.add_get("/robots.txt", robots)
    return app


class Describe(Spider):
    """Notes what each public object tells about its fetch."""

    def __init__(self, base: str) -> None:
        self.start_urls = [base]
        self.seen: dict[str, dict[str, Any]] = {}
        self.failures: dict[str, tuple[str, int | None]] = {}
        self.sitemaps: list[list[str]] = []

    def parse(self, response: Response):
        self.seen[response.url] = {
            "depth": response.depth, "referrer": response.referrer, "title": response.title,
            "noindex": response.noindex, "nofollow": response.nofollow, "type": response.content_type,
            "size": response.size == len(response.body) > 0, "at": response.fetched_at,
            "ms": response.elapsed_ms, "lastmod": response.lastmod, "meta": dict(response.meta)}
        if response.depth == 0 and response.lastmod is None:
            yield response.follow_all(callback=self.parse, meta={"from": "home"})

    def errback(self, failure):
        status = failure.response.status if failure.response is not None else None
        self.failures[failure.url] = (failure.error, status)

    def parse_sitemap(self, response: Response):
        self.sitemaps.append(response.links())


async def test_response_failure_and_sitemap_describe_the_fetch(serve, tmp_path: Path) -> None:
    server = serve(describing_app())
    base = server.url
    spider = Describe(base)
    stats = await Crawler(spider, output=str(tmp_path / "x.jsonl"), sitemap=[base + "sitemap.xml"]).run()
    home = spider.seen[base]
    assert home["depth"] == 0 and home["referrer"] is None and home["title"] == "Home"
    assert home["noindex"] and not home["nofollow"] and home["type"] == "text/html" and home["size"]
    assert home["at"].endswith("Z") and home["ms"] > 0
    a = spider.seen[base + "a"]
    assert a["nofollow"] and not a["noindex"] and a["title"] == "t"
    assert a["meta"] == {"from": "home"} and a["depth"] == 1 and a["referrer"] == base
    assert spider.seen[base + "c"]["lastmod"] == "2026-01-02"
    assert spider.failures == {base + "private": ("robots", None), base + "missing": ("http", 404)}
    assert spider.sitemaps == [[base + "d", base + "c"]]  # the in-scope URLs it lists
    assert base + "b" not in spider.seen  # nobody followed /a's links
    assert stats["errors"] == {"http": 1, "robots": 1} and stats["pages"] == 7


def test_the_page_recorder_uses_only_the_public_api() -> None:
    import ast

    import crawler
    import crawler.spider.recorder

    tree = ast.parse(Path(crawler.spider.recorder.__file__).read_text())
    imported = {(node.module, alias.name) for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                and (node.module or "").startswith("crawler") for alias in node.names}
    assert imported and all(name in crawler.__all__ for _, name in imported), imported


class TitledRecorder(PageRecorder):
    """The built-in recorder, with one more field."""

    def parse(self, response: Response):
        for out in super().parse(response):
            if isinstance(out, dict):
                h1 = response.css_first("h1")
                out["h1"] = h1.text() if h1 is not None else None
            yield out


async def test_the_page_recorder_can_be_extended(serve, tmp_path: Path) -> None:
    server = serve(shop_app())
    out = tmp_path / "pages.jsonl"
    stats = await Crawler(TitledRecorder(), output=str(out)).run([server.url + "list/1"])
    records = {r["url"]: r for r in read_jsonl(out)}
    assert len(records) == stats["pages"] == 8  # 2 listings, 6 products (one 404)
    assert records[server.url + "product/10"]["h1"] == "Item 10"
    assert records[server.url + "product/22"]["error"] == "http" and "h1" not in records[server.url + "product/22"]


def test_css_and_links_parse_the_page_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import crawler.spider.response

    built: list[str] = []
    real = crawler.spider.response.html_tree

    def counting(text: str) -> Any:
        built.append(text)
        return real(text)

    monkeypatch.setattr(crawler.spider.response, "html_tree", counting)
    body = b'<title>T</title><h1>Head</h1><a href="/a">a</a><a href="/b">b</a>'
    response = Response("http://site.test/", 200, {}, body, None, Request("http://site.test/"), lambda url: True,
                        2083, content_type="text/html")
    assert response.css_first("h1").text() == "Head"
    assert response.links() == ["http://site.test/a", "http://site.test/b"] and response.title == "T"
    assert len(built) == 1


def test_every_way_of_running_a_crawl_returns_the_same_stats_type(serve, tmp_path: Path) -> None:
    from crawler import Engine, Stats, load_settings

    server = serve(shop_app())
    recorder = PageRecorder()
    recorder.start_urls = [server.url + "list/1"]
    results = [run_spider(recorder, output=str(tmp_path / "b.jsonl"), max_depth=0)]
    results.append(asyncio.run(Crawler(recorder, output=str(tmp_path / "c.jsonl"), max_depth=0).run()))
    results.append(asyncio.run(Engine(load_settings({"output": str(tmp_path / "d.jsonl"), "max_depth": 0,
                                                      "progress": False}), [server.url + "list/1"]).run()))
    for stats in results:
        assert isinstance(stats, Stats)
        assert stats.pages == stats["pages"] == 1 and stats["ok"] == stats.ok == 1
        assert dict(stats)["errors"] == {} and "callback_errors" in stats
