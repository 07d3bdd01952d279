"""Many hosts on 127.0.0.1 (one port each) for the broad-crawl benchmark: every page answers
after a fixed latency and links to other pages of the same host.

    python bench/broad_server.py HOSTS PAGES_PER_HOST LATENCY_S PORTS_FILE
"""

import asyncio
import sys

from aiohttp import web

HOSTS, PAGES, LATENCY = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])


async def page(request: web.Request) -> web.Response:
    await asyncio.sleep(LATENCY)
    n = int(request.match_info.get("n", 0))
    links = "".join(f'<a href="/p{(n * 10 + k) % PAGES}">p</a>' for k in range(1, 11))
    return web.Response(text=f"<html><head><title>{n}</title></head><body>{links}</body></html>",
                        content_type="text/html")


async def main() -> None:
    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/p{n}", page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    ports = []
    for _ in range(HOSTS):
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=512)
        await site.start()
        ports.append(site._server.sockets[0].getsockname()[1])
    with open(sys.argv[4], "w") as f:
        f.write("\n".join(map(str, ports)) + "\n")
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
