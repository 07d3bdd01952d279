"""The calls for programs and agents on ``crawler serve`` (``/v1/scrape``, ``/v1/crawl``,
``/v1/map``, ``/mcp``): the service's app served on 127.0.0.1 in the test's loop, the sites it
crawls on real servers of their own, every request counted at those servers."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from crawler import load_settings
from crawler.cli.demoshop import shop_app
from crawler.service.api import make_app
from crawler.service.callerror import CallError
from crawler.service.calls import Bounds
from crawler.service.ondemand import Calls
from crawler.service.runs import Runs
from tests.conftest import Server, async_wait_for

TOKEN = "a-token-of-the-test-0123456789"


class Service:
    """The service's app on a free port of 127.0.0.1, and calls to it."""

    def __init__(self, url: str, calls: Calls, token: str | None) -> None:
        self.url = url
        self.calls = calls
        self.token = token

    async def call(self, method: str, path: str, body: Any = None, token: str | None = None,
                   raw: bytes | None = None) -> tuple[int, Any, Any]:
        headers = {"Authorization": f"Bearer {token or self.token}"} if (token or self.token) else {}
        async with aiohttp.ClientSession() as session, session.request(
                method, self.url + path, json=body if raw is None else None, data=raw, headers=headers) as response:
            return response.status, await response.json(content_type=None), response.headers


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    started: list[tuple[web.AppRunner, Calls, Runs]] = []

    async def start(token: str | None = None, private_hosts: tuple[str, ...] = ("127.0.0.1",),
                    settings: dict[str, Any] | None = None, allow_private: bool = False, **bounds: Any) -> Service:
        data = tmp_path / f"data{len(started)}"
        (data / "runs").mkdir(parents=True)
        calls = Calls(load_settings(settings or {}), Bounds(**bounds), data, private_hosts=private_hosts,
                      allow_private=allow_private)
        runs = Runs({}, data, 1, data)
        await runs.start()
        await calls.open()
        runner = web.AppRunner(make_app(runs, [token] if token else None, calls))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        started.append((runner, calls, runs))
        port = runner.addresses[0][1]
        return Service(f"http://127.0.0.1:{port}", calls, token)

    yield start
    for runner, calls, runs in started:
        await runner.cleanup()
        await calls.close()
        await runs.stop()


async def crawl_ended(client: Any, crawl_id: str, timeout: float = 60) -> dict[str, Any]:
    """What the MCP tool ``crawl_status`` says of the crawl once it is no longer under way."""
    deadline = time.monotonic() + timeout
    while (status := (await client.call_tool("crawl_status", {"id": crawl_id})).structured_content)[
            "status"] == "scraping":
        assert time.monotonic() < deadline, "the crawl did not end"
        await asyncio.sleep(0.1)
    return status  # type: ignore[no-any-return]


def pages_app(pages: dict[str, str], robots: str = "User-agent: *\nAllow: /\n", wait: float = 0.0) -> web.Application:
    async def page(request: web.Request) -> web.StreamResponse:
        if request.path == "/robots.txt":
            return web.Response(text=robots)
        if request.path not in pages:
            raise web.HTTPNotFound()
        if wait:
            await asyncio.sleep(wait)
        return web.Response(text=pages[request.path], content_type="text/html")

    app = web.Application()
    app.router.add_get("/{tail:.*}", page)
    return app


ARTICLE = ("<html lang='en'><head><title>A story</title><meta name='description' content='What happened'>"
           "<script>var secret = 1;</script></head><body><nav><a href='/'>Home</a></nav><article><h1>A story</h1>"
           + "<p>It was a long day at the harbour, and the boats came in late with their catch.</p>" * 8
           + "<p><a href='/other'>Another story</a></p></article></body></html>")


