"""robots.txt read as hosts are discovered (core/prefetch.py), counted at the server: once a
host, never more in flight than --per-host, the host's delay held from its first request."""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict
from pathlib import Path

from aiohttp import web

from crawler import Engine, load_settings
from tests.conftest import read_jsonl

PAGES = 4
DELAY = 0.25


def hosts_app(ports: list[int]) -> web.Application:
    async def page(request: web.Request) -> web.Response:
        await asyncio.sleep(0.02)
        here = request.url.port
        if request.path == "/" and here == ports[0]:  # the seed links to every other host
            links = [f"http://127.0.0.1:{p}/p/{i}" for p in ports[1:] for i in range(PAGES)]
        else:
            links = [f"/p/{i}" for i in range(PAGES)]
        return web.Response(text="".join(f'<a href="{u}">x</a>' for u in links), content_type="text/html")

    async def robots(request: web.Request) -> web.Response:
        await asyncio.sleep(0.05)
        return web.Response(text="User-agent: *\nDisallow: /private/\n")

    app = web.Application()
    app.router.add_get("/robots.txt", robots)
    app.router.add_get("/{tail:.*}", page)
    return app


async def test_prefetched_robots_keep_every_hosts_limits(serve, tmp_path: Path) -> None:
    ports: list[int] = []  # known once it listens
    server = serve(hosts_app(ports), sites=4)  # four ports: four hosts
    ports += server.ports
    out = tmp_path / "o.jsonl"
    settings = load_settings({"output": str(out), "per_host": 1, "delay": DELAY, "progress": False, "concurrency": 1,
                              "allow_private": True, "scope": "any"})
    engine = Engine(settings, [server.url])
    await engine.run()
    assert engine.acceptor is not None and engine.acceptor.prefetch is not None
    assert engine.acceptor.prefetch.started == 4  # every host robots.txt read ahead of its pages
    assert len(read_jsonl(out)) == 1 + 3 * PAGES  # the seed and the other hosts' pages
    starts: dict[str, list[float]] = defaultdict(list)
    for hit in sorted(server.hits, key=lambda h: h.start):
        starts[hit.host].append(hit.start)
    assert len(starts) == 4
    for host, times in starts.items():
        assert [h.path for h in server.hits if h.host == host].count("/robots.txt") == 1, host
        assert server.host_max_in_flight[host] == 1, host
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert min(gaps) >= DELAY * 0.95, (host, gaps)  # robots.txt counts as the host's first request
