"""What an operator sees: JSON stats lines off a terminal, JSON logs."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import re
import shutil
import struct
import subprocess
import sys
import zlib
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from crawler import PageRecorder
from tests.conftest import ROOT, run_cli
from tests.support.sites import html, seeds_file, slow_app


@pytest.mark.slow
def test_json_stats_lines_off_a_terminal(serve, tmp_path: Path) -> None:
    server = serve(slow_app(40, 0.15))  # 3 s at least: records are counted as they are written, each second
    proc = run_cli("--seeds", seeds_file(tmp_path, server.url), "-o", str(tmp_path / "o.jsonl"), "--no-progress",
                   "--stats-interval", "0.3", "--per-host", "2", "--no-robots", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith('{"event": "stats"')]
    assert len(lines) >= 2, proc.stderr
    pages = [line["pages"] for line in lines]
    assert pages == sorted(pages) and pages[-1] <= 41
    assert all(line["pages_per_s"] >= 0 and line["in_flight"] <= 2 for line in lines)
    assert max(line["pages_per_s"] for line in lines) > 0
    assert "crawl finished: 41 pages" in proc.stderr  # the summary a person reads, at the end


class SlowParse(PageRecorder):
    async def parse(self, response):  # type: ignore[override]
        await asyncio.sleep(0.3)  # handling takes longer than fetching
        for out in super().parse(response):
            yield out


def test_what_is_on_the_wire_is_shown_apart_from_what_is_being_handled(serve, tmp_path: Path) -> None:
    # One host, --per-host 2: never more than 2 fetching, however many pages are being handled.
    server = serve(slow_app(30, 0.0))
    proc = run_cli("--seeds", seeds_file(tmp_path, server.url), "-o", str(tmp_path / "o.jsonl"), "--no-progress",
                   "--stats-interval", "0.1", "--per-host", "2", "--no-robots", "--spider",
                   "tests.monitor.test_monitoring:SlowParse", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith('{"event": "stats"')]
    assert all(line["fetching"] <= 2 for line in lines), lines
    assert max(line["in_flight"] for line in lines) > 2  # handled pages are in flight, not on the wire


def test_log_format_json_makes_every_stderr_line_json(serve, tmp_path: Path) -> None:
    server = serve(slow_app(5, 0.0))
    stats = tmp_path / "stats.json"
    proc = run_cli("--seeds", seeds_file(tmp_path, server.url, "not a url"), "-o", str(tmp_path / "o.jsonl"),
                   "--log-format", "json", "--stats", str(stats), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    entries = [json.loads(line) for line in proc.stderr.splitlines()]  # every line parses
    assert any(e["level"] == "warning" and "not a url" in e["message"] for e in entries), entries
    final = entries[-1]
    assert final["message"].startswith("crawl finished: 6 pages")
    assert final["stats"]["pages"] == json.loads(stats.read_text())["pages"] == 6


@pytest.mark.slow
def test_prometheus_metrics_during_a_crawl(serve, tmp_path: Path) -> None:
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    from crawler.cli.testsite import free_port
    from tests.conftest import wait_for
    from tests.support.sites import lines_in, start_cli

    server = serve(slow_app(60, 0.1))
    port = free_port()
    out = tmp_path / "o.jsonl"
    proc = start_cli("--seeds", seeds_file(tmp_path, server.url), "-o", str(out), "--metrics-port", str(port),
                     "--per-host", "2", "--no-robots", "--stats", str(tmp_path / "stats.json"), cwd=tmp_path)
    try:
        wait_for(lambda: lines_in(out) >= 5, timeout=30)
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    finally:
        assert proc.wait(timeout=60) == 0
    families = {f.name: f for f in text_string_to_metric_families(text)}
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples}
    pages = samples[("crawler_pages_total", (("status", "200"),))]
    assert 5 <= pages <= 61
    assert samples[("crawler_discovered_total", ())] == 61  # the seed's links are all accepted at once
    assert samples[("crawler_in_flight", ())] <= 2
    assert samples[("crawler_fetch_seconds_count", ())] >= pages
    assert families["crawler_fetch_seconds"].type == "histogram"
    for name in ("crawler_frontier_wait_seconds", "crawler_handle_seconds"):
        assert families[name].type == "histogram"
        buckets = [s.value for s in families[name].samples if s.name == name + "_bucket"]
        assert buckets == sorted(buckets) and buckets[-1] == samples[(name + "_count", ())] > 0
    assert samples[("crawler_frontier_wait_seconds_count", ())] >= pages  # each fetched URL waited its turn
    assert 0 < samples[("crawler_fetch_workers_busy_seconds_total", ())]
    assert samples[("crawler_fetch_workers", ())] == 64 and samples[("crawler_hosts", ())] == 1
    final = json.loads((tmp_path / "stats.json").read_text())
    assert final["pages"] == 61 >= pages


def monitored_app() -> web.Application:
    """``/`` links to 10 pages that answer in 50 ms, 3 missing ones, 2 that fail once then
    work, 1 that always fails, and a chain ``/deep/1`` -> ``/deep/2`` -> ``/deep/3``."""
    failed: set[str] = set()

    async def page(request: web.Request) -> web.Response:
        kind, n = request.match_info["kind"], int(request.match_info["n"])
        if kind == "ok":
            await asyncio.sleep(0.05)
        elif kind == "missing":
            raise web.HTTPNotFound()
        elif kind == "flaky" and request.path not in failed:
            failed.add(request.path)
            return web.Response(status=503)
        elif kind == "broken":
            return web.Response(status=500)
        elif kind == "deep" and n < 3:
            return html(f'<a href="/deep/{n + 1}">deeper</a>')
        return html("leaf")

    async def root(request: web.Request) -> web.Response:
        links = [f"/ok/{i}" for i in range(10)] + [f"/missing/{i}" for i in range(3)]
        links += ["/flaky/0", "/flaky/1", "/broken/0", "/deep/1"]
        return html("".join(f'<a href="{link}">x</a>' for link in links))

    app = web.Application()
    app.router.add_get("/", root)
    app.router.add_get("/{kind}/{n}", page)
    return app


def crawl_monitored(serve, tmp_path: Path, *extra: str) -> tuple[Any, dict[str, Any]]:
    server = serve(monitored_app())
    proc = run_cli("--seeds", seeds_file(tmp_path, server.url), "-o", str(tmp_path / "o.jsonl"), "--retries", "1",
                   "--per-host", "4", "--stats", str(tmp_path / "stats.json"), *extra, cwd=tmp_path,
                   env={"CRAWLER_RETRY_BACKOFF": "0.05"})
    assert proc.returncode == 0, proc.stderr
    return server, json.loads((tmp_path / "stats.json").read_text())


def test_stats_equal_what_the_server_saw(serve, tmp_path: Path) -> None:
    server, stats = crawl_monitored(serve, tmp_path)
    hits = [h for h in server.hits if h.path != "/robots.txt"]
    last = {h.path: h.status for h in sorted(hits, key=lambda h: h.start)}  # each URL's final answer
    assert stats["pages"] == len(last) == 20
    assert stats["status"] == {str(code): n for code, n in sorted(Counter(last.values()).items())}
    assert stats["errors"] == {"http": 4}  # 3 missing, 1 broken after its retry
    assert stats["retries"] == len(hits) - len(last) == 3  # 2 flaky, 1 broken
    timings = stats["timings"]
    assert timings["fetch"]["count"] == len(hits)  # one a fetch attempt the server answered
    assert sum(timings["fetch"]["distribution"].values()) == len(hits)
    assert stats["depth"] == {"0": 1, "1": 17, "2": 1, "3": 1}
    host = server.url.split("/")[2]
    assert stats["hosts"]["count"] == 1
    assert stats["hosts"]["by_pages"][0] | {"fetch_p50_ms": 0, "fetch_p95_ms": 0} == {
        "host": host, "pages": 20, "errors": 4, "blocked": 0, "fetch_p50_ms": 0, "fetch_p95_ms": 0}
    assert stats["hosts"]["by_errors"][0]["errors"] == 4
    # Times the crawler measured agree with the server's: the 10 slow pages take 50 ms or more.
    assert timings["fetch"]["max_ms"] >= 50
    assert sorted(h.end - h.start for h in hits)[-1] * 1000 <= timings["fetch"]["max_ms"] * 1.1 + 5
    assert 0 < timings["fetch_workers_busy"] <= 1 and 0 <= timings["parse_pool_busy"] <= 1
    assert timings["frontier_wait"]["count"] >= 20  # every URL, and each retry, waited its turn


@pytest.mark.slow
def test_frontier_wait_shows_a_host_delay(serve, tmp_path: Path) -> None:
    # 10 pages, one at a time, 0.2 s apart: the last waits about 2 s in the frontier.
    server = serve(slow_app(10, 0.0))
    proc = run_cli("--seeds", seeds_file(tmp_path, server.url), "-o", str(tmp_path / "o.jsonl"), "--no-robots",
                   "--per-host", "1", "--delay", "0.2", "--stats", str(tmp_path / "stats.json"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    wait = json.loads((tmp_path / "stats.json").read_text())["timings"]["frontier_wait"]
    assert wait["count"] == 11
    assert wait["max_ms"] >= 1800 and wait["p95_ms"] >= 1500 and wait["p50_ms"] >= 800


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        return {k: v for key, value in data.items() for k, v in _flatten(value, f"{prefix}{key}.").items()}
    if isinstance(data, list):
        return {k: v for i, value in enumerate(data) for k, v in _flatten(value, f"{prefix}{i}.").items()}
    return {prefix[:-1]: data}


class _StatCells(HTMLParser):
    """The ``data-stat`` elements of a report and their text."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[str, str] = {}
        self.shown: dict[str, str] = {}  # the text of cells whose figure is in data-value
        self.svgs = 0
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.svgs += tag == "svg"
        found = dict(attrs)
        self._open = found.get("data-stat")
        if self._open is not None and found.get("data-value") is not None:  # shown in other units
            self.shown[self._open] = ""
            self.cells[self._open] = found["data-value"] or ""

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            if self._open in self.shown:
                self.shown[self._open] = data
            else:
                self.cells[self._open] = data
            self._open = None


