"""What a new user met in a first week (#41): a scheduled job that watched nothing, typo'd URLs
that were crawled, a crawl of nothing that exited 0, an empty jobs file refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crawler.monitor.stats import NOTHING_DUE
from crawler.service.jobs import load_jobs
from tests.cli.test_serve import Service, jobs_file
from tests.conftest import run_cli, wait_for
from tests.monitor.test_expect import shop_app


@pytest.mark.slow  # a service and its runs
def test_a_scheduled_job_recrawls_on_its_next_run(serve, tmp_path: Path) -> None:
    site = serve(shop_app())
    service = Service(tmp_path, jobs_file(site.url, 'schedule = "* * * * * */3"'))  # every 3 s, no recrawl_after
    try:
        def two_ended() -> list[dict] | None:
            runs = [r for r in service.call("GET", "/api/runs")[1]["runs"] if r["state"] == "finished"]
            return runs if len(runs) >= 2 else None

        runs = wait_for(two_ended, timeout=60)
        second = sorted(runs, key=lambda r: r["id"])[1]
        assert second["figures"]["pages"] == 5 and not second["figures"]["nothing_due"], second["figures"]
        assert site.count("/") >= 2  # fetched again
    finally:
        assert service.stop() == 0


@pytest.mark.slow  # a service and its runs
def test_a_run_that_finds_nothing_due_says_so_in_its_log_summary_and_page(serve, tmp_path: Path) -> None:
    site = serve(shop_app())
    service = Service(tmp_path, jobs_file(site.url, "recrawl_after = 0"))  # said: never recrawl
    try:
        first = service.ended(service.call("POST", "/api/jobs/shop/runs")[1]["id"])
        assert first["figures"]["pages"] == 5 and not first["figures"]["nothing_due"]
        second = service.ended(service.call("POST", "/api/jobs/shop/runs")[1]["id"])
        assert (second["state"], second["figures"]["pages"], second["figures"]["nothing_due"]) == (
            "finished", 0, True)
        log = (tmp_path / "data" / "runs" / str(second["id"]) / "log.txt").read_text()
        assert log.count(NOTHING_DUE) == 2  # the warning line and the summary's
        assert f"WARNING: {NOTHING_DUE}" in log
        page = service.call("GET", f"/runs/{second['id']}")[1].decode()
        assert "0 URLs due" in page and "set recrawl_after" in page
    finally:
        assert service.stop() == 0


def test_a_cron_line_without_recrawl_after_warns_when_nothing_is_due(site, tmp_path: Path) -> None:
    server = site(5)
    args = (server.url, "--job-dir", str(tmp_path / "job"), "-o", str(tmp_path / "out.jsonl"), "--no-progress",
            "--stats", str(tmp_path / "stats.json"))
    assert run_cli(*args).returncode == 0
    again = run_cli(*args)
    assert again.returncode == 0
    assert again.stderr.count(NOTHING_DUE) == 2, again.stderr
    assert json.loads((tmp_path / "stats.json").read_text())["nothing_due"] is True


@pytest.mark.parametrize(("typed", "said"), [
    ("http//127.0.0.1:8000/", "'http//127.0.0.1:8000/' is not a URL: did you mean 'http://127.0.0.1:8000/'?"),
    ("https//example.org/a", "'https//example.org/a' is not a URL: did you mean 'https://example.org/a'?"),
    ("http:/example.org", "'http:/example.org' is not a URL: did you mean 'http://example.org'?"),
    ("htp://example.org", "'htp://example.org': htp:// is no scheme: did you mean 'http://example.org'?"),
    ("htps://example.org", "'htps://example.org': htps:// is no scheme: did you mean 'https://example.org'?"),
    ("http://127.0.0.1:99999/", "'http://127.0.0.1:99999/': the port 99999 is not one (a port is 1 to 65535)"),
    ("ftp://example.org/", "'ftp://example.org/': only http:// and https:// URLs are crawled, not ftp://"),
])
def test_a_typod_url_is_a_usage_error_with_a_hint(tmp_path: Path, typed: str, said: str) -> None:
    done = run_cli(typed, "-o", str(tmp_path / "out.jsonl"), "--no-progress")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"crawler: error: {said}"]
    assert not (tmp_path / "out.jsonl").exists()  # nothing crawled, no DNS query for a host 'http'


def test_a_typo_in_a_seeds_file_is_named_with_its_hint(site, tmp_path: Path) -> None:
    server = site(1)
    (tmp_path / "seeds.txt").write_text(f"{server.url}\nhttp//example.org/\n")
    done = run_cli("--seeds", str(tmp_path / "seeds.txt"), "-o", str(tmp_path / "out.jsonl"), "--no-progress")
    assert done.returncode == 0
    assert "seeds.txt:2: not an http(s) URL, skipped: 'http//example.org/' is not a URL: did you mean" in done.stderr


def test_a_crawl_in_which_no_seed_gave_a_page_exits_1_saying_so(site, tmp_path: Path) -> None:
    from crawler.cli.testsite import free_port

    dead = f"http://127.0.0.1:{free_port()}/"
    done = run_cli(dead, "-o", str(tmp_path / "out.jsonl"), "--no-progress", "--retries", "0")
    assert done.returncode == 1
    assert "ERROR: no page: all 1 URLs of this run failed (connect 1): exit status 1" in done.stderr
    server = site(1)
    mixed = run_cli(dead, server.url, "-o", str(tmp_path / "mixed.jsonl"), "--no-progress", "--retries", "0")
    assert mixed.returncode == 0 and "no page" not in mixed.stderr  # one seed gave its page


def test_an_empty_jobs_file_is_zero_jobs(tmp_path: Path) -> None:
    (tmp_path / "jobs.toml").write_text("# no jobs yet\n")
    assert load_jobs(tmp_path / "jobs.toml") == {}
    jobs = load_jobs_text(tmp_path, '[jobs.a]\nseeds = ["http://x.example/"]\nschedule = "*/10 * * * *"\n')
    assert (jobs["a"].settings["recrawl_after"], jobs["a"].settings["recrawl_min"]) == ("auto", 300.0)
    jobs = load_jobs_text(tmp_path, '[jobs.a]\nseeds = ["http://x.example/"]\nrecrawl_after = "7d"\n')
    assert jobs["a"].settings == {"recrawl_after": "7d"}


def load_jobs_text(tmp_path: Path, text: str) -> dict:
    (tmp_path / "jobs.toml").write_text(text)
    return load_jobs(tmp_path / "jobs.toml")


STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}"


def test_a_scheduled_runs_log_is_stamped_to_its_summary_and_says_what_a_recrawl_is(site, tmp_path: Path) -> None:
    import re

    server = site(5)
    args = (server.url, "--job-dir", str(tmp_path / "job"), "-o", str(tmp_path / "out.jsonl"), "--no-progress")
    first = run_cli(*args)
    assert first.returncode == 0
    summary = [line for line in first.stderr.splitlines() if "crawl finished" in line]
    assert len(summary) == 1 and re.match(STAMP + r"Z crawl finished: ", summary[0]), first.stderr
    again = run_cli(*args, "--recrawl-after", "0.001", "--log-time", "local", env={"TZ": "Europe/Paris"})
    assert again.returncode == 0, again.stderr
    assert re.search(STAMP + r"\+0[12]:00 crawler: INFO: recrawling: 5 URLs due again, output ", again.stderr)
    assert "this run began with 0 left to do by earlier runs and 5 due again (recrawl)" in again.stderr
    refused = run_cli(server.url, "-o", str(tmp_path / "x.jsonl"), "--log-time", "moon")
    assert refused.returncode == 2 and "invalid choice: 'moon'" in refused.stderr


@pytest.mark.slow  # a crawl stopped by SIGINT
def test_after_ctrl_c_a_durable_crawl_says_the_same_command_resumes(serve, tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    from tests.conftest import ROOT
    from tests.support.sites import slow_app

    server = serve(slow_app(100, 0.05))
    proc = subprocess.Popen([sys.executable, "-m", "crawler", server.url, "--job-dir", str(tmp_path / "job"), "-o",
                             str(tmp_path / "out.jsonl"), "--no-progress", "--per-host", "1"],
                            stderr=subprocess.PIPE, text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    wait_for(lambda: (tmp_path / "out.jsonl").exists() and (tmp_path / "out.jsonl").stat().st_size > 0, timeout=30)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "stop again to end now; the same command resumes" in stderr
    assert stderr.rstrip().endswith("resume: run the same command again (its job keeps what was done)"), stderr


def test_the_small_frictions_of_a_first_week(tmp_path: Path) -> None:
    from crawler import Spider, run_spider
    from crawler.errors import UsageError

    class Nothing(Spider):
        start_urls = ["http://127.0.0.1:9/"]  # noqa: RUF012

    with pytest.raises(UsageError) as refused:
        run_spider(Nothing(), item_pipelines=["x"])
    assert str(refused.value) == ("unknown setting 'item_pipelines' (from argument): a spider's pipelines are its "
                                  "pipelines attribute: class MySpider(Spider): pipelines = [...]")
    with pytest.raises(UsageError) as refused:
        run_spider(Nothing(), per_hots=2)
    assert str(refused.value).endswith("; did you mean 'per_host'?")
    (tmp_path / "mine.py").write_text("from crawler import Spider\n\nclass Shop(Spider):\n    pass\n")
    missing = run_cli("--spider", "mine:Missing", "-o", str(tmp_path / "o.jsonl"), cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.strip() == "crawler: error: --spider: mine has no 'Missing' (its spiders: Shop)"
    shown = run_cli("config", "--show")
    assert 'max_bytes = "10MiB"  # default' in shown.stdout and 'robots_max_bytes = "500KiB"' in shown.stdout
    assert "10485760" not in shown.stdout
    helped = run_cli("--help", env={"COLUMNS": "200"})
    assert "README.md" not in helped.stdout and "config --show prints every setting" in helped.stdout


def test_the_demo_says_what_its_planted_errors_are(tmp_path: Path) -> None:
    done = run_cli("demo", "-o", str(tmp_path / "demo.jsonl"), "--no-progress", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "errors: http 2" in done.stderr
    assert ("'errors: http 2' are the site's two planted broken links (/missing/1.html and /missing/2.html"
            in done.stderr)


@pytest.mark.slow  # processes of --workers
def test_with_workers_a_process_whose_hosts_all_fail_does_not_fail_the_crawl(site, tmp_path: Path) -> None:
    from crawler.cli.testsite import free_port
    from crawler.work import shard_of

    server = site(3)
    live = server.url.split("/")[2]
    dead = next(f"127.0.0.1:{p}" for p in iter(free_port, None) if shard_of(f"127.0.0.1:{p}", 2) != shard_of(live, 2))
    done = run_cli(server.url, f"http://{dead}/", "--workers", "2", "-o", str(tmp_path / "out.jsonl"),
                   "--no-progress", "--retries", "0", cwd=tmp_path)
    assert done.returncode == 0, done.stderr  # one process got no page; the crawl got its pages
    everything_dead = run_cli(f"http://{dead}/", "--workers", "2", "-o", str(tmp_path / "dead.jsonl"),
                              "--no-progress", "--retries", "0", cwd=tmp_path)
    assert everything_dead.returncode == 1 and "no page: all 1 URLs of this run failed" in everything_dead.stderr
