"""A generated web site: for ``python -m crawler demo``, the tests and the benchmark.

Page ``i`` (``/page/i.html``) links to pages ``10i+1 .. 10i+10`` (so every page is reachable
within a few hops of page 0) and, on the leaves, to other pages chosen by a fixed formula, so
each page has ``links`` links. Optional extras: broken links (404), a redirect, a text file.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import threading
from pathlib import Path
from typing import cast

from aiohttp import web

_WORDS = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "
          "incididunt ut labore et dolore magna aliqua ut enim ad minim veniam quis").split()


def page_path(i: int) -> str:
    """The path of page ``i``."""
    return "/" if i == 0 else f"/page/{i}.html"


def page_links(i: int, pages: int, links: int) -> list[int]:
    """The pages that page ``i`` links to."""
    out = [c for c in range(i * links + 1, i * links + links + 1) if c < pages]
    k = 1
    while len(out) < min(links, pages - 1):
        j = (i * 7919 + k * 104729) % pages
        if j != i and j not in out:
            out.append(j)
        k += 1
    return out


def page_html(i: int, pages: int, links: int = 10, size: int = 2000, extras: bool = False) -> str:
    """The HTML of page ``i``: a title, ``links`` links and about ``size`` bytes of text."""
    anchors = "\n".join(
        f'<li><a href="{page_path(j)}">Page {j}</a></li>' for j in page_links(i, pages, links))
    if extras and i == 0:
        anchors += ('\n<li><a href="/missing/1.html">gone</a></li>'
                    '\n<li><a href="/missing/2.html">gone too</a></li>'
                    '\n<li><a href="/old-home">moved</a></li>'
                    '\n<li><a href="/notes.txt">notes</a></li>')
    words: list[str] = []
    n, length = i, 0
    while length < size:
        n = (n * 1103515245 + 12345) & 0x7FFFFFFF
        words.append(_WORDS[n % len(_WORDS)])
        length += len(words[-1]) + 1
    return (
        f"<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Page {i}</title></head>\n"
        f"<body><h1>Page {i}</h1>\n<ul>\n{anchors}\n</ul>\n<p>{' '.join(words)}</p>\n</body></html>\n"
    )


def make_app(pages: int, links: int = 10, size: int = 2000, extras: bool = False) -> web.Application:
    """An aiohttp application serving the site."""

    async def page(request: web.Request) -> web.Response:
        name = request.match_info.get("n")
        try:
            i = 0 if name is None else int(name)
        except ValueError:
            raise web.HTTPNotFound() from None
        if not 0 <= i < pages or (i == 0 and name is not None):
            raise web.HTTPNotFound()
        return web.Response(text=page_html(i, pages, links, size, extras), content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/page/{n}.html", page)
    if extras:
        async def old_home(request: web.Request) -> web.Response:
            raise web.HTTPMovedPermanently("/page/1.html")

        async def notes(request: web.Request) -> web.Response:
            return web.Response(text="plain text, recorded but not parsed\n")

        app.router.add_get("/old-home", old_home)
        app.router.add_get("/notes.txt", notes)
    return app


def write_site(root: str | os.PathLike[str], pages: int, links: int = 10, size: int = 2000) -> None:
    """Write the site as static files under ``root`` (``index.html`` is page 0)."""
    root = Path(root)
    (root / "page").mkdir(parents=True, exist_ok=True)
    for i in range(pages):
        target = root / "index.html" if i == 0 else root / "page" / f"{i}.html"
        target.write_text(page_html(i, pages, links, size), encoding="utf-8")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class ServerThread:
    """Serve an aiohttp application on 127.0.0.1 from a thread with its own event loop, on one
    port or on ``sites`` ports at once (``ports``; ``port`` is the first)."""

    def __init__(self, app: web.Application, host: str = "127.0.0.1", sites: int = 1,
                 ssl_context: ssl.SSLContext | None = None, port: int = 0) -> None:
        self.app = app
        self.first_port = port  # 0: any free one
        self.error: OSError | None = None  # why it could not start
        self.host = host
        self.sites = sites
        self.ssl_context = ssl_context  # serve HTTPS with it
        self.ports: list[int] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="site-server", daemon=True)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """The site's root URL."""
        return f"{'https' if self.ssl_context else 'http'}://{self.host}:{self.port}/"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._start())
        except OSError as e:  # the port is taken, say
            self.error = e
            self._ready.set()
            self._loop.close()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._stop())
        tasks = asyncio.all_tasks(self._loop)
        for task in tasks:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        self._loop.close()

    async def _stop(self) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def _start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        for n in range(self.sites):
            port = self.first_port if n == 0 else 0
            site = web.TCPSite(self._runner, self.host, port, backlog=1024, ssl_context=self.ssl_context)
            await site.start()
            server = cast(asyncio.Server | None, site._server)
            assert server is not None and server.sockets
            self.ports.append(server.sockets[0].getsockname()[1])
        self.port = self.ports[0]

    def __enter__(self) -> ServerThread:
        self._thread.start()
        self._ready.wait(10)
        if self.error is not None:
            raise self.error
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
