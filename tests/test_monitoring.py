"""What an operator sees: JSON stats lines off a terminal, JSON logs."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli
from tests.test_cli import seeds_file
from tests.test_crawl import slow_app


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


def test_prometheus_metrics_during_a_crawl(serve, tmp_path: Path) -> None:
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    from crawler.testsite import free_port
    from tests.conftest import wait_for
    from tests.test_cli import lines_in, start_cli

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
    final = json.loads((tmp_path / "stats.json").read_text())
    assert final["pages"] == 61 >= pages
