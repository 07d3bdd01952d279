"""``crawler serve`` on a bad day (#40): a second service on the same data directory, a token too
short, the data directory's modes, Ctrl-C while runs go on, a browser leaving a run's page, a
run's page before its first figures, a cancel while a run's interpreter starts, and a full disk
(a small tmpfs the test mounts)."""

from __future__ import annotations

import http.client
import os
import sqlite3
import stat
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.test_serve import Service, free_port, jobs_file
from tests.conftest import run_cli, wait_for
from tests.monitor.test_expect import shop_app
from tests.support.sites import slow_app

pytestmark = pytest.mark.slow  # services and their child processes


def test_a_second_service_on_the_same_data_is_refused_naming_the_first(serve, tmp_path: Path) -> None:
    site = serve(slow_app(200, 0.05))
    service = Service(tmp_path, jobs_file(site.url, "per_host = 1"))
    try:
        run = service.call("POST", "/api/jobs/shop/runs")[1]
        wait_for(lambda: service.run_state(run["id"])["state"] == "running", timeout=30)
        second = run_cli("serve", "--jobs", str(tmp_path / "jobs.toml"), "--data", str(tmp_path / "data"),
                         "--port", str(free_port()))
        assert second.returncode == 2
        assert second.stderr.strip().splitlines() == [
            f"crawler: error: {tmp_path / 'data'} is in use by another crawler serve (pid {service.proc.pid} on "
            f"{os.uname().nodename}); wait for it to finish or stop it first"]
        assert service.run_state(run["id"])["state"] == "running"  # the first's run goes on
        assert service.call("POST", f"/api/runs/{run['id']}/cancel")[0] == 202
        assert service.ended(run["id"])["state"] == "cancelled"
    finally:
        assert service.stop() == 0
    again = run_cli("mcp", "--data", str(tmp_path / "data"), input="", timeout=60)  # free again once it stopped
    assert again.returncode == 0, again.stderr


def test_a_short_token_is_refused_however_it_is_given(tmp_path: Path) -> None:
    for token in ("x", "fifteen-chars-x"):
        refused = run_cli("serve", "--data", str(tmp_path / "data"), env={"CRAWLER_SERVE_TOKEN": token})
        assert refused.returncode == 2
        assert refused.stderr.strip() == (f"crawler: error: $CRAWLER_SERVE_TOKEN: the token must be 16 characters "
                                          f"or more (it has {len(token)})")
        (tmp_path / "token").write_text(token + "\n")
        refused = run_cli("serve", "--data", str(tmp_path / "data"), "--token-file", str(tmp_path / "token"))
        assert refused.returncode == 2 and "each 16 characters or more" in refused.stderr


def test_the_data_directory_is_its_users_only(serve, tmp_path: Path) -> None:
    site = serve(shop_app())
    (tmp_path / "data" / "jobs").mkdir(mode=0o755, parents=True)  # made by an older version, or by hand
    (tmp_path / "data" / "jobs" / "old.txt").write_text("kept")
    (tmp_path / "data" / "jobs" / "old.txt").chmod(0o644)
    service = Service(tmp_path, jobs_file(site.url, 'cookie = ["session=s3cret-cookie"]'))
    try:
        run = service.call("POST", "/api/jobs/shop/runs")[1]
        assert service.ended(run["id"])["state"] == "finished"
    finally:
        assert service.stop() == 0
    data = tmp_path / "data"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    found = list(data.rglob("*"))
    assert any(p.name == "frontier.db" for p in found) and any(p.name == "output.jsonl" for p in found)
    for path in found:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, (path, oct(mode))  # nobody else reads a cookie kept at rest


def test_ctrl_c_leaves_running_runs_interrupted_and_resumable_not_failed(serve, tmp_path: Path) -> None:
    site = serve(slow_app(1000, 0.05))
    service = Service(tmp_path, jobs_file(site.url, "per_host = 1"))
    run = service.call("POST", "/api/jobs/shop/runs")[1]
    output = tmp_path / "data" / "runs" / str(run["id"]) / "output.jsonl"
    wait_for(lambda: output.exists() and output.stat().st_size > 0, timeout=30)
    assert service.stop() == 0  # SIGTERM, as systemd stops it
    again = Service(tmp_path, jobs_file(site.url, "per_host = 1"))
    try:
        left = again.run_state(run["id"])
        assert (left["state"], left["exit_status"]) == ("interrupted", 130), left
        assert "goes on from where it was" in left["reason"]
        page = again.call("GET", f"/runs/{run['id']}")[1]
        assert b'class="state interrupted"' in page and b'class="state failed"' not in page
    finally:
        again.stop()


def test_a_browser_leaving_a_runs_page_is_no_error(serve, tmp_path: Path) -> None:
    site = serve(slow_app(200, 0.05))
    service = Service(tmp_path, jobs_file(site.url, "per_host = 1"))
    try:
        run = service.call("POST", "/api/jobs/shop/runs")[1]
        for _ in range(3):
            connection = http.client.HTTPConnection("127.0.0.1", service.port, timeout=10)
            connection.request("GET", f"/api/runs/{run['id']}/events")
            answer = connection.getresponse()
            assert answer.status == 200
            assert answer.readline() == b"event: stats\n"  # reading its live figures...
            connection.sock.close()  # ...then the tab is closed
            connection.close()
        wait_for(lambda: service.call("GET", "/api/jobs")[0] == 200)
        service.call("POST", f"/api/runs/{run['id']}/cancel")
        service.ended(run["id"])
    finally:
        assert service.stop() == 0
    said = (tmp_path / "serve.log").read_text()
    assert "Traceback" not in said and "ERROR" not in said, said


