"""What a discovered URL costs as the frontier grows: a local web whose every page links 1,000
new URLs (one host), crawled for ``--seconds`` with ``-o /dev/null`` and robots.txt off, in each
store; the crawler's RSS and its store's bytes (the job dir on disk, Redis's used memory)
sampled each second against the URLs discovered, and the store's bytes once the crawl is over
("after": a job dir's write-ahead log is folded into its file by then). Prints a table, and a PNG of RSS against URLs
when matplotlib is installed.

    python bench/bench_scale.py [--seconds 30] [--stores memory,sqlite,redis] [--urls N]

Targets (#32): RSS growth at most 32 B a URL (memory store), 80 B a URL on disk (SQLite), 80 B a
URL in Redis; each store accepting at least 100,000 URLs a second.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
from common import OUT, _wait_up, dump, machine

from crawler.cli.testsite import free_port

LINKS = 1000
SERVER = f'''
import sys
from aiohttp import web

async def page(request):
    n = int(request.match_info["n"])
    first = n * {LINKS} + 1
    links = "".join(f'<a href="/p/{{k}}">{{k}}</a>' for k in range(first, first + {LINKS}))
    return web.Response(text=f"<html><title>{{n}}</title><body>{{links}}</body></html>", content_type="text/html")

app = web.Application()
app.router.add_get("/p/{{n}}", page)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
'''


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0


def run(store: str, seconds: float, url: str, redis_port: int | None, urls: int = 0) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    cmd = [sys.executable, "-m", "crawler", url, "-o", "/dev/null", "--no-robots", "--no-progress",
           "--max-depth", "-1", "--per-host", "16", "--max-runtime", str(seconds), "--stats-interval", "1",
           "--log-format", "json"]
    (work / "spill").mkdir()
    env = os.environ | {"TMPDIR": str(work / "spill")}  # where the memory store spills
    if store == "sqlite":
        cmd += ["--job-dir", str(work / "job")]
    if store == "redis":
        cmd += ["--frontier", f"redis://127.0.0.1:{redis_port}/0", "--crawl-id", f"scale{time.time_ns()}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    samples: list[tuple[float, int, int, int]] = []  # (elapsed, discovered, rss, store bytes)
    discovered = [0]

    def stored() -> int:
        if store == "redis":
            info = subprocess.run(["redis-cli", "-p", str(redis_port), "info", "memory"], capture_output=True,
                                  text=True).stdout
            return int(next(line.split(":")[1] for line in info.splitlines() if line.startswith("used_memory:")))
        return folder_bytes(work / "job") if store == "sqlite" else folder_bytes(work / "spill")

    def read_stats() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            if '"event": "stats"' in line:
                try:
                    discovered[0] = int(json.loads(line[line.index("{"):])["discovered"])
                except (ValueError, KeyError):
                    pass

    reader = threading.Thread(target=read_stats, daemon=True)
    reader.start()
    ps = psutil.Process(proc.pid)
    start = time.monotonic()
    rss0 = None
    while proc.poll() is None:
        try:
            rss = ps.memory_info().rss
        except psutil.Error:
            break
        if rss == 0:
            break  # exited, not yet reaped
        rss0 = rss if rss0 is None else rss0
        samples.append((time.monotonic() - start, discovered[0], rss, stored()))
        if urls and discovered[0] >= urls and proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # far enough: stop it as Ctrl-C does
            urls = 0
        time.sleep(1.0)
    proc.wait()
    reader.join(5)
    kept = stored()  # once the crawl is over (SQLite's write-ahead log folded into the file)
    shutil.rmtree(work, ignore_errors=True)
    early = next((s for s in samples if s[1] > 0), samples[0])
    last = samples[-1]
    grown = max(1, last[1] - early[1])
    return {"store": store, "discovered": last[1], "seconds": round(last[0], 1),
            "urls_per_s": round(last[1] / max(last[0], 1e-9)), "rss_mb": round(last[2] / 2**20),
            "rss_bytes_per_url": round((last[2] - early[2]) / grown, 1),
            "store_bytes_per_url": round(last[3] / max(1, last[1]), 1),
            "kept_bytes_per_url": round(kept / max(1, last[1]), 1), "samples": samples}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--stores", default="memory,sqlite,redis")
    parser.add_argument("--urls", type=int, default=0,
                        help="stop each crawl once it has discovered this many URLs (then --seconds is a bound)")
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port)])
    redis = None
    redis_port = None
    try:
        _wait_up(f"http://127.0.0.1:{port}/p/0")
        stores = args.stores.split(",")
        if "redis" in stores:
            redis_port = free_port()
            redis = subprocess.Popen(["redis-server", "--port", str(redis_port), "--save", "", "--appendonly", "no"],
                                     stdout=subprocess.DEVNULL)
            time.sleep(0.5)
        print(f"each page links {LINKS} new URLs; {args.seconds:g} s a store; {machine()}")
        print(f"{'store':8} {'URLs':>11} {'URLs/s':>9} {'RSS':>7} {'RSS B/URL':>10} {'store B/URL':>12} "
              f"{'after B/URL':>12}")
        results = []
        for store in stores:
            found = run(store, args.seconds, f"http://127.0.0.1:{port}/p/0", redis_port, args.urls)
            results.append(found)
            print(f"{store:8} {found['discovered']:>11,} {found['urls_per_s']:>9,} {found['rss_mb']:>5} MB "
                  f"{found['rss_bytes_per_url']:>10} {found['store_bytes_per_url']:>12} "
                  f"{found['kept_bytes_per_url']:>12}", flush=True)
        dump(OUT / "scale.json", {"machine": machine(), "results": results})
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("(no PNG: pip install matplotlib)")
            return
        figure, (rss, kept) = plt.subplots(1, 2, figsize=(11, 4.5))
        for found in results:
            samples = found["samples"]
            millions = [s[1] / 1e6 for s in samples]
            rss.plot(millions, [s[2] / 2**20 for s in samples], label=str(found["store"]))
            kept.plot(millions, [s[3] / 2**20 for s in samples], label=str(found["store"]))
        rss.set(xlabel="URLs discovered (millions)", ylabel="MB", title="the crawler's RSS")
        kept.set(xlabel="URLs discovered (millions)", ylabel="MB",
                 title="the store: spill or job dir on disk, Redis's memory")
        rss.legend()
        figure.tight_layout()
        figure.savefig(OUT / "scale.png", dpi=100)
        print(f"plot: {OUT / 'scale.png'}")
    finally:
        server.terminate()
        if redis is not None:
            redis.terminate()


if __name__ == "__main__":
    main()
