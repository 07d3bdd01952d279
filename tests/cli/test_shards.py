"""``--workers N`` on one machine without Redis: processes that split the hosts among them, one
output, every page once, every guarantee of one process (counted at real servers on several
127.x addresses)."""

from __future__ import annotations

import asyncio
import csv
import json
import re
import signal
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest
from aiohttp import web

from crawler.cli.testsite import ServerThread
from tests.conftest import read_jsonl, run_cli, wait_for
from tests.support.sites import lines_in, seeds_file, start_cli

pytestmark = pytest.mark.slow  # a browser, Redis, several processes or kill -9 and resume: see pyproject.toml

HOSTS = 8
PAGES = 2000


@dataclass
class Web:
    """Several hosts (one 127.0.0.x address each) and what each saw."""

    urls: list[str] = field(default_factory=list)  # each host's root URL
    hits: Counter[str] = field(default_factory=Counter)  # "host path" -> requests
    in_flight: Counter[str] = field(default_factory=Counter)
    max_in_flight: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def page(self, i: int) -> str:
        """The URL of page ``i`` (pages are dealt round the hosts)."""
        return f"{self.urls[i % len(self.urls)]}p/{i}"

    def pages(self, n: int) -> set[str]:
        return {self.page(i) for i in range(n)}


def _app(web_: Web, pages: int, delay: float) -> web.Application:
    async def page(request: web.Request) -> web.Response:
        i = int(request.match_info["i"])
        if delay:
            await asyncio.sleep(delay)
        links = "".join(f'<a href="{web_.page(j)}">{j}</a>' for j in (i * 3 + 1, i * 3 + 2, i * 3 + 3) if j < pages)
        return web.Response(text=f"<html><title>page {i}</title><body>{links}</body></html>",
                            content_type="text/html")

    async def robots(request: web.Request) -> web.Response:
        return web.Response(text="User-agent: *\nDisallow: /private/\n")

    async def moved(request: web.Request) -> web.Response:  # to another host: its owner fetches it
        raise web.HTTPFound(web_.page(int(request.match_info["i"])))

    @web.middleware
    async def count(request: web.Request, handler):  # type: ignore[no-untyped-def]
        key = request.host
        with web_.lock:
            web_.hits[f"{key} {request.path}"] += 1
            web_.in_flight[key] += 1
            web_.max_in_flight[key] = max(web_.max_in_flight[key], web_.in_flight[key])
        try:
            return await handler(request)
        finally:
            with web_.lock:
                web_.in_flight[key] -= 1

    app = web.Application(middlewares=[count])
    app.router.add_get("/p/{i}", page)
    app.router.add_get("/robots.txt", robots)
    app.router.add_get("/moved/{i}", moved)
    return app


@pytest.fixture
def hosts() -> Iterator[callable]:  # type: ignore[valid-type]
    threads: list[ServerThread] = []

    def start(pages: int = PAGES, delay: float = 0.0) -> Web:
        site = Web()
        for n in range(HOSTS):
            thread = ServerThread(_app(site, pages, delay), host=f"127.0.0.{n + 1}").__enter__()
            threads.append(thread)
            site.urls.append(thread.url)
        return site

    yield start
    for thread in threads:
        thread.__exit__(None, None, None)


ARGS = ("--scope", "any", "--allow-private", "--per-host", "2")


