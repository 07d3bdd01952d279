"""Output formats: JSON Lines, gzip, CSV and WARC read back; rotation; stored bodies; a full
disk; backpressure from a slow writer. Crawls run against real servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import csv
import gzip
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from warcio.archiveiterator import ArchiveIterator

from crawler import Engine, load_settings
from crawler.cli.testsite import page_path
from crawler.output.files import FileSink, open_sink
from crawler.work import Done, Item
from tests.conftest import ROOT, read_jsonl, run_cli, wait_for
from tests.support.sites import lines_in, seeds_file, slow_app, start_cli

TRICKY: list[dict[str, Any]] = [
    {"url": "http://a/1", "title": 'comma, "quote"\nand newline', "n": 1, "f": 0.5, "ok": True, "none": None,
     "tags": ["x", "y"], "nested": {"k": [1, 2]}},
    {"url": "http://a/2", "title": "ünïcødé ☃", "n": -7, "f": 1e-9, "ok": False, "none": None, "tags": [],
     "nested": {}},
    {"url": "http://a/3", "title": "", "n": 0, "f": 3.0, "ok": True, "none": "now text", "tags": None,
     "nested": None, "later": "a key the header does not have", "more": {"deep": True}},
]


def read_csv(path: Path) -> list[dict[str, Any]]:
    """CSV rows back as records: JSON-looking cells decoded, empty cells null, ``_extra`` merged."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    records = []
    for row in rows:
        extra = json.loads(row.pop("_extra") or "{}")
        record = {}
        for key, cell in row.items():
            try:
                record[key] = json.loads(cell) if cell != "" else None
            except ValueError:
                record[key] = cell
        records.append(record | extra)
    return records


def text_of(value: Any) -> Any:
    """How a CSV cell gives a value back: text that reads as JSON comes back decoded."""
    if isinstance(value, str):
        try:
            return json.loads(value) if value != "" else None
        except ValueError:
            return value
    return value


