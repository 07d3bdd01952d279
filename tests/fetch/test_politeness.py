"""Politeness measured at real servers: robots.txt, delays, backoff, throttling, sitemaps,
broad crawls over many hosts."""

from __future__ import annotations

import asyncio
import gzip
import itertools
import statistics
from collections import Counter

import pytest
from aiohttp import web

from tests.support.sites import app_of, html

ROBOTS = """User-agent: *
Disallow: /private
Allow: /private/ok
Disallow: /*.pdf$
Disallow: /search?

User-agent: crawler
User-agent: friendlybot
Disallow: /only-for-others
"""


def robots(text: str, status: int = 200):
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=text, status=status, content_type="text/plain")
    return handler


LINKS = ["/private/x", "/private/ok/y", "/doc.pdf", "/doc.pdfx", "/search?q=1", "/searching",
         "/only-for-others", "/open"]


def linked_site(robots_handler, extra: dict | None = None) -> web.Application:
    routes = {"/": "".join(f'<a href="{link}">x</a>' for link in LINKS), "/robots.txt": robots_handler}
    for link in LINKS:
        routes.setdefault(link.split("?")[0], "page")
    return app_of(routes | (extra or {}))


async def test_robots_rules_longest_match_wildcards_and_agent_group(serve, crawl) -> None:
    server = serve(linked_site(robots(ROBOTS)))
    result = await crawl([server.url])
    errors = {r["url"].removeprefix(server.url.rstrip("/")): r["error"] for r in result.records}
    # Our group (User-agent: crawler) applies, not "*": only /only-for-others is disallowed.
    assert errors["/only-for-others"] == "robots"
    assert {path for path, error in errors.items() if error} == {"/only-for-others"}
    assert server.count("/only-for-others") == 0
    assert server.count("/robots.txt") == 1

    before = len(server.hits)
    other = await crawl([server.url], user_agent="otherbot/2.0 (+https://example.org/bot)")
    later = [h.path for h in server.hits[before:]]
    errors = {r["url"].removeprefix(server.url.rstrip("/")): r["error"] for r in other.records}
    assert {path for path, error in errors.items() if error == "robots"} == {
        "/private/x", "/doc.pdf", "/search?q=1"}
    assert errors["/private/ok/y"] is None  # the longer Allow wins
    assert errors["/doc.pdfx"] is None and errors["/searching"] is None
    assert "/private/x" not in later and "/doc.pdf" not in later and "/private/ok/y" in later


async def test_robots_404_allows_everything(serve, crawl) -> None:
    server = serve(linked_site(robots("gone", status=404)))
    result = await crawl([server.url])
    assert all(r["error"] is None for r in result.records)
    assert len(result.records) == 1 + len(LINKS)


async def test_robots_500_disallows_the_host_after_retries(serve, crawl) -> None:
    server = serve(linked_site(robots("oops", status=500)))
    result = await crawl([server.url], retries=2)
    assert [(r["url"], r["error"], r["status"]) for r in result.records] == [(server.url, "robots", None)]
    assert server.count("/robots.txt") == 3
    assert server.paths() == ["/robots.txt"] * 3


async def test_robots_redirect_is_followed(serve, crawl) -> None:
    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently("/real-robots.txt")

    server = serve(linked_site(moved, {"/real-robots.txt": robots("User-agent: *\nDisallow: /open\n")}))
    result = await crawl([server.url])
    errors = {r["url"].removeprefix(server.url.rstrip("/")): r["error"] for r in result.records}
    assert errors["/open"] == "robots" and errors["/private/x"] is None
    assert server.count("/open") == 0


async def test_robots_that_never_answers_blocks_the_host(serve, crawl) -> None:
    async def hang(request: web.Request) -> web.Response:
        await asyncio.sleep(3600)
        raise AssertionError

    server = serve(linked_site(hang))
    result = await crawl([server.url], timeout=0.3, retries=0)
    assert [(r["url"], r["error"]) for r in result.records] == [(server.url, "timeout")]
    assert server.paths() == ["/robots.txt"]


