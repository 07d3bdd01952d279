"""Requests shaped by the user: methods and bodies (JSON seed lines, the Spider API)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aiohttp import web

from crawler import Request, Spider, run_spider
from crawler.cli.testsite import ServerThread
from tests.conftest import read_jsonl, run_cli


def echo_app(seen: list[dict]) -> web.Application:
    """Every request is recorded (method, path, headers, body) and answered with a small page;
    /see-other answers 303 to /landing, /temporary 307 to /landing."""

    async def answer(request: web.Request) -> web.Response:
        body = await request.read()
        seen.append({"method": request.method, "path": request.path_qs, "body": body.decode(),
                     "headers": dict(request.headers)})
        if request.path == "/see-other":
            raise web.HTTPSeeOther("/landing")
        if request.path == "/temporary":
            raise web.HTTPTemporaryRedirect("/landing")
        return web.Response(text=f"<title>{request.method} {request.path}</title>", content_type="text/html")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    return app


@pytest.mark.usefixtures("http_client")
def test_json_seed_lines_are_requests_with_their_method_and_body(serve, tmp_path: Path) -> None:
    seen: list[dict] = []
    server = serve(echo_app(seen))
    base = server.url.rstrip("/")
    lines = [
        json.dumps({"url": f"{base}/api", "method": "POST", "body": "a=1", "headers": {"X-Token": "t1"}}),
        json.dumps({"url": f"{base}/api", "method": "POST", "json": {"q": "two"}}),
        json.dumps({"url": f"{base}/api", "method": "POST", "body": "a=1"}),  # the same request again: once
        f"{base}/api",  # a GET of the same URL is another request
        json.dumps({"url": f"{base}/see-other", "method": "POST", "body": "x"}),
        json.dumps({"url": f"{base}/temporary", "method": "PUT", "body": "y"}),
        '{"url": "' + base + '/bad", "metod": "POST"}',  # a typo: reported, skipped
    ]
    (tmp_path / "requests.jsonl").write_text("\n".join(lines) + "\n")
    done = run_cli("--seeds", str(tmp_path / "requests.jsonl"), "-o", str(tmp_path / "out.jsonl"), "--no-robots",
                   "--max-depth", "0", "--per-host", "1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "requests.jsonl:7: not a request, skipped: unknown key 'metod'" in done.stderr
    asked = sorted((s["method"], s["path"], s["body"]) for s in seen)
    assert asked == sorted([("POST", "/api", "a=1"), ("POST", "/api", '{"q": "two"}'), ("GET", "/api", ""),
                            ("POST", "/see-other", "x"), ("GET", "/landing", ""),  # 303: on as a GET
                            ("PUT", "/temporary", "y"), ("PUT", "/landing", "y")])  # 307: method and body kept
    json_post = next(s for s in seen if s["body"] == '{"q": "two"}')
    assert json_post["headers"]["Content-Type"] == "application/json"
    assert next(s for s in seen if s["body"] == "a=1")["headers"]["X-Token"] == "t1"
    records = read_jsonl(tmp_path / "out.jsonl")
    assert sorted((r["url"], r.get("method", "GET")) for r in records) == sorted([
        (f"{base}/api", "POST"), (f"{base}/api", "POST"), (f"{base}/api", "GET"), (f"{base}/see-other", "POST"),
        (f"{base}/temporary", "PUT")])


@pytest.mark.usefixtures("http_client")
@pytest.mark.slow
def test_a_durable_crawl_keeps_requests_apart_by_method_and_body(serve, tmp_path: Path) -> None:
    seen: list[dict] = []
    server = serve(echo_app(seen))
    base = server.url.rstrip("/")
    lines = [json.dumps({"url": f"{base}/api", "method": "POST", "json": {"n": n}}) for n in range(5)]
    (tmp_path / "requests.jsonl").write_text("\n".join(lines) + "\n")
    args = ["--seeds", str(tmp_path / "requests.jsonl"), "-o", str(tmp_path / "out.jsonl"), "--no-robots",
            "--job-dir", str(tmp_path / "job")]
    assert run_cli(*args, cwd=tmp_path).returncode == 0
    assert run_cli(*args, cwd=tmp_path).returncode == 0  # all done: the second run asks nothing
    assert sorted(s["body"] for s in seen) == sorted(json.dumps({"n": n}) for n in range(5))
    assert len(read_jsonl(tmp_path / "out.jsonl")) == 5


class Poster(Spider):
    """Logs in with a POST, then follows with a GET carrying a cookie of its own."""

    def __init__(self, base: str) -> None:
        self.base = base

    async def start(self):
        yield Request(self.base + "/login", method="POST", json={"user": "u"}, callback=self.logged_in)

    def logged_in(self, response):
        yield {"status": response.status, "method": response.request.method}
        yield Request(self.base + "/account", cookies={"sid": "s1"}, headers={"X-Via": "spider"})


def test_the_spider_api_sends_methods_bodies_and_cookies(serve, tmp_path: Path, http_client: str) -> None:
    seen: list[dict] = []
    server = serve(echo_app(seen))
    stats = run_spider(Poster(server.url.rstrip("/")), output=str(tmp_path / "items.jsonl"), robots=False,
                       http_client=http_client)
    assert stats["items"] == 1 and read_jsonl(tmp_path / "items.jsonl") == [{"status": 200, "method": "POST"}]
    login, account = seen
    assert (login["method"], login["body"]) == ("POST", '{"user": "u"}')
    assert account["headers"]["Cookie"] == "sid=s1" and account["headers"]["X-Via"] == "spider"


# -- headers, credentials, cookies ------------------------------------------------------------------

SECRET = "s3cr3t-t0ken"


def recording_app(seen: list[dict], other: str = "") -> web.Application:
    """/ links to /page and to ``other`` (a page on the second host), /go redirects there;
    /login sets a cookie, /flood sets 500; every request's headers are recorded."""

    async def answer(request: web.Request) -> web.Response:
        seen.append({"host": request.host, "path": request.path, "headers": dict(request.headers)})
        if request.path == "/go":
            raise web.HTTPFound(other)
        response = web.Response(text=f'<a href="/page">p</a><a href="{other}">o</a><a href="/account">a</a>',
                                content_type="text/html")
        if request.path == "/login":
            response.set_cookie("sid", "abc123")
        if request.path == "/flood":
            for i in range(500):
                response.set_cookie(f"c{i}", "x" * 20)
        return response

    app = web.Application()
    app.router.add_get("/{tail:.*}", answer)
    return app