def report_cells(path: Path) -> _StatCells:
    parser = _StatCells()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def test_report_numbers_equal_stats(serve, tmp_path: Path) -> None:
    _, stats = crawl_monitored(serve, tmp_path, "--report", str(tmp_path / "report.html"))
    report = report_cells(tmp_path / "report.html")
    flat = _flatten(stats)
    assert report.cells  # every number on the page names its --stats figure
    for path, text in report.cells.items():
        assert path in flat, path
        assert float(text) == float(flat[path]), (path, text, flat[path])
    for must in ("pages", "ok", "retries", "bytes", "status.200", "status.404", "status.500", "errors.http",
                 "depth.3", "hosts.by_pages.0.pages", "hosts.by_errors.0.errors", "timings.fetch.p95_ms",
                 "timings.frontier_wait.p95_ms", "timings.fetch.distribution.inf"):
        assert must in report.cells, must
    assert report.svgs >= 8  # fetches/s and frontier size over time, and the bar charts
    assert report.shown["bytes"].endswith(("KiB", "MiB"))  # bytes for a person
    text = (tmp_path / "report.html").read_text()
    assert "Fetches per second over time" in text and "<h2>Seeds (1)</h2>" in text and "<th>per_host</th>" in text
    for failed in stats["failed_urls"]:  # every failed URL, with the page it was found on
        assert f"<td>{failed['url']}</td><td>{failed['error']}</td>" in text
        assert failed["referrer"] is None or failed["referrer"] in text
    assert stats["failed_urls"] and len(stats["failed_urls"]) == sum(stats["errors"].values())
    assert "http://" not in text.replace("http://www.w3.org/2000/svg", "").replace(stats_host(stats), "")
    assert "<script" not in text  # nothing to run, nothing to fetch


