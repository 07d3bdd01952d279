"""Distributed crawl speed: the 20,000-page site crawled by 2 processes sharing a Redis frontier
against 1 process with the in-memory frontier, side by side, and the Redis cost of it.

    python bench/bench_redis.py [--rounds 3] [--workers 2]

Starts its own redis-server (no persistence) and nginx on 127.0.0.1. Prints pages/s of both
(pages over the wall time of the whole command, start-up included, for both), their ratio
(target: at least 1.3 with 2 processes on a 2-core machine), the machine's own ceiling for it
(2 independent in-memory crawls of the site at once against 1), Redis commands and script calls
per page, and Redis memory per URL seen.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import redis
from common import OUT, dump, machine, serve, site

from crawler.cli.testsite import free_port


def crawl(url: str, outs: list[Path], *extra: str) -> float:
    """Seconds the crawl commands took, one command an output, all at once."""
    seeds = OUT / "seeds.txt"
    seeds.write_text(url + "\n")
    start = time.perf_counter()
    commands = [subprocess.Popen([sys.executable, "-m", "crawler", "--seeds", str(seeds), "-o", str(out),
                                  "--per-host", "64", "--concurrency", "64", "--no-progress", "--max-depth", "-1",
                                  *extra], stderr=subprocess.DEVNULL) for out in outs]
    for command in commands:
        if command.wait() != 0:
            raise SystemExit(f"crawl exited with {command.returncode}")
    return time.perf_counter() - start


def lines(paths: list[Path]) -> int:
    return sum(p.read_bytes().count(b"\n") for p in paths)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--redis-per-host", type=int, default=128,
                    help="--per-host of the Redis run: one limit for all processes (default: 64 each)")
    args = ap.parse_args()
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    server = subprocess.Popen([binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly",
                               "no"], stdout=subprocess.DEVNULL)
    redis_url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(redis_url)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    root = site(args.pages)
    single: list[float] = []
    shared: list[float] = []
    apart: list[float] = []
    per_page: list[float] = []
    scripts: list[float] = []
    memory: list[float] = []
    try:
        with serve(root) as (url, name):
            print(f"serving {args.pages} pages with {name} at {url}; {machine()}")
            for r in range(args.rounds):
                out = OUT / "memory.jsonl"
                seconds = crawl(url, [out])
                assert lines([out]) == args.pages
                single.append(args.pages / seconds)
                # The machine's own ceiling: as many independent in-memory crawls at once, each of
                # the whole site (nothing shared), pages of them all over the wall time.
                outs = [OUT / f"apart{i}.jsonl" for i in range(args.workers)]
                seconds = crawl(url, outs)
                assert lines(outs) == args.pages * args.workers
                apart.append(args.pages * args.workers / seconds)
                for old in OUT.glob("redis.*.jsonl"):
                    old.unlink()
                client.flushall()
                client.config_resetstat()
                base = client.info("memory")["used_memory"]
                # --per-host is one limit for all processes: each gets the 64 in flight that the
                # single process has.
                seconds = crawl(url, [OUT / "redis.jsonl"], "--frontier", redis_url, "--crawl-id", f"bench{r}",
                                "--workers", str(args.workers), "--per-host", str(args.redis_per_host))
                outputs = list(OUT.glob("redis.*.jsonl"))
                assert lines(outputs) == args.pages, lines(outputs)
                shared.append(args.pages / seconds)
                stats = client.info("commandstats")
                calls = sum(v["calls"] for k, v in stats.items() if k != "cmdstat_info")
                evals = stats.get("cmdstat_evalsha", {}).get("calls", 0) + stats.get("cmdstat_eval", {}).get("calls", 0)
                per_page.append(calls / args.pages)
                scripts.append(evals / args.pages)
                seen = client.scard(f"crawler:{{bench{r}}}:seen")
                memory.append((client.info("memory")["used_memory"] - base) / seen)
                print(f"round {r + 1}: 1 process in memory {single[-1]:6.0f} pages/s | {args.workers} processes "
                      f"on Redis {shared[-1]:6.0f} pages/s | ratio {shared[-1] / single[-1]:.2f} (ceiling: "
                      f"{args.workers} apart {apart[-1] / single[-1]:.2f}) | "
                      f"{per_page[-1]:.1f} Redis commands a page ({scripts[-1]:.1f} script calls), "
                      f"{memory[-1]:.0f} bytes a URL")
    finally:
        server.terminate()
        server.wait(10)
    result = {
        "machine": machine(), "pages": args.pages, "workers": args.workers,
        "memory_pages_per_s": statistics.median(single), "redis_pages_per_s": statistics.median(shared),
        "ratio": statistics.median(s / m for s, m in zip(shared, single, strict=True)),
        "ceiling": statistics.median(a / m for a, m in zip(apart, single, strict=True)),
        "redis_commands_per_page": statistics.median(per_page), "script_calls_per_page": statistics.median(scripts),
        "redis_bytes_per_url": statistics.median(memory),
    }
    print(f"median: {result['ratio']:.2f} (target >= 1.3; {args.workers} independent crawls at once: "
          f"{result['ceiling']:.2f}); {result['redis_commands_per_page']:.1f} Redis commands "
          f"a page, {result['script_calls_per_page']:.1f} of them script calls; {result['redis_bytes_per_url']:.0f} "
          "bytes of Redis memory a URL seen")
    dump(OUT / "bench_redis.json", result)


if __name__ == "__main__":
    main()
