"""Requests shaped by the user: methods and bodies (JSON seed lines, the Spider API)."""

from __future__ import annotations

import json
from pathlib import Path

from aiohttp import web

from crawler import Request, Spider, run_spider
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


def test_the_spider_api_sends_methods_bodies_and_cookies(serve, tmp_path: Path) -> None:
    seen: list[dict] = []
    server = serve(echo_app(seen))
    stats = run_spider(Poster(server.url.rstrip("/")), output=str(tmp_path / "items.jsonl"), robots=False)
    assert stats["items"] == 1 and read_jsonl(tmp_path / "items.jsonl") == [{"status": 200, "method": "POST"}]
    login, account = seen
    assert (login["method"], login["body"]) == ("POST", '{"user": "u"}')
    assert account["headers"]["Cookie"] == "sid=s1" and account["headers"]["X-Via"] == "spider"
