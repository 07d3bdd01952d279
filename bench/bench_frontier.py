"""A frontier store alone (SQLite by default; ``--store memory``, ``--store redis --redis URL``):
1,000,000 synthetic URLs over 10,000 hosts normalized and pushed in (a page's worth of links per
call, from 64 concurrent callers as the fetch workers are) and drained (get, release, commit done
in batches), no fetching.
Prints URLs/s each way and peak RSS. Targets: >= 20,000 URLs/s each way, peak RSS < 300 MB
(SQLite); accepting >= 100,000 URLs/s (#32).

    python bench/bench_frontier.py [--urls 1000000] [--hosts 10000] [--store sqlite|memory|redis]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import shutil
import sys
import time

from common import OUT, dump, machine

from crawler.frontier import Frontier, MemoryFrontier, RedisFrontier, SQLiteFrontier
from crawler.urls import normalize_url
from crawler.work import CrawlRequest


def store(kind: str, redis: str | None) -> Frontier:
    path = OUT / "frontier-bench" / "frontier.db"
    shutil.rmtree(path.parent, ignore_errors=True)
    if kind == "memory":
        return MemoryFrontier(per_host=1_000_000, window=100_000, spill_dir=str(path.parent))
    if kind == "redis":
        if not redis:
            raise SystemExit("--store redis needs --redis redis://HOST:PORT/DB")
        return RedisFrontier(redis, f"bench{time.time_ns()}", 1_000_000, 0.0, lease_timeout=600, retries=0,
                             worker="bench", reconnect_for=5, max_pages=0)
    return SQLiteFrontier(path, per_host=1_000_000)


async def run(urls: int, hosts: int, batch: int, producers: int, kind: str = "sqlite",
              redis: str | None = None) -> dict[str, float]:
    frontier = store(kind, redis)
    await frontier.open()
    start = time.perf_counter()

    async def producer(k: int) -> None:  # one of the crawl's workers adding its pages' links
        for first in range(k * batch, urls, batch * producers):
            new = [normalize_url(f"http://host{i % hosts}.example/page/{i}")
                   for i in range(first, min(first + batch, urls))]
            new = await frontier.unseen([u for u in new if u is not None])
            await frontier.add([CrawlRequest(url, 1, "http://seed.example/") for url in new])

    await asyncio.gather(*(producer(k) for k in range(producers)))
    push = urls / (time.perf_counter() - start)
    start = time.perf_counter()
    done: list[str] = []
    for _ in range(urls):
        request = await frontier.get()
        assert request is not None
        await frontier.release(request)
        done.append(request.url)
        if len(done) == 1000:
            await frontier.commit(done)
            done = []
    await frontier.commit(done)
    drain = urls / (time.perf_counter() - start)
    await frontier.aclose()
    return {"push_urls_per_s": push, "drain_urls_per_s": drain,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--urls", type=int, default=1_000_000)
    ap.add_argument("--hosts", type=int, default=10_000)
    ap.add_argument("--batch", type=int, default=10, help="URLs per add() call, as a page's links")
    ap.add_argument("--producers", type=int, default=64, help="concurrent add() callers, as fetch workers")
    ap.add_argument("--store", choices=("sqlite", "memory", "redis"), default="sqlite")
    ap.add_argument("--redis", metavar="URL", help="the Redis of --store redis")
    args = ap.parse_args()
    result = asyncio.run(run(args.urls, args.hosts, args.batch, args.producers, args.store, args.redis))
    print(f"{args.store} store: {args.urls} URLs over {args.hosts} hosts, {args.batch} a call from {args.producers} "
          f"concurrent callers; {machine()}")
    print(f"push {result['push_urls_per_s']:.0f} URLs/s, drain {result['drain_urls_per_s']:.0f} URLs/s "
          f"(target >= 20000 each way); peak RSS {result['peak_rss_mb']:.0f} MB (target < 300)")
    dump(OUT / "bench_frontier.json", {"machine": machine(), **vars(args), **result})
    shutil.rmtree(OUT / "frontier-bench", ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
