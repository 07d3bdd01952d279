"""Block and challenge pages (Cloudflare, Akamai, DataDome, PerimeterX, Imperva, AWS WAF, a
CAPTCHA form) are labelled ``blocked``, tried again with the host's backoff, counted per host,
and a host that keeps blocking is paused with one warning; a page that merely mentions a CAPTCHA
is a page."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from crawler import Crawler, Response, Spider
from crawler.fetch.blocked import block_page
from tests.conftest import read_jsonl, run_cli
from tests.support.sites import seeds_file

# Each vendor's block or challenge page, as its screen serves it: (status, headers, body).
SCREENS: dict[str, tuple[int, dict[str, str], str]] = {
    "cloudflare": (403, {"Server": "cloudflare", "cf-mitigated": "challenge"},
                   "<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>"
                   "<div id='challenge-running'></div></body></html>"),
    "cloudflare-1020": (403, {"Server": "cloudflare"},
                        "<html><head><title>Attention Required! | Cloudflare</title></head>"
                        "<body><h1>Sorry, you have been blocked</h1></body></html>"),
    "akamai": (403, {"Server": "AkamaiGHost"},
               "<HTML><HEAD><TITLE>Access Denied</TITLE></HEAD><BODY><H1>Access Denied</H1>You don't have "
               "permission to access this server.<P>Reference #18.5f3c1402<P>https://errors.edgesuite.net/18</BODY>"
               "</HTML>"),
    "datadome": (403, {"X-DataDome": "protected"},
                 "<html><body><script src='https://ct.captcha-delivery.com/c.js'></script></body></html>"),
    "perimeterx": (403, {},
                   "<html><body><div id='px-captcha'></div><script>window._pxAppId='PX1';</script></body></html>"),
    "imperva": (200, {},
                "<html><head><META NAME='robots' CONTENT='noindex,nofollow'></head><body><iframe "
                "src='/_Incapsula_Resource?SWUDNSAI=31'>Request unsuccessful. Incapsula incident ID: 1</iframe>"
                "</body></html>"),
    "aws_waf": (405, {"x-amzn-waf-action": "captcha"},
                "<html><body><script src='https://x.token.awswaf.com/x/challenge.js'></script></body></html>"),
    "captcha": (429, {}, "<html><body><form action='/verify'><div class='g-recaptcha' data-sitekey='k'></div>"
                         "</form></body></html>"),
}
VENDOR = {name: name.split("-")[0] for name in SCREENS}
# Pages that are pages: one that talks about CAPTCHAs, a plain 403, a 200 with a CAPTCHA form.
PAGES: dict[str, tuple[int, dict[str, str], str]] = {
    "about-captcha": (200, {}, "<html><head><title>Why we use a CAPTCHA</title></head><body><p>A captcha "
                               "(g-recaptcha, h-captcha, cf-turnstile) tells people from bots. Just a moment..."
                               "</p></body></html>"),
    "forbidden": (403, {"Server": "nginx"}, "<html><head><title>403 Forbidden</title></head><body>nginx</body></html>"),
    "signup": (200, {}, "<html><body><form action='/join'><div class='g-recaptcha'></div></form></body></html>"),
}


def _headers(headers: dict[str, str]) -> CIMultiDictProxy[str]:
    return CIMultiDictProxy(CIMultiDict(headers))


def test_each_screen_is_told_and_a_page_that_mentions_a_captcha_is_not() -> None:
    for name, (status, headers, body) in SCREENS.items():
        assert block_page(status, _headers(headers), body.encode()) == VENDOR[name], name
    for name, (status, headers, body) in PAGES.items():
        assert block_page(status, _headers(headers), body.encode()) is None, name
    # The body's marks alone are enough (headers stripped by a proxy, say).
    assert block_page(503, _headers({}), SCREENS["cloudflare"][2].encode()) == "cloudflare"


def screens_app(tries: dict[str, int]) -> web.Application:
    """``/`` links every screen and page; each answers as in SCREENS and PAGES."""
    async def home(request: web.Request) -> web.Response:
        links = "".join(f'<a href="/{name}">{name}</a>' for name in [*SCREENS, *PAGES])
        return web.Response(text=f"<html><body>{links}</body></html>", content_type="text/html")

    async def answer(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        tries[name] = tries.get(name, 0) + 1
        status, headers, body = {**SCREENS, **PAGES}[name]
        return web.Response(status=status, headers=headers, text=body, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", home)
    app.router.add_get("/{name}", answer)
    return app


@pytest.mark.usefixtures("http_client")
def test_block_pages_are_labelled_retried_counted_and_the_host_paused_once(serve, tmp_path: Path) -> None:
    tries: dict[str, int] = {}
    server = serve(screens_app(tries))
    out, stats = tmp_path / "out.jsonl", tmp_path / "stats.json"
    report = tmp_path / "report.html"
    proc = run_cli("--seeds", seeds_file(tmp_path, server.url), "-o", str(out), "--stats", str(stats),
                   "--report", str(report), "--retries", "1", "--per-host", "1", "--no-robots", cwd=tmp_path,
                   timeout=60,
                   env={"CRAWLER_RETRY_BACKOFF": "0.01", "CRAWLER_RETRY_BACKOFF_MAX": "0.05"})
    assert proc.returncode == 0, proc.stderr
    records = {r["url"].rsplit("/", 1)[1]: r for r in read_jsonl(out)}
    for name, (status, _, _) in SCREENS.items():
        assert records[name]["error"] == "blocked" and records[name]["status"] == status, name
        assert tries[name] == 2, name  # tried again once (--retries 1), then labelled
    assert records["about-captcha"]["error"] is None and records["signup"]["error"] is None
    assert records["forbidden"]["error"] == "http" and tries["forbidden"] == 1
    figures = json.loads(stats.read_text())
    assert figures["errors"]["blocked"] == len(SCREENS)
    host = server.url.split("://")[1].rstrip("/")
    assert figures["hosts"]["by_blocked"][0] == figures["hosts"]["by_blocked"][0] | {"host": host,
                                                                                      "blocked": len(SCREENS)}
    assert "Top hosts by block pages" in report.read_text()
    warnings = [line for line in proc.stderr.splitlines() if "answers with block pages" in line]
    assert len(warnings) == 1 and host in warnings[0], proc.stderr  # paused once, said once


class Screens(Spider):
    """Notes what its errback hears of block pages."""

    def __init__(self, base: str) -> None:
        self.start_urls = [base]
        self.failures: dict[str, Any] = {}

    def parse(self, response: Response):
        yield from response.follow_all()

    def errback(self, failure):
        self.failures[failure.url.rsplit("/", 1)[1]] = (failure.error, failure.response.blocked)


async def test_a_spider_hears_of_a_block_page_in_its_errback_with_response_blocked(serve, tmp_path: Path,
                                                                                  http_client: str) -> None:
    server = serve(screens_app({}))
    spider = Screens(server.url)
    spider.custom_settings = {"retries": 0, "robots": False, "retry_backoff_max": 0.05}
    await Crawler(spider, output=str(tmp_path / "x.jsonl"), http_client=http_client).run()
    assert spider.failures == {**{name: ("blocked", VENDOR[name]) for name in SCREENS},
                               "forbidden": ("http", None)}


def test_the_http_cache_never_keeps_a_block_page() -> None:
    from crawler.fetch.cache import HttpCache
    from crawler.result import FetchResult

    def result(status: int, headers: dict[str, str], body: str) -> FetchResult:
        data = body.encode()
        return FetchResult(status=status, headers=_headers(headers), body=data, size=len(data), error="http")

    assert not HttpCache.keeps(result(*SCREENS["cloudflare"]))  # the next run asks the site again
    assert HttpCache.keeps(result(*PAGES["forbidden"]))  # a plain 403 is an answer like any


@pytest.mark.slow
def test_the_live_view_names_the_hosts_answering_block_pages(serve, tmp_path: Path) -> None:
    from tests.conftest import ROOT
    from tests.monitor.test_monitoring import on_a_terminal

    server = serve(screens_app({}))
    env = os.environ | {"PYTHONPATH": str(ROOT), "COLUMNS": "200", "CRAWLER_RETRY_BACKOFF": "0.01",
                        "CRAWLER_RETRY_BACKOFF_MAX": "0.05"}
    status, text = on_a_terminal([sys.executable, "-m", "crawler", "--seeds", seeds_file(tmp_path, server.url), "-o",
                                  str(tmp_path / "o.jsonl"), "--retries", "0", "--no-robots"], env, tmp_path)
    assert status == 0, text
    drawn = text[:text.rindex("slowest hosts (p95)")]
    final = drawn[drawn.rindex("errors: "):]  # the last redraw of the live view
    assert f"block pages by host: {server.url.split('/')[2]} {len(SCREENS)}" in final, final
