"""--parse-isolation process: a parser that crashes or hangs costs one page, not the crawl."""

from __future__ import annotations

import pytest
from aiohttp import web

from crawler.parse import processes as isolation
from tests.support.sites import html


def site() -> web.Application:
    async def root(request: web.Request) -> web.Response:
        links = "".join(f'<a href="/good/{i}">x</a>' for i in range(10))
        return html(links + '<a href="/crash">x</a><a href="/hang">x</a>', title="home")

    async def good(request: web.Request) -> web.Response:
        return html('<a href="/">home</a>', title=f"good {request.match_info['n']}")

    async def crash(request: web.Request) -> web.Response:
        return html("CRASH-THE-PARSER", title="crash")

    async def hang(request: web.Request) -> web.Response:
        return html("HANG-THE-PARSER", title="hang")

    app = web.Application()
    app.router.add_get("/", root)
    app.router.add_get("/good/{n}", good)
    app.router.add_get("/crash", crash)
    app.router.add_get("/hang", hang)
    return app


@pytest.fixture
def crashing_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(isolation, "PARSER", "tests.support.parsers:crash_or_hang")


@pytest.mark.slow
async def test_a_parser_that_crashes_or_hangs_costs_one_page_each(serve, crawl, crashing_parser) -> None:
    server = serve(site())
    result = await crawl([server.url], parse_isolation="process", parse_timeout=2, per_host=4, robots=False)
    records = result.by_url()
    assert len(records) == 13  # every accepted URL has its record
    assert records[server.url + "crash"]["error"] == "content"
    assert records[server.url + "hang"]["error"] == "content"
    goods = [records[server.url + f"good/{i}"] for i in range(10)]
    assert all(r["error"] is None and r["title"] == f"good {i}" and r["links"] == 1 for i, r in enumerate(goods))
    home = records[server.url]
    assert home["title"] == "home" and home["links"] == 12  # parsed in a worker, links checked here


@pytest.mark.slow
async def test_pages_parse_the_same_in_processes_as_in_threads(site, crawl) -> None:
    server = site(120)
    threads = await crawl([server.url], per_host=8)
    processes = await crawl([server.url], per_host=8, parse_isolation="process")

    def facts(records: list[dict]) -> list[tuple]:  # depth left out: which link is found first varies
        return sorted((r["url"], r["status"], r["error"], r["title"], r["links"], r["bytes"]) for r in records)

    assert facts(processes.records) == facts(threads.records) and len(threads.records) >= 120