def test_a_runs_page_says_what_it_knows_before_its_first_figures(serve, tmp_path: Path) -> None:
    site = serve(slow_app(200, 0.05))
    service = Service(tmp_path, jobs_file(site.url, "per_host = 1"))
    try:
        run = service.call("POST", "/api/jobs/shop/runs")[1]
        page = service.call("GET", f"/runs/{run['id']}")[1].decode()
        assert "ended" not in page and "exit status" not in page, page
        assert "running (its figures come every few seconds)" in page or "waiting for a slot" in page
        assert '<b id="pages_per_s">0</b>' in page and '<b id="in_flight">…</b>' in page
        service.call("POST", f"/api/runs/{run['id']}/cancel")
        done = service.ended(run["id"])
        page = service.call("GET", f"/runs/{done['id']}")[1].decode()
        assert "ended " in page and "exit status 130" in page
    finally:
        assert service.stop() == 0


def test_a_cancel_while_a_run_starts_stops_it_cleanly(serve, tmp_path: Path) -> None:
    site = serve(slow_app(200, 0.05))
    service = Service(tmp_path, jobs_file(site.url, "per_host = 1"))
    try:
        for _ in range(4):
            run = service.call("POST", "/api/jobs/shop/runs")[1]
            assert service.call("POST", f"/api/runs/{run['id']}/cancel")[0] == 202  # its interpreter is starting
            done = service.ended(run["id"])
            assert (done["state"], done["exit_status"]) == ("cancelled", 130), done
            log = (tmp_path / "data" / "runs" / str(run["id"]) / "log.txt").read_text()
            assert "Traceback" not in log and "KeyboardInterrupt" not in log, log
    finally:
        assert service.stop() == 0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB tmpfs, mounted for the test (root only)."""
    where = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(where)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"a full disk needs a tmpfs mounted (root): {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(disk: Path) -> Path:
    """Fill ``disk`` to its last byte; the file that fills it."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as f:
        for size in (65536, 1):
            try:
                while f.write(b"\0" * size):
                    pass
            except OSError:
                pass
    return filler


def test_a_full_disk_fails_the_run_naming_it_and_the_service_stays_up(serve, tmp_path: Path,
                                                                       small_disk: Path) -> None:
    site = serve(slow_app(1000, 0.02))
    service = Service(tmp_path, jobs_file(site.url, "per_host = 1"), "--data", str(small_disk / "data"))
    try:
        first = service.call("POST", "/api/jobs/shop/runs")[1]
        output = small_disk / "data" / "runs" / str(first["id"]) / "output.jsonl"
        wait_for(lambda: output.exists() and output.stat().st_size > 0, timeout=30)
        filler = _fill(small_disk)  # while it crawls
        done = service.ended(first["id"], timeout=90)
        assert done["state"] == "failed" and "is full" in done["reason"] and str(small_disk) in done["reason"], done
        # The service stays up; what cannot be recorded is refused, naming the disk.
        assert service.call("GET", "/api/jobs")[0] == 200
        status, answer = service.call("POST", "/api/jobs/shop/runs")
        if status == 507:
            assert answer["error"].startswith("disk_full: the disk of the data directory") and "is full" in answer[
                "error"]
        else:
            assert status == 201 and service.ended(answer["id"])["state"] == "failed"
            assert "is full" in service.run_state(answer["id"])["reason"]
        for run in service.call("GET", "/api/runs")[1]["runs"]:
            assert run["state"] in ("failed", "skipped"), run
        filler.unlink()  # space again: the job runs again, and what was recorded is whole
        again = service.call("POST", "/api/jobs/shop/runs")[1]
        assert again["state"] in ("queued", "running")
        service.call("POST", f"/api/runs/{again['id']}/cancel")
        assert service.ended(again["id"])["state"] == "cancelled"
    finally:
        assert service.stop() == 0
    with sqlite3.connect(small_disk / "data" / "service.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        states = dict(db.execute("SELECT id, state FROM runs"))
    assert states[first["id"]] == "failed" and "running" not in states.values()


def test_a_full_disk_fails_an_api_crawl_and_the_service_answers(serve, tmp_path: Path, small_disk: Path) -> None:
    site = serve(slow_app(1000, 0.02))
    service = Service(tmp_path, jobs_file(site.url), "--data", str(small_disk / "data"), "--allow-private")
    try:
        status, started = service.call_json("POST", "/v1/crawl", {"url": site.url, "limit": 1000})
        assert status == 200, started
        records = small_disk / "data" / "crawls" / started["id"] / "output.jsonl"
        wait_for(lambda: records.exists() and records.stat().st_size > 0, timeout=30)
        filler = _fill(small_disk)

        def ended() -> dict | None:
            found = service.call("GET", f"/v1/crawl/{started['id']}")[1]
            return found if found["status"] != "scraping" else None

        done = wait_for(ended, timeout=90)
        assert done["status"] == "failed" and "is full" in done["error"], {k: done[k] for k in ("status", "error")}
        status, answer = service.call_json("POST", "/v1/crawl", {"url": site.url, "limit": 5})
        assert status in (200, 507), answer
        if status == 507:
            assert answer == {"success": False, "error": answer["error"]} and answer["error"].startswith(
                "disk_full: ")
        assert service.call("GET", "/api/jobs")[0] == 200
        filler.unlink()
    finally:
        assert service.stop() == 0
