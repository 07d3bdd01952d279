"""Crawls on a real Redis Cluster of 3 masters (``--frontier redis+cluster://``): each host's keys
in its part, the parts spread over the masters, every page once, a killed worker losing nothing."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import redis
from aiohttp import web
from redis.crc import key_slot

from crawler.frontier import RedisFrontier
from crawler.frontier.redis_parts import PARTS, SLOTS, part_prefixes
from crawler.redisconn import cluster_nodes
from crawler.work import CrawlRequest, shard_of
from tests.conftest import read_jsonl, run_cli
from tests.frontier.test_distributed import crawl_id, kill_the_busy_one
from tests.support.sites import html, seeds_file


def test_each_part_has_a_hash_tag_in_its_own_sixteenth_of_the_slots() -> None:
    prefixes = part_prefixes("news", cluster=True)
    assert len(set(prefixes)) == PARTS == 16
    for p, prefix in enumerate(prefixes):
        assert p * SLOTS // PARTS <= key_slot(prefix.encode()) < (p + 1) * SLOTS // PARTS
    assert part_prefixes("news", cluster=True) == prefixes  # the same in every process
    assert part_prefixes("news", cluster=False) == ["crawler:{news}:"]


def test_cluster_urls_name_their_nodes_and_credentials() -> None:
    assert cluster_nodes("redis+cluster://10.0.0.1:7000,10.0.0.2,[::1]:7002") == (
        [("10.0.0.1", 7000), ("10.0.0.2", 6379), ("::1", 7002)], {"ssl": False})
    nodes, options = cluster_nodes("rediss+cluster://me:s%40cret@h:1/0")
    assert nodes == [("h", 1)] and options == {"ssl": True, "username": "me", "password": "s@cret"}
    with pytest.raises(ValueError):
        cluster_nodes("redis+cluster:///0")


def _masters(ports: list[int]) -> dict[int, range]:
    """Each master's port -> its slots (the cluster says)."""
    client = redis.Redis(port=ports[0])
    try:
        rows = client.execute_command("CLUSTER", "SLOTS")
        return {int(row[2][1]): range(int(row[0]), int(row[1]) + 1) for row in rows}
    finally:
        client.close()


def _master_of(host: str, cid: str, masters: dict[int, range]) -> int:
    slot = key_slot(part_prefixes(cid, cluster=True)[shard_of(host, PARTS)].encode())
    return next(port for port, slots in masters.items() if slot in slots)


def _hosts_site(serve, cluster, cid: str, pages: int, seconds: float = 0.0) -> list[str]:
    """Hosts (ports of one app) whose parts are on every master of ``cluster``, at least 2 a
    master: ``/`` links ``/p/0``.. and every other host's ``/``; ``/p/N`` links ``/go/N``,
    which redirects to ``/t/N/FROM`` on the next host (so redirects cross parts)."""
    masters = _masters(cluster.ports)
    chosen: list[int] = []

    async def home(request: web.Request) -> web.Response:
        others = "".join(f'<a href="http://127.0.0.1:{p}/">h</a>' for p in chosen if p != request.url.port)
        return html("".join(f'<a href="/p/{i}">p</a>' for i in range(pages)) + others)

    async def page(request: web.Request) -> web.Response:
        await asyncio.sleep(seconds)
        return html(f'<a href="/go/{request.match_info["n"]}">go</a>')

    async def go(request: web.Request) -> web.Response:
        me = request.url.port
        after = chosen[(chosen.index(me) + 1) % len(chosen)]
        return web.Response(status=302, headers={"Location": f"http://127.0.0.1:{after}/t/{request.match_info['n']}/{me}"})

    async def target(request: web.Request) -> web.Response:
        return html("a target")

    for _ in range(5):  # 24 random ports miss a master once in 5,000 tries or so: then 24 more
        app = web.Application()
        app.router.add_get("/", home)
        app.router.add_get("/p/{n}", page)
        app.router.add_get("/go/{n}", go)
        app.router.add_get("/t/{n}/{from}", target)
        server = serve(app, sites=24)
        by_master: dict[int, list[int]] = {m: [] for m in masters}
        for port in server.ports:
            by_master[_master_of(f"127.0.0.1:{port}", cid, masters)].append(port)
        if all(len(ports) >= 2 for ports in by_master.values()):
            chosen.extend(port for ports in by_master.values() for port in ports[:2])
            return [f"http://127.0.0.1:{p}" for p in chosen]
    raise AssertionError("no ports covering every master")