async def test_scrape_answers_in_firecrawls_shape_and_firecrawls_client_reads_it(service, serve) -> None:
    site: Server = serve(pages_app({"/story": ARTICLE}))
    svc = await service()
    status, answer, _ = await svc.call("POST", "/v1/scrape", {
        "url": site.url + "story", "formats": ["markdown", "html", "rawHtml", "links", "metadata"]})
    assert status == 200 and answer["success"] is True
    data = answer["data"]
    assert set(data) == {"markdown", "html", "rawHtml", "links", "metadata"}
    assert "It was a long day at the harbour" in data["markdown"] and "Home" not in data["markdown"]
    assert "<script" not in data["html"] and "harbour" in data["html"]
    assert "var secret" in data["rawHtml"]
    assert data["links"] == [site.url, site.url + "other"]
    meta = data["metadata"]
    assert (meta["title"], meta["description"], meta["language"], meta["statusCode"]) == (
        "A story", "What happened", "en", 200)
    assert meta["sourceURL"] == meta["url"] == site.url + "story"
    # Firecrawl's own client, pointed at the service by its base URL, parses the answer.
    from firecrawl.v1.client import V1FirecrawlApp

    app = V1FirecrawlApp(api_key="unused-on-loopback", api_url=svc.url)
    got = await asyncio.to_thread(app.scrape_url, site.url + "story", formats=["markdown", "links"],
                                  only_main_content=False)
    assert got.success and "Home" in got.markdown and "harbour" in got.markdown
    assert got.metadata["statusCode"] == 200 and got.links == data["links"]


async def test_bad_requests_are_refused_with_one_line_naming_the_fault(service, serve) -> None:
    site: Server = serve(pages_app({"/": "<title>x</title>"}))
    svc = await service()
    cases = [
        ({"formats": ["markdown"]}, 400, "bad_request: url is required: an http(s) URL"),
        ({"url": "ftp://example.org/"}, 400, "bad_request: url: 'ftp://example.org/' is not an http(s) URL"),
        ({"url": site.url, "formats": ["json"]}, 400, "bad_request: format json: extraction by a language model"),
        ({"url": site.url, "formats": ["pdf"]}, 400, "bad_request: unknown format 'pdf'"),
        ({"url": site.url, "colour": "red"}, 400, "bad_request: scrape: unknown key 'colour'"),
        ({"url": site.url, "actions": [{"type": "click"}]}, 400, "bad_request: actions: page actions"),
        ({"url": site.url, "render": "sometimes"}, 400, "bad_request: render must be one of never, auto, always"),
        ({"url": site.url, "headers": {"X-A": "1\r\nX-B: 2"}}, 400, "bad_request: headers: 'X-A' is not"),
        ({"url": site.url, "timeout": -5}, 400, "bad_request: timeout must be a positive number"),
    ]
    for body, code, start in cases:
        status, answer, _ = await svc.call("POST", "/v1/scrape", body)
        assert (status, answer["success"]) == (code, False) and answer["error"].startswith(start), (body, answer)
    status, answer, _ = await svc.call("POST", "/v1/scrape", raw=b"{not json")
    assert (status, answer) == (400, {"success": False, "error": "bad_request: the request body is not JSON"})
    status, answer, _ = await svc.call("POST", "/v1/crawl", {"url": site.url, "includePaths": ["(unclosed"]})
    assert status == 400 and answer["error"].startswith("bad_request: pattern '(unclosed' is refused: missing )")
    status, answer, _ = await svc.call("POST", "/v1/crawl", {"url": site.url, "webhook": "http://10.0.0.1/"})
    assert status == 400 and answer["error"].startswith("bad_request: webhook: the service calls no address")
    assert site.hits == []  # nothing refused was fetched


async def test_ssrf_guard_refuses_private_targets_and_nothing_reaches_them(service, serve) -> None:
    private: Server = serve(pages_app({"/": "<title>inside</title>"}), host="127.0.0.2")
    hop = web.Application()

    async def away(request: web.Request) -> web.Response:
        if request.path == "/robots.txt":
            return web.Response(text="")
        raise web.HTTPFound(private.url)

    hop.router.add_get("/{tail:.*}", away)
    front: Server = serve(hop)
    svc = await service()  # 127.0.0.1 is the one private host it may fetch (the test's sites)
    port = private.port
    for url in (private.url, f"http://localhost:{port}/", f"http://[::ffff:127.0.0.2]:{port}/",
                f"http://2130706434:{port}/"):
        status, answer, _ = await svc.call("POST", "/v1/scrape", {"url": url})
        assert status == 403 and answer["error"].startswith("blocked_address: "), (url, answer)
        assert "--allow-private" in answer["error"]
    status, answer, _ = await svc.call("POST", "/v1/scrape", {"url": front.url + "go"})
    assert status == 403 and answer["error"].startswith("redirect_blocked: "), answer
    for path, body in (("/v1/crawl", {"url": private.url}), ("/v1/map", {"url": f"http://localhost:{port}/"})):
        status, answer, _ = await svc.call("POST", path, body)
        assert status == 403 and answer["error"].startswith("blocked_address: ")
    assert front.count("/go") == 1
    assert private.hits == []  # no request reached the private address, by any road
    everywhere = await service(private_hosts=(), allow_private=True)  # crawler serve --allow-private
    status, answer, _ = await everywhere.call("POST", "/v1/scrape", {"url": front.url + "go", "formats": ["metadata"]})
    assert status == 200 and answer["data"]["metadata"]["title"] == "inside"  # the redirect followed
    assert private.count("/") == 1


