"""The rendering tests' site: pages as a browser-built web has them, on a real server on
127.0.0.1, and a trap server on 127.0.0.2 that no rendered page may reach."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiohttp import web

from crawler.cli.testsite import ServerThread
from tests.conftest import Server

APP_JS = """
fetch('/api/items').then(r => r.json()).then(items => {
  document.title = 'Items from script';
  const root = document.getElementById('root');
  root.innerHTML = '<h1>Items</h1><p>' + 'These items were put here by script, from the API. '.repeat(20) + '</p>'
    + items.map(i => '<a href="/item/' + i + '">Item ' + i + '</a>').join(' ');
});
"""

HOSTILE_JS = """
const tries = [%s];
const done = [];
Promise.all(tries.map(u => fetch(u).then(r => r.text()).then(t => done.push('read ' + u + ': ' + t.slice(0, 40)),
                                              e => done.push('refused ' + u)))).then(() => {
  document.getElementById('out').textContent = done.join(' | ');
  document.title = 'Hostile, done';
});
"""

PAGE = "<!doctype html><html><head><title>{title}</title></head><body>{body}</body></html>"


def page(title: str, body: str) -> web.Response:
    return web.Response(text=PAGE.format(title=title, body=body), content_type="text/html")


def make_site(trap_url: str) -> web.Application:
    """``/`` links to a plain page, a page built by script from ``/api/items``, a hostile page
    and a page that never stops loading; ``/spin`` (linked from nowhere) hangs its renderer."""
    app = web.Application()
    text = "<p>" + "A plain page says what it has to say in its HTML. " * 10 + "</p>"

    async def index(request: web.Request) -> web.Response:
        return page("Home", text + '<a href="/plain">plain</a> <a href="/app">app</a> '
                    '<a href="/hostile">hostile</a> <a href="/endless">endless</a>')

    async def plain(request: web.Request) -> web.Response:
        n = request.match_info.get("n", "")
        return page(f"Plain {n}", text + '<a href="/">home</a>')

    async def app_page(request: web.Request) -> web.Response:
        return page("", '<div id="root"></div><script src="/static/app.js"></script>'
                    '<link rel="stylesheet" href="/static/app.css"><img src="/static/logo.png">')

    files = {"app.js": (APP_JS.encode(), "application/javascript"), "app.css": (b"body { color: #222 }", "text/css"),
             "logo.png": (b"\x89PNG not really", "image/png")}

    async def static(request: web.Request) -> web.Response:
        body, kind = files[request.match_info["name"]]
        return web.Response(body=body, content_type=kind)

    async def items(request: web.Request) -> web.Response:
        await asyncio.sleep(0.05)  # an API takes its time: the page must wait for it
        return web.json_response([1, 2, 3])

    async def hostile(request: web.Request) -> web.Response:
        tries = ", ".join(f"'{u}'" for u in (
            "http://elsewhere.test/steal", trap_url + "private", "file:///etc/passwd", "/api/items"))
        return page("Hostile", '<p id="out">waiting</p><img src="/static/logo.png">'
                    f'<script>{HOSTILE_JS % tries}</script>')

    async def endless(request: web.Request) -> web.Response:
        return page("Endless", '<div id="root"></div><script>'
                    "setInterval(() => fetch('/poll?' + Date.now()), 100);"
                    "document.getElementById('root').textContent = 'Polling for ever, ' + 'and more text. '.repeat(30);"
                    "</script>")

    async def spin(request: web.Request) -> web.Response:
        return page("Spin", "<div id='root'></div><script>for (;;) {}</script>")

    async def poll(request: web.Request) -> web.Response:
        return web.Response(text="{}", content_type="application/json")

    app.router.add_get("/", index)
    app.router.add_get("/plain", plain)
    app.router.add_get("/item/{n}", plain)
    app.router.add_get("/app", app_page)
    app.router.add_get("/static/{name}", static)
    app.router.add_get("/api/items", items)
    app.router.add_get("/hostile", hostile)
    app.router.add_get("/endless", endless)
    app.router.add_get("/poll", poll)
    app.router.add_get("/spin", spin)
    return app


@pytest.fixture
def js_site(serve: Callable[[web.Application], Server], chromium: str) -> Iterator[tuple[Server, Server]]:
    """The site, and the trap on 127.0.0.2 (which counts what reached it)."""
    trap = Server(url="", port=0)
    trap_app = web.Application()

    async def caught(request: web.Request) -> web.Response:
        trap.hits.append(request.path)  # type: ignore[arg-type]
        return web.Response(text="secret")

    trap_app.router.add_route("*", "/{tail:.*}", caught)
    with ServerThread(trap_app, host="127.0.0.2") as thread:
        trap.url, trap.port = thread.url, thread.port
        yield serve(make_site(thread.url)), trap


def browser_processes() -> list[Any]:
    """Chromium processes running now, their keepers, and Playwright's driver (zombies are not
    running: their parent has not reaped them yet)."""
    import psutil

    found = []
    for proc in psutil.process_iter(["name", "cmdline", "status"]):
        try:
            if proc.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            command = proc.info["cmdline"] or []
            if "chrom" in (proc.info["name"] or "") or any("chromium" in part or part == "run-driver"
                                                           for part in command):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def make_spider_site() -> web.Application:
    """A page whose list grows by script when its button is clicked."""
    app = web.Application()

    async def more(request: web.Request) -> web.Response:
        return page("More", '<ul id="list"></ul><button id="more">more</button><script>'
                    "document.getElementById('more').onclick = () => document.getElementById('list')"
                    ".insertAdjacentHTML('beforeend', '<li><a href=\"/shown\">shown by a click</a></li>');"
                    "</script>")

    app.router.add_get("/more", more)
    return app