async def test_no_robots_ignores_robots_txt(serve, crawl) -> None:
    server = serve(linked_site(robots("User-agent: *\nDisallow: /\n")))
    result = await crawl([server.url], robots=False)
    assert all(r["error"] is None for r in result.records) and len(result.records) == 1 + len(LINKS)
    assert server.count("/robots.txt") == 0


def starts_of(server, skip_robots: bool = False) -> list[float]:
    return sorted(h.start for h in server.hits if not (skip_robots and h.path == "/robots.txt"))


@pytest.mark.slow
async def test_crawl_delay_spaces_every_request_start(serve, crawl) -> None:
    server = serve(app_of({"/": "".join(f'<a href="/p{i}">x</a>' for i in range(5)),
                           "/robots.txt": robots("User-agent: *\nCrawl-delay: 0.3\n"),
                           **{f"/p{i}": "p" for i in range(5)}}))
    await crawl([server.url], per_host=4)
    starts = starts_of(server)
    assert len(starts) == 7
    assert min(b - a for a, b in itertools.pairwise(starts)) >= 0.3 - 0.015


async def test_crawl_delay_is_capped(serve, crawl) -> None:
    server = serve(app_of({"/": '<a href="/a">a</a>', "/a": "a",
                           "/robots.txt": robots("User-agent: *\nCrawl-delay: 3600\n")}))
    result = await crawl([server.url], max_crawl_delay=0.2)
    assert len(result.records) == 2


@pytest.mark.slow
async def test_host_backs_off_exponentially_and_recovers(serve, crawl) -> None:
    calls = {"n": 0}

    async def failing_then_ok(request: web.Request) -> web.Response:
        calls["n"] += 1
        if calls["n"] <= 3:
            return web.Response(status=503)
        return html("".join(f'<a href="/p{i}">x</a>' for i in range(6)))

    server = serve(app_of({"/": failing_then_ok, **{f"/p{i}": "p" for i in range(6)}}))
    result = await crawl([server.url], retries=3, retry_backoff=0.2, robots=False, per_host=1)
    assert all(r["error"] is None for r in result.records) and len(result.records) == 7
    root = [h.start for h in server.hits if h.path == "/"]
    gaps = [b - a for a, b in itertools.pairwise(root)]
    assert len(gaps) == 3
    assert 0.1 - 0.01 <= gaps[0] and gaps[0] <= gaps[1] <= gaps[2]  # 0.1-0.2, 0.2-0.4, 0.4-0.8
    assert gaps[2] >= 0.4 - 0.01
    pages = sorted(h.start for h in server.hits if h.path != "/")
    assert max(b - a for a, b in itertools.pairwise(pages)) < 0.1  # recovered: no more waiting


@pytest.mark.slow
async def test_autothrottle_moves_delay_towards_latency(serve, crawl) -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(0.1)
        return html("".join(f'<a href="/p{i}">x</a>' for i in range(40)))

    app = app_of({"/": slow})
    app.router.add_get("/p{n}", slow)
    plain = serve(app)
    await crawl([plain.url], per_host=4, robots=False)
    throttled_app = app_of({"/": slow})
    throttled_app.router.add_get("/p{n}", slow)
    throttled = serve(throttled_app)
    await crawl([throttled.url], per_host=4, robots=False, autothrottle=True)
    plain_gap = statistics.mean(b - a for a, b in itertools.pairwise(starts_of(plain)[-20:]))
    throttled_gap = statistics.mean(b - a for a, b in itertools.pairwise(starts_of(throttled)[-20:]))
    assert plain_gap < 0.05  # four at a time, 0.1 s each
    assert throttled_gap >= 0.08  # about one at a time: delay near the 0.1 s latency


@pytest.mark.slow
async def test_retry_after_429_holds_the_host(serve, crawl) -> None:
    calls = {"n": 0}

    async def limited(request: web.Request) -> web.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return web.Response(status=429, headers={"Retry-After": "1"})
        return html('<a href="/a">a</a>')

    server = serve(app_of({"/": limited, "/a": "a"}))
    await crawl([server.url], robots=False)
    first_root, second_root = (h.start for h in server.hits if h.path == "/")
    assert second_root - first_root >= 1.0


