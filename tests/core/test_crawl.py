"""The pipeline end to end, in-process, against real servers on 127.0.0.1."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest
from aiohttp import web

from crawler.cli.testsite import page_path
from tests.support.sites import app_of, html, slow_app


async def test_500_page_site_found_completely_each_page_once(site, crawl) -> None:
    server = site(500, size=6000)
    result = await crawl([server.url], per_host=8, inline_parse_bytes=4096)  # parsed in the thread pool
    urls = [r["url"] for r in result.records]
    assert len(urls) == len(set(urls)) == 500
    assert set(urls) == {server.url.rstrip("/") + page_path(i) for i in range(500)}
    assert all(r["status"] == 200 and r["error"] is None for r in result.records)
    assert Counter(server.paths()) == Counter({page_path(i): 1 for i in range(500)} | {"/robots.txt": 1})
    assert result.stats.pages == result.stats.ok == 500


async def test_link_spellings_of_one_page_give_one_record(serve, crawl) -> None:
    async def start(request: web.Request) -> web.Response:
        port = request.url.port
        spellings = [
            "target", "./target", "../dir/target", "/dir/target", "/dir/./x/../target",
            f"http://localhost:{port}/dir/target", f"HTTP://LOCALHOST:{port}/dir/target",
            f"http://LocalHost:{port}/dir/target#section", "target#top", "/dir/%74arget",
            f"//localhost:{port}/dir/target", f"http://localhost:{port}/dir/../dir/target#",
        ]
        return html("".join(f'<a href="{h}">x</a>' for h in spellings))

    server = serve(app_of({"/dir/start": start, "/dir/target": "the target"}))
    base = f"http://localhost:{server.port}/dir/"
    result = await crawl([base + "start"])
    assert sorted(r["url"] for r in result.records) == [base + "start", base + "target"]
    assert result.by_url()[base + "start"]["links"] == 1
    assert server.count("/dir/target") == 1


async def test_out_of_scope_links_are_never_resolved_or_fetched(serve, crawl, monkeypatch) -> None:
    import aiohttp

    resolved: list[str] = []
    real_resolve = aiohttp.AsyncResolver.resolve

    async def spy(self, host, *args, **kwargs):
        resolved.append(host)
        return await real_resolve(self, host, *args, **kwargs)

    monkeypatch.setattr(aiohttp.AsyncResolver, "resolve", spy)

    async def start(request: web.Request) -> web.Response:
        port = request.url.port
        return html(f'<a href="/in">in</a><a href="http://elsewhere.invalid/x">out</a>'
                    f'<a href="http://127.0.0.1:{port}/in">same server, other host</a>')

    server = serve(app_of({"/": start, "/in": "inside"}))
    seed = f"http://localhost:{server.port}/"
    result = await crawl([seed])
    assert sorted(r["url"] for r in result.records) == [seed, seed + "in"]
    assert result.by_url()[seed]["links"] == 1
    assert {hit.host.split(":")[0] for hit in server.hits} == {"localhost"}
    assert set(resolved) == {"localhost"}


async def test_exclude_and_include_filters(serve, crawl) -> None:
    server = serve(app_of({
        "/": '<a href="/blog/1">b1</a><a href="/blog/2?print=1">b2</a><a href="/shop">s</a>',
        "/blog/1": "b", "/blog/2": "b", "/shop": "s",
    }))
    result = await crawl([server.url], include=["/blog/"], exclude=[r"print=1"])
    assert sorted(r["url"] for r in result.records) == [server.url, server.url + "blog/1"]


async def test_max_depth(site, crawl) -> None:
    server = site(200)
    zero = await crawl([server.url], max_depth=0)
    assert [r["url"] for r in zero.records] == [server.url]
    one = await crawl([server.url], max_depth=1)
    assert {r["depth"] for r in one.records} == {0, 1}
    assert len(one.records) == 11  # the seed and its ten links


async def test_max_pages_caps_records_and_fetches(site, crawl) -> None:
    server = site(200)
    result = await crawl([server.url], max_pages=25, per_host=4)
    assert len(result.records) == 25
    assert len([p for p in server.paths() if p != "/robots.txt"]) == 25


async def test_nofollow_and_base_href(serve, crawl) -> None:
    async def based(request: web.Request) -> web.Response:
        return html('<a href="page">p</a>', head='<base href="/other/">')

    server = serve(app_of({
        "/": '<a href="/a" rel="nofollow">no</a><a href="/b">yes</a><a href="/robots-nofollow">r</a>'
             '<a href="/based">based</a>',
        "/b": "b",
        "/robots-nofollow": '<meta name="robots" content="noindex, nofollow"><a href="/c">c</a>',
        "/based": based,
        "/other/page": "resolved against base",
    }))
    result = await crawl([server.url])
    assert sorted(r["url"] for r in result.records) == sorted(
        server.url + p for p in ["", "b", "robots-nofollow", "based", "other/page"])
    assert server.count("/a") == server.count("/c") == 0


async def test_non_html_recorded_not_parsed(serve, crawl) -> None:
    async def text(request: web.Request) -> web.Response:
        return web.Response(text='<a href="/secret">not a link in plain text</a>', content_type="text/plain")

    async def data(request: web.Request) -> web.Response:
        return web.json_response({"href": "/secret"})

    server = serve(app_of({"/": '<a href="/t.txt">t</a><a href="/d.json">d</a>', "/t.txt": text, "/d.json": data}))
    result = await crawl([server.url])
    records = result.by_url()
    assert records[server.url + "t.txt"]["content_type"] == "text/plain"
    assert records[server.url + "d.json"]["content_type"] == "application/json"
    assert records[server.url + "t.txt"]["links"] == 0 and records[server.url + "t.txt"]["title"] is None
    assert records[server.url + "t.txt"]["bytes"] == len('<a href="/secret">not a link in plain text</a>')
    assert server.count("/secret") == 0




async def test_per_host_limit_reached_and_never_exceeded(serve, crawl) -> None:
    server = serve(slow_app(30, 0.05))
    result = await crawl([server.url], per_host=3)
    assert len(result.records) == 31
    assert server.max_in_flight == 3


@pytest.mark.slow
async def test_delay_spaces_request_starts_to_a_host(serve, crawl) -> None:
    server = serve(slow_app(5, 0.0))
    await crawl([server.url], per_host=4, delay=0.2)
    starts = sorted(hit.start for hit in server.hits)
    assert len(starts) == 7  # robots.txt and 6 pages
    assert min(b - a for a, b in itertools.pairwise(starts)) >= 0.2 - 0.015


@pytest.mark.slow
async def test_slow_host_does_not_hold_up_others(serve, site, crawl) -> None:
    slow = serve(slow_app(6, 0.3))
    fast = site(30)
    result = await crawl([slow.url, fast.url], per_host=1, concurrency=4)
    assert len(result.records) == 7 + 30
    slow_starts = sorted(hit.start for hit in slow.hits)
    fast_last_end = max(hit.end for hit in fast.hits if hit.end is not None)
    assert fast_last_end < slow_starts[2]  # the fast host was done while the slow one had 5 to go


async def test_parser_exception_becomes_that_urls_record(serve, crawl, monkeypatch) -> None:
    import crawler.spider.response

    real = crawler.spider.response.page_of

    def flaky(tree, url, *args):
        if url.endswith("/boom"):
            raise RuntimeError("parser blew up")
        return real(tree, url, *args)

    monkeypatch.setattr(crawler.spider.response, "page_of", flaky)
    server = serve(app_of({"/": '<a href="/boom">b</a><a href="/ok">o</a>', "/boom": "x", "/ok": "y"}))
    result = await crawl([server.url])
    records = result.by_url()
    assert records[server.url + "boom"]["error"] == "content"
    assert records[server.url + "ok"]["error"] is None
    assert result.stats.errors["content"] == 1
