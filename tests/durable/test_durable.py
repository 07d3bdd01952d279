"""Durable crawls: resume after SIGKILL, SIGINT or --max-runtime with every page exactly once;
the job lock; recrawls. The crawler runs as a subprocess against a real server; its state is a
real SQLite file."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp import web

from tests.conftest import ROOT, read_jsonl, run_cli, wait_for
from tests.support.sites import lines_in, seeds_file, slow_app, validating_app

pytestmark = pytest.mark.slow  # a browser, Redis, several processes or kill -9 and resume: see pyproject.toml

PAGES = 300


def expected(server) -> set[str]:
    return {server.url} | {f"{server.url}p/{i}" for i in range(PAGES)}


def start(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    stderr = open(tmp_path / "stderr.txt", "a")
    return subprocess.Popen([sys.executable, "-m", "crawler", *args], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=stderr, text=True)


def crawl_args(tmp_path: Path, server, *extra: str) -> list[str]:
    return ["--seeds", seeds_file(tmp_path, server.url), "--job-dir", str(tmp_path / "job"),
            "-o", str(tmp_path / "out.jsonl"), "--per-host", "2", "--no-robots", *extra]


def assert_exactly_once(path: Path, server) -> None:
    lines = path.read_text("utf-8").splitlines()
    records = [json.loads(line) for line in lines]  # every line whole, valid JSON
    urls = [r["url"] for r in records]
    assert len(urls) == len(set(urls)), "a URL was written twice"
    assert set(urls) == expected(server)


def test_sigkill_at_any_moment_then_resume_writes_every_page_once(serve, tmp_path: Path) -> None:
    server = serve(slow_app(PAGES, 0.02))
    out = tmp_path / "out.jsonl"
    for threshold in (15, 90, 170):  # kill -9 at three points of the crawl
        proc = start(tmp_path, *crawl_args(tmp_path, server))
        wait_for(lambda t=threshold: lines_in(out) >= t, timeout=30)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    final = run_cli(*crawl_args(tmp_path, server), cwd=tmp_path, timeout=60)
    assert final.returncode == 0, final.stderr
    assert_exactly_once(out, server)


def test_sigint_then_resume(serve, tmp_path: Path) -> None:
    server = serve(slow_app(PAGES, 0.02))
    out = tmp_path / "out.jsonl"
    proc = start(tmp_path, *crawl_args(tmp_path, server))
    wait_for(lambda: lines_in(out) >= 50, timeout=30)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(20) == 130
    first = len(read_jsonl(out))
    final = run_cli(*crawl_args(tmp_path, server, "--stats", str(tmp_path / "stats.json"), "--no-progress",
                                "--stats-interval", "0.2"), cwd=tmp_path)
    assert final.returncode == 0, final.stderr
    assert_exactly_once(out, server)
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["pages"] == PAGES + 1 - first and stats["resumed"] > 0
    # Counted across the job: what the first run did, what this one did, and the backlog.
    assert stats["job"] == {"done": PAGES + 1, "known": PAGES + 1}
    assert f"job: {PAGES + 1} of {PAGES + 1} URLs done" in final.stderr
    lines = [json.loads(line) for line in final.stderr.splitlines() if line.startswith('{"event": "stats"')]
    assert lines and all(line["job"]["known"] == PAGES + 1 and line["job"]["done"] >= first for line in lines)
    assert lines[0]["frontier"] > 0
    runs = [json.loads(line) for line in (tmp_path / "job" / "runs.log").read_text().splitlines()]
    assert [(r["interrupted"], r["pages"]) for r in runs] == [(True, first), (False, PAGES + 1 - first)]
    assert runs[0]["left"] > 0 and runs[1]["left"] == 0


def test_max_runtime_ends_cleanly_and_the_next_run_finishes(serve, tmp_path: Path) -> None:
    server = serve(slow_app(PAGES, 0.02))
    out = tmp_path / "out.jsonl"
    stats = tmp_path / "stats.json"
    first = run_cli(*crawl_args(tmp_path, server, "--max-runtime", "1s", "--stats", str(stats)), cwd=tmp_path,
                    timeout=30)
    assert first.returncode == 0, first.stderr
    figures = json.loads(stats.read_text())
    assert figures["stopped_by"] == "max_runtime" and figures["interrupted"] is False
    assert 1.0 <= figures["elapsed_s"] < 2.0  # the budget, plus the fetches in flight (20 ms each)
    assert "run ended at --max-runtime" in first.stderr
    assert 0 < len(read_jsonl(out)) < PAGES + 1
    final = run_cli(*crawl_args(tmp_path, server), cwd=tmp_path, timeout=60)
    assert final.returncode == 0, final.stderr
    assert_exactly_once(out, server)


def test_a_second_run_on_a_job_dir_in_use_exits_75(serve, tmp_path: Path) -> None:
    server = serve(slow_app(PAGES, 0.02))
    proc = start(tmp_path, *crawl_args(tmp_path, server))
    try:
        wait_for(lambda: lines_in(tmp_path / "out.jsonl") >= 1, timeout=30)
        second = run_cli(*crawl_args(tmp_path, server), cwd=tmp_path)
        assert second.returncode == 75
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and "is in use by another run (pid" in lines[0], second.stderr
    finally:
        proc.kill()
        proc.wait(10)


def test_a_stale_lock_is_taken_over(serve, tmp_path: Path) -> None:
    server = serve(slow_app(5, 0.0))
    (tmp_path / "job").mkdir()
    (tmp_path / "job" / "lock").write_text(f"999999999 {socket.gethostname()}\n")
    proc = run_cli(*crawl_args(tmp_path, server), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "taking over the lock" in proc.stderr and "pid 999999999" in proc.stderr
    assert len(read_jsonl(tmp_path / "out.jsonl")) == 6


def test_recrawl_after_fetches_done_pages_again_into_the_runs_own_file(serve, tmp_path: Path) -> None:
    server = serve(slow_app(5, 0.0))
    args = ["--seeds", seeds_file(tmp_path, server.url), "--job-dir", str(tmp_path / "job"),
            "-o", str(tmp_path / "run-{run}.jsonl"), "--no-robots"]
    assert run_cli(*args, cwd=tmp_path).returncode == 0
    assert len(read_jsonl(tmp_path / "run-1.jsonl")) == 6
    again = run_cli(*args, cwd=tmp_path)  # nothing is due: the crawl is done
    assert again.returncode == 0 and read_jsonl(tmp_path / "run-2.jsonl") == []
    recrawl = run_cli(*args, "--recrawl-after", "0.001s", cwd=tmp_path)
    assert recrawl.returncode == 0, recrawl.stderr
    first_run = {r["url"] for r in read_jsonl(tmp_path / "run-1.jsonl")}
    assert {r["url"] for r in read_jsonl(tmp_path / "run-3.jsonl")} == first_run


def test_durable_crawl_refuses_stdout(tmp_path: Path) -> None:
    (tmp_path / "seeds.txt").write_text("http://127.0.0.1:9/\n")
    proc = run_cli("--seeds", "seeds.txt", "--job-dir", "job", cwd=tmp_path)
    assert proc.returncode == 2
    assert "--job-dir (from command line): a durable crawl needs -o FILE" in proc.stderr




def test_recrawl_uses_conditional_get_and_changed_only_writes_what_changed(serve, tmp_path: Path) -> None:
    state = {"version": 1, "304": 0}
    server = serve(validating_app(state))
    args = ["--seeds", seeds_file(tmp_path, server.url), "--job-dir", str(tmp_path / "job"),
            "-o", str(tmp_path / "run-{run}.jsonl"), "--no-robots", "--recrawl-after", "0.001s"]
    assert run_cli(*args, cwd=tmp_path).returncode == 0
    assert len(read_jsonl(tmp_path / "run-1.jsonl")) == 5 and state["304"] == 0

    full = run_cli(*args, cwd=tmp_path)  # a recrawl that writes every record
    assert full.returncode == 0, full.stderr
    statuses = {r["url"].removeprefix(server.url): r["status"] for r in read_jsonl(tmp_path / "run-2.jsonl")}
    assert statuses == {"": 304, "a": 304, "b": 304, "changing": 304, "plain": 200}
    assert state["304"] == 4
    sent = [h.headers.get("If-None-Match") for h in server.hits if h.path == "/a"]
    assert sent == [None, '"a-1"']

    state["version"] = 2
    changed = run_cli(*args, "--changed-only", "--stats", str(tmp_path / "stats.json"), cwd=tmp_path)
    assert changed.returncode == 0, changed.stderr
    records = read_jsonl(tmp_path / "run-3.jsonl")
    assert [(r["url"], r["title"]) for r in records] == [(server.url + "changing", "version 2")]
    assert state["304"] == 4 + 3  # index, a, b; plain was unchanged by its content hash
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["unchanged"] == 4 and stats["pages"] == 1
    assert stats["job"] == {"done": 5, "known": 5}
    assert "1 pages (1 ok), 4 unchanged" in changed.stderr and "job: 5 of 5 URLs done" in changed.stderr


def test_robots_answers_are_kept_between_runs(serve, tmp_path: Path) -> None:
    async def robots(request: web.Request) -> web.Response:
        return web.Response(text="User-agent: *\nDisallow: /p/3\n")

    app = slow_app(5, 0.0)
    app.router.add_get("/robots.txt", robots)
    server = serve(app)
    args = ["--seeds", seeds_file(tmp_path, server.url), "--job-dir", str(tmp_path / "job"),
            "-o", str(tmp_path / "run-{run}.jsonl"), "--recrawl-after", "0.001s"]
    for run in (1, 2):
        proc = run_cli(*args, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        errors = {r["url"].removeprefix(server.url): r["error"] for r in read_jsonl(tmp_path / f"run-{run}.jsonl")}
        assert errors["p/3"] == "robots" and errors["p/2"] is None
    assert server.count("/robots.txt") == 1  # the second run used the answer kept in the job dir


def test_a_removed_output_is_started_afresh_not_padded(serve, tmp_path: Path) -> None:
    server = serve(slow_app(PAGES, 0.02))
    out = tmp_path / "out.jsonl"
    first = run_cli(*crawl_args(tmp_path, server, "--max-runtime", "0.5s"), cwd=tmp_path, timeout=30)
    assert first.returncode == 0 and out.stat().st_size > 0
    out.unlink()
    final = run_cli(*crawl_args(tmp_path, server), cwd=tmp_path, timeout=60)
    assert final.returncode == 0, final.stderr
    assert "is shorter than" in final.stderr
    assert b"\0" not in out.read_bytes()
    assert 0 < len(read_jsonl(out)) < PAGES + 1  # the rest of the crawl, every line valid


def hub_app(links: int) -> web.Application:
    """``/`` links to ``/p/0`` ... ``/p/{links - 1}``, small pages with no links."""
    items = "".join(f'<li><a href="/p/{i}">{i}</a></li>' for i in range(links))
    hub = f"<html><body><ul>{items}</ul></body></html>"

    async def home(request: web.Request) -> web.Response:
        return web.Response(text=hub, content_type="text/html")

    async def leaf(request: web.Request) -> web.Response:
        return web.Response(text="<html><title>leaf</title><body>leaf</body></html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/", home)
    app.router.add_get("/p/{n}", leaf)
    return app


def test_a_hub_page_of_5000_links_is_crawled_whole_and_the_run_says_so(serve, tmp_path: Path) -> None:
    server = serve(hub_app(5000))
    args = [*crawl_args(tmp_path, server, "--per-host", "16", "--stats", str(tmp_path / "stats.json"))]
    done = run_cli(*args, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    urls = [r["url"] for r in read_jsonl(tmp_path / "out.jsonl")]
    assert len(urls) == len(set(urls)) == 5001
    runs = [json.loads(line) for line in (tmp_path / "job" / "runs.log").read_text().splitlines()]
    assert runs[-1]["left"] == 0 and runs[-1]["pages"] == 5001


def test_a_hub_page_of_50000_links_is_crawled_whole(serve, tmp_path: Path) -> None:
    server = serve(hub_app(50_000))
    done = run_cli(*crawl_args(tmp_path, server, "--per-host", "64", "--concurrency", "64"), cwd=tmp_path,
                   timeout=300)
    assert done.returncode == 0, done.stderr
    urls = [r["url"] for r in read_jsonl(tmp_path / "out.jsonl")]
    assert len(urls) == len(set(urls)) == 50_001


def test_a_hub_page_killed_twice_then_resumed_is_crawled_whole_once(serve, tmp_path: Path) -> None:
    server = serve(hub_app(5000))
    out = tmp_path / "out.jsonl"
    args = crawl_args(tmp_path, server, "--per-host", "8")
    for threshold in (200, 2500):
        proc = start(tmp_path, *args)
        wait_for(lambda t=threshold: lines_in(out) >= t, timeout=60)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    final = run_cli(*args, cwd=tmp_path, timeout=120)
    assert final.returncode == 0, final.stderr
    urls = [r["url"] for r in read_jsonl(out)]
    assert len(urls) == len(set(urls)) == 5001
    runs = [json.loads(line) for line in (tmp_path / "job" / "runs.log").read_text().splitlines()]
    assert runs[-1]["left"] == 0


SMALL_DISK = '''
import sys
from crawler.frontier import sqlite as store

room = int(sys.argv.pop(1))  # pages of 4 KiB the job dir's database may still grow by
opened = store.SQLiteFrontier._open

def on_a_small_disk(self, due_before):
    pending = opened(self, due_before)
    size = self._db.execute("PRAGMA page_count").fetchone()[0]
    self._db.execute(f"PRAGMA max_page_count = {size + room}")  # then SQLite answers SQLITE_FULL
    return pending

store.SQLiteFrontier._open = on_a_small_disk
from crawler.cli.main import main
sys.exit(main(sys.argv[1:]))
'''


def test_a_full_job_dir_stops_the_crawl_with_one_line_and_the_next_run_finishes(site, tmp_path: Path) -> None:
    from crawler.cli.testsite import page_path

    server = site(3000)
    script = tmp_path / "small_disk.py"
    script.write_text(SMALL_DISK)
    args = crawl_args(tmp_path, server, "--per-host", "16")
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    for room in (10, 60):  # the disk fills at the first links, then later in the crawl
        full = subprocess.run([sys.executable, str(script), str(room), *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=30)
        assert full.returncode == 1, full.stderr
        errors = [line.split(" ", 1)[1] for line in full.stderr.splitlines() if "ERROR" in line]  # after the time
        assert errors == [f"crawler: ERROR: cannot write job dir {tmp_path / 'job'}: No space left on device"]
        assert "Traceback" not in full.stderr and "crawl failed" in full.stderr
    final = run_cli(*args, cwd=tmp_path, timeout=120)
    assert final.returncode == 0, final.stderr
    urls = [r["url"] for r in read_jsonl(tmp_path / "out.jsonl")]
    assert len(urls) == len(set(urls)) and set(urls) == {server.url + page_path(i).lstrip("/") for i in range(3000)}


def test_a_corrupt_job_dir_is_one_line_naming_the_file_exit_2(serve, tmp_path: Path) -> None:
    server = serve(slow_app(40, 0))
    args = crawl_args(tmp_path, server)
    assert run_cli(*args, cwd=tmp_path).returncode == 0
    db = tmp_path / "job" / "frontier.db"
    intact = db.read_bytes()
    for damage in (intact[: len(intact) // 3], os.urandom(len(intact))):  # cut short; garbage
        db.write_bytes(damage)
        broken = run_cli(*args, cwd=tmp_path)
        assert broken.returncode == 2, broken.stderr
        assert broken.stderr.count("\n") == 1 and "Traceback" not in broken.stderr
        assert str(db) in broken.stderr and "move it away" in broken.stderr
    db.unlink()
    again = run_cli(*args, cwd=tmp_path)  # moved away: the crawl starts over
    assert again.returncode == 0, again.stderr