async def test_meta_and_header_noindex_nofollow(serve, crawl) -> None:
    async def header(request: web.Request) -> web.Response:
        response = html('<a href="/hidden">h</a>')
        response.headers["X-Robots-Tag"] = "noindex, nofollow"
        return response

    server = serve(app_of({
        "/": '<a href="/meta">m</a><a href="/header">h</a><a href="/other">o</a>',
        "/meta": '<meta name="robots" content="noindex"><a href="/from-meta">x</a>',
        "/header": header, "/hidden": "h", "/from-meta": "x",
        "/other": '<meta name="ROBOTS" content="otherbot: noindex">',
    }))
    records = (await crawl([server.url])).by_url()
    base = server.url.rstrip("/")
    assert records[base + "/meta"]["noindex"] is True
    assert base + "/from-meta" in records  # noindex alone still follows
    assert records[base + "/header"]["noindex"] is True
    assert base + "/hidden" not in records and server.count("/hidden") == 0
    assert records[base + "/other"]["noindex"] is False and records[base + "/"]["noindex"] is False


def urlset(base: str, paths: list[str]) -> bytes:
    entries = "".join(f"<url><loc>{'' if p.startswith('http') else base}{p}</loc>"
                      f"<lastmod>2026-01-0{i % 9 + 1}</lastmod></url>" for i, p in enumerate(paths))
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"{entries}</urlset>").encode()


def sitemap_app() -> web.Application:
    async def index(request: web.Request) -> web.Response:
        base = f"http://{request.host}"
        body = (f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                f"<sitemap><loc>{base}/sm1.xml.gz</loc></sitemap><sitemap><loc>{base}/sm2.xml</loc></sitemap>"
                f"<sitemap><loc>http://elsewhere.invalid/sm.xml</loc></sitemap></sitemapindex>")
        return web.Response(text=body, content_type="application/xml")

    async def gz(request: web.Request) -> web.Response:
        body = urlset(f"http://{request.host}", [f"/a{i}" for i in range(5)] + ["/a0"])
        return web.Response(body=gzip.compress(body), content_type="application/gzip")

    async def plain(request: web.Request) -> web.Response:
        body = urlset(f"http://{request.host}", [f"/b{i}" for i in range(3)] + ["http://elsewhere.invalid/x"])
        return web.Response(body=body, content_type="application/xml")

    app = app_of({"/sitemap_index.xml": index, "/sm1.xml.gz": gz, "/sm2.xml": plain,
                  **{f"/a{i}": "a" for i in range(5)}, **{f"/b{i}": "b" for i in range(3)}})
    return app


async def test_sitemap_index_with_gzipped_child(serve, crawl) -> None:
    server = serve(sitemap_app())
    base = server.url.rstrip("/")
    result = await crawl([], sitemap=[base + "/sitemap_index.xml"], max_depth=0)
    records = result.by_url()
    pages = {base + f"/a{i}" for i in range(5)} | {base + f"/b{i}" for i in range(3)}
    sitemaps = {base + "/sitemap_index.xml", base + "/sm1.xml.gz", base + "/sm2.xml"}
    assert set(records) == pages | sitemaps
    assert all(records[url]["depth"] == 0 and records[url]["lastmod"] for url in pages)
    assert records[base + "/a1"]["lastmod"] == "2026-01-02"
    assert records[base + "/a1"]["referrer"] == base + "/sm1.xml.gz"
    assert records[base + "/sm1.xml.gz"]["links"] == 6 and records[base + "/sm2.xml"]["links"] == 3
    assert records[base + "/sitemap_index.xml"]["links"] == 2
    assert all(records[url]["error"] is None for url in records)


async def test_use_sitemaps_reads_robots_sitemap_lines(serve, crawl) -> None:
    async def robots_with_sitemap(request: web.Request) -> web.Response:
        return web.Response(text=f"User-agent: *\nDisallow: /a3\nSitemap: http://{request.host}/sm2.xml\n")

    app = sitemap_app()
    async def home(request: web.Request) -> web.Response:
        return html("home")

    app.router.add_get("/", home)
    app.router.add_get("/robots.txt", robots_with_sitemap)
    server = serve(app)
    base = server.url.rstrip("/")
    records = (await crawl([server.url], use_sitemaps=True)).by_url()
    assert set(records) == {server.url, base + "/sm2.xml"} | {base + f"/b{i}" for i in range(3)}