def stats_host(stats: dict[str, Any]) -> str:
    return "http://" + stats["hosts"]["by_pages"][0]["host"]


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="LOUD SKIP: chromium is not installed (apt-get install chromium); "
                                              "the HTML report is not rendered")
@pytest.mark.slow
def test_report_renders_in_headless_chromium(serve, tmp_path: Path) -> None:
    crawl_monitored(serve, tmp_path, "--report", str(tmp_path / "report.html"))
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
             f"--user-data-dir={tmp_path / 'profile'}"]
    url = (tmp_path / "report.html").as_uri()
    dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert dom.stdout.count("<svg") == report_cells(tmp_path / "report.html").svgs >= 8  # all parsed as SVG
    png = tmp_path / "report.png"
    shot = subprocess.run([*flags, f"--screenshot={png}", "--window-size=1100,2400", url], capture_output=True,
                          text=True, timeout=120)
    assert shot.returncode == 0, shot.stderr[-2000:]
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1100, 2400)
    assert len(set(_png_rows(data))) > 50  # not a blank page: many different rows of pixels


def _png_rows(data: bytes) -> list[bytes]:
    """The filtered scanlines of a PNG (enough to tell a drawn page from a blank one)."""
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    chunks, pos = [], 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            chunks.append(data[pos + 8:pos + 8 + length])
        pos += length + 12
    raw = zlib.decompress(b"".join(chunks))
    stride = 1 + width * {2: 3, 6: 4, 0: 1, 4: 2}[colour] * depth // 8
    return [raw[i * stride:(i + 1) * stride] for i in range(height)]


