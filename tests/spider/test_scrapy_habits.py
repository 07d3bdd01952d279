"""A Scrapy user's first-week habits against the demo shop on 127.0.0.1 (login form with a CSRF
field and a session cookie, a JSON API, a catalogue for rules): start, arguments, settings,
requests, forms, selectors, rules, items, loud failures, the tools and the HTTP cache."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import attrs
import parsel
import pydantic
import pytest
from aiohttp import web

from crawler import (
    Crawler,
    CrawlSpider,
    DropItem,
    FormRequest,
    LinkExtractor,
    Request,
    Response,
    Rule,
    SelectorError,
    Spider,
    run_spider,
)
from crawler.cli.demoshop import ORDERS, PRODUCTS, shop_app
from tests.conftest import ROOT, read_jsonl, run_cli

HERE = "tests.spider.test_scrapy_habits"


@pytest.fixture
def shop(serve):
    return serve(shop_app())


# --- start ------------------------------------------------------------------------------------

class OldStart(Spider):
    def __init__(self, root: str = "") -> None:
        super().__init__()
        self.root = root

    def start_requests(self):
        for n in (1, 2):
            yield Request(f"{self.root}product/{n}", callback=self.parse_product)

    def parse_product(self, response: Response):
        yield {"name": response.css("h1::text").get()}


class AsyncStart(OldStart):
    async def start(self):
        yield self.root + "product/3"
        yield Request(self.root + "product/4", callback=self.parse_product)

    def parse(self, response: Response):
        yield {"parse": response.css("h1::text").get()}


class NoStart(Spider):
    pass


async def test_start_requests_and_async_start(shop, tmp_path: Path) -> None:
    out = tmp_path / "a.jsonl"
    await Crawler(OldStart(shop.url), output=str(out)).run()
    assert sorted(i["name"] for i in read_jsonl(out)) == ["Widget 1", "Widget 2"]
    out = tmp_path / "b.jsonl"
    await Crawler(AsyncStart(shop.url), output=str(out)).run()
    assert sorted(read_jsonl(out), key=str) == [{"name": "Widget 4"}, {"parse": "Widget 3"}]


def test_a_spider_with_nowhere_to_start_is_a_usage_error(shop, tmp_path: Path) -> None:
    proc = run_cli("--spider", f"{HERE}:NoStart", "-o", str(tmp_path / "o.jsonl"))
    assert proc.returncode == 2
    assert "NoStart has nothing to crawl: it has no start_urls, start() or start_requests()" in proc.stderr


@pytest.mark.slow
def test_seeds_add_to_the_start_and_a_arguments_reach_the_spider(shop, tmp_path: Path) -> None:
    (tmp_path / "seeds.txt").write_text(shop.url + "product/5\n")
    out = tmp_path / "o.jsonl"
    proc = run_cli("--spider", f"{HERE}:AsyncStart", "-a", f"root={shop.url}", "--seeds", str(tmp_path / "seeds.txt"),
                   "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert sorted(read_jsonl(out), key=str) == [{"name": "Widget 4"}, {"parse": "Widget 3"}, {"parse": "Widget 5"}]
    proc = run_cli("--spider", f"{HERE}:AsyncStart", "-a", "nope=1", "-o", str(out))
    assert proc.returncode == 2 and "--spider-arg: AsyncStart does not take these arguments (nope)" in proc.stderr


class Attributes(Spider):
    """No __init__ of its own: -a arguments become attributes, as in Scrapy."""

    def start_requests(self):
        yield f"{self.root}product/{self.n}"

    def parse(self, response: Response):
        yield {"name": response.css("h1::text").get(), "n": self.n}


def test_a_arguments_become_attributes(shop, tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    proc = run_cli("--spider", f"{HERE}:Attributes", "-a", f"root={shop.url}", "-a", "n=7", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert read_jsonl(out) == [{"name": "Widget 7", "n": "7"}]


# --- settings -----------------------------------------------------------------------------------

class Limited(Spider):
    custom_settings = {"max_pages": 5, "per_host": 1}  # noqa: RUF012

    def __init__(self, root: str = "") -> None:
        super().__init__()
        self.start_urls = [root] if root else []

    def parse(self, response: Response):
        yield {"url": response.url}
        yield from response.follow_all()


@pytest.mark.slow
def test_custom_settings_hold_on_the_command_line_and_config_show_names_them(shop, tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    proc = run_cli("--spider", f"{HERE}:Limited", "-a", f"root={shop.url}", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert len(read_jsonl(out)) == 5
    assert len({h.path for h in shop.hits if h.path != "/robots.txt"}) == 5
    proc = run_cli("config", "--show", "--spider", f"{HERE}:Limited", "--per-host", "3")
    assert proc.returncode == 0, proc.stderr
    lines = {line.split(" = ")[0].strip(): line for line in proc.stdout.splitlines() if " = " in line}
    assert "Limited.custom_settings" in lines["max_pages"] and "5" in lines["max_pages"]
    assert "command line" in lines["per_host"]  # the command line wins over the spider


def test_custom_settings_hold_in_run_spider(shop, tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    stats = run_spider(Limited(shop.url), output=str(out))
    assert stats["pages"] == 5 and len(read_jsonl(out)) == 5


# --- requests, forms and sessions --------------------------------------------------------------

def test_the_login_example_logs_in_with_the_form_and_crawls_behind_it(shop, tmp_path: Path) -> None:
    out = tmp_path / "orders.jsonl"
    proc = run_cli("--spider", "examples.login:Login", "-a", f"start={shop.url}", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert sorted(i["order"] for i in read_jsonl(out)) == [f"Order {n}" for n in range(1, ORDERS + 1)]
    posts = [h for h in shop.hits if h.path == "/login" and h.status == 303]
    assert len(posts) == 1 and posts[0].headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_a_wrong_password_is_a_callback_error_named_with_its_line(shop, tmp_path: Path) -> None:
    out = tmp_path / "orders.jsonl"
    proc = run_cli("--spider", "examples.login:Login", "-a", f"start={shop.url}", "-a", "password=nope",
                   "-o", str(out), "--stats", str(tmp_path / "stats.json"))
    assert proc.returncode == 0, proc.stderr
    stats = json.loads((tmp_path / "stats.json").read_text())
    error = stats["callback_errors_by_type"]["RuntimeError"]
    assert error["count"] == 1 and error["where"].startswith("examples/login.py:")
    assert "callback errors 1 (RuntimeError 1 at examples/login.py:" in proc.stderr


SEEN = web.AppKey("seen", list)


def echo_app() -> web.Application:
    seen: list[dict[str, Any]] = []

    async def echo(request: web.Request) -> web.Response:
        seen.append({"method": request.method, "path": request.path_qs, "type": request.content_type,
                     "body": (await request.read()).decode(), "cookie": request.headers.get("Cookie")})
        return web.json_response(seen[-1])

    app = web.Application()
    app.router.add_route("*", "/echo/{tail:.*}", echo)
    app[SEEN] = seen
    return app


class Bodies(Spider):
    def __init__(self, root: str = "") -> None:
        super().__init__()
        self.root = root

    def start_requests(self):
        yield Request(self.root + "echo/json", method="POST", json={"q": "widgets", "page": 2},
                      callback=self.answer, cb_kwargs={"label": "json"})
        yield FormRequest(self.root + "echo/form", formdata={"a": "1", "b": "x y"}, callback=self.answer,
                          cb_kwargs={"label": "form"})
        yield Request.from_curl(f"curl '{self.root}echo/curl' -X PUT -H 'Content-Type: text/plain' "
                                "-b 'session=abc' --data-raw 'hello'", callback=self.answer,
                                cb_kwargs={"label": "curl"})

    def answer(self, response: Response, label: str):
        yield {"label": label, **response.json()}


async def test_post_json_form_and_curl_bodies_reach_the_server_and_cb_kwargs_the_callback(serve, tmp_path) -> None:
    app = echo_app()
    server = serve(app)
    out = tmp_path / "o.jsonl"
    await Crawler(Bodies(server.url), output=str(out), robots=False).run()
    got = {i["label"]: i for i in read_jsonl(out)}
    assert got["json"]["method"] == "POST" and json.loads(got["json"]["body"]) == {"q": "widgets", "page": 2}
    assert got["json"]["type"] == "application/json"
    assert got["form"]["method"] == "POST" and got["form"]["body"] == "a=1&b=x+y"
    assert got["form"]["type"] == "application/x-www-form-urlencoded"
    assert got["curl"]["method"] == "PUT" and got["curl"]["body"] == "hello" and got["curl"]["cookie"] == "session=abc"
    assert len(app[SEEN]) == 3


class Again(Spider):
    """Asks for its own page again and again with dont_filter."""

    def parse(self, response: Response):
        yield {"depth": response.depth}
        yield Request(response.url, dont_filter=True)


async def test_dont_filter_fetches_again_but_stays_within_the_depth_limit(shop, tmp_path: Path) -> None:
    spider = Again()
    spider.start_urls = [shop.url + "product/1"]
    stats = await Crawler(spider, output=str(tmp_path / "o.jsonl"), max_depth=3).run()
    assert shop.count("/product/1") == 4 and stats["items"] == 4


class Api(Spider):
    def __init__(self, root: str = "") -> None:
        super().__init__()
        self.start_urls = [root + "api/products?page=1"]

    def parse(self, response: Response):
        data = response.json()
        for product in data["products"]:
            yield {"id": product["id"], "price": product["price"]}
        if data["next"]:
            yield response.follow(data["next"], priority=1)


async def test_a_json_api_is_paged_through(shop, tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    await Crawler(Api(shop.url), output=str(out)).run()
    assert sorted(i["id"] for i in read_jsonl(out)) == list(range(1, PRODUCTS + 1))


# --- selectors --------------------------------------------------------------------------------

IDIOMS = [
    ("css", "li.product a::attr(href)", "getall"),
    ("css", "li.product a::text", "getall"),
    ("css", "h1::text", "get"),
    ("css", "title::text", "get"),
    ("css", "a.next::attr(href)", "get"),
    ("css", "nav a::text", "getall"),
    ("css", "li.product::attr(data-sku)", "getall"),
    ("css", "main *::text", "getall"),
    ("css", "li.product a", "getall"),
    ("xpath", "//li/a/@href", "getall"),
    ("xpath", "//h1/text()", "get"),
]


def test_selector_idioms_give_what_parsel_gives(shop) -> None:
    import urllib.request

    html = urllib.request.urlopen(shop.url + "catalog/2").read().decode()
    response = Response(shop.url + "catalog/2", 200, {}, html.encode(), "utf-8", Request(shop.url), lambda u: True,
                        2000)
    reference = parsel.Selector(text=html)
    for kind, query, how in IDIOMS:
        ours = getattr(getattr(response, kind)(query), how)()
        theirs = getattr(getattr(reference, kind)(query), how)()
        assert ours == theirs, (kind, query)
    assert response.css("li.product a::text").re(r"Widget (\d+)") == reference.css("li.product a::text").re(
        r"Widget (\d+)")
    assert response.css("li.product")[0].css("a::attr(href)").get() == "/product/7"
    assert response.css("h1").attrib == {} and response.css("a.next").attrib == {"class": "next", "href": "/catalog/3"}
    assert response.css_first("nav").text(strip=True) == "Home Catalogue Log in"  # words stay apart
    assert [r.url for r in response.follow_all(css="li.product a")][:1] == [shop.url + "product/7"]
    assert response.follow(response.css("a.next")[0]).url == shop.url + "catalog/3"
    assert response.follow(response.xpath("//a[@class='next']")[0]).url == shop.url + "catalog/3"
    with pytest.raises(SelectorError, match=r"li\.product a::nope"):
        response.css("li.product a::nope")


class BadSelector(Spider):
    def parse(self, response: Response):
        yield {"x": response.css("a[[").get()}


def test_every_callback_failing_ends_the_run_with_exit_1_naming_the_error(shop, tmp_path: Path) -> None:
    # 200 pages 0.02 s apart: 4 s if nothing stopped the run; five failures stop it well before
    (tmp_path / "seeds.txt").write_text("".join(f"{shop.url}product/{n}\n" for n in range(1, 201)))
    proc = run_cli("--spider", f"{HERE}:BadSelector", "--seeds", str(tmp_path / "seeds.txt"),
                   "-o", str(tmp_path / "o.jsonl"), "--max-callback-errors", "5", "--delay", "0.02")
    assert proc.returncode == 1, proc.stderr
    assert "SelectorError" in proc.stderr and "tests/spider/test_scrapy_habits.py:" in proc.stderr
    assert "a[[" in proc.stderr
    assert len([h for h in shop.hits if h.path.startswith("/product/")]) < 150  # stopped early


class OnePageKeyError(Spider):
    def parse(self, response: Response):
        yield {"price": {}["price"]}


def test_a_spider_whose_every_callback_raises_exits_1_naming_the_error(shop, tmp_path: Path) -> None:
    # One page, fewer failures than --max-callback-errors: still a failed run, said in one line.
    (tmp_path / "seeds.txt").write_text(shop.url + "product/1\n")
    proc = run_cli("--spider", f"{HERE}:OnePageKeyError", "--seeds", str(tmp_path / "seeds.txt"),
                   "-o", str(tmp_path / "o.jsonl"))
    assert proc.returncode == 1, proc.stderr
    (line,) = [x for x in proc.stderr.splitlines() if "every callback of the spider raised" in x]
    assert "KeyError at tests/spider/test_scrapy_habits.py:" in line


class NoParse(Spider):
    start_urls = ["http://127.0.0.1:1/"]  # noqa: RUF012


class RuleNamesNothing(CrawlSpider):
    start_urls = ["http://127.0.0.1:1/"]  # noqa: RUF012
    rules = (Rule(LinkExtractor(), callback="parse_item"),)


class StartNamesNothing(Spider):
    def start_requests(self):
        yield Request("http://127.0.0.1:1/", callback="parse_item")


@pytest.mark.parametrize(("spider", "said"), [
    ("NoParse", "NoParse has no parse method"),
    ("RuleNamesNothing", "rules[0].callback names 'parse_item', which RuleNamesNothing does not have"),
    ("StartNamesNothing", "callback names 'parse_item', which StartNamesNothing does not have"),
])
def test_a_spider_missing_a_callback_is_a_usage_error_at_start(tmp_path: Path, spider: str, said: str) -> None:
    proc = run_cli("--spider", f"{HERE}:{spider}", "-o", str(tmp_path / "o.jsonl"))
    assert proc.returncode == 2, proc.stderr
    assert said in proc.stderr and len(proc.stderr.splitlines()) == 1, proc.stderr


# --- rules and items --------------------------------------------------------------------------

def test_the_rules_example_follows_the_catalogue_and_parses_products_only(shop, tmp_path: Path) -> None:
    from examples.rules import Catalogue

    spider = Catalogue()
    spider.start_urls = [shop.url + "catalog/1"]
    out = tmp_path / "o.jsonl"
    stats = run_spider(spider, output=str(out))
    items = read_jsonl(out)
    assert len(items) == PRODUCTS == stats["items"]
    assert {"url": shop.url + "product/7", "name": "Widget 7", "price": 11.0} in items
    paths = shop.paths()
    assert not [p for p in paths if p.startswith(("/category", "/login", "/account", "/news"))]
    assert all(shop.count(f"/catalog/{n}") == 1 for n in range(1, 6))


class Rules(CrawlSpider):
    rules = (
        Rule(LinkExtractor(allow=r"/catalog/", deny=r"/catalog/[45]$"), follow=True),
        Rule(LinkExtractor(restrict_css="ul", allow=r"/product/"), callback="parse_item", cb_kwargs={"kind": "p"},
             follow=False),
    )

    def parse_start_url(self, response: Response):
        yield {"start": response.url}

    async def parse_item(self, response: Response, kind: str):
        yield {"kind": kind, "rule": response.meta["rule"], "name": response.css("h1::text").get()}


async def test_rules_with_deny_restrict_css_async_callbacks_and_cb_kwargs(shop, tmp_path: Path) -> None:
    spider = Rules()
    spider.start_urls = [shop.url]
    out = tmp_path / "o.jsonl"
    await Crawler(spider, output=str(out)).run()
    items = read_jsonl(out)
    names = {i["name"] for i in items if "name" in i}
    assert names == {f"Widget {n}" for n in range(1, 19)}  # catalogue pages 1-3 (4 and 5 denied)
    assert {"start": shop.url} in items and all(i["kind"] == "p" and i["rule"] == 1 for i in items if "name" in i)
    assert shop.count("/catalog/4") == 0


@dataclasses.dataclass
class DataItem:
    name: str


@attrs.define
class AttrsItem:
    name: str


class PydanticItem(pydantic.BaseModel):
    name: str


class Cheap:
    def process_item(self, item: Any, spider: Spider) -> Any:
        assert not isinstance(item, dict) or "kind" in item  # the item itself, not a dict of it
        if getattr(item, "name", "").endswith("3"):
            raise DropItem("too cheap")
        return item


class Kinds(Spider):
    pipelines = [Cheap()]  # noqa: RUF012

    def parse(self, response: Response):
        name = response.css("h1::text").get()
        yield DataItem(name)
        yield AttrsItem(name)
        yield PydanticItem(name=name)
        yield {"kind": "dict", "name": name}


async def test_items_of_every_kind_and_drops_counted_by_reason(shop, tmp_path: Path) -> None:
    spider = Kinds()
    spider.start_urls = [shop.url + "product/3", shop.url + "product/4"]
    out = tmp_path / "o.jsonl"
    stats = await Crawler(spider, output=str(out)).run()
    assert sorted(json.dumps(i, sort_keys=True) for i in read_jsonl(out)) == sorted(
        [json.dumps({"name": "Widget 4"})] * 3 + [json.dumps({"kind": "dict", "name": "Widget 4"}, sort_keys=True),
                                                  json.dumps({"kind": "dict", "name": "Widget 3"}, sort_keys=True)])
    assert stats["dropped"] == 3 and stats["dropped_by_reason"] == {"too cheap": 3}


# --- the tools --------------------------------------------------------------------------------

@pytest.mark.slow
def test_fetch_prints_the_body_or_the_headers(shop) -> None:
    proc = run_cli("fetch", shop.url + "product/2")
    assert proc.returncode == 0, proc.stderr
    assert '<h1 class="name">Widget 2</h1>' in proc.stdout
    proc = run_cli("fetch", "--headers", shop.url + "product/2", "-H", "X-Test: yes")
    assert proc.stdout.splitlines()[0] == f"200 {shop.url}product/2"
    assert "Content-Type: text/html; charset=utf-8" in proc.stdout
    assert [h.headers.get("X-Test") for h in shop.hits if h.path == "/product/2"] == [None, "yes"]
    assert shop.count("/robots.txt") == 2  # as a crawl: robots.txt first
    proc = run_cli("fetch", shop.url + "product/999")
    assert proc.returncode == 1 and "http (status 404)" in proc.stderr


@pytest.mark.slow
def test_shell_c_prints_an_expression_and_the_console_reads_stdin(shop) -> None:
    proc = run_cli("shell", shop.url + "catalog/1", "-c", 'response.css("li.product a::attr(href)").getall()[:2]')
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "['/product/1', '/product/2']"
    proc = run_cli("shell", "-c", f'fetch("{shop.url}product/5").css("p.price::text").get()')
    assert proc.stdout.strip() == "$8.00"
    proc = run_cli("shell", shop.url, input='print("status", response.status, response.css("h1::text").get())\n')
    assert proc.returncode == 0 and "status 200 Demo shop" in proc.stdout


def test_shell_fetches_share_one_cookie_jar_so_a_login_holds(shop) -> None:
    # The login page sets a session cookie, the form's POST logs that session in, /account needs it.
    session = ('[fetch(response.form(formid="login", formdata={"username": "demo", "password": "demo"})), '
               f'fetch("{shop.url}account").css("a.order::text").getall()][1]')
    proc = run_cli("shell", shop.url + "login", "-c", session)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str([f"Order {n}" for n in range(1, ORDERS + 1)])


@pytest.mark.slow
def test_parse_prints_what_one_callback_makes(shop) -> None:
    proc = run_cli("parse", shop.url + "catalog/5", "--spider", "examples.products:Products")
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert lines == [{"request": {"url": f"{shop.url}product/{n}", "callback": "parse_product"}} for n in range(25, 31)]
    proc = run_cli("parse", shop.url + "product/2", "--spider", "examples.rules:Catalogue", "--callback",
                   "parse_product")
    assert json.loads(proc.stdout) == {"item": {"url": shop.url + "product/2", "name": "Widget 2", "price": 3.5}}
    assert "items 1, requests 0" in proc.stderr


# --- the HTTP cache ---------------------------------------------------------------------------

@pytest.mark.slow
def test_the_http_cache_answers_a_second_run_without_the_server(shop, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    args = ["--spider", "examples.rules:Catalogue", "--seeds", str(tmp_path / "seeds.txt"), "--http-cache", str(cache),
            "--delay", "0.2", "--stats", str(tmp_path / "stats.json")]
    (tmp_path / "seeds.txt").write_text(shop.url + "catalog/1\n")
    first = run_cli(*args, "-o", str(tmp_path / "1.jsonl"))
    assert first.returncode == 0, first.stderr
    hits = len(shop.hits)
    assert hits == 1 + 5 + PRODUCTS  # robots.txt, the catalogue, the products
    second = run_cli(*args, "-o", str(tmp_path / "2.jsonl"))
    assert second.returncode == 0, second.stderr
    assert len(shop.hits) == hits  # nothing reached the server
    assert sorted(map(str, read_jsonl(tmp_path / "2.jsonl"))) == sorted(map(str, read_jsonl(tmp_path / "1.jsonl")))
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["cached"] == 5 + PRODUCTS
    # 35 pages 0.2 s apart take at least 7 s in their host's turn; from the cache they take none.
    assert stats["elapsed_s"] < 5


@pytest.mark.slow
def test_the_http_cache_expires(shop, tmp_path: Path) -> None:
    import os
    import time

    cache = tmp_path / "cache"
    (tmp_path / "seeds.txt").write_text(shop.url + "product/1\n")
    args = ("--seeds", str(tmp_path / "seeds.txt"), "--http-cache", str(cache), "--http-cache-expiry", "60s",
            "-o", str(tmp_path / "o.jsonl"))
    for _ in range(2):
        assert run_cli(*args).returncode == 0
    assert shop.count("/product/1") == 1
    for kept in cache.rglob("*"):
        if kept.is_file():
            os.utime(kept, (time.time() - 120, time.time() - 120))  # stored two minutes ago
    assert run_cli(*args).returncode == 0
    assert shop.count("/product/1") == 2


@pytest.mark.slow
def test_examples_run_as_written_against_the_demo_shop_they_serve() -> None:
    import subprocess

    for name, count in (("rules", PRODUCTS), ("login", ORDERS), ("products", PRODUCTS), ("articles", 3)):
        proc = subprocess.run([sys.executable, "-m", f"examples.{name}"], capture_output=True, text=True, timeout=60,
                              cwd=ROOT)
        assert proc.returncode == 0, (name, proc.stderr)
        assert len(proc.stdout.splitlines()) == count, name


FORMS = """<form id="search" action="/search"><input name="q" value="old"><button>Go</button></form>
<form name="order" action="/order" method="post">
  <input type="hidden" name="csrf" value="t0k">
  <input type="checkbox" name="gift" value="yes" checked><input type="checkbox" name="wrap" value="yes">
  <input type="radio" name="ship" value="slow"><input type="radio" name="ship" value="fast" checked>
  <select name="size"><option value="s">S</option><option value="m" selected>M</option></select>
  <select name="colour"><option value="red">Red</option><option value="blue">Blue</option></select>
  <textarea name="note">hi there</textarea>
  <input type="submit" name="go" value="Buy"><input type="submit" name="go" value="Save">
