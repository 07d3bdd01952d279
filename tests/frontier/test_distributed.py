"""Distributed crawls: several processes on one crawl through a real redis-server."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiohttp import web

from crawler.cli.testsite import page_path
from tests.conftest import ROOT, read_jsonl, run_cli, start_redis, wait_for
from tests.support.sites import html, lines_in, seeds_file, slow_app

pytestmark = pytest.mark.slow  # a browser, Redis, several processes or kill -9 and resume: see pyproject.toml

_ids = itertools.count()


def crawl_id() -> str:
    return f"t{os.getpid()}-{next(_ids)}"


def start(*args: str, cwd: Path, name: str) -> subprocess.Popen[bytes]:
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    with open(cwd / f"{name}.err", "w") as stderr:
        return subprocess.Popen([sys.executable, "-m", "crawler", *args], stdout=subprocess.DEVNULL, stderr=stderr,
                                env=env, cwd=cwd)


def kill_the_busy_one(args: list[str], cwd: Path, lines: int) -> None:
    """Start processes a and b with ``args`` (each writing NAME.jsonl), kill -9 the first to
    write ``lines`` records (on one host, the process that frees a slot tends to take it again),
    and see the other finish the crawl (exit 0): the victim's leased URLs reach it after the
    lease timeout."""
    procs = {name: start(*args, "-o", str(cwd / f"{name}.jsonl"), "--worker", name, cwd=cwd, name=name)
             for name in ("a", "b")}
    victim = wait_for(lambda: next((n for n in procs if lines_in(cwd / f"{n}.jsonl") >= lines), None), timeout=60)
    survivor = "b" if victim == "a" else "a"
    procs[victim].send_signal(signal.SIGKILL)
    procs[victim].wait(10)
    assert procs[survivor].wait(120) == 0, (cwd / f"{survivor}.err").read_text()


def test_two_and_three_processes_fetch_every_page_exactly_once(site, redis_server, tmp_path: Path) -> None:
    server = site(300)
    expected = {server.url.rstrip("/") + page_path(i) for i in range(300)}
    for n in (2, 3):
        out = tmp_path / str(n)
        out.mkdir()
        proc = run_cli("--seeds", seeds_file(out, server.url), "--frontier", redis_server, "--crawl-id", crawl_id(),
                       "--workers", str(n), "-o", str(out / "pages.jsonl"), "--per-host", "4", cwd=out, timeout=120)
        assert proc.returncode == 0, proc.stderr
        files = sorted(out.glob("pages.*.jsonl"))
        assert len(files) == n  # one output a process (host-pid before the extension)
        urls = [r["url"] for f in files for r in read_jsonl(f)]
        assert sorted(urls) == sorted(expected)  # every page, once, across all outputs


def test_max_pages_is_never_exceeded_with_one_or_two_processes_on_redis(site, redis_server, tmp_path: Path) -> None:
    # The budget is counted in Redis, for every process: many workers adding links at once
    # (each page links 40 new ones) never take it past N.
    server = site(3000, links=40)
    for n in (1, 2):
        out = tmp_path / str(n)
        out.mkdir()
        proc = run_cli("--seeds", seeds_file(out, server.url), "--frontier", redis_server, "--crawl-id", crawl_id(),
                       "--workers", str(n), "-o", str(out / "pages.jsonl"), "--per-host", "16", "--max-pages", "500",
                       "--no-robots", cwd=out, timeout=120)
        assert proc.returncode == 0, proc.stderr
        urls = [r["url"] for f in out.glob("pages*.jsonl") for r in read_jsonl(f)]
        assert len(urls) == len(set(urls)) == 500, n


def test_a_killed_process_loses_nothing(serve, redis_server, tmp_path: Path) -> None:
    server = serve(slow_app(60, 0.15))  # 60 pages at 2 at a time: 4.5 s at least
    cid = crawl_id()
    args = ["--seeds", seeds_file(tmp_path, server.url), "--frontier", redis_server, "--crawl-id", cid,
            "--lease-timeout", "2", "--per-host", "2", "--no-robots"]
    kill_the_busy_one(args, tmp_path, lines=3)
    urls = {r["url"] for name in ("a", "b") for r in read_jsonl(tmp_path / f"{name}.jsonl")}
    assert urls == {server.url} | {server.url + f"p/{i}" for i in range(60)}
    status = run_cli("status", "--frontier", redis_server, "--crawl-id", cid, "--json", cwd=tmp_path)
    figures = json.loads(status.stdout)
    assert figures["queued"] == 0 and figures["leases"] == 0 and figures["dead"] == 0


def test_a_crawl_ends_when_its_last_record_is_written(serve, redis_server, tmp_path: Path) -> None:
    # Requests that go back to the frontier (the page that waited for robots.txt, a 500 tried
    # again) are whoever leases them next's to finish: the process must not wait for them
    # itself, which would hold the end until the writer's flush timer (60 s here).
    async def flaky(request: web.Request) -> web.Response:
        tries[request.path] = tries.get(request.path, 0) + 1
        if tries[request.path] == 1 and request.path != "/":
            return web.Response(status=500)
        return html('<a href="/p/1">x</a><a href="/p/2">x</a>')

    tries: dict[str, int] = {}
    app = web.Application()
    app.router.add_get("/", flaky)
    app.router.add_get("/p/{n}", flaky)
    server = serve(app)
    out = tmp_path / "o.jsonl"
    proc = run_cli("--seeds", seeds_file(tmp_path, server.url), "--frontier", redis_server, "--crawl-id", crawl_id(),
                   "--retries", "1", "-o", str(out), cwd=tmp_path, timeout=30,
                   env={"CRAWLER_FLUSH_INTERVAL": "60"})
    assert proc.returncode == 0, proc.stderr
    assert sorted(r["status"] for r in read_jsonl(out)) == [200, 200, 200]
    assert tries == {"/": 1, "/p/1": 2, "/p/2": 2}


def test_per_host_delay_holds_across_processes(serve, redis_server, tmp_path: Path) -> None:
    server = serve(slow_app(12, 0.0))
    args = ["--seeds", seeds_file(tmp_path, server.url), "--frontier", redis_server, "--crawl-id", crawl_id(),
            "--delay", "0.2", "--per-host", "1", "--no-robots", "--workers", "2", "-o", str(tmp_path / "o.jsonl")]
    proc = run_cli(*args, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    starts = sorted(hit.start for hit in server.hits)
    assert len(starts) == 13
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= 0.18, gaps


def test_seeding_a_running_crawl_and_status(serve, redis_server, tmp_path: Path) -> None:
    first, second = serve(slow_app(40, 0.15)), serve(slow_app(5, 0.0))  # the first lasts 3 s or more
    cid = crawl_id()
    seeded = run_cli("seed", "--frontier", redis_server, "--crawl-id", cid, seeds_file(tmp_path, first.url),
                     cwd=tmp_path)
    assert seeded.returncode == 0 and "1 new of 1 seeds" in seeded.stderr, seeded.stderr
    worker = start("--frontier", redis_server, "--crawl-id", cid, "--per-host", "2", "--no-robots",
                   "-o", str(tmp_path / "w.jsonl"), "--worker", "w1", cwd=tmp_path, name="w")
    wait_for(lambda: lines_in(tmp_path / "w.jsonl") >= 2, timeout=30)
    (tmp_path / "more.txt").write_text(second.url + "\n")
    more = run_cli("seed", "--frontier", redis_server, "--crawl-id", cid, str(tmp_path / "more.txt"), cwd=tmp_path)
    assert more.returncode == 0, more.stderr
    status = run_cli("status", "--frontier", redis_server, "--crawl-id", cid, cwd=tmp_path)
    assert status.returncode == 0 and f"crawl {cid}:" in status.stdout and "worker w1: last heard from" in status.stdout
    assert worker.wait(60) == 0, (tmp_path / "w.err").read_text()
    urls = {r["url"] for r in read_jsonl(tmp_path / "w.jsonl")}
    assert urls == ({first.url} | {first.url + f"p/{i}" for i in range(40)}
                    | {second.url} | {second.url + f"p/{i}" for i in range(5)})
    done = json.loads(run_cli("status", "--frontier", redis_server, "--crawl-id", cid, "--json",
                              cwd=tmp_path).stdout)
    assert done["done"] == 47 and done["queued"] == 0 and done["leases"] == 0


def test_items_into_one_redis_stream(site, redis_server, tmp_path: Path) -> None:
    import redis

    server = site(40)
    stream = f"items-{crawl_id()}"
    proc = run_cli("--seeds", seeds_file(tmp_path, server.url), "--frontier", redis_server, "--crawl-id", crawl_id(),
                   "--workers", "2", "-o", f"{redis_server}/{stream}", cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    client = redis.Redis.from_url(redis_server)
    urls = [json.loads(fields[b"data"])["url"] for _, fields in client.xrange(stream)]
    assert sorted(urls) == sorted(server.url.rstrip("/") + page_path(i) for i in range(40))


def test_an_unreachable_redis_is_one_line_and_exit_1_without_its_password(tmp_path: Path) -> None:
    from crawler.cli.testsite import free_port

    port, other = free_port(), free_port()
    for url, shown in ((f"redis://:s3cret@127.0.0.1:{port}/0", f"redis://***@127.0.0.1:{port}/0"),
                       (f"redis+cluster://me:s3cret@127.0.0.1:{port},127.0.0.1:{other}",
                        f"redis+cluster://me:***@127.0.0.1:{port},127.0.0.1:{other}")):
        proc = run_cli("--seeds", seeds_file(tmp_path, "http://127.0.0.1:9/"), "--frontier", url, "--crawl-id", "x",
                       cwd=tmp_path)
        assert proc.returncode == 1
        assert f"cannot reach Redis at {shown}:" in proc.stderr and "Traceback" not in proc.stderr
        assert "s3cret" not in proc.stderr
        status = run_cli("status", "--frontier", url, "--crawl-id", "x", cwd=tmp_path)
        assert status.returncode == 1 and "s3cret" not in status.stderr and shown in status.stderr


def own_redis(port: int, workdir: Path) -> subprocess.Popen[bytes]:
    """A redis-server of this test's own on ``port``, persisting every write (appendfsync always),
    as the README says to run Redis for crawls, so it can be killed and started again."""
    import shutil

    binary = shutil.which("redis-server")
    assert binary is not None, "redis-server is needed (the redis_server fixture skips loudly without it)"
    return start_redis(binary, port, workdir, "--appendonly", "yes", "--appendfsync", "always")


def test_losing_redis_mid_crawl_for_longer_than_redis_reconnect_is_fatal_with_one_line(serve, tmp_path: Path) -> None:
    from crawler.cli.testsite import free_port

    port = free_port()
    redis = own_redis(port, tmp_path)
    (tmp_path / "crawl.toml").write_text("redis_reconnect = 1.0\n")
    try:
        server = serve(slow_app(100, 0.1))
        crawler = start("--seeds", seeds_file(tmp_path, server.url), "--frontier", f"redis://127.0.0.1:{port}/0",
                        "--crawl-id", "gone", "--per-host", "2", "--no-robots", "-o", str(tmp_path / "o.jsonl"),
                        "--config", str(tmp_path / "crawl.toml"), cwd=tmp_path, name="c")
        wait_for(lambda: len(server.hits) >= 5, timeout=30)
    finally:
        redis.kill()
        redis.wait(10)
    assert crawler.wait(30) == 1
    err = (tmp_path / "c.err").read_text()
    errors = [line for line in err.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and f"lost Redis at redis://127.0.0.1:{port}/0 for more than 1 s" in errors[0], err
    assert "Traceback" not in err and "crawl failed" in err


def test_a_redis_restarted_mid_crawl_is_waited_for_and_the_crawl_goes_on(serve, tmp_path: Path) -> None:
    from crawler.cli.testsite import free_port

    port = free_port()
    redis = own_redis(port, tmp_path)
    server = serve(slow_app(100, 0.05))
    out = tmp_path / "o.jsonl"
    try:
        crawler = start("--seeds", seeds_file(tmp_path, server.url), "--frontier", f"redis://127.0.0.1:{port}/0",
                        "--crawl-id", "restarted", "--per-host", "2", "--no-robots", "-o", str(out),
                        cwd=tmp_path, name="c")
        wait_for(lambda: lines_in(out) >= 20, timeout=30)
        redis.kill()  # down for 0.3 s, then up again with what it had written to its append-only file
        redis.wait(10)
        time.sleep(0.3)  # the outage itself, not a wait for work
        redis = own_redis(port, tmp_path)
        assert crawler.wait(60) == 0, (tmp_path / "c.err").read_text()
    finally:
        redis.kill()
        redis.wait(10)
    urls = {r["url"] for r in read_jsonl(out)}
    assert urls == {server.url} | {f"{server.url}p/{i}" for i in range(100)}
    err = (tmp_path / "c.err").read_text()
    assert "trying again for up to 30 s" in err and "is back after" in err


def test_the_redis_stream_output_waits_out_a_redis_restart_and_loses_nothing(serve, tmp_path: Path) -> None:
    import redis as redis_client

    from crawler.cli.testsite import free_port

    port = free_port()
    redis = own_redis(port, tmp_path)
    server = serve(slow_app(100, 0.05))
    url = f"redis://127.0.0.1:{port}/0"

    def written() -> int:
        try:
            return int(redis_client.Redis.from_url(url).xlen("pages"))
        except redis_client.RedisError:
            return 0

    try:
        crawler = start("--seeds", seeds_file(tmp_path, server.url), "--per-host", "2", "--no-robots",
                        "-o", f"{url}/pages", cwd=tmp_path, name="c")
        wait_for(lambda: written() >= 20, timeout=30)
        redis.kill()  # down for 1.5 s (the writer writes every second), then up again with what it had
        redis.wait(10)
        time.sleep(1.5)  # the outage itself, not a wait for work
        redis = own_redis(port, tmp_path)
        assert crawler.wait(60) == 0, (tmp_path / "c.err").read_text()
        entries = redis_client.Redis.from_url(url).xrange("pages")
    finally:
        redis.kill()
        redis.wait(10)
    urls = {json.loads(fields[b"data"])["url"] for _, fields in entries}
    assert urls == {server.url} | {f"{server.url}p/{i}" for i in range(100)}  # at least once each
    err = (tmp_path / "c.err").read_text()
    assert "trying again for up to 30 s" in err and "is back after" in err
