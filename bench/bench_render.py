"""--render on a site of 1,000 pages where 10% are built by script: ``never``, ``auto`` and
``always`` side by side, alternated, in one run. Prints pages/s, pages rendered, the time
``never`` took plus the pages' time in the browser shared among the ``--render-concurrency``
pages at once (what ``auto`` should come close to), and the peak memory of the crawler with
everything it started, the browser's processes included (PSS, and RSS which counts what
Chromium's processes share once a process).

    python bench/bench_render.py [--pages 1000] [--rounds 2] [--render-concurrency 2]

Every page is linked from plain pages too, so each mode crawls every page; a page built by
script (every tenth) gets its text and links from /api/N, fetched by its script. Needs the
render extra and Chromium. The site is an aiohttp server in another process on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import OUT, dump, machine, tree_memory

SERVER = r"""
import asyncio, json, sys
from aiohttp import web
pages, ready = int(sys.argv[1]), sys.argv[2]
TEXT = "<p>" + "Words a plain page carries in its own HTML. " * 40 + "</p>"
def links(n):
    targets = [(n * 7 + k * 13 + 1) % pages for k in range(10)]
    return " ".join(f'<a href="/p/{t}">page {t}</a>' for t in targets)
async def page(request):
    n = int(request.match_info["n"])
    if n % 10 == 0:
        body = f'<div id="root"></div><script src="/app.js"></script><link rel="stylesheet" href="/app.css">'
    else:
        body = TEXT + links(n) + f' <a href="/p/{(n + 1) % pages}">next</a>'
    return web.Response(text=f"<!doctype html><html><head><title>Page {n}</title></head><body>{body}</body></html>",
                        content_type="text/html")
async def api(request):
    n = int(request.match_info["n"])
    return web.json_response({"text": "Words this page's script put in. " * 40,
                              "links": [(n * 3 + k) % pages for k in range(10)]})
APP = ("const n = location.pathname.split('/').pop(); fetch('/api/' + n).then(r => r.json()).then(d => {"
       "document.getElementById('root').innerHTML = '<p>' + d.text + '</p>' + "
       "d.links.map(l => '<a href=\"/p/' + l + '\">page ' + l + '</a>').join(' '); });")
async def app_js(request):
    return web.Response(text=APP, content_type="application/javascript")
async def app_css(request):
    return web.Response(text="body { margin: 0 }", content_type="text/css")
async def main():
    app = web.Application()
    app.router.add_get("/p/{n}", page)
    app.router.add_get("/api/{n}", api)
    app.router.add_get("/app.js", app_js)
    app.router.add_get("/app.css", app_css)
    runner = web.AppRunner(app, access_log=None); await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024); await site.start()
    open(ready, "w").write(str(site._server.sockets[0].getsockname()[1]))
    await asyncio.Event().wait()
asyncio.run(main())
"""


def crawl(url: str, mode: str, concurrency: int, out: Path) -> dict:
    seeds = out.with_suffix(".seeds")
    seeds.write_text(url + "\n")
    stats = out.with_suffix(".stats.json")
    cmd = [sys.executable, "-m", "crawler", "--seeds", str(seeds), "-o", str(out), "--no-progress", "--no-robots",
           "--max-depth", "-1", "--per-host", "16", "--concurrency", "64", "--render", mode,
           "--render-concurrency", str(concurrency), "--stats", str(stats)]
    with tree_memory(0.1) as peak:
        started = time.monotonic()
        done = subprocess.run(cmd, capture_output=True, text=True)
        elapsed = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"{mode}: exit {done.returncode}: {done.stderr[-2000:]}")
    data = json.loads(stats.read_text())
    render = data.get("render", {})
    return {"mode": mode, "pages": data["pages"], "seconds": round(elapsed, 2),
            "pages_per_s": round(data["pages"] / elapsed, 1), "rendered": render.get("pages", 0),
            "render_s": render.get("seconds", 0.0), "peak_pss_mb": round(peak[1] / 2**20),
            "peak_rss_mb": round(peak[0] / 2**20)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--render-concurrency", type=int, default=2)
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        ready = Path(tmp) / "port"
        server = subprocess.Popen([sys.executable, "-c", SERVER, str(args.pages), str(ready)])
        try:
            deadline = time.monotonic() + 15
            while not ready.exists() or not ready.read_text():
                if time.monotonic() > deadline:
                    raise SystemExit("the site did not start")
                time.sleep(0.05)
            url = f"http://127.0.0.1:{ready.read_text()}/p/1"
            rows = []
            for round_ in range(args.rounds):
                for mode in ("never", "auto", "always") if round_ % 2 == 0 else ("always", "auto", "never"):
                    row = crawl(url, mode, args.render_concurrency, OUT / f"render-{mode}.jsonl")
                    print(json.dumps(row), flush=True)
                    rows.append(row)
        finally:
            server.terminate()
            server.wait()
    print(f"\n{machine()}; {args.pages} pages, every tenth built by script; --render-concurrency "
          f"{args.render_concurrency}; best of {args.rounds} rounds")
    print("| --render | pages | rendered | pages/s | seconds | never + rendering / concurrency | "
          "peak PSS (RSS), browser included |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    best = {mode: max((r for r in rows if r["mode"] == mode), key=lambda r: r["pages_per_s"])
            for mode in ("never", "auto", "always")}
    for mode, row in best.items():
        bound = best["never"]["seconds"] + row["render_s"] / args.render_concurrency
        print(f"| {mode} | {row['pages']:,} | {row['rendered']:,} | {row['pages_per_s']:,} | {row['seconds']} | "
              f"{bound:.1f} | {row['peak_pss_mb']} MB ({row['peak_rss_mb']} MB) |")
    dump(OUT / "render.json", {"rows": rows, "machine": machine()})


if __name__ == "__main__":
    main()
