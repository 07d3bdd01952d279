"""What an idle kept-alive TLS connection costs the crawler, and what ``--max-idle-connections``
does to it: one page fetched from each of N HTTPS hosts (ports of a server in another process,
certificates from a local CA), 64 at a time, through the crawler's own connector, and the
crawler process's RSS after each step. Prints MB and KB a connection, with and without the bound.

    python bench/bench_connections.py [--hosts 2000] [--step 250] [--bound 256]

Needs trustme (the test extra).
"""

from __future__ import annotations

import argparse
import asyncio
import asyncio.sslproto
import gc
import json
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import trustme

from crawler.fetch.keepalive import Connector

SERVER = r"""
import asyncio, ssl, sys
from aiohttp import web
cert, n, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3]
async def page(request):
    return web.Response(text="<html><title>x</title>" + "y" * 3000 + "</html>", content_type="text/html")
async def main():
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert)
    app = web.Application(); app.router.add_get("/", page)
    runner = web.AppRunner(app, access_log=None, keepalive_timeout=600); await runner.setup()
    ports = []
    for _ in range(n):
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context, backlog=1024)
        await site.start()
        ports.append(site._server.sockets[0].getsockname()[1])
    open(ready, "w").write(" ".join(map(str, ports)))
    await asyncio.Event().wait()
asyncio.run(main())
"""


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def measure(ports: list[int], ca: str, step: int, bound: int,
                  stock: bool = False) -> list[tuple[int, int, float]]:
    context = ssl.create_default_context(cafile=ca)
    connector = Connector(ssl=context, limit=64, limit_per_host=0, keepalive_timeout=600, max_idle=bound)
    if stock:  # asyncio's own TLS receive buffer, for comparison
        asyncio.sslproto.SSLProtocol.max_size = 256 * 1024
    rows = []
    async with aiohttp.ClientSession(connector=connector) as session:
        async def one(port: int) -> None:
            async with session.get(f"https://localhost:{port}/") as response:
                await response.read()

        gc.collect()
        rows.append((0, 0, rss_mb()))
        for start in range(0, len(ports), step):
            await asyncio.gather(*(one(p) for p in ports[start:start + step]))
            gc.collect()
            idle = sum(len(c) for c in connector._conns.values())
            rows.append((start + step, idle, rss_mb()))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=2000)
    ap.add_argument("--step", type=int, default=250)
    ap.add_argument("--bound", type=int, default=256, help="--max-idle-connections for the second run")
    ap.add_argument("--measure", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--ports", help=argparse.SUPPRESS)
    ap.add_argument("--ca", help=argparse.SUPPRESS)
    ap.add_argument("--stock", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure is not None:  # one measurement, in this process
        ports = [int(p) for p in Path(args.ports).read_text().split()]
        print(json.dumps(asyncio.run(measure(ports, args.ca, args.step, args.measure, args.stock))))
        return
    ca = trustme.CA()
    cert = ca.issue_cert("localhost")
    with tempfile.TemporaryDirectory() as tmp:
        pem, capem, ready = Path(tmp) / "server.pem", Path(tmp) / "ca.pem", Path(tmp) / "ready"
        cert.private_key_and_cert_chain_pem.write_to_path(str(pem))
        ca.cert_pem.write_to_path(str(capem))
        server = subprocess.Popen([sys.executable, "-c", SERVER, str(pem), str(args.hosts), str(ready)])
        try:
            deadline = time.monotonic() + 120
            while not ready.exists() or not ready.read_text():
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the server did not start")
                time.sleep(0.1)
            results = {}
            for bound, stock in ((0, True), (0, False), (args.bound, False)):  # each in a process of its own
                command = [sys.executable, __file__, "--measure", str(bound), "--ports", str(ready), "--ca", str(capem),
                           "--step", str(args.step), *(["--stock"] if stock else [])]
                measured = subprocess.run(command, capture_output=True, text=True, check=True)
                rows = json.loads(measured.stdout)
                name = ("unbounded, asyncio's 256 KiB TLS buffer" if stock else
                        "unbounded" if not bound else f"--max-idle-connections {bound}")
                results[name] = rows
                print(f"{name}:")
                base = rows[0][2]
                for hosts, idle, rss in rows:
                    per = (rss - base) * 1024 / idle if idle else 0.0
                    print(f"  {hosts:5d} hosts fetched, {idle:5d} idle connections: RSS {rss:6.1f} MB "
                          f"(+{rss - base:.1f} MB{f', {per:.0f} KB an idle connection' if idle else ''})")
            print(json.dumps(results))
        finally:
            server.kill()


if __name__ == "__main__":
    main()