</form>"""


def test_forms_are_filled_as_a_browser_would(serve) -> None:
    server = serve(shop_app())
    response = Response(server.url + "cart", 200, {}, FORMS.encode(), "utf-8", Request(server.url + "cart"),
                        lambda u: True, 2000)
    search = response.form(formid="search", formdata={"q": "widgets"})
    assert search.method == "GET" and search.url == server.url + "search?q=widgets"
    for order in (response.form(formname="order"), response.form(formnumber=1), response.form(css="select[name=size]")):
        assert order.method == "POST" and order.url == server.url + "order"
        assert order.body == "csrf=t0k&gift=yes&ship=fast&size=m&colour=red&note=hi+there&go=Buy"
        assert order.headers == {"Content-Type": "application/x-www-form-urlencoded"}
    saved = response.form(formname="order", formdata={"note": None, "csrf": "new"}, clickdata={"value": "Save"})
    assert saved.body == "gift=yes&ship=fast&size=m&colour=red&go=Save&csrf=new"  # formdata last, as Scrapy
    assert FormRequest.from_response(response, formnumber=1, dont_click=True).body.endswith("note=hi+there")
    with pytest.raises(ValueError, match="no <form> with id='nope'"):
        response.form(formid="nope")


class Named(Spider):
    name = "named"
    custom_settings = {"user_agent": "named-spider/1"}  # noqa: RUF012


def test_shell_has_the_spider_and_its_settings(shop) -> None:
    proc = run_cli("shell", shop.url + "product/1", "--spider", f"{HERE}:Named", "-c",
                   "(spider.name, settings.user_agent, request.url)")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"('named', 'named-spider/1', '{shop.url}product/1')"
    assert [h.headers["User-Agent"] for h in shop.hits if h.path == "/product/1"] == ["named-spider/1"]