async def test_use_sitemaps_falls_back_to_sitemap_xml(serve, crawl) -> None:
    async def sm(request: web.Request) -> web.Response:
        return web.Response(body=urlset(f"http://{request.host}", ["/a3", "/b0"]), content_type="text/xml")

    server = serve(app_of({"/": "home", "/sitemap.xml": sm, "/a3": "disallowed", "/b0": "b",
                           "/robots.txt": robots("User-agent: *\nDisallow: /a3\n")}))
    base = server.url.rstrip("/")
    records = (await crawl([server.url], use_sitemaps=True)).by_url()
    assert records[base + "/a3"]["error"] == "robots" and server.count("/a3") == 0
    assert records[base + "/b0"]["error"] is None and records[base + "/b0"]["lastmod"] == "2026-01-02"


@pytest.mark.slow
async def test_broad_crawl_keeps_every_limit_and_finishes_every_host(serve, crawl) -> None:
    hosts, pages = 30, 8

    async def page(request: web.Request) -> web.Response:
        await asyncio.sleep(0.1)  # long enough that 40 requests overlap even on a busy machine
        return html("".join(f'<a href="/p{i}">x</a>' for i in range(pages)))

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/p{n}", page)
    server = serve(app, sites=hosts)
    seeds = [f"http://127.0.0.1:{port}/" for port in server.ports]
    result = await crawl(seeds, per_host=2, concurrency=40, robots=False)
    assert len(result.records) == hosts * (pages + 1)
    assert all(r["error"] is None for r in result.records)
    assert len(server.host_max_in_flight) == hosts
    assert max(server.host_max_in_flight.values()) == 2  # --per-host never exceeded
    assert server.max_in_flight == 40  # --concurrency reached, never exceeded


@pytest.mark.slow
async def test_robots_is_cached_per_origin_expires_and_is_bounded(serve, crawl) -> None:
    async def page(request: web.Request) -> web.Response:
        await asyncio.sleep(0.05)
        return html("".join(f'<a href="/p{i}">x</a>' for i in range(8)))

    def app() -> web.Application:
        a = web.Application()
        a.router.add_get("/", page)
        a.router.add_get("/p{n}", page)
        a.router.add_get("/robots.txt", robots("User-agent: *\nAllow: /\n"))
        return a

    def robots_fetches(server) -> Counter[str]:
        return Counter(h.host for h in server.hits if h.path == "/robots.txt")

    cached = serve(app(), sites=2)
    await crawl([f"http://127.0.0.1:{port}/" for port in cached.ports], per_host=1)
    assert list(robots_fetches(cached).values()) == [1, 1]  # once per origin

    expiring = serve(app())
    await crawl([expiring.url], per_host=1, robots_ttl=0.2)  # 9 pages take about 0.45 s
    assert robots_fetches(expiring)[expiring.url.split("/")[2]] >= 2

    small = serve(app(), sites=2)
    await crawl([f"http://127.0.0.1:{port}/" for port in small.ports], per_host=1, robots_cache_size=1)
    assert sum(robots_fetches(small).values()) > 2  # the two origins evict each other


