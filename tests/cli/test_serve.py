"""``crawler serve``: a jobs file with a job against a site on 127.0.0.1, the service started as
users start it, and its HTTP API: every route, 404s and bad input, runs that never overlap, a
cancel, a schedule a second out, the token, a non-loopback bind refused without one, and a
restart after kill -9."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, run_cli, wait_for
from tests.monitor.test_expect import shop_app
from tests.support.sites import slow_app

pytestmark = pytest.mark.slow  # a service and its child processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Service:
    """``python -m crawler serve`` in a child process, and calls to its API."""

    def __init__(self, tmp_path: Path, jobs: str, *extra: str, env: dict[str, str] | None = None) -> None:
        (tmp_path / "jobs.toml").write_text(jobs)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token: str | None = None
        self.log = open(tmp_path / "serve.log", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "crawler", "serve", "--jobs", str(tmp_path / "jobs.toml"), "--data",
             str(tmp_path / "data"), "--port", str(self.port), *extra],
            env=os.environ | {"PYTHONPATH": str(ROOT)} | (env or {}), stdout=self.log, stderr=self.log)
        wait_for(self._up, timeout=30)

    def _up(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            assert self.proc.poll() is None, "the service ended"
            return False

    def call(self, method: str, path: str, token: str | None = None) -> tuple[int, Any]:
        request = urllib.request.Request(self.url + path, method=method, data=b"" if method == "POST" else None)
        if token or self.token:
            request.add_header("Authorization", f"Bearer {token or self.token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                body = response.read()
                kind = response.headers.get("Content-Type", "")
                return response.status, json.loads(body) if kind.startswith("application/json") else body
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def call_json(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        """A call with a JSON body (``/v1``)."""
        request = urllib.request.Request(self.url + path, method=method, data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def run_state(self, run: int) -> dict[str, Any]:
        return self.call("GET", f"/api/runs/{run}")[1]

    def ended(self, run: int, timeout: float = 60) -> dict[str, Any]:
        return wait_for(lambda: (lambda r: r if r["state"] not in ("queued", "running") else None)(
            self.run_state(run)), timeout=timeout)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(60)


def jobs_file(url: str, *extra: str) -> str:
    return "\n".join([f'[jobs.shop]\nseeds = ["{url}"]\nrobots = false', *extra]) + "\n"


def test_the_api_runs_a_job_and_answers_every_route(serve, tmp_path: Path) -> None:
    site = serve(shop_app())
    service = Service(tmp_path, jobs_file(site.url, 'header = ["Authorization: Bearer hidden-h3ader"]',
                                          "[jobs.shop.expect]", "min_pages = 3"))
    try:
        status, listed = service.call("GET", "/api/jobs")
        assert status == 200 and [j["name"] for j in listed["jobs"]] == ["shop"]
        assert listed["jobs"][0]["seeds"] == [site.url] and "hidden-h3ader" not in json.dumps(listed)
        status, run = service.call("POST", "/api/jobs/shop/runs")
        assert status == 201 and run["job"] == "shop" and run["state"] in ("queued", "running")
        done = service.ended(run["id"])
        assert done["state"] == "finished" and done["exit_status"] == 0
        assert done["figures"]["pages"] == 5 and done["figures"]["changes"] == {"new": 5}
        assert [(f["url"], f["error"], f["status"]) for f in done["figures"]["failed_urls"]] == [
            (site.url + "gone", "http", 404)]
        status, output = service.call("GET", f"/api/runs/{run['id']}/output")
        assert status == 200 and len(output.splitlines()) == 5
        assert service.call("GET", f"/api/runs/{run['id']}/log")[0] == 200
        assert service.call("GET", f"/api/runs/{run['id']}/report")[0] == 200
        status, job = service.call("GET", "/api/jobs/shop")
        assert status == 200 and job["runs"][0]["id"] == run["id"]
        status, runs = service.call("GET", "/api/runs?job=shop")
        assert status == 200 and [r["id"] for r in runs["runs"]] == [run["id"]]
        assert service.call("GET", "/api/jobs/nope") == (404, {"error": "no job 'nope' in the jobs file"})
        assert service.call("POST", "/api/jobs/nope/runs")[0] == 404
        assert service.call("GET", "/api/runs/999")[0] == 404
        assert service.call("GET", "/api/runs?job=nope")[0] == 404
        assert service.call("GET", "/api/runs?limit=x")[0] == 400
        assert service.call("POST", f"/api/runs/{run['id']}/cancel")[0] == 409  # it has ended
        assert service.call("GET", "/api/nothing")[0] == 404
        logs = (tmp_path / "serve.log").read_bytes() + (tmp_path / "data" / "runs" / "1" / "log.txt").read_bytes()
        assert b"hidden-h3ader" not in logs
    finally:
        assert service.stop() == 0


def test_two_runs_of_a_job_never_overlap_and_a_run_can_be_cancelled(serve, tmp_path: Path) -> None:
    site = serve(slow_app(200, 0.05))
    service = Service(tmp_path, jobs_file(site.url, "per_host = 1"))
    try:
        first = service.call("POST", "/api/jobs/shop/runs")[1]
        second = service.call("POST", "/api/jobs/shop/runs")[1]
        assert second["state"] == "skipped" and second["reason"] == "a run of this job was under way"
        output = tmp_path / "data" / "runs" / str(first["id"]) / "output.jsonl"
        wait_for(lambda: output.exists() and output.stat().st_size > 0, timeout=30)  # crawling
        assert service.run_state(first["id"])["state"] == "running"
        assert service.call("POST", f"/api/runs/{first['id']}/cancel")[0] == 202
        done = service.ended(first["id"])
        assert done["state"] == "cancelled" and done["exit_status"] == 130  # stopped as by Ctrl-C: resumable
        again = service.call("POST", "/api/jobs/shop/runs")[1]  # the job is free again: it resumes
        assert again["state"] in ("queued", "running")
    finally:
        assert service.stop() == 0


def test_a_schedule_starts_runs_at_its_times(serve, tmp_path: Path) -> None:
    site = serve(shop_app())
    service = Service(tmp_path, jobs_file(site.url, 'schedule = "* * * * * */2"'))  # every 2 s (croniter's seconds)
    try:
        wait_for(lambda: len(service.call("GET", "/api/runs")[1]["runs"]) >= 2, timeout=60)
        runs = service.call("GET", "/api/runs")[1]["runs"]
        assert all(r["trigger"] == "schedule" for r in runs)
        assert service.ended(runs[-1]["id"])["state"] == "finished"
    finally:
        assert service.stop() == 0


def test_a_token_guards_every_route_and_a_public_bind_needs_one(serve, tmp_path: Path) -> None:
    site = serve(shop_app())
    refused = run_cli("serve", "--jobs", str(tmp_path / "jobs.toml"), "--data", str(tmp_path / "data"),
                      "--host", "0.0.0.0")
    assert refused.returncode == 2 and "--token-file" in refused.stderr
    token = "a-long-enough-secret-token"
    (tmp_path / "token").write_text(token + "\n")
    service = Service(tmp_path, jobs_file(site.url), "--token-file", str(tmp_path / "token"))
    try:
        for method, path in (("GET", "/api/jobs"), ("GET", "/api/jobs/shop"), ("POST", "/api/jobs/shop/runs"),
                             ("GET", "/api/runs"), ("GET", "/api/runs/1"), ("POST", "/api/runs/1/cancel"),
                             ("GET", "/api/runs/1/log")):
            assert service.call(method, path)[0] == 401, path
            assert service.call(method, path, token="wrong-token-of-any-length")[0] == 401, path
        assert service.call("GET", "/api/jobs", token=token)[0] == 200
        # The dashboard: the login page, then the cookie it sets.
        connection = http.client.HTTPConnection("127.0.0.1", service.port, timeout=10)
        connection.request("GET", "/")
        answer = connection.getresponse()
        assert answer.status == 303 and answer.getheader("Location") == "/login"
        answer.read()
        connection.request("POST", "/login", body="token=not-it", headers={
            "Content-Type": "application/x-www-form-urlencoded"})
        answer = connection.getresponse()
        assert answer.status == 401 and answer.getheader("Set-Cookie") is None
        answer.read()
        connection.request("POST", "/login", body=f"token={token}", headers={
            "Content-Type": "application/x-www-form-urlencoded"})
        answer = connection.getresponse()
        cookie = answer.getheader("Set-Cookie") or ""
        assert answer.status == 303 and "HttpOnly" in cookie and "SameSite=Strict" in cookie
        answer.read()
        connection.request("GET", "/", headers={"Cookie": cookie.split(";")[0]})
        answer = connection.getresponse()
        assert answer.status == 200 and b"Start now" in answer.read()
        assert token not in (tmp_path / "serve.log").read_text()
    finally:
        assert service.stop() == 0


def test_a_service_killed_mid_run_marks_the_run_failed_when_it_comes_back(serve, tmp_path: Path) -> None:
    site = serve(slow_app(1000, 0.05))  # a 50 s crawl: still under way when the service is back, however slow
    service = Service(tmp_path, jobs_file(site.url, "per_host = 1"))
    run = service.call("POST", "/api/jobs/shop/runs")[1]
    wait_for(lambda: service.run_state(run["id"])["state"] == "running", timeout=30)
    service.proc.kill()
    service.proc.wait(10)
    # Its crawl went on without the service (its own session); the service, back, stops it as Ctrl-C does.
    log = tmp_path / "data" / "runs" / "1" / "log.txt"
    assert b"crawl " not in log.read_bytes()
    again = Service(tmp_path, jobs_file(site.url, "per_host = 1"))
    try:
        left = again.run_state(run["id"])
        assert left["state"] == "failed" and "the service stopped" in left["reason"]
        wait_for(lambda: b"crawl interrupted" in log.read_bytes(), timeout=60)  # stopped, resumable
        assert again.call("POST", "/api/jobs/shop/runs")[1]["state"] in ("queued", "running")
    finally:
        assert again.stop() == 0


def test_the_events_stream_sends_live_stats_then_the_end(serve, tmp_path: Path) -> None:
    site = serve(slow_app(100, 0.05))
    service = Service(tmp_path, jobs_file(site.url, "per_host = 2"))
    try:
        run = service.call("POST", "/api/jobs/shop/runs")[1]
        with urllib.request.urlopen(f"{service.url}/api/runs/{run['id']}/events", timeout=60) as stream:
            assert stream.headers["Content-Type"] == "text/event-stream"
            text = stream.read().decode()  # the stream ends with the run
        events = [block.split("\n") for block in text.strip().split("\n\n")]
        kinds = [lines[0] for lines in events]
        assert kinds[-1] == "event: end" and "event: stats" in kinds
        stats = [json.loads(lines[1][len("data: "):]) for lines in events if lines[0] == "event: stats"]
        assert all("pages" in s and "pages_per_s" in s for s in stats)
        end = json.loads(events[-1][1][len("data: "):])
        assert end["id"] == run["id"] and end["state"] == "finished" and end["figures"]["pages"] == 101
        status, spec = service.call("GET", "/api/openapi.json")
        assert status == 200 and spec["openapi"].startswith("3.") and "/api/runs/{id}/events" in spec["paths"]
    finally:
        assert service.stop() == 0


def test_keep_runs_deletes_the_files_of_older_runs(serve, tmp_path: Path) -> None:
    site = serve(shop_app())
    service = Service(tmp_path, jobs_file(site.url), "--keep-runs", "1")
    try:
        first = service.call("POST", "/api/jobs/shop/runs")[1]
        service.ended(first["id"])
        second = service.call("POST", "/api/jobs/shop/runs")[1]
        service.ended(second["id"])
        wait_for(lambda: not (tmp_path / "data" / "runs" / str(first["id"])).exists(), timeout=30)
        assert service.call("GET", f"/api/runs/{first['id']}/output")[0] == 404
        assert service.call("GET", f"/api/runs/{first['id']}")[1]["state"] == "finished"  # its record stays
        assert service.call("GET", f"/api/runs/{second['id']}/output")[0] == 200
    finally:
        assert service.stop() == 0


def test_the_dashboard_starts_a_run_and_shows_its_progress_then_its_figures(serve, tmp_path: Path,
                                                                             chromium: str) -> None:
    from playwright.sync_api import sync_playwright

    site = serve(slow_app(60, 0.05))
    service = Service(tmp_path, jobs_file(site.url, "per_host = 1", 'schedule = "0 3 * * *"'))
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium)
            page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone's width
            page.goto(service.url + "/")
            assert page.locator("td b", has_text="shop").count() == 1 and "0 3 * * *" in page.content()
            page.click("text=Start now")
            page.wait_for_url("**/runs/1")
            page.wait_for_function("Number(document.getElementById('pages').textContent) > 0", timeout=60000)
            page.wait_for_selector(".state.finished", timeout=60000)  # the end reloads the page
            assert page.locator("#pages").text_content() == "61"
            assert page.locator("a", has_text="output").count() == 1
            browser.close()
    finally:
        assert service.stop() == 0


def test_state_changes_need_the_csrf_token_or_the_same_site(serve, tmp_path: Path) -> None:
    site = serve(shop_app())
    service = Service(tmp_path, jobs_file(site.url))
    try:
        form = urllib.request.Request(service.url + "/jobs/shop/start", data=b"csrf=guess", method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(form, timeout=10)
        assert refused.value.code == 403
        evil = urllib.request.Request(service.url + "/api/jobs/shop/runs", data=b"", method="POST",
                                      headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(evil, timeout=10)
        assert refused.value.code == 403
        assert service.call("GET", "/api/runs")[1]["runs"] == []  # nothing was started
    finally:
        assert service.stop() == 0


@pytest.mark.timeout(400)  # 150 runs of a child process: about 60 s on 2 cores, far from this bound
def test_the_service_memory_stays_flat_over_many_short_runs(serve, tmp_path: Path) -> None:
    import psutil

    site = serve(shop_app())
    service = Service(tmp_path, jobs_file(site.url), "--keep-runs", "5", "--max-running", "1")
    try:
        def runs(count: int) -> None:
            for _ in range(count):
                run = service.call("POST", "/api/jobs/shop/runs")[1]
                assert service.ended(run["id"])["state"] == "finished"

        runs(30)  # warmed up: imports, caches, the database's pages
        before = psutil.Process(service.proc.pid).memory_info().rss
        runs(120)
        after = psutil.Process(service.proc.pid).memory_info().rss
        assert after - before < 8 * 2**20, (before, after)
        assert len(list((tmp_path / "data" / "runs").iterdir())) == 5  # --keep-runs
    finally:
        assert service.stop() == 0


def test_a_job_runs_a_spider_from_a_module_beside_the_jobs_file(serve, tmp_path: Path) -> None:
    site = serve(shop_app())
    (tmp_path / "titles.py").write_text(
        "from crawler import Spider\n\n\nclass Titles(Spider):\n    def parse(self, response):\n"
        "        yield {'title': response.css('title::text').get()}\n        yield from response.follow_all(css='a')\n")
    service = Service(tmp_path, jobs_file(site.url, 'spider = "titles:Titles"'))
    try:
        run = service.call("POST", "/api/jobs/shop/runs")[1]
        done = service.ended(run["id"])
        assert done["state"] == "finished" and done["figures"]["items"] == 4  # the 404 page makes none
        output = service.call("GET", f"/api/runs/{run['id']}/output")[1]
        assert sorted(json.loads(line)["title"] or "" for line in output.splitlines()) == ["", "A", "B", "Home"]
    finally:
        assert service.stop() == 0
