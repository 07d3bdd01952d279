"""--render with a real Chromium against a real site on 127.0.0.1: what each mode finds, what
auto renders (counted at the server), what a rendered page may not reach, per-host limits while
rendering, a killed browser, the page's own deadline, extraction from the rendered DOM."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.conftest import Server, async_wait_for
from tests.render.conftest import browser_processes

pytestmark = pytest.mark.slow  # a browser, Redis, several processes or kill -9 and resume: see pyproject.toml

FAST = {"render_timeout": 4.0, "robots": False}


def polls(site: Server) -> int:
    """Requests the endless page's script has made so far."""
    return sum(1 for hit in site.hits if hit.path.startswith("/poll"))


@pytest.mark.parametrize("mode", ["always", "auto"])
async def test_script_built_pages_give_their_links_when_rendered(
        js_site: tuple[Server, Server], crawl: Callable[..., Any], mode: str) -> None:
    site, _ = js_site
    done = (await crawl([site.url], render=mode, exclude=["/endless"], **FAST)).by_url()
    app = done[site.url + "app"]
    assert app["title"] == "Items from script" and app["links"] == 3 and app["rendered"] is True
    assert all(done[f"{site.url}item/{n}"]["error"] is None for n in (1, 2, 3))
    assert site.count("/app") == 1  # the browser was handed the HTTP answer: the page is asked for once


async def test_never_renders_so_script_links_are_not_found(js_site: tuple[Server, Server],
                                                           crawl: Callable[..., Any]) -> None:
    site, _ = js_site
    done = (await crawl([site.url], exclude=["/endless"], **FAST)).by_url()
    assert done[site.url + "app"]["links"] == 0 and done[site.url + "app"]["title"] is None
    assert not any("/item/" in url for url in done)
    assert "rendered" not in done[site.url]  # the field comes with --render
    assert site.count("/static/app.js") == 0


async def test_auto_renders_only_the_pages_built_by_script(js_site: tuple[Server, Server],
                                                           crawl: Callable[..., Any], tmp_path: Path) -> None:
    site, _ = js_site
    report = tmp_path / "report.html"
    result = await crawl([site.url], render="auto", exclude=["/endless", "/hostile"], report=str(report), **FAST)
    done = result.by_url()
    rendered = sorted(url for url, r in done.items() if r["rendered"])
    assert rendered == [site.url + "app"]
    for path in ("/", "/plain", "/app", "/item/1", "/item/2", "/item/3"):
        assert site.count(path) == 1, path  # every page once, over HTTP
    assert site.count("/static/app.js") == 1 and site.count("/api/items") == 1  # the one rendering
    assert site.count("/static/logo.png") == 0  # images are blocked
    figures = result.stats.as_dict()["render"]
    assert figures["pages"] == 1 and figures["why"] == {"app_root": 1}
    assert figures["hosts"][site.url.split("/")[2]]["why"] == {"app_root": 1}
    html = report.read_text()
    assert "Rendering (auto)" in html and 'data-stat="render.why.app_root">1<' in html


async def test_a_rendered_page_reaches_nothing_it_may_not(js_site: tuple[Server, Server],
                                                          crawl: Callable[..., Any]) -> None:
    site, trap = js_site
    result = await crawl([site.url + "hostile"], render="always", max_depth=0, extract=["text"], **FAST)
    record = result.records[0]
    assert record["title"] == "Hostile, done"
    text = record["text"]
    assert "refused http://elsewhere.test/steal" in text and f"refused {trap.url}private" in text
    assert "refused file:///etc/passwd" in text and "root:" not in text
    assert "read /api/items: [1, 2, 3]" in text  # its own host's API: fetched (by the crawler)
    assert trap.hits == [] and site.count("/static/logo.png") == 0
    figures = result.stats.as_dict()["render"]
    assert figures["refused"] == {"scope": 1, "private": 1} and figures["blocked"] == 1