@pytest.mark.slow
async def test_redirect_hops_wait_for_their_hosts_delay(serve, crawl) -> None:
    async def hop(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        if n < 4:
            raise web.HTTPFound(f"/r{n + 1}")
        return html("end of the chain")

    app = app_of({"/": '<a href="/r0">chain</a>'})
    app.router.add_get("/r{n}", hop)
    server = serve(app)
    result = await crawl([server.url], delay=0.2, robots=False)
    assert result.by_url()[server.url + "r0"]["final_url"] == server.url + "r4"
    starts = starts_of(server)
    assert len(starts) == 6
    assert min(b - a for a, b in itertools.pairwise(starts)) >= 0.2 - 0.015


@pytest.mark.slow
def test_sitemap_parser_memory_stays_flat() -> None:
    import tracemalloc

    from crawler.parse.sitemaps import SitemapParser

    document = urlset("http://example.com", [f"/page/{i}" for i in range(50_000)])
    assert len(document) > 3_500_000
    parser = SitemapParser(2**26)
    count = 0
    tracemalloc.start()
    try:
        for i in range(0, len(document), 65536):
            parser.feed(document[i:i + 65536])
            count += len(parser.take())
        parser.close()
        count += len(parser.take())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert parser.error is None and count == 50_000
    assert peak < 2_000_000, f"peak {peak} bytes while parsing a {len(document)}-byte sitemap"


LIVELOCK = '''
import asyncio, sys
from crawler import load_settings
from crawler.core.engine import Engine
from crawler.work import CrawlRequest
from crawler.fetch.robots import Robots

seed, second, out = sys.argv[1:4]
fetch_fresh = Robots._fetch_fresh
engine = None

async def fetch_then_wake_another(self, origin):
    answer = await fetch_then_wake_another.original(self, origin)
    # Another page of the host becomes ready and wakes a waiting worker *before* the task that
    # asked for robots.txt resumes: the interleaving that spun forever on a broad crawl.
    await engine.acceptor.accept([CrawlRequest(second, 1, seed)])
    return answer

fetch_then_wake_another.original = fetch_fresh
Robots._fetch_fresh = fetch_then_wake_another
engine = Engine(load_settings({"output": out, "progress": False}), [seed])
asyncio.run(engine.run())
'''


def test_a_page_ready_while_robots_txt_is_being_stored_is_no_livelock(serve, tmp_path) -> None:
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT, read_jsonl

    server = serve(app_of({"/": "home", "/second": "page", "/robots.txt": robots("User-agent: *\nAllow: /\n")}))
    script = tmp_path / "livelock.py"
    script.write_text(LIVELOCK)
    out = tmp_path / "out.jsonl"
    try:
        done = subprocess.run([sys.executable, str(script), server.url, server.url + "second", str(out)],
                              env=os.environ | {"PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                              timeout=20)
    except subprocess.TimeoutExpired:
        raise AssertionError("the crawl spun: a worker requeued and took the same page for ever") from None
    assert done.returncode == 0, done.stderr
    assert sorted(r["url"] for r in read_jsonl(out)) == [server.url, server.url + "second"]
    assert server.count("/robots.txt") == 1


async def test_robots_txt_with_a_byte_order_mark_and_crlf_is_obeyed(serve, crawl) -> None:
    async def bom_robots(request: web.Request) -> web.Response:
        return web.Response(body=b"\xef\xbb\xbfUser-agent: *\r\nDisallow: /private\r\n", content_type="text/plain")

    server = serve(linked_site(bom_robots))
    errors = {r["url"].removeprefix(server.url.rstrip("/")): r["error"] for r in (await crawl([server.url])).records}
    assert errors["/private/x"] == errors["/private/ok/y"] == "robots"
    assert server.count("/private/x") == 0


async def test_robots_txt_redirects_to_private_addresses_are_not_followed(serve, crawl) -> None:
    from crawler.cli.testsite import ServerThread

    trap_app = app_of({"/robots.txt": robots("User-agent: *\nDisallow: /\n")})
    hits: list[str] = []

    @web.middleware
    async def count(request: web.Request, handler):
        hits.append(request.host)
        return await handler(request)

    trap_app.middlewares.append(count)
    any_app = app_of({"/robots.txt": robots("User-agent: *\nDisallow: /\n")})
    any_app.middlewares.append(count)
    with ServerThread(trap_app, host="127.0.0.2") as other, ServerThread(any_app, host="0.0.0.0") as anywhere:
        for target in (f"http://127.0.0.2:{other.port}/robots.txt", f"http://0.0.0.0:{anywhere.port}/robots.txt"):
            async def moved(request: web.Request, to=target) -> web.Response:
                return web.Response(status=301, headers={"Location": to})

            server = serve(app_of({"/": '<a href="/page">x</a>', "/page": "page", "/robots.txt": moved}))
            result = await crawl([server.url])
            assert {r["error"] for r in result.records} == {None}  # robots.txt unavailable: all allowed
        assert hits == []  # another loopback host and 0.0.0.0 were never asked
