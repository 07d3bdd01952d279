"""Fallback static file server for the benchmarks when nginx is not installed."""

import sys

from aiohttp import web


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(sys.argv[1] + "/index.html")

app = web.Application()
app.router.add_get("/", index)
app.router.add_static("/", sys.argv[1])
web.run_app(app, host="127.0.0.1", port=int(sys.argv[2]), access_log=None, print=None)