async def test_per_host_limit_and_delay_hold_while_rendering(js_site: tuple[Server, Server],
                                                             crawl: Callable[..., Any]) -> None:
    site, _ = js_site
    result = await crawl([site.url], render="always", per_host=1, delay=0.3, render_concurrency=2,
                         exclude=["/endless", "/hostile"], **FAST)
    assert len(result.records) == 6 and all(r["rendered"] for r in result.records)
    assert site.host_max_in_flight[site.url.split("/")[2]] == 1
    starts = sorted(hit.start for hit in site.hits)
    assert len(starts) == 9  # 6 pages, and the app page's script, style and API call
    # Seen from the server, which shares the GIL with this in-process crawl: a start can be seen
    # some tens of ms late on a busy machine, so the bound allows for that (without the hold,
    # a page's requests come a few ms apart).
    assert min(b - a for a, b in itertools.pairwise(starts)) >= 0.22


async def test_a_page_that_never_stops_loading_is_read_at_its_deadline(
        js_site: tuple[Server, Server], crawl: Callable[..., Any]) -> None:
    site, _ = js_site
    loop = asyncio.get_running_loop()
    started = loop.time()
    result = await crawl([site.url + "endless"], render="auto", max_depth=0, extract=["text"],
                         render_timeout=2.0, robots=False)
    assert loop.time() - started < 10
    record = result.records[0]
    assert record["error"] is None and record["rendered"] is True and "Polling for ever" in record["text"]
    assert result.stats.as_dict()["render"]["unsettled"] == 1


async def test_a_killed_browser_costs_only_the_page_it_held(js_site: tuple[Server, Server],
                                                            crawl: Callable[..., Any]) -> None:
    import psutil

    site, _ = js_site
    loop = asyncio.get_running_loop()
    run = loop.create_task(crawl([site.url + "endless", site.url + "app"], render="always", per_host=1,
                                 render_concurrency=1, render_timeout=20.0, robots=False, max_depth=1))
    await async_wait_for(lambda: polls(site) > 0 or run.done(), timeout=30)
    browsers = [p for p in browser_processes() if "--remote-debugging-pipe" in p.cmdline()
                and not any(a.startswith("--type=") or "browserkeeper" in a for a in p.cmdline())]
    assert len(browsers) == 1
    browsers[0].send_signal(signal.SIGKILL)
    result = await asyncio.wait_for(run, 60)
    done = result.by_url()
    assert done[site.url + "endless"]["error"] == "render"
    assert done[site.url + "app"]["error"] is None and done[site.url + "app"]["links"] == 3  # a new browser
    assert all(r["error"] is None for url, r in done.items() if not url.endswith("endless"))
    figures = result.stats.as_dict()["render"]
    assert figures["browsers_started"] == 2 and figures["failed"] == 1
    assert not psutil.pid_exists(browsers[0].pid) or browsers[0].status() == psutil.STATUS_ZOMBIE


async def test_extraction_fields_come_from_the_rendered_dom(js_site: tuple[Server, Server],
                                                            crawl: Callable[..., Any]) -> None:
    site, _ = js_site
    result = await crawl([site.url + "app"], render="auto", max_depth=0, extract=["text", "markdown"], **FAST)
    record = result.records[0]
    assert "These items were put here by script" in record["text"]
    assert "put here by script" in record["markdown"]