async def test_the_guard_decides_each_address_kind_without_sending_anything(service) -> None:
    svc = await service(private_hosts=())
    for url in ("http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://192.168.1.1/",
                "http://[fd00::1]/", "http://[fe80::1]/", "http://[::ffff:10.0.0.1]/", "http://[::ffff:169.254.169.254]/",
                "http://0x7f.1/", "http://100.64.0.1/", "http://127.0.0.1/"):
        with pytest.raises(CallError) as refused:
            await svc.calls.desk.check_url(url)
        assert str(refused.value).startswith("blocked_address: "), url
    assert await svc.calls.desk.check_url("http://93.184.215.14/a") == "http://93.184.215.14/a"  # public: let through
    loose = await service(private_hosts=(), allow_private=True)
    assert await loose.calls.desk.check_url("http://10.0.0.1/") == "http://10.0.0.1/"


@pytest.mark.slow
async def test_concurrent_calls_to_one_host_share_its_politeness_and_robots(service, serve) -> None:
    pages = {f"/p{i}": f"<title>P{i}</title><p>page {i}</p>" for i in range(10)}
    site: Server = serve(pages_app(pages, robots="User-agent: *\nDisallow: /secret\n", wait=0.05))
    svc = await service(settings={"per_host": 2, "delay": 0.2})
    calls = [svc.call("POST", "/v1/scrape", {"url": f"{site.url}p{i}", "formats": ["metadata"]}) for i in range(10)]
    calls.append(svc.call("POST", "/v1/scrape", {"url": site.url + "secret"}))
    answers = await asyncio.gather(*calls)
    assert [a[1]["data"]["metadata"]["title"] for a in answers[:10]] == [f"P{i}" for i in range(10)]
    assert answers[10][0] == 403 and answers[10][1]["error"].startswith("robots: robots.txt disallows")
    assert site.count("/robots.txt") == 1  # one fetch for the ten calls
    assert site.count("/secret") == 0
    assert site.host_max_in_flight[site.url.split("/")[2]] <= 2  # per_host held across the calls
    starts = sorted(h.start for h in site.hits if h.path != "/robots.txt")
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= 0.15, gaps  # starts spaced by the delay (less a scheduling hair)


async def test_each_call_is_bounded_and_says_which_bound(service, serve) -> None:
    big = "<title>big</title>" + "<p>" + "x" * 50_000 + "</p>"
    site: Server = serve(pages_app({"/big": big, "/slow": "<title>slow</title>", "/": "<title>home</title>"}))
    slow = web.Application()

    async def crawling(request: web.Request) -> web.Response:
        if request.path == "/robots.txt":
            return web.Response(text="")
        await asyncio.sleep(5)
        return web.Response(text="late", content_type="text/html")

    slow.router.add_get("/{tail:.*}", crawling)
    late: Server = serve(slow)
    svc = await service(max_bytes=10_000, max_pages=20, rate=6)
    status, answer, _ = await svc.call("POST", "/v1/scrape", {"url": site.url + "big"})
    assert status == 502 and answer["error"].startswith("too_large: "), answer
    began = time.monotonic()
    status, answer, _ = await svc.call("POST", "/v1/scrape", {"url": late.url + "x", "timeout": 500})
    assert status == 408 and answer["error"].startswith("call_timeout: not done in 0.5 s"), answer
    assert time.monotonic() - began < 4
    status, answer, _ = await svc.call("POST", "/v1/crawl", {"url": site.url, "limit": 21})
    assert status == 413 and answer["error"].startswith("limit: limit 21: a crawl here fetches at most 20 pages")
    # Six calls a minute: the three above, three more, then refused (each token counts its own).
    for _ in range(3):
        assert (await svc.call("POST", "/v1/map", {"url": "not a url"}))[0] == 400
    status, answer, headers = await svc.call("POST", "/v1/scrape", {"url": site.url})
    assert status == 429 and answer["error"].startswith("rate_limited: more than 6 calls a minute")
    assert int(headers["Retry-After"]) >= 1