def _keys(port: int, pattern: str) -> list[bytes]:
    client = redis.Redis(port=port)
    try:
        return list(client.scan_iter(match=pattern, count=1000))
    finally:
        client.close()


@pytest.mark.slow  # a Redis Cluster and several processes (so are the next)
def test_a_multi_host_crawl_on_three_masters_fetches_each_page_once(serve, redis_cluster, tmp_path: Path) -> None:
    cid = crawl_id()
    hosts = _hosts_site(serve, redis_cluster, cid, pages=8)
    expected = {f"{h}{path}" for h in hosts for path in ["/", *(f"/p/{i}" for i in range(8)),
                                                         *(f"/go/{i}" for i in range(8))]}
    proc = run_cli("--seeds", seeds_file(tmp_path, hosts[0] + "/"), "--frontier", redis_cluster.url, "--crawl-id", cid,
                   "--workers", "2", "-o", str(tmp_path / "pages.jsonl"), "--per-host", "2", "--no-robots",
                   "--scope", "any", cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    records = [r for f in tmp_path.glob("pages.*.jsonl") for r in read_jsonl(f)]
    assert sorted(r["url"] for r in records) == sorted(expected)  # every page, once
    moved = [r for r in records if "/go/" in r["url"]]
    assert all("/t/" in r["final_url"] and r["status"] == 200 for r in moved)
    # Each host's seen URLs are on the master of its part; every master has some.
    for port in redis_cluster.ports:
        assert _keys(port, f"crawler:{{{cid}/*}}:s:*"), f"no seen-set keys of the crawl on master {port}"
    # Redirects to a host of another part went there through move.lua (its tokens are kept a minute).
    assert any(_keys(port, f"crawler:{{{cid}/*}}:moved:*") for port in redis_cluster.ports)
    status = run_cli("status", "--frontier", redis_cluster.url, "--crawl-id", cid, "--json", cwd=tmp_path)
    figures = json.loads(status.stdout)
    assert figures["done"] == len(expected) and figures["queued"] == figures["leases"] == 0, figures


@pytest.mark.slow
def test_a_killed_worker_loses_nothing_on_a_cluster(serve, redis_cluster, tmp_path: Path) -> None:
    cid = crawl_id()
    hosts = _hosts_site(serve, redis_cluster, cid, pages=6, seconds=0.2)
    expected = {f"{h}{path}" for h in hosts for path in ["/", *(f"/p/{i}" for i in range(6)),
                                                         *(f"/go/{i}" for i in range(6))]}
    args = ["--seeds", seeds_file(tmp_path, *(h + "/" for h in hosts)), "--frontier", redis_cluster.url,
            "--crawl-id", cid, "--lease-timeout", "2", "--per-host", "1", "--no-robots", "--scope", "any"]
    kill_the_busy_one(args, tmp_path, lines=5)
    urls = {r["url"] for name in ("a", "b") for r in read_jsonl(tmp_path / f"{name}.jsonl")}
    assert urls == expected  # at least once each (a page the victim wrote and had not acked comes twice)
    status = run_cli("status", "--frontier", redis_cluster.url, "--crawl-id", cid, "--json", cwd=tmp_path)
    figures = json.loads(status.stdout)
    assert figures["queued"] == 0 and figures["leases"] == 0 and figures["dead"] == 0, figures


@pytest.mark.slow
def test_max_pages_holds_on_a_cluster_and_a_plain_url_of_a_node_finds_the_cluster(serve, redis_cluster,
                                                                                  tmp_path: Path) -> None:
    cid = crawl_id()
    hosts = _hosts_site(serve, redis_cluster, cid, pages=30)
    node = f"redis://127.0.0.1:{redis_cluster.ports[1]}/0"  # one node's plain URL: the cluster is found
    seeded = run_cli("seed", "--frontier", node, "--crawl-id", cid, seeds_file(tmp_path, *(h + "/" for h in hosts)),
                     cwd=tmp_path)
    assert seeded.returncode == 0, seeded.stderr
    proc = run_cli("--frontier", redis_cluster.url, "--crawl-id", cid, "--workers", "2", "--max-pages", "40",
                   "-o", str(tmp_path / "pages.jsonl"), "--per-host", "4", "--no-robots", "--scope", "any",
                   cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    urls = [r["url"] for f in tmp_path.glob("pages.*.jsonl") for r in read_jsonl(f)]
    assert len(urls) == len(set(urls)) == 40


def _other_part_host(host: str) -> str:
    """A host whose part is not ``host``'s."""
    return next(h for h in (f"h{i}.test" for i in range(100)) if shard_of(h, PARTS) != shard_of(host, PARTS))


@pytest.mark.slow
async def test_a_redirect_across_parts_moves_once_and_not_after_its_lease_ran_out(redis_cluster) -> None:
    def frontier(lease: float) -> RedisFrontier:
        return RedisFrontier(redis_cluster.url, cid, per_host=1, delay=0.0, lease_timeout=lease, retries=3,
                             worker="w", reconnect_for=5, max_pages=0)

    async def queued_there() -> int:
        return int(await a.redis.llen(a.prefixes[shard_of(other, PARTS)] + f"q:{other}"))

    cid = crawl_id()
    first, other = "a.test", _other_part_host("a.test")
    a, b = frontier(0.3), frontier(60)
    await a.open()
    await b.open()
    try:
        await a.add([CrawlRequest(f"http://{first}/1"), CrawlRequest(f"http://{first}/2")])
        one = await a.get()
        assert one is not None and one.url == f"http://{first}/1"
        one.redirect(f"http://{other}/to/1")  # a hop to a host of another part, within its lease
        await a.retry(one, 0)
        assert await queued_there() == 1
        two = await a.get()  # (its host's slot was freed by the move)
        assert two is not None and two.url == f"http://{first}/2"
        # Its lease runs out (0.3 s) and another process takes it back (and the moved one).
        taken = {}
        while f"http://{first}/2" not in taken:
            got = await asyncio.wait_for(b.get(), 10)
            assert got is not None
            taken[got.url] = got
        assert taken[f"http://{first}/1"].fetch_url == f"http://{other}/to/1"
        # The redirect comes too late: nothing moves, the URL is someone else's now.
        two.redirect(f"http://{other}/to/2")
        await a.retry(two, 0)
        assert await queued_there() == 0
        await b.ack([r.key for r in taken.values()])
        assert await asyncio.wait_for(b.get(), 10) is None  # over: every URL once
    finally:
        await a.aclose()
        await b.aclose()


@pytest.mark.slow
def test_the_redis_stream_output_speaks_redis_cluster(site, redis_cluster, tmp_path: Path) -> None:
    from redis.cluster import ClusterNode, RedisCluster

    server = site(20)
    nodes = [ClusterNode("127.0.0.1", port) for port in redis_cluster.ports]
    client = RedisCluster(startup_nodes=nodes)
    try:
        for output in (f"{redis_cluster.url}/pages-{crawl_id()}",  # redis+cluster://h:p,h:p/NAME
                       f"redis://127.0.0.1:{redis_cluster.ports[1]}/0/pages2-{crawl_id()}"):  # a node's URL
            stream = output.rsplit("/", 1)[1]
            proc = run_cli(server.url, "-o", output, "--no-robots", "--no-progress", cwd=tmp_path, timeout=60)
            assert proc.returncode == 0, proc.stderr
            urls = [json.loads(fields[b"data"])["url"] for _, fields in client.xrange(stream)]
            assert len(urls) == len(set(urls)) == 20, output  # every page once, whichever master holds it
    finally:
        client.close()
    bad = run_cli(server.url, "-o", f"{redis_cluster.url}", "--no-robots", cwd=tmp_path)
    assert bad.returncode == 2 and "redis+cluster://host:port,host:port/NAME" in bad.stderr