def test_no_chromium_is_left_after_a_crawl_its_sigint_or_its_kill_9(js_site: tuple[Server, Server],
                                                                    tmp_path: Any) -> None:
    import subprocess
    import sys

    import psutil

    from tests.conftest import ROOT, wait_for

    site, _ = js_site
    before = {p.pid for p in browser_processes()}

    def ours() -> list[int]:
        return [p.pid for p in browser_processes() if p.pid not in before]

    def start(*extra: str) -> subprocess.Popen[str]:
        seeds = tmp_path / "seeds.txt"
        seeds.write_text(site.url + "\n")
        return subprocess.Popen([sys.executable, "-m", "crawler", "--seeds", str(seeds), "-o",
                                 str(tmp_path / "out.jsonl"), "--render", "always", "--no-robots", *extra],
                                env=os.environ | {"PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)

    finished = start("--exclude", "/endless")
    assert finished.wait(60) == 0
    assert not ours()  # the crawl returned once its browser, keeper and driver had exited
    for signum, status in ((signal.SIGINT, 130), (signal.SIGKILL, -signal.SIGKILL)):
        seen = polls(site)
        proc = start("--render-timeout", "30")
        wait_for(lambda s=seen: polls(site) > s, timeout=30)  # rendering the endless page
        running = ours()
        assert running
        # Playwright speaks to the browser over pipes: no DevTools port another local user could open.
        listening = [c for pid in running if psutil.pid_exists(pid)
                     for c in _connections(pid) if c.status == psutil.CONN_LISTEN]
        assert not listening
        assert not [pid for pid in running if any("--remote-debugging-port" in a for a in _cmdline(pid))]
        proc.send_signal(signum)
        assert proc.wait(30) == status
        if signum == signal.SIGINT:
            assert not ours()
        else:  # the keeper sees the driver's pipe close, and ends the browser
            wait_for(lambda: not ours(), timeout=10)


def _connections(pid: int) -> list[Any]:
    import psutil

    try:
        return psutil.Process(pid).net_connections(kind="inet")
    except psutil.Error:
        return []


def _cmdline(pid: int) -> list[str]:
    import psutil

    try:
        return psutil.Process(pid).cmdline()
    except psutil.Error:
        return []


@pytest.mark.parametrize("bound", [{"render_restart_pages": 2}, {"render_max_memory": 1}])
async def test_the_browser_is_started_afresh_after_its_pages_or_past_its_memory(
        js_site: tuple[Server, Server], crawl: Callable[..., Any], bound: dict[str, int]) -> None:
    site, _ = js_site
    before = {p.pid for p in browser_processes()}
    result = await crawl([site.url], render="always", exclude=["/endless", "/hostile"], render_concurrency=1, **bound,
                         **FAST)
    assert len(result.records) == 6 and all(r["error"] is None and r["rendered"] for r in result.records)
    started = result.stats.as_dict()["render"]["browsers_started"]
    assert started == (3 if "render_restart_pages" in bound else 6)
    assert result.stats.as_dict()["render"]["browsers_lost"] == 0
    assert not [p for p in browser_processes() if p.pid not in before]  # each closed once done with


def test_a_missing_browser_or_playwright_is_one_usage_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.conftest import ROOT, run_cli

    seeds = tmp_path / "seeds.txt"
    seeds.write_text("http://127.0.0.1:9/\n")
    out = tmp_path / "out.jsonl"
    done = run_cli("--seeds", str(seeds), "--render", "auto", "--browser", str(tmp_path / "no-such-chromium"),
                   "-o", str(out))
    assert done.returncode == 2 and not out.exists()  # said before anything was opened
    assert done.stderr.strip().splitlines()[-1].startswith("crawler: error: --browser: ")
    assert "apt-get install chromium" in done.stderr
    hidden = subprocess.run(  # as where the render extra is not installed
        [sys.executable, "-c", "import sys; sys.modules['playwright'] = None; from crawler.cli.main import main; "
         f"sys.exit(main(['--seeds', {str(seeds)!r}, '--render', 'always']))"],
        capture_output=True, text=True, env=os.environ | {"PYTHONPATH": str(ROOT)}, timeout=60)
    assert hidden.returncode == 2
    said = hidden.stderr.strip().splitlines()[-1]
    assert "pip install -e '.[render]' in a clone (or pip install 'crawlwell[render]' from the package index)" in said


async def test_a_page_that_hangs_the_browser_costs_only_itself(js_site: tuple[Server, Server],
                                                               crawl: Callable[..., Any]) -> None:
    site, _ = js_site
    result = await crawl([site.url + "spin", site.url + "app"], render="always", per_host=1, render_concurrency=1,
                         max_depth=0, render_timeout=2.0, robots=False)
    done = result.by_url()
    assert done[site.url + "spin"]["error"] == "render" and done[site.url + "spin"]["status"] == 200
    assert done[site.url + "app"]["error"] is None and done[site.url + "app"]["links"] == 3


async def test_the_warc_keeps_the_http_answer_and_adds_the_rendered_dom(
        js_site: tuple[Server, Server], tmp_path: Path) -> None:
    from warcio.archiveiterator import ArchiveIterator

    from crawler import load_settings
    from crawler.core.engine import Engine

    site, _ = js_site
    out = tmp_path / "crawl.warc.gz"
    settings = load_settings({"output": str(out), "progress": False, "render": "auto", "max_depth": 0, **FAST})
    await Engine(settings, [site.url + "app"]).run()
    with out.open("rb") as f:
        records = [(r.rec_type, r.rec_headers.get_header("Content-Type"), r.content_stream().read())
                   for r in ArchiveIterator(f)]
    kinds = [kind for kind, _, _ in records]
    assert kinds == ["warcinfo", "response", "request", "conversion"]
    response, conversion = records[1][2], records[3]
    assert b'<div id="root"></div>' in response  # what the server sent
    assert conversion[1] == "text/html; charset=utf-8" and b"Items from script" in conversion[2]


async def test_the_demo_shops_app_page_is_found_by_render_auto(serve, crawl: Callable[..., Any]) -> None:
    from crawler.cli.demoshop import PRODUCTS, shop_app

    shop = serve(shop_app())
    never = (await crawl([shop.url + "app"], max_depth=0)).records[0]
    auto = (await crawl([shop.url + "app"], max_depth=0, render="auto")).records[0]
    assert never["links"] == 0 and never.get("rendered") is None
    assert auto["rendered"] is True and auto["links"] == PRODUCTS


async def test_a_sites_scripts_and_styles_are_fetched_once_a_crawl_not_once_a_page(
        serve: Callable[[web.Application], Server], crawl: Callable[..., Any], chromium: str) -> None:
    script = "document.title = 'built ' + location.pathname;"
    pages = {f"/p{i}": (f"<!doctype html><html><head><title>p{i}</title><link rel='stylesheet' href='/s.css'>"
                        f"<script src='/app.js'></script><script src='/fresh.js'></script></head>"
                        f"<body><p>page {i}</p></body></html>") for i in range(4)}

    async def handler(request: web.Request) -> web.Response:
        if request.path == "/app.js":
            return web.Response(text=script, content_type="application/javascript")
        if request.path == "/fresh.js":  # asked not to be kept: fetched for each page
            return web.Response(text="var n = 1;", content_type="application/javascript",
                                headers={"Cache-Control": "no-store"})
        if request.path == "/s.css":
            return web.Response(text="p { color: red }", content_type="text/css")
        if request.path in pages:
            return web.Response(text=pages[request.path], content_type="text/html")
        raise web.HTTPNotFound()

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    site = serve(app)
    result = await crawl([site.url + f"p{i}" for i in range(4)], render="always", robots=False, max_depth=0,
                         render_concurrency=2, **{k: v for k, v in FAST.items() if k != "robots"})
    assert sorted(r["title"] for r in result.records) == [f"built /p{i}" for i in range(4)]  # each script ran
    assert site.count("/app.js") == 1 and site.count("/s.css") == 1
    assert site.count("/fresh.js") == 4
    figures = result.stats.as_dict()["render"]
    assert figures["reused"] == 6 and figures["requests"] == 6  # 3 + 3 fetched by the crawler, 6 from its cache