async def test_tokens_are_required_and_each_has_its_own_rate(service, serve) -> None:
    site: Server = serve(pages_app({"/": "<title>home</title>"}))
    svc = await service(token=TOKEN, rate=1)
    status, answer, _ = await svc.call("POST", "/v1/scrape", {"url": site.url}, token="wrong-token-0123456789")
    assert status == 401 and answer == {"success": False, "error": "unauthorized: give the service's token "
                                                                   "(Authorization: Bearer TOKEN)"}
    status, answer, _ = await svc.call("POST", "/mcp", {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                                       token="wrong-token-0123456789")
    assert status == 401
    assert (await svc.call("POST", "/v1/scrape", {"url": site.url}))[0] == 200
    assert (await svc.call("POST", "/v1/scrape", {"url": site.url}))[0] == 429


@pytest.mark.slow  # crawls of a few seconds
async def test_a_crawl_runs_pages_are_read_page_by_page_and_it_can_be_cancelled(service, serve, monkeypatch) -> None:
    from crawler.service import apicrawls

    shop: Server = serve(shop_app())
    svc = await service()
    status, answer, _ = await svc.call("POST", "/v1/crawl", {
        "url": shop.url, "limit": 6, "includePaths": ["^/product/", "^/catalog/"]})
    assert status == 200 and answer["success"] and answer["url"] == f"{svc.url}/v1/crawl/{answer['id']}"
    crawl_id = answer["id"]

    async def ended() -> dict[str, Any] | None:
        found = (await svc.call("GET", f"/v1/crawl/{crawl_id}"))[1]
        return found if found["status"] != "scraping" else None

    deadline = time.monotonic() + 60
    while (done := await ended()) is None:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    assert (done["status"], done["completed"], done["total"]) == ("completed", 6, 6)
    urls = [d["metadata"]["sourceURL"] for d in done["data"]]
    assert urls[0] == shop.url and len(set(urls)) == 6
    assert all("/product/" in u or "/catalog/" in u for u in urls[1:])
    assert all(d["markdown"] and d["metadata"]["statusCode"] == 200 for d in done["data"])
    from firecrawl.v1.client import V1CrawlStatusResponse

    V1CrawlStatusResponse(**done)  # the shape Firecrawl's client parses
    monkeypatch.setattr(apicrawls, "PAGE_DOCS", 4)
    first = (await svc.call("GET", f"/v1/crawl/{crawl_id}"))[1]
    assert len(first["data"]) == 4 and first["next"] == f"{svc.url}/v1/crawl/{crawl_id}?skip=4"
    rest = (await svc.call("GET", f"/v1/crawl/{crawl_id}?skip=4"))[1]
    assert [d["metadata"]["sourceURL"] for d in first["data"] + rest["data"]] == urls and "next" not in rest
    assert (await svc.call("DELETE", f"/v1/crawl/{crawl_id}"))[0] == 409  # it has ended
    assert (await svc.call("GET", "/v1/crawl/no-such-crawl"))[0] == 404
    # A crawl of a slow site, cancelled while it runs.
    slow: Server = serve(pages_app({f"/{i}": "".join(f"<a href='/{j}'>{j}</a>" for j in range(30))
                                    for i in range(30)}, wait=0.3))
    status, answer, _ = await svc.call("POST", "/v1/crawl", {"url": slow.url + "0", "limit": 30,
                                                             "allowBackwardLinks": True})
    await async_wait_for(lambda: len(slow.hits) >= 3, timeout=30)
    status, cancelled, _ = await svc.call("DELETE", f"/v1/crawl/{answer['id']}")
    assert (status, cancelled) == (200, {"success": True, "status": "cancelled"})
    found = (await svc.call("GET", f"/v1/crawl/{answer['id']}"))[1]
    assert found["status"] == "cancelled" and found["completed"] < 30


async def test_map_lists_a_sites_urls_from_its_sitemap_and_links_without_fetching_them(service, serve) -> None:
    shop: Server = serve(shop_app())
    svc = await service()
    status, answer, _ = await svc.call("POST", "/v1/map", {"url": shop.url})
    assert status == 200 and answer["success"]
    links = answer["links"]
    assert {shop.url + f"news/{i}" for i in (1, 2, 3)} <= set(links)  # from /sitemap.xml
    assert shop.url + "product/1" in links and shop.url + "catalog/1" in links  # from the page
    assert len(links) == len(set(links))
    # Its sitemap lists 3 URLs, too few: the site's links were followed too, each page once.
    sources = answer["sources"]
    assert sources["sitemap"] >= 1 and sources["page"] >= 1 and sources["pages_fetched"] >= 1, sources
    assert 1 + sources["page"] + sources["sitemap"] + sources["links"] == len(links)
    assert all(shop.count(path) == 1 for path in set(shop.paths())), shop.paths()
    status, answer, _ = await svc.call("POST", "/v1/map", {"url": shop.url, "search": "NEWS", "limit": 2})
    assert answer["links"] == [shop.url + "news/1", shop.url + "news/2"]
    from firecrawl.v1.client import V1MapResponse

    V1MapResponse(**answer)


async def test_mcp_over_http_lists_tools_and_calls_scrape_crawl_and_crawl_status(service, serve) -> None:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    shop: Server = serve(shop_app())
    svc = await service(token=TOKEN, max_chars=300)
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"})
    async with http, Client(streamable_http_client(svc.url + "/mcp", http_client=http)) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert set(tools) == {"scrape", "crawl", "crawl_status", "map", "extract"}
        assert tools["scrape"].input_schema["required"] == ["url"]
        page = (await client.call_tool("scrape", {"url": shop.url + "product/2"})).structured_content
        assert page["title"] == "Widget 2" and "A fine widget, number 2." in page["markdown"]
        started = (await client.call_tool("crawl", {"url": shop.url, "limit": 4})).structured_content
        status = await crawl_ended(client, started["id"])
        assert (status["status"], status["completed"]) == ("completed", 4)
        pages = list(status["pages"])
        while "next_offset" in status:  # a small budget: the pages come a few at a time
            status = (await client.call_tool("crawl_status", {"id": started["id"], "offset": status["next_offset"]}
                                             )).structured_content
            pages += status["pages"]
        assert len({p["url"] for p in pages}) == 4
        refused = await client.call_tool("scrape", {"url": "http://10.0.0.1/"})
        assert refused.is_error and "blocked_address" in refused.content[0].text
        mapped = (await client.call_tool("map", {"url": shop.url})).structured_content
        assert "truncated" in mapped and sum(len(u) for u in mapped["urls"]) <= 300
        urls = list(mapped["urls"])
        while "truncated" in mapped:
            mapped = (await client.call_tool("map", {"url": shop.url, "offset": mapped["truncated"]["next_offset"]}
                                             )).structured_content
            urls += mapped["urls"]
        assert len(urls) == len(set(urls)) == mapped["count"] > 11  # its sitemap's, its page's, and its links walked
        assert mapped["sources"]["pages_fetched"] > 0
        found = (await client.call_tool("extract", {"url": shop.url + "news/1"})).structured_content
        assert found["author"] == "Ann 1" and found["published"] == "2026-11-01T08:00:00Z"


async def test_long_markdown_is_cut_for_a_models_context_and_read_on_from_the_page_kept(service, serve) -> None:
    from mcp import Client

    long_page = "<html lang='en'><title>Long</title><article>" + "".join(
        f"<p>Paragraph {i} of the long page tells its part of the story at some length.</p>" for i in range(300)
    ) + "</article></html>"
    site: Server = serve(pages_app({"/long": long_page}))
    svc = await service(max_chars=2000)
    from crawler.service.mcptools import build

    async with Client(build(svc.calls.desk, svc.calls.crawls)) as client:
        first = (await client.call_tool("scrape", {"url": site.url + "long"})).structured_content
        assert len(first["markdown"]) == 2000 and first["truncated"]["next_offset"] == 2000
        assert "offset=2000" in first["truncated"]["note"]
        total = first["truncated"]["total_chars"]
        text, offset = first["markdown"], 2000
        while offset:
            more = (await client.call_tool("scrape", {"url": site.url + "long", "offset": offset})).structured_content
            text += more["markdown"]
            offset = more.get("truncated", {}).get("next_offset", 0)
    assert len(text) == total and "Paragraph 299" in text
    assert site.count("/long") == 1  # reading on is answered from the page fetched already


def test_firecrawls_path_patterns_match_a_urls_path_not_its_host() -> None:
    from crawler.service.firecrawl import path_regex

    assert re.search(path_regex("^/blog/", False), "https://a.org/blog/1")
    assert not re.search(path_regex("^/blog/", False), "https://a.org/x/blog/1")
    assert re.search(path_regex("blog/.*", False), "https://a.org/x/blog/1")
    assert not re.search(path_regex("blog/.*", False), "https://blog.org/x")
    assert path_regex("^https://a\\.org/", True) == "^https://a\\.org/"


@pytest.mark.slow  # crawls of a few seconds
async def test_the_python_client_scrapes_crawls_and_maps_sync_and_async(service, serve) -> None:
    from crawler.client import Client, ServiceError

    shop: Server = serve(shop_app())
    svc = await service(token=TOKEN)
    client = Client(svc.url, token=TOKEN)
    assert TOKEN not in repr(client)
    page = await client.ascrape(shop.url + "product/3", ["markdown", "links"])
    assert page["metadata"]["title"] == "Widget 3" and shop.url + "category/books" in page["links"]
    docs = await client.acrawl(shop.url, limit=5, wait=60)
    assert len(docs) == 5 and docs[0]["metadata"]["sourceURL"] == shop.url
    urls = await client.amap(shop.url, search="news")
    assert urls == [shop.url + f"news/{i}" for i in (1, 2, 3)]
    # The sync methods, from a thread (as a program without an event loop calls them).
    page = await asyncio.to_thread(client.scrape, shop.url + "product/4")
    assert "number 4" in page["markdown"]
    assert len(await asyncio.to_thread(client.crawl, shop.url, 3)) == 3
    with pytest.raises(ServiceError) as refused:
        await client.ascrape("http://10.0.0.1/")
    assert (refused.value.status, refused.value.name) == (403, "blocked_address")
    with pytest.raises(ServiceError) as wrong:
        await Client(svc.url, token="not-the-token-0123456789").amap(shop.url)
    assert (wrong.value.status, wrong.value.name) == (401, "unauthorized")


async def test_the_docs_curl_examples_work_against_the_service(service, serve) -> None:
    """The ``sh`` blocks of docs/agents.md that call curl, run as written, with the docs' site
    and service addresses swapped for the test's."""
    shop: Server = serve(shop_app())
    svc = await service()
    text = (Path(__file__).resolve().parents[2] / "docs" / "agents.md").read_text()
    commands = [block for block in re.findall(r"```sh\n(.*?)```", text, re.S) if "curl" in block]
    assert len(commands) == 3
    crawl_id = None
    for block in commands:
        block = block.replace("http://127.0.0.1:8700", svc.url).replace("https://example.org/", shop.url)
        block = block.replace('"^/docs/"', '"^/product/"').replace(shop.url + "docs/", shop.url)
        block = block.replace('"search": "blog"', '"search": "news"')
        lines = [line for line in block.replace("\\\n", " ").splitlines() if line and not line.startswith("#")]
        for line in lines:
            if crawl_id is not None:
                line = line.replace("9b1c...", crawl_id)
            process = await asyncio.create_subprocess_shell(line, stdout=asyncio.subprocess.PIPE)
            out, _ = await process.communicate()
            answer = json.loads(out)
            assert process.returncode == 0 and answer["success"] is True, (line, answer)
            crawl_id = answer.get("id", crawl_id)
            if "links" in answer and "data" not in answer:
                assert answer["links"] == [shop.url + f"news/{i}" for i in (1, 2, 3)]
    assert crawl_id is not None
