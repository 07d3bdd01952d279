"""Frontier stores: per-host scheduling, and the SQLite store's durability and bounded window."""

from __future__ import annotations

from pathlib import Path

from crawler.frontier import MemoryFrontier, SQLiteFrontier
from crawler.work import CrawlRequest


def requests(n: int, hosts: int = 4) -> list[CrawlRequest]:
    return [CrawlRequest(f"http://h{i % hosts}.test/p{i}") for i in range(n)]


async def drain(frontier) -> list[str]:
    """Take every request, releasing each at once; the URLs in the order handed out."""
    out = []
    while len(frontier):
        request = await frontier.get()
        out.append(request.url)
        await frontier.release(request)
    return out


async def test_memory_frontier_dedupes_and_limits() -> None:
    f = MemoryFrontier(per_host=2)
    assert len(await f.add(requests(10))) == 10
    assert [r.url for r in await f.add(requests(12))] == [r.url for r in requests(12)[10:]]
    assert len(f) == 12
    assert await f.unseen(["http://h0.test/p0", "http://new.test/"]) == ["http://new.test/"]
    assert len(await f.add([CrawlRequest(f"http://x.test/{i}") for i in range(5)], limit=3)) == 3


async def test_sqlite_frontier_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "frontier.db"
    f = SQLiteFrontier(path, per_host=2)
    assert await f.open() == 0
    assert len(await f.add(requests(100))) == 100
    assert await f.add(requests(100)) == []
    await f.commit([f"http://h{i % 4}.test/p{i}" for i in range(10)], {"offset": "123"})
    await f.aclose()

    again = SQLiteFrontier(path, per_host=2)
    assert await again.open() == 90  # the done ones stay done
    assert await again.meta("offset") == "123"
    assert await again.add(requests(100)) == []  # the seen set is on disk
    assert await again.missing(["http://h1.test/p1", "http://h1.test/new"]) == ["http://h1.test/new"]
    urls = await drain(again)
    assert sorted(urls) == sorted(f"http://h{i % 4}.test/p{i}" for i in range(10, 100))
    await again.aclose()


async def test_sqlite_frontier_keeps_a_bounded_window(tmp_path: Path) -> None:
    f = SQLiteFrontier(tmp_path / "f.db", per_host=1, window=50)
    await f.open()
    for start in range(0, 2000, 200):
        await f.add(requests(2000)[start:start + 200])
        assert f._queued <= 50 and len(f) == start + 200  # the window in memory; the backlog in all
    urls = await drain_all(f, 2000)
    assert len(urls) == len(set(urls)) == 2000
    for host in range(4):  # each host's URLs come out in the order they were accepted
        mine = [u for u in urls if u.startswith(f"http://h{host}.test/")]
        assert mine == sorted(mine, key=lambda u: int(u.rsplit("p", 1)[1]))
    await f.aclose()


async def drain_all(frontier, total: int) -> list[str]:
    out: list[str] = []
    while len(out) < total:
        request = await frontier.get()
        assert frontier._queued <= frontier.window
        out.append(request.url)
        await frontier.release(request)
    return out


async def test_engine_crawls_with_the_sqlite_frontier(site, tmp_path: Path) -> None:
    from crawler import Engine, load_settings
    from tests.conftest import read_jsonl

    server = site(300)
    frontier = SQLiteFrontier(tmp_path / "f.db", per_host=4, window=40)  # the engine opens and closes it
    out = tmp_path / "out.jsonl"
    settings = load_settings({"output": str(out), "progress": False, "per_host": 4})
    await Engine(settings, [server.url], frontier=frontier).run()
    records = read_jsonl(out)
    assert len(records) == len({r["url"] for r in records}) == 300
    assert all(r["error"] is None for r in records)
    reopened = SQLiteFrontier(tmp_path / "f.db", per_host=4)
    assert await reopened.open() == 0  # every URL committed done
    await reopened.aclose()


async def test_sqlite_settle_hands_out_again_what_the_file_holds_not_done(tmp_path) -> None:
    from crawler.frontier import SQLiteFrontier
    from crawler.work import CrawlRequest

    frontier = SQLiteFrontier(tmp_path / "f.db", per_host=4)
    await frontier.open()
    await frontier.add([CrawlRequest("http://a.example/1"), CrawlRequest("http://a.example/2")])
    taken = [await frontier.get(), await frontier.get()]
    for request in taken:
        await frontier.release(request)
    await frontier.commit(["http://a.example/1"])
    assert await frontier.settle() == 1  # /2 was handed out and never committed
    again = await frontier.get()
    assert again is not None and again.url == "http://a.example/2"
    await frontier.commit(["http://a.example/2"])
    assert await frontier.settle() == 0
    await frontier.aclose()