def _children(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children()


def _start_job(site: Web, tmp_path: Path, lines: int = 200) -> tuple[tuple[str, ...], Path, subprocess.Popen[str],
                                                                     list[psutil.Process]]:
    """A ``--workers 2 --job-dir`` crawl of ``site``, started and past its first ``lines``
    records: its arguments, its output, its process and its two workers."""
    out = tmp_path / "pages.jsonl"
    args = ("--seeds", seeds_file(tmp_path, site.page(0)), "--workers", "2", "-o", str(out),
            "--job-dir", str(tmp_path / "job"), *ARGS)
    proc = start_cli(*args, cwd=tmp_path)
    wait_for(lambda: lines_in(out) >= lines, timeout=60)
    children = wait_for(lambda: len(_children(proc.pid)) == 2 and _children(proc.pid), timeout=10)
    return args, out, proc, children


def _each_page_once(out: Path, site: Web, pages: int = PAGES) -> None:
    urls = [r["url"] for r in read_jsonl(out)]
    assert len(urls) == len(set(urls))  # exactly once, across what happened
    assert set(urls) == site.pages(pages)


def test_two_processes_crawl_a_multi_host_site_completely_each_page_once(hosts, tmp_path: Path) -> None:
    site = hosts()
    out = tmp_path / "pages.jsonl"
    proc = run_cli("--seeds", seeds_file(tmp_path, site.page(0)), "--workers", "2", "-o", str(out),
                   "--stats", str(tmp_path / "stats.json"), *ARGS, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    urls = [r["url"] for r in read_jsonl(out)]
    assert len(urls) == len(set(urls)) == PAGES  # one output, every page, once
    assert set(urls) == site.pages(PAGES)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pages.jsonl", "stats.json", "urls.txt"]  # parts gone
    pages = {k: v for k, v in site.hits.items() if "/p/" in k}
    assert len(pages) == PAGES and set(pages.values()) == {1}  # fetched once each
    robots = [v for k, v in site.hits.items() if k.endswith(" /robots.txt")]
    assert robots == [1] * HOSTS  # robots.txt once per origin
    assert max(site.max_in_flight.values()) <= 2  # --per-host held at the server
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["pages"] == PAGES and stats["ok"] == PAGES and stats["discovered"] == PAGES
    assert stats["hosts"]["count"] == HOSTS and len(stats["workers"]) == 2
    assert all(w["pages"] > 0 for w in stats["workers"])  # both did a share
    assert f"crawl finished: {PAGES} pages" in proc.stderr


def test_a_worker_killed_with_kill_9_is_started_again_and_nothing_is_lost_or_doubled(hosts, tmp_path: Path) -> None:
    site = hosts(delay=0.01)
    _, out, proc, children = _start_job(site, tmp_path)
    victim = children[1]
    victim.send_signal(signal.SIGKILL)
    proc.wait(120)
    stderr = (tmp_path / "stderr.txt").read_text()
    assert proc.returncode == 0, stderr
    assert re.search(r"worker \d was killed \(SIGKILL\): starting it again", stderr)
    _each_page_once(out, site)
    assert not victim.is_running()
    # The summary counts every page written, the killed worker's earlier ones too (said apart).
    assert f"crawl finished: {PAGES} pages" in stderr, stderr[-2000:]


def test_sigint_stops_every_process_and_the_same_command_resumes(hosts, tmp_path: Path) -> None:
    site = hosts(delay=0.01)
    args, out, proc, children = _start_job(site, tmp_path)
    proc.send_signal(signal.SIGINT)
    proc.wait(60)
    assert proc.returncode == 130, (tmp_path / "stderr.txt").read_text()
    assert not any(c.is_running() for c in children)  # no process left
    assert 0 < len(read_jsonl(out)) < PAGES
    again = run_cli(*args, cwd=tmp_path, timeout=120)
    assert again.returncode == 0, again.stderr
    _each_page_once(out, site)
    other = run_cli(*args[:2], "--workers", "3", *args[4:], cwd=tmp_path)
    assert other.returncode == 2 and "was run with --workers 2" in other.stderr


def test_a_kill_9_of_the_coordinator_stops_the_workers_and_the_job_resumes(hosts, tmp_path: Path) -> None:
    site = hosts(delay=0.01)
    args, out, proc, children = _start_job(site, tmp_path)
    proc.kill()
    proc.wait(10)
    psutil.wait_procs(children, timeout=30)
    assert not any(c.is_running() for c in children)
    again = run_cli(*args, cwd=tmp_path, timeout=120)
    assert again.returncode == 0, again.stderr
    _each_page_once(out, site)


def test_max_pages_is_the_crawls_and_redirects_to_another_workers_host_are_fetched_by_it(hosts, tmp_path: Path) -> None:
    site = hosts(pages=400)
    out = tmp_path / "pages.jsonl"
    proc = run_cli("--seeds", seeds_file(tmp_path, site.page(0)), "--workers", "2", "-o", str(out),
                   "--max-pages", "150", *ARGS, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert len(read_jsonl(out)) == 150
    # A redirect from each host to a page of the next: the hop goes to the target's owner.
    moved = [f"{site.urls[n]}moved/{(n + 1) % HOSTS + 8}" for n in range(HOSTS)]
    out2 = tmp_path / "moved.csv"
    before = Counter(site.hits)
    proc = run_cli("--seeds", seeds_file(tmp_path, *moved), "--workers", "2", "-o", str(out2), "--max-depth", "0",
                   *ARGS, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    with open(out2, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["url"] for r in rows) == sorted(moved)  # one CSV, one header
    assert {r["final_url"] for r in rows} == {site.page((n + 1) % HOSTS + 8) for n in range(HOSTS)}
    fetched = site.hits - before
    assert all(fetched[f"{site.page((n + 1) % HOSTS + 8).split('/')[2]} /p/{(n + 1) % HOSTS + 8}"] == 1
               for n in range(HOSTS))  # each target fetched once


def test_workers_write_one_output_on_stdout(hosts, tmp_path: Path) -> None:
    site = hosts(pages=200)
    proc = run_cli("--seeds", seeds_file(tmp_path, site.page(0)), "--workers", "2", *ARGS, cwd=tmp_path,
                   timeout=60)
    assert proc.returncode == 0, proc.stderr
    urls = [json.loads(line)["url"] for line in proc.stdout.splitlines()]
    assert len(urls) == len(set(urls)) and set(urls) == site.pages(200)
    assert not list(tmp_path.glob(".crawler-parts-*"))


def test_workers_write_one_warc_and_one_markdown_folder(hosts, tmp_path: Path) -> None:
    from warcio.archiveiterator import ArchiveIterator

    site = hosts(pages=120)
    warc = tmp_path / "crawl.warc.gz"
    proc = run_cli("--seeds", seeds_file(tmp_path, site.page(0)), "--workers", "2", "-o", str(warc), *ARGS,
                   cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    with open(warc, "rb") as f:
        records = [(r.rec_type, r.rec_headers.get_header("WARC-Target-URI")) for r in ArchiveIterator(f)]
    pages = [uri for kind, uri in records if kind == "response" and "/p/" in uri]
    assert len(pages) == len(set(pages)) and set(pages) == site.pages(120)  # one WARC, each exchange once
    assert sum(1 for kind, _ in records if kind == "warcinfo") == 2  # one from each process
    folder = tmp_path / "md"
    proc = run_cli("--seeds", seeds_file(tmp_path, site.page(0)), "--workers", "2", "--format", "markdown",
                   "-o", str(folder), "--extract", "markdown", *ARGS, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    index = read_jsonl(folder / "index.jsonl")
    assert sorted(r["url"] for r in index) == sorted(site.pages(120))
    assert all((folder / r["path"]).is_file() for r in index if r["path"])
    assert not list(folder.glob("index.shard-*"))  # the parts of the index are gone


def test_csv_parts_with_other_columns_are_put_under_the_outputs(tmp_path: Path) -> None:
    from crawler.shards.merge import OutputMerger

    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_bytes(b"url,title,_extra\r\nhttp://a/,A,\r\n")
    second.write_bytes(b'url,price,_extra\r\nhttp://b/,3,"{""x"": 1}"\r\n')
    merger = OutputMerger(str(tmp_path / "out.csv"), "csv", False, tmp_path / "merge.json")

    async def merge() -> None:
        merger.open()
        merger.written(0, str(first), first.stat().st_size)
        merger.written(1, str(second), second.stat().st_size)
        await merger.close()

    asyncio.run(merge())
    with open(tmp_path / "out.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows == [{"url": "http://a/", "title": "A", "_extra": ""},
                    {"url": "http://b/", "title": "", "_extra": '{"x": 1, "price": "3"}'}]
    state = json.loads((tmp_path / "merge.json").read_text())
    assert state["parts"] == {str(first): first.stat().st_size, str(second): second.stat().st_size}


def test_a_stop_sent_to_every_process_at_once_is_one_stop(hosts, tmp_path: Path) -> None:
    # systemd's stop signals every process of the service; the coordinator must not pass on a
    # second SIGTERM (which means "stop now") to workers that are stopping already.
    site = hosts(delay=3.0)  # fetches in flight outlast the coordinator's pass-on delay
    _, _, proc, children = _start_job(site, tmp_path, lines=10)
    for process in [psutil.Process(proc.pid), *children]:
        process.send_signal(signal.SIGTERM)
    proc.wait(60)
    stderr = (tmp_path / "stderr.txt").read_text()
    assert proc.returncode == 130, stderr
    assert "second stop" not in stderr and stderr.count("stopping: finishing fetches in flight") == 2