@pytest.mark.slow
def on_a_terminal(command: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str]:
    """Run ``command`` with its stderr on a pseudo-terminal: its exit status and what it drew."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=slave, cwd=cwd, env=env)
    os.close(slave)
    drawn = bytearray()
    try:
        while chunk := os.read(master, 65536):
            drawn += chunk
    except OSError:  # EIO: the crawler closed the terminal
        pass
    finally:
        os.close(master)
    return proc.wait(timeout=60), drawn.decode(errors="replace")


def test_live_view_on_a_terminal(serve, tmp_path: Path) -> None:
    server = serve(slow_app(30, 0.1))  # 31 pages, 2 at a time: 1.5 s at least
    env = os.environ | {"PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    status, text = on_a_terminal([sys.executable, "-m", "crawler", "--seeds", seeds_file(tmp_path, server.url), "-o",
                                  str(tmp_path / "o.jsonl"), "--per-host", "2", "--no-robots", "--stats",
                                  str(tmp_path / "stats.json")], env, tmp_path)
    assert status == 0, text
    stats = json.loads((tmp_path / "stats.json").read_text())
    host = server.url.split("/")[2]
    final = text[text.rindex("pages 31/31"):]  # the last redraw: the final figures
    for shown in ("pages/s", "fetching 0 | handling 0", "frontier 0", "out queue 0", "errors: none", "fetch p50",
                  "frontier wait p95", "busy: workers", f"slowest hosts (p95): {host} "):
        assert shown in final, (shown, final)
    redraws = text.count("slowest hosts (p95)")
    assert 2 <= redraws <= 4 * stats["elapsed_s"] + 3  # at most 4 a second (and one at the end)


def test_the_report_rate_curve_is_fetches_over_a_moving_second() -> None:
    from crawler.monitor.report import rates

    samples = [(i / 10, 25 * i, 0, 0, 0) for i in range(100)]  # 250 fetches a second, sampled every 0.1 s
    assert all(abs(rate - 250) < 1e-6 for _, rate in rates(samples))


def test_the_report_masks_credentials_in_settings_and_seeds() -> None:
    from crawler import load_settings
    from crawler.monitor.report import render
    from crawler.monitor.stats import Stats

    settings = load_settings({"frontier": "redis://:s3cret@10.0.0.5:6379/0", "crawl_id": "c", "output": "o.jsonl"})
    page = render(Stats().as_dict(), None, seeds=["http://user:pw@site.example/"], settings=settings)
    assert "s3cret" not in page and "user:pw" not in page and "***@10.0.0.5:6379/0" in page


def test_log_lines_off_a_terminal_carry_an_iso_timestamp_and_on_one_do_not(tmp_path: Path) -> None:
    from crawler.cli.testsite import free_port

    command = [sys.executable, "-m", "crawler", f"http://127.0.0.1:{free_port()}/", "-o", str(tmp_path / "o.jsonl"),
               "--retries", "0", "--no-progress"]
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    logged = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)  # a log file, cron's mail
    assert logged.returncode == 1, logged.stderr  # its one seed failed: no page
    warnings = [line for line in logged.stderr.splitlines() if "WARNING" in line]
    assert warnings and all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z crawler: WARNING: ", w) for w in warnings)
    status, text = on_a_terminal(command, env, tmp_path)
    assert status == 1, text
    lines = text.splitlines()
    assert [line for line in lines if line.startswith("crawler: WARNING: ")], lines