@pytest.mark.parametrize("name", ["out.jsonl", "out.jsonl.gz", "out.csv", "out.csv.gz"])
async def test_records_read_back_equal(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    sink = open_sink(str(path))
    await sink.open()
    await sink.write_entries([Item(TRICKY[0]), Done(url="x"), Item(TRICKY[1])])
    await sink.write_entries([Item(TRICKY[2])])  # a second batch: a second gzip member
    await sink.close()
    if ".csv" in name:
        assert read_csv(path) == [{k: text_of(v) for k, v in r.items()} for r in TRICKY]
    else:
        text = gzip.decompress(path.read_bytes()).decode() if name.endswith(".gz") else path.read_text("utf-8")
        assert [json.loads(line) for line in text.splitlines()] == TRICKY


def test_csv_gzip_crawl_from_the_command_line(site, tmp_path: Path) -> None:
    server = site(30)
    out = tmp_path / "pages.csv.gz"
    proc = run_cli("--seeds", seeds_file(tmp_path, server.url), "-o", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    records = read_csv(out)
    assert {r["url"] for r in records} == {server.url.rstrip("/") + page_path(i) for i in range(30)}
    assert all(r["status"] == 200 and r["links"] >= 1 and r["noindex"] is False for r in records)
    header = gzip.decompress(out.read_bytes()).decode().splitlines()[0]
    assert header.startswith("url,final_url,status,error,depth,referrer,") and header.endswith(",_extra")


def test_csv_to_stdout(site, tmp_path: Path) -> None:
    server = site(3)
    proc = run_cli("--seeds", seeds_file(tmp_path, server.url), "-o", "-", "--format", "csv", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert sorted(r["url"] for r in rows) == sorted(server.url.rstrip("/") + page_path(i) for i in range(3))


ZIPPED = gzip.compress(b'<title>zipped</title><a href="/plain">p</a>')


def gzip_app() -> web.Application:

    async def zipped(request: web.Request) -> web.Response:
        return web.Response(body=ZIPPED, headers={"Content-Encoding": "gzip", "Content-Type": "text/html"})

    async def plain(request: web.Request) -> web.Response:
        return web.Response(text='<a href="/missing">m</a>', content_type="text/html")

    app = web.Application()
    app.router.add_get("/", zipped)
    app.router.add_get("/plain", plain)
    return app


@pytest.mark.slow
def test_warc_has_faithful_request_and_response_records(serve, tmp_path: Path) -> None:
    app = gzip_app()
    server = serve(app)
    out = tmp_path / "crawl.warc.gz"
    proc = run_cli("--seeds", seeds_file(tmp_path, server.url), "-o", str(out), "--no-robots", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    with open(out, "rb") as f:
        records = [(r.rec_type, r.rec_headers, r.http_headers, r.raw_stream.read()) for r in ArchiveIterator(f)]
    assert records[0][0] == "warcinfo" and b"crawler/" in records[0][3]
    responses = {h.get_header("WARC-Target-URI"): (h, http, body) for kind, h, http, body in records
                 if kind == "response"}
    requests = [h for kind, h, _, _ in records if kind == "request"]
    assert set(responses) == {server.url, server.url + "plain", server.url + "missing"}
    assert {h.get_header("WARC-Concurrent-To") for h in requests} == {
        h.get_header("WARC-Record-ID") for h, _, _ in responses.values()}
    assert {h.get_header("WARC-Target-URI") for h in requests} == set(responses)
    header, http, body = responses[server.url]
    assert body == ZIPPED  # as received: still gzip
    assert http.get_header("Content-Encoding") == "gzip" and http.get_statuscode() == "200"
    assert header.get_header("WARC-Payload-Digest").startswith("sha1:")
    assert responses[server.url + "missing"][1].get_statuscode() == "404"
    check = subprocess.run([sys.executable, "-m", "warcio.cli", "check", "-v", str(out)], capture_output=True,
                           text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "digest pass" in check.stdout and "fail" not in check.stdout


@pytest.mark.slow
def test_warc_revisit_records_on_a_recrawl(serve, tmp_path: Path) -> None:
    from tests.support.sites import validating_app

    state = {"version": 1, "304": 0}
    server = serve(validating_app(state))
    args = ["--seeds", seeds_file(tmp_path, server.url), "--job-dir", str(tmp_path / "job"),
            "-o", str(tmp_path / "run-{run}.warc.gz"), "--no-robots", "--recrawl-after", "0.001s"]
    assert run_cli(*args, cwd=tmp_path).returncode == 0
    again = run_cli(*args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    with open(tmp_path / "run-2.warc.gz", "rb") as f:
        kinds = {r.rec_headers.get_header("WARC-Target-URI"): (r.rec_type, r.rec_headers.get_header("WARC-Profile"))
                 for r in ArchiveIterator(f) if r.rec_type in ("response", "revisit")}
    assert kinds[server.url + "a"] == ("revisit", "http://netpreserve.org/warc/1.1/revisit/server-not-modified")
    assert kinds[server.url + "plain"] == (
        "revisit", "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest")
    check = subprocess.run([sys.executable, "-m", "warcio.cli", "check", str(tmp_path / "run-2.warc.gz")])
    assert check.returncode == 0


@pytest.mark.slow
@pytest.mark.parametrize("name", ["out.jsonl.gz", "out.warc.gz"])
def test_gzip_output_is_complete_after_sigint(serve, tmp_path: Path, name: str) -> None:
    server = serve(slow_app(400, 0.02))
    out = tmp_path / name
    proc = start_cli("--seeds", seeds_file(tmp_path, server.url), "-o", str(out), "--per-host", "2",
                     "--no-robots", cwd=tmp_path)
    wait_for(lambda: out.exists() and out.stat().st_size > 4000, timeout=20)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=20)
    assert proc.returncode == 130, (tmp_path / "stderr.txt").read_text()
    if name.endswith(".warc.gz"):
        with open(out, "rb") as f:
            urls = [r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(f) if r.rec_type == "response"]
    else:
        urls = [json.loads(line)["url"] for line in gzip.decompress(out.read_bytes()).decode().splitlines()]
    assert 10 <= len(urls) < 401 and len(set(urls)) == len(urls)


@pytest.mark.slow
def test_warc_job_stopped_by_ctrl_c_to_the_process_group_resumes_with_each_page_once(serve, tmp_path: Path) -> None:
    server = serve(slow_app(150, 0.05))  # 4 s at --per-host 2: still crawling when Ctrl-C comes
    out = tmp_path / "crawl.warc.gz"
    args = [sys.executable, "-m", "crawler", "--seeds", seeds_file(tmp_path, server.url), "-o", str(out),
            "--job-dir", str(tmp_path / "job"), "--no-robots", "--per-host", "2"]
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    with open(tmp_path / "stderr.txt", "w") as stderr:
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=stderr, env=env, cwd=tmp_path,
                                start_new_session=True)  # its own process group, as a shell job is
    wait_for(lambda: out.exists() and out.stat().st_size > 3000, timeout=20)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: every process of the group gets it
    proc.wait(timeout=20)
    assert proc.returncode == 130, (tmp_path / "stderr.txt").read_text()
    again = subprocess.run(args, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert again.returncode == 0, again.stderr
    with open(out, "rb") as f:
        urls = [r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(f) if r.rec_type == "response"]
    assert sorted(urls) == sorted({server.url.rstrip("/") + f"/p/{i}" for i in range(150)} | {server.url})
    assert subprocess.run([sys.executable, "-m", "warcio.cli", "check", str(out)]).returncode == 0


def test_a_full_disk_is_fatal_with_one_line_naming_the_file(site, tmp_path: Path) -> None:
    server = site(20)
    proc = run_cli("--seeds", seeds_file(tmp_path, server.url), "-o", "/dev/full", "--format", "csv", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.count("cannot write output /dev/full: No space left on device") == 1, proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_a_full_disk_in_a_durable_crawl_keeps_the_frontier(site, tmp_path: Path) -> None:
    server = site(20)
    job = tmp_path / "job"
    args = ["--seeds", seeds_file(tmp_path, server.url), "--job-dir", str(job), "--no-robots"]
    proc = run_cli(*args, "-o", "/dev/full", cwd=tmp_path)
    assert proc.returncode == 1 and "No space left on device" in proc.stderr, proc.stderr
    out = tmp_path / "out.jsonl"  # the next run, with room, finishes the crawl
    again = run_cli(*args, "-o", str(out), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert sorted(r["url"] for r in read_jsonl(out)) == sorted(
        server.url.rstrip("/") + page_path(i) for i in range(20))


@pytest.mark.slow
def test_rotation_by_records_and_by_size(site, tmp_path: Path) -> None:
    server = site(120)
    by_records = run_cli("--seeds", seeds_file(tmp_path, server.url), "-o", str(tmp_path / "r.jsonl"),
                         "--rotate-records", "50", cwd=tmp_path)
    assert by_records.returncode == 0, by_records.stderr
    parts = sorted(tmp_path.glob("r.*.jsonl"))
    assert [p.name for p in parts] == ["r.00000.jsonl", "r.00001.jsonl", "r.00002.jsonl"]
    assert [lines_in(p) for p in parts] == [50, 50, 20]
    by_size = run_cli("--seeds", seeds_file(tmp_path, server.url), "-o", str(tmp_path / "s-{part}.csv"),
                      "--rotate-size", "10K", "--max-pages", "60", cwd=tmp_path)
    assert by_size.returncode == 0, by_size.stderr
    parts = sorted(tmp_path.glob("s-*.csv"))
    assert len(parts) >= 2 and all(p.stat().st_size >= 10240 for p in parts[:-1])
    rows = [row for p in parts for row in read_csv(p)]
    assert len(rows) == len({r["url"] for r in rows}) == 60


def test_store_bodies_content_addressed(serve, tmp_path: Path) -> None:
    twin = "<title>same</title>same body"

    async def same(request: web.Request) -> web.Response:
        return web.Response(text=twin, content_type="text/html")

    async def index(request: web.Request) -> web.Response:
        return web.Response(text='<a href="/x">x</a><a href="/y">y</a><a href="/img">i</a>', content_type="text/html")

    async def img(request: web.Request) -> web.Response:
        return web.Response(body=b"\x89PNG not really", content_type="image/png")

    app = web.Application()
    app.router.add_get("/", index)
    app.router.add_get("/x", same)
    app.router.add_get("/y", same)
    app.router.add_get("/img", img)
    server = serve(app)
    out, bodies = tmp_path / "out.jsonl", tmp_path / "bodies"
    proc = run_cli("--seeds", seeds_file(tmp_path, server.url), "-o", str(out), "--store-bodies", str(bodies),
                   "--no-robots", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    records = {r["url"].removeprefix(server.url): r for r in read_jsonl(out)}
    assert records["x"]["body_path"] == records["y"]["body_path"]
    for name in ("", "x", "img"):
        path = Path(records[name]["body_path"])
        digest = hashlib.sha1(path.read_bytes()).hexdigest()
        assert path.name == digest and path.parent.name == digest[2:4] and path.parent.parent.name == digest[:2]
    assert Path(records["img"]["body_path"]).read_bytes() == b"\x89PNG not really"
    assert len([p for p in bodies.rglob("*") if p.is_file()]) == 3


@pytest.mark.slow
async def test_a_slow_writer_slows_the_crawl_instead_of_growing_memory(site, tmp_path: Path, monkeypatch) -> None:
    server = site(300)
    real = FileSink.write_entries

    async def slow(self: FileSink, entries: list[Any]) -> None:
        await asyncio.sleep(0.02)  # a slow disk
        await real(self, entries)

    monkeypatch.setattr(FileSink, "write_entries", slow)
    settings = load_settings({"output": str(tmp_path / "out.jsonl"), "progress": False, "output_queue_size": 8,
                              "write_batch_size": 4, "per_host": 16, "concurrency": 16})
    engine = Engine(settings, [server.url])
    task = asyncio.ensure_future(engine.run())
    peak_queue = peak_ahead = 0
    while not task.done():
        peak_queue = max(peak_queue, engine.snapshot()["output_queue"])
        fetched = sum(1 for hit in server.hits if hit.path != "/robots.txt")
        peak_ahead = max(peak_ahead, fetched - engine.stats.pages)
        await asyncio.sleep(0.005)  # sampling, not waiting for work
    stats = await task
    assert stats.pages == 300
    assert peak_queue <= 8
    # Fetched but not yet written: the queue, one batch in the writer, the fetches in flight.
    assert peak_ahead <= 8 + 4 + 16 + 1


@pytest.mark.slow
def test_rotated_output_of_a_durable_crawl_resumes_in_its_part(serve, tmp_path: Path) -> None:
    server = serve(slow_app(150, 0.02))
    args = ["--seeds", seeds_file(tmp_path, server.url), "--job-dir", str(tmp_path / "job"), "-o",
            str(tmp_path / "r-{part}.csv"), "--rotate-records", "30", "--no-robots", "--per-host", "2"]
    proc = start_cli(*args, cwd=tmp_path)
    wait_for(lambda: len(list(tmp_path.glob("r-*.csv"))) >= 2, timeout=30)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=20) == 130
    again = run_cli(*args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    parts = sorted(tmp_path.glob("r-*.csv"))
    counts = [len(read_csv(p)) for p in parts]
    assert counts == [30] * 5 + [1], counts  # 151 records: every part full but the last
    urls = [r["url"] for p in parts for r in read_csv(p)]
    assert len(set(urls)) == len(urls) == 151


@pytest.mark.slow
def test_an_output_that_cannot_be_synced_is_written_all_the_same(site, tmp_path: Path) -> None:
    server = site(20)
    (tmp_path / "seeds.txt").write_text(server.url + "\n")
    proc = run_cli("--seeds", str(tmp_path / "seeds.txt"), "-o", os.devnull, "--stats", str(tmp_path / "s.json"))
    assert proc.returncode == 0, proc.stderr  # fsync of /dev/null is EINVAL: nothing to make durable there
    assert json.loads((tmp_path / "s.json").read_text())["pages"] == 20