def headers_at(seen: list[dict], host_prefix: str) -> list[dict]:
    return [s["headers"] for s in seen if s["host"].startswith(host_prefix)]


def crawl_args(tmp_path: Path, seed: str, *extra: str) -> list[str]:
    (tmp_path / "seeds.txt").write_text(seed + "\n")
    return ["--seeds", str(tmp_path / "seeds.txt"), "-o", str(tmp_path / "out.jsonl"), "--no-robots",
            "--stats", str(tmp_path / "stats.json"), "--report", str(tmp_path / "report.html"), *extra]


def assert_no_secret_anywhere(tmp_path: Path, stderr: str, *secrets: str) -> None:
    """Credentials go only where they were sent: never into records, stats, the report or logs."""
    for secret in secrets:
        assert secret not in stderr
        for path in tmp_path.rglob("*"):
            if path.is_file() and path.suffix in (".jsonl", ".json", ".html", ".txt") and path.name != "netrc":
                assert secret not in path.read_text(errors="replace"), path


@pytest.mark.usefixtures("http_client")
@pytest.mark.slow
def test_headers_and_basic_auth_go_to_the_seeds_hosts_and_never_cross_a_redirect(serve, tmp_path: Path) -> None:

    seen: list[dict] = []
    with ServerThread(recording_app(seen), host="127.0.0.2") as second:
        other = second.url + "landing"
        first = serve(recording_app(seen, other))
        for scope in ("seeds", "any"):
            seen.clear()
            done = run_cli(*crawl_args(tmp_path, first.url + "go", "--scope", "any", "--allow-private",
                                       "--max-depth", "1", "-H", f"X-Api-Key: {SECRET}", "-H",
                                       f"Authorization: Bearer {SECRET}", "--header-scope", scope), cwd=tmp_path)
            assert done.returncode == 0, done.stderr
            mine = headers_at(seen, "127.0.0.1")
            landing = [s["headers"] for s in seen if s["host"].startswith("127.0.0.2") and s["path"] == "/landing"]
            linked = [s["headers"] for s in seen if s["host"].startswith("127.0.0.2") and s["path"] != "/landing"]
            assert mine and len(landing) == 1 and linked
            assert all(h["X-Api-Key"] == SECRET and h["Authorization"] == f"Bearer {SECRET}" for h in mine)
            # Reached by the redirect: never the credentials, whatever the scope; the rest as the scope says.
            assert "Authorization" not in landing[0] and ("X-Api-Key" in landing[0]) == (scope == "any")
            assert all(("X-Api-Key" in h) == ("Authorization" in h) == (scope == "any") for h in linked)
            assert_no_secret_anywhere(tmp_path, done.stderr, SECRET)
        seen.clear()
        done = run_cli(*crawl_args(tmp_path, first.url, "--scope", "any", "--allow-private", "--max-depth", "1",
                                   "--auth", f"user:{SECRET}"), cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        basic = "Basic " + __import__("base64").b64encode(f"user:{SECRET}".encode()).decode()
        assert all(h.get("Authorization") == basic for h in headers_at(seen, "127.0.0.1"))
        assert all("Authorization" not in h for h in headers_at(seen, "127.0.0.2"))
        assert_no_secret_anywhere(tmp_path, done.stderr, SECRET, basic.split()[1])


@pytest.mark.usefixtures("http_client")
def test_netrc_gives_each_host_its_own_credentials(serve, tmp_path: Path) -> None:
    import base64
    import os

    def basic(user: str, password: str) -> str:
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    # The seed's host (127.0.0.1) links to 127.0.0.2, whose pages link to 127.0.0.3.
    seen: list[dict] = []
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.2 login other password {SECRET}2\ndefault login robot password {SECRET}\n")
    netrc.chmod(0o600)
    with ServerThread(recording_app(seen), host="127.0.0.3") as third, \
            ServerThread(recording_app(seen, third.url + "p3"), host="127.0.0.2") as second:
        first = serve(recording_app(seen, second.url + "p2"))
        done = run_cli(*crawl_args(tmp_path, first.url, "--scope", "any", "--allow-private", "--max-depth", "2",
                                   "--netrc"), cwd=tmp_path,
                       env={"NETRC": str(netrc), "HOME": os.environ.get("HOME", "/root")})
    assert done.returncode == 0, done.stderr
    at = {host: headers_at(seen, host) for host in ("127.0.0.1", "127.0.0.2", "127.0.0.3")}
    assert all(at.values()), at.keys()
    assert all(h["Authorization"] == basic("robot", SECRET) for h in at["127.0.0.1"])  # default: a seed's host
    assert all(h["Authorization"] == basic("other", SECRET + "2") for h in at["127.0.0.2"])  # its own entry
    assert all("Authorization" not in h for h in at["127.0.0.3"])  # no entry of its own, no seed: nothing
    assert_no_secret_anywhere(tmp_path, done.stderr, SECRET)


@pytest.mark.usefixtures("http_client")
@pytest.mark.slow
def test_a_cookie_from_a_login_answer_is_sent_on_with_cookies_only(serve, tmp_path: Path) -> None:
    seen: list[dict] = []
    server = serve(recording_app(seen))
    for jar in (False, True):
        seen.clear()
        args = crawl_args(tmp_path, server.url + "login", "--per-host", "1", "--max-depth", "1",
                          *(["--cookies"] if jar else []))
        assert run_cli(*args, cwd=tmp_path).returncode == 0
        later = [s["headers"].get("Cookie") for s in seen if s["path"] != "/login"]
        assert later and all(c == ("sid=abc123" if jar else None) for c in later), later


@pytest.mark.usefixtures("http_client")
def test_cookies_given_load_and_save_and_a_flood_stays_bounded(serve, tmp_path: Path) -> None:
    seen: list[dict] = []
    server = serve(recording_app(seen))
    jar_in = tmp_path / "in.txt"
    jar_in.write_text("# Netscape HTTP Cookie File\n127.0.0.1\tFALSE\t/\tFALSE\t0\tloaded\tyes\n")
    jar_out = tmp_path / "jar" / "out.txt"
    done = run_cli(*crawl_args(tmp_path, server.url + "flood", "--per-host", "1", "--max-depth", "1",
                               "--cookie", "given=1", "--load-cookies", str(jar_in), "--save-cookies", str(jar_out)),
                   cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    first = seen[0]["headers"]["Cookie"]
    assert "given=1" in first and "loaded=yes" in first
    saved = [line for line in jar_out.read_text().splitlines() if line and not line.startswith("#")]
    assert 2 < len(saved) <= 180  # 500 cookies offered, at most 180 a domain kept
    assert all(len(s["headers"].get("Cookie", "").split("; ")) <= 150 for s in seen)


def committed_jar(job: Path) -> bool:
    """Has the job committed its cookie jar yet (read from its SQLite file)?"""
    import sqlite3

    if not (job / "frontier.db").exists():
        return False
    try:
        with sqlite3.connect(f"file:{job / 'frontier.db'}?mode=ro", uri=True, timeout=1) as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'cookies'").fetchone()
    except sqlite3.Error:
        return False
    return bool(row and "sid" in row[0])


@pytest.mark.usefixtures("http_client")
@pytest.mark.slow
def test_cookies_survive_kill_9_and_resume_of_a_job(serve, tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    from tests.conftest import ROOT, wait_for
    from tests.support.sites import lines_in

    seen: list[dict] = []

    async def slow(request: web.Request) -> web.Response:
        import asyncio

        await asyncio.sleep(0.05)
        seen.append({"path": request.path, "cookie": request.headers.get("Cookie")})
        response = web.Response(text="".join(f'<a href="/p/{i}">x</a>' for i in range(60)), content_type="text/html")
        if request.path == "/":
            response.set_cookie("sid", "kept")
        return response

    app = web.Application()
    app.router.add_get("/{tail:.*}", slow)
    server = serve(app)
    args = crawl_args(tmp_path, server.url, "--per-host", "1", "--cookies", "--job-dir", str(tmp_path / "job"))
    env = __import__("os").environ | {"PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "crawler", *args], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: lines_in(tmp_path / "out.jsonl") >= 5 and committed_jar(tmp_path / "job"), timeout=30)
    proc.send_signal(signal.SIGKILL)  # after a commit (with the jar): killed between a write and its
    proc.wait(10)                     # commit, the seed is rightly fetched again
    before = len(seen)
    assert run_cli(*args, cwd=tmp_path).returncode == 0
    resumed = seen[before:]
    assert resumed and all(s["cookie"] == "sid=kept" for s in resumed)  # the login was not done again
    assert sum(s["path"] == "/" for s in seen) == 1


@pytest.mark.usefixtures("http_client")
def test_config_show_masks_every_credential(tmp_path: Path) -> None:
    shown = run_cli("config", "--show", "--auth", f"me:{SECRET}", "-H", f"Authorization: Bearer {SECRET}",
                    "--cookie", f"sid={SECRET}", "--proxy", f"http://me:{SECRET}@127.0.0.1:3128", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert SECRET not in shown.stdout
    assert 'auth = "me:***"' in shown.stdout and '"Authorization: ***"' in shown.stdout
    assert 'proxy = "http://me:***@127.0.0.1:3128"' in shown.stdout


@pytest.mark.usefixtures("http_client")
def test_a_config_file_shapes_requests_as_the_command_line_does(serve, tmp_path: Path) -> None:
    import base64

    seen: list[dict] = []
    server = serve(recording_app(seen))
    config = tmp_path / "crawl.toml"
    config.write_text(f'header = ["X-Api-Key: {SECRET}"]\nauth = "me:{SECRET}"\ncookie = ["sid=from-file"]\n'
                      'max_depth = 0\n')
    done = run_cli(*crawl_args(tmp_path, server.url, "--config", str(config)), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (headers,) = headers_at(seen, "127.0.0.1")
    assert headers["X-Api-Key"] == SECRET and headers["Cookie"] == "sid=from-file"
    assert headers["Authorization"] == "Basic " + base64.b64encode(f"me:{SECRET}".encode()).decode()
    assert_no_secret_anywhere(tmp_path, done.stderr, SECRET)
