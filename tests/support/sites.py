"""Test sites (aiohttp applications served by the ``serve`` fixture) and small helpers to run the
command line against them."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from aiohttp import web

from tests.conftest import ROOT


def html(body: str, title: str = "t", head: str = "") -> web.Response:
    return web.Response(text=f"<html><head><title>{title}</title>{head}</head><body>{body}</body></html>",
                        content_type="text/html")


def app_of(routes: dict[str, object]) -> web.Application:
    """An app from {path: handler or HTML body text}."""
    app = web.Application()
    for path, handler in routes.items():
        if isinstance(handler, str):
            def make(body: str):
                async def h(request: web.Request) -> web.Response:
                    return html(body)
                return h
            handler = make(handler)
        app.router.add_get(path, handler)  # type: ignore[arg-type]
    return app


def slow_app(pages: int, seconds: float) -> web.Application:
    """``/`` links to ``/p/0`` .. ``/p/{pages-1}``; every answer takes ``seconds``."""
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(seconds)
        return html("".join(f'<a href="/p/{i}">x</a>' for i in range(pages)))

    app = web.Application()
    app.router.add_get("/", slow)
    app.router.add_get("/p/{n}", slow)
    return app


def redirect(to: str, status: int = 302):
    async def handler(request: web.Request) -> web.Response:
        target = to.replace("{port}", str(request.url.port))
        return web.Response(status=status, headers={"Location": target})
    return handler


def seeds_file(tmp_path: Path, *lines: str) -> str:
    path = tmp_path / "urls.txt"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def start_cli(*args: str, cwd: Path) -> subprocess.Popen[str]:
    """Start the CLI; its stderr goes to ``cwd/stderr.txt`` so a test can watch it."""
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    with open(cwd / "stderr.txt", "w") as stderr:
        return subprocess.Popen([sys.executable, "-m", "crawler", *args], cwd=cwd, env=env,
                                stdout=subprocess.DEVNULL, stderr=stderr, text=True)


def lines_in(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def validating_app(state: dict) -> web.Application:
    """Pages with ETags (answering 304 to a matching If-None-Match), one page without validators
    whose body never changes, and one whose body the test changes."""

    async def page(request: web.Request) -> web.Response:
        name = request.match_info.get("name", "index")
        if name == "index":
            body = "".join(f'<a href="/{n}">{n}</a>' for n in ("a", "b", "plain", "changing"))
        elif name == "changing":
            body = f"version {state['version']}"
        else:
            body = f"page {name}"
        html = f"<title>{name if name == 'index' else body}</title><body>{body}</body>"
        if name == "plain":
            return web.Response(text=html, content_type="text/html")
        etag = f'"{name}-{state["version"] if name == "changing" else 1}"'
        if request.headers.get("If-None-Match") == etag:
            state["304"] += 1
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(text=html, content_type="text/html", headers={"ETag": etag})

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/{name}", page)
    return app


def moved_site() -> web.Application:
    """/ links to /old/i (each a 301 to /new/i) and to /new/i directly, in mixed order; every
    /new/i page links back to /."""
    links = "".join(f'<a href="/old/{i}">o</a><a href="/new/{i}">n</a>' if i % 2 else
                    f'<a href="/new/{i}">n</a><a href="/old/{i}">o</a>' for i in range(20))
    routes: dict[str, object] = {"/": links}
    for i in range(20):
        routes[f"/old/{i}"] = redirect(f"/new/{i}", 301)
        routes[f"/new/{i}"] = '<a href="/">home</a>'
    return app_of(routes)


def check_moved(records: list[dict], server) -> None:
    """Each /new/i fetched once, its page in one record; each /old/i says where it went."""
    base = server.url.rstrip("/")
    by_url = {r["url"]: r for r in records}
    assert len(by_url) == len(records) == 41
    for i in range(20):
        assert server.count(f"/new/{i}") == 1
        pages = [r for r in records if r["final_url"] == f"{base}/new/{i}" and r["title"] is not None]
        assert len(pages) == 1  # the target's content is in exactly one record
        old = by_url[f"{base}/old/{i}"]
        if f"{base}/new/{i}" in by_url:  # the target has a record of its own: the redirect says so
            assert (old["status"], old["error"], old["redirect_to"], old["final_url"]) == (
                301, None, f"{base}/new/{i}", f"{base}/old/{i}")
