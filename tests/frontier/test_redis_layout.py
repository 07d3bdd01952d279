"""The Redis frontier's compact layout, against a real redis-server: the seen set as small sets of
64-bit integers split as the crawl grows, and queued pages as compact lines."""

from __future__ import annotations

import os

import pytest
import redis

from crawler.frontier import RedisFrontier
from crawler.work import CrawlRequest

pytestmark = pytest.mark.slow  # a redis-server: see pyproject.toml

URLS = 40_000
SITE = "http://site.test"


def frontier(url: str, crawl: str) -> RedisFrontier:
    return RedisFrontier(url, crawl, per_host=4, delay=0.0, lease_timeout=60, retries=1, worker="w",
                         reconnect_for=5, max_pages=0)


async def test_the_seen_set_stays_exact_and_compact_as_it_grows(redis_server: str) -> None:
    crawl = f"layout{os.getpid()}"
    client = redis.Redis.from_url(redis_server)
    before = client.info("memory")["used_memory"]
    store = frontier(redis_server, crawl)
    await store.open()
    links = [CrawlRequest(f"{SITE}/p/{i}", 1, f"{SITE}/p/{i // 100}") for i in range(URLS)]
    accepted = []
    for i in range(0, URLS, 500):  # a page's links at a time, some listed twice within a call
        accepted += await store.add(links[i:i + 500] + [CrawlRequest(r.url, 2) for r in links[i:i + 10]])
    assert [r.url for r in accepted] == [r.url for r in links]  # each once, in order
    again = frontier(redis_server, crawl)  # another process: nothing is new to it either
    await again.open()
    assert await again.add([CrawlRequest(r.url, 2) for r in links[::7]]) == []
    assert len(await again.add([CrawlRequest(f"{SITE}/new/{i}", 1) for i in range(100)])) == 100
    assert await again.claim(f"{SITE}/p/5", f"{SITE}/p/4") is False  # seen: not a redirect's to take

    prefix = f"crawler:{{{crawl}}}:"
    buckets = [key for key in client.scan_iter(f"{prefix}s:*", count=1000)]
    state = {k.decode(): int(v) for k, v in client.hgetall(f"{prefix}seenstate").items()}
    assert state["count"] == URLS + 100
    assert sum(client.scard(key) for key in buckets) == URLS + 100
    assert len(buckets) > 100  # split as it grew...
    assert all(client.object("encoding", key) == b"intset" for key in buckets)  # ...each packed
    assert client.llen(f"{prefix}q:site.test") == URLS + 100
    assert client.lindex(f"{prefix}q:site.test", 1) == b"~|1|http://site.test/p/1|/p/0"
    used = (client.info("memory")["used_memory"] - before) / URLS
    assert used < 80, f"{used:.1f} bytes a URL in Redis"

    handed = []
    while len(handed) < 300:
        request = await again.get()
        assert request is not None
        handed.append((request.url, request.depth, request.referrer))
        await again.release(request)
        await again.ack([request.key])
    assert handed[:3] == [(f"{SITE}/p/{i}", 1, f"{SITE}/p/0") for i in range(3)]
    for store_ in (store, again):
        await store_.aclose()
    client.close()


async def test_adds_gathered_into_one_call_each_get_their_own_new_urls(redis_server: str) -> None:
    import asyncio

    store = frontier(redis_server, f"gathered{os.getpid()}")
    await store.open()
    try:
        shared = CrawlRequest(f"{SITE}/shared", 1)
        pages = [[CrawlRequest(f"{SITE}/{n}/{i}", 1) for i in range(30)] + [shared] for n in range(20)]
        answers = await asyncio.gather(*(store.add(links) for links in pages))  # many workers at once
        assert sum(r is shared for answer in answers for r in answer) == 1  # accepted once, for one of them
        assert [len([r for r in answer if r is not shared]) for answer in answers] == [30] * 20
    finally:
        await store.aclose()


def test_a_crawl_begun_by_0_1_is_finished_by_this_version(redis_server: str, serve, tmp_path) -> None:
    """0.1's layout, written as 0.1 wrote it (its seen set of 8-byte SHA-1 prefixes, JSON
    queue lines): this version goes on from it, fetching what was queued and nothing it had
    seen."""
    import hashlib
    import json as jsonlib

    from aiohttp import web

    from tests.conftest import read_jsonl, run_cli

    async def page(request: web.Request) -> web.Response:
        links = "".join(f"<a href='/p/{i}'>{i}</a>" for i in range(10))
        return web.Response(text=f"<title>{request.path}</title>{links}", content_type="text/html")

    app = web.Application()
    app.router.add_get("/{tail:.*}", page)
    site = serve(app)
    host = site.url.split("/")[2]
    crawl = f"old{os.getpid()}"
    prefix = f"crawler:{{{crawl}}}:"
    client = redis.Redis.from_url(redis_server)
    done = [site.url] + [f"{site.url}p/{i}" for i in range(5)]  # fetched and written by the 0.1 run
    queued = [f"{site.url}p/{i}" for i in range(5, 10)]  # waiting when it stopped
    client.sadd(prefix + "seen", *(hashlib.sha1(u.encode()).digest()[:8] for u in done + queued))
    client.rpush(prefix + "q:" + host, *(jsonlib.dumps({"url": u, "depth": 1, "referrer": site.url},
                                                       separators=(",", ":")) for u in queued))
    client.set(prefix + "queued", len(queued))
    client.set(prefix + "done", len(done))
    client.set(prefix + "accepted", len(done) + len(queued))
    client.zadd(prefix + "ready", {host: 0})
    finished = run_cli(site.url, "--frontier", redis_server, "--crawl-id", crawl, "-o", str(tmp_path / "out.jsonl"),
                       "--no-robots", "--no-progress", cwd=tmp_path, timeout=60)
    assert finished.returncode == 0, finished.stderr
    assert sorted(r["url"] for r in read_jsonl(tmp_path / "out.jsonl")) == sorted(queued)  # what 0.1 left, once
    assert sorted(site.paths()) == sorted(f"/p/{i}" for i in range(5, 10))  # nothing it had done again
    again = run_cli(site.url, "--frontier", redis_server, "--crawl-id", crawl, "-o", str(tmp_path / "again.jsonl"),
                    "--no-robots", "--no-progress", cwd=tmp_path, timeout=60)
    assert again.returncode == 0 and read_jsonl(tmp_path / "again.jsonl") == []  # over: every URL seen
