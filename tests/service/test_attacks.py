"""``crawler serve`` under attack and on a bad day (#40's audit), in the test's loop: the service's
app on 127.0.0.1, the sites on servers of their own. A name rebound to 127.0.0.1 (its ``Host``),
a caller's pattern that backtracks, the embedded-IPv4 spellings of private addresses, a crowd of
calls and crawls against the bounds, hostile bodies and ids."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from crawler import load_settings
from crawler.service.api import make_app
from crawler.service.calls import Bounds
from crawler.service.hosts import HostNames
from crawler.service.ondemand import Calls
from crawler.service.runs import Runs
from tests.conftest import Server
from tests.service.test_calls import TOKEN, pages_app

MCP_LIST = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


class Service:
    """The app on a free port of 127.0.0.1, and raw calls to it."""

    def __init__(self, url: str, port: int, calls: Calls) -> None:
        self.url, self.port, self.calls = url, port, calls
        self.token: str | None = None

    async def call(self, method: str, path: str, body: Any = None, *, host: str | None = None,
                   raw: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        sent = dict(headers or {})
        if self.token:
            sent["Authorization"] = f"Bearer {self.token}"
        if host is not None:
            sent["Host"] = host
        async with aiohttp.ClientSession() as session, session.request(
                method, self.url + path, json=body if raw is None else None, data=raw, headers=sent,
                allow_redirects=False) as response:
            text = await response.text()
            try:
                return response.status, json.loads(text)
            except ValueError:
                return response.status, text


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    started: list[tuple[web.AppRunner, Calls, Runs]] = []

    async def start(token: str | None = None, hosts: HostNames | None = None, **bounds: Any) -> Service:
        data = tmp_path / f"data{len(started)}"
        (data / "runs").mkdir(parents=True)
        calls = Calls(load_settings({}), Bounds(**({"rate": 0} | bounds)), data, private_hosts=("127.0.0.1",))
        runs = Runs({}, data, 1, data)
        await runs.start()
        await calls.open()
        runner = web.AppRunner(make_app(runs, [token] if token else None, calls, hosts))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        started.append((runner, calls, runs))
        port = runner.addresses[0][1]
        svc = Service(f"http://127.0.0.1:{port}", port, calls)
        svc.token = token
        return svc

    yield start
    for runner, calls, runs in started:
        await runner.cleanup()
        await calls.close()
        await runs.stop()


async def test_a_rebound_name_is_refused_on_every_route_and_an_allowed_one_answers(service, serve) -> None:
    site: Server = serve(pages_app({"/": "<title>home</title>"}))
    svc = await service()
    evil = f"evil.example:{svc.port}"
    for method, path, body in (("GET", "/api/jobs", None), ("GET", "/api/runs/1/output", None),
                               ("POST", "/api/jobs/x/runs", None), ("GET", "/", None), ("GET", "/login", None),
                               ("POST", "/v1/scrape", {"url": site.url}), ("POST", "/mcp", MCP_LIST)):
        status, answer = await svc.call(method, path, body, host=evil, headers=MCP_HEADERS)
        assert status == 421, (path, status, answer)
        assert "evil.example" in str(answer) and "--allowed-host" in str(answer)
    assert site.hits == []
    for host in (f"127.0.0.1:{svc.port}", f"localhost:{svc.port}", f"[::1]:{svc.port}", "app.localhost"):
        assert (await svc.call("GET", "/api/jobs", host=host))[0] == 200, host
    reader, writer = await asyncio.open_connection("127.0.0.1", svc.port)  # HTTP/1.0 without Host: no browser's
    writer.write(b"GET /api/jobs HTTP/1.0\r\n\r\n")
    assert (await reader.readline()).split()[1] == b"200"
    writer.close()
    # Behind a real name (--allowed-host), with a token: that name answers on every route, MCP's too.
    named = await service(token=TOKEN, hosts=HostNames.of("127.0.0.1", ["crawler.internal"]))
    status, answer = await named.call("POST", "/mcp", MCP_LIST, host="crawler.internal", headers=MCP_HEADERS)
    assert status == 200 and "scrape" in {t["name"] for t in answer["result"]["tools"]}
    assert (await named.call("GET", "/api/jobs", host=f"crawler.internal:{named.port}"))[0] == 200
    assert (await named.call("GET", "/api/jobs", host="other.internal"))[0] == 421


async def test_a_callers_backtracking_pattern_never_holds_the_service(service, serve) -> None:
    trap = "/" + "a" * 30 + "!"
    site: Server = serve(pages_app({"/": f"<a href='{trap}'>x</a><a href='/aaa'>y</a>", trap: "t", "/aaa": "a"}))
    svc = await service()
    status, answer = await svc.call("POST", "/v1/crawl", {"url": site.url, "includePaths": ["^/(a+)+$"],
                                                          "limit": 10})
    assert status == 200, answer
    crawl_id = answer["id"]
    slowest = 0.0
    while (await svc.call("GET", f"/v1/crawl/{crawl_id}"))[1]["status"] == "scraping":
        began = time.monotonic()
        assert (await svc.call("GET", "/api/jobs"))[0] == 200
        slowest = max(slowest, time.monotonic() - began)
        await asyncio.sleep(0.05)
    assert slowest < 0.5  # Python's engine takes minutes on the trap's URL, on the loop
    done = (await svc.call("GET", f"/v1/crawl/{crawl_id}"))[1]
    assert sorted(d["metadata"]["sourceURL"] for d in done["data"]) == [site.url, site.url + "aaa"]
    assert site.count(trap) == 0
    for patterns, said in ((["(?=secret)"], "is refused: invalid perl operator: (?="), ([r"(a)\1"], "is refused"),
                           (["a" * 1001], "is 1001 characters: at most 1000"),
                           (["x"] * 51, "includePaths: 51 patterns, at most 50")):
        status, answer = await svc.call("POST", "/v1/crawl", {"url": site.url, "includePaths": patterns})
        assert status == 400 and answer["error"].startswith("bad_request: ") and said in answer["error"], answer


async def test_a_crawl_keeps_to_its_start_folder_without_look_aheads(service, serve) -> None:
    pages = {"/docs/a": "<a href='/docs/b'>b</a><a href='/docsx'>x</a><a href='/blog/c'>c</a><a href='/docs'>d</a>",
             "/docs/b": "<a href='/docs/sub/e?q=1'>e</a>", "/docs/sub/e": "e", "/docsx": "x", "/blog/c": "c",
             "/docs": "d"}
    site: Server = serve(pages_app(pages))
    svc = await service()
    status, answer = await svc.call("POST", "/v1/crawl", {"url": site.url + "docs/a", "limit": 20})
    assert status == 200, answer
    done = await _ended(svc, answer["id"])
    assert sorted(d["metadata"]["sourceURL"] for d in done["data"]) == [
        site.url + "docs/a", site.url + "docs/b", site.url + "docs/sub/e?q=1"]


async def _ended(svc: Service, crawl_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while (found := (await svc.call("GET", f"/v1/crawl/{crawl_id}"))[1])["status"] == "scraping":
        assert time.monotonic() < deadline, "the crawl did not end"
        await asyncio.sleep(0.05)
    return found  # type: ignore[no-any-return]


@pytest.mark.parametrize("spelling", ["[64:ff9b::7f00:1]", "[64:ff9b:1::7f00:1]", "[::127.0.0.1]",
                                      "[::ffff:0:7f00:1]", "[64:ff9b::a9fe:a9fe]"])
async def test_ipv4_carried_in_ipv6_is_refused_before_anything_is_sent(service, spelling: str) -> None:
    svc = await service()
    status, answer = await svc.call("POST", "/v1/scrape", {"url": f"http://{spelling}:8080/"})
    assert status == 403 and answer["error"].startswith("blocked_address: "), answer


@pytest.mark.slow  # seconds of waiting on a slow site
async def test_queued_calls_end_at_their_deadline_counted_from_arrival(service, serve) -> None:
    site: Server = serve(pages_app({"/slow": "<title>late</title>"}, wait=20))
    svc = await service(timeout=2)  # crawler serve --api-timeout 2, 16 calls at once
    began = time.monotonic()
    answers = await asyncio.gather(*(svc.call("POST", "/v1/scrape", {"url": site.url + "slow"})
                                     for _ in range(40)))
    took = time.monotonic() - began
    assert {status for status, _ in answers} == {408}
    assert all(a["error"].startswith("call_timeout: not done in 2 s") for _, a in answers)
    assert took < 3.5  # each call's 2 s count from its arrival, the wait for a turn included


@pytest.mark.slow  # seconds of waiting on a slow site
async def test_the_first_call_of_a_fresh_service_keeps_its_deadline(service, serve) -> None:
    site: Server = serve(pages_app({"/slow": "<title>late</title>"}, wait=20))
    svc = await service(timeout=2)
    began = time.monotonic()
    status, answer = await svc.call("POST", "/v1/scrape", {"url": site.url + "slow"})
    assert (status, time.monotonic() - began < 3.0) == (408, True), answer


@pytest.mark.slow  # seconds of waiting on a slow site
async def test_at_most_the_documented_crawls_run_at_once(service, serve) -> None:
    from crawler.service.apicrawls import RUNNING_MAX

    site: Server = serve(pages_app({f"/{i}": "<a href='/0'>0</a>" for i in range(3)}, wait=1))
    svc = await service()
    answers = await asyncio.gather(*(svc.call("POST", "/v1/crawl", {"url": site.url + "0", "limit": 1})
                                     for _ in range(40)))
    accepted = [a for status, a in answers if status == 200]
    refused = [a for status, a in answers if status == 503]
    assert (len(accepted), len(refused)) == (RUNNING_MAX, 40 - RUNNING_MAX) == (8, 32)
    assert all(a["error"].startswith("busy: 8 crawls are under way") for a in refused)
    for a in accepted:
        await _ended(svc, a["id"])


async def test_hostile_bodies_and_ids_get_their_own_answer_never_a_500(service) -> None:
    svc = await service()
    deep = b"[" * 100_000 + b"]" * 100_000
    for path in ("/v1/scrape", "/v1/crawl", "/v1/map"):
        status, answer = await svc.call("POST", path, raw=deep, headers={"Content-Type": "application/json"})
        assert status in (400, 413), (path, status, answer)
    nested = b'{"url": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"
    for path in ("/v1/scrape", "/v1/crawl", "/v1/map"):
        status, answer = await svc.call("POST", path, raw=nested, headers={"Content-Type": "application/json"})
        assert (status, answer["success"]) == (400, False), (path, answer)
        assert answer["error"].startswith("bad_request: the request body is nested too deep"), answer
    status, answer = await svc.call("POST", "/mcp", raw=nested, headers=MCP_HEADERS | {
        "Content-Type": "application/json"})
    assert status == 400, answer
    huge = "9" * 30
    for method, path in (("GET", f"/api/runs/{huge}"), ("GET", f"/api/runs/{huge}/output"),
                         ("GET", f"/api/runs/{huge}/log"), ("GET", f"/api/runs/{huge}/events"),
                         ("POST", f"/api/runs/{huge}/cancel"), ("GET", f"/runs/{huge}")):
        status, answer = await svc.call(method, path)
        assert status == 404, (path, status, answer)
    big = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"pad": "x" * 70_000}})
    status, answer = await svc.call("POST", "/mcp", raw=big.encode(), headers=MCP_HEADERS | {
        "Content-Type": "application/json"})
    assert status == 413, answer
    status, answer = await svc.call("POST", "/v1/scrape", raw=big.encode(), headers={
        "Content-Type": "application/json"})
    assert status == 413, answer


@pytest.mark.parametrize("chunked", [False, True])
async def test_an_mcp_body_over_the_bound_is_refused_however_it_is_sent(service, chunked: bool) -> None:
    svc = await service()
    pad = b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"pad": "' + b"x" * 70_000 + b'"}}'

    async def pieces() -> AsyncIterator[bytes]:
        for i in range(0, len(pad), 8192):
            yield pad[i:i + 8192]

    async with aiohttp.ClientSession() as session, session.post(
            svc.url + "/mcp", data=pieces() if chunked else pad,
            headers=MCP_HEADERS | {"Content-Type": "application/json"}) as response:
        assert response.status == 413


def _linked_site(pages: int, sitemap: int = 0) -> web.Application:
    """``pages`` pages, each linking to ten below it, a tree (a docs site without a sitemap, when
    ``sitemap`` is 0; else a sitemap of its first ``sitemap`` pages)."""
    async def page(request: web.Request) -> web.Response:
        if request.path == "/robots.txt":
            return web.Response(text="User-agent: *\nAllow: /\n")
        if request.path == "/sitemap.xml" and sitemap:
            urls = "".join(f"<url><loc>http://{request.host}/p{i}</loc></url>" for i in range(sitemap))
            return web.Response(text=f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>',
                                content_type="application/xml")
        n = 0 if request.path == "/" else int(request.path[2:]) if request.path[2:].isdigit() else -1
        if not 0 <= n < pages:
            raise web.HTTPNotFound()
        links = "".join(f"<a href='/p{j}'>{j}</a>" for j in range(10 * n + 1, min(pages, 10 * n + 11)))
        return web.Response(text=f"<title>{n}</title>{links}<a href='http://elsewhere.example/'>x</a>",
                            content_type="text/html")

    app = web.Application()
    app.router.add_get("/{tail:.*}", page)
    return app


async def test_a_map_of_a_site_without_a_sitemap_follows_its_links_politely(service, serve) -> None:
    site: Server = serve(_linked_site(600))
    svc = await service()
    status, answer = await svc.call("POST", "/v1/map", {"url": site.url})
    assert status == 200, answer
    links = answer["links"]
    assert len(links) >= 500 and len(links) == len(set(links))
    assert all(u.startswith(site.url) for u in links)  # on its domain only
    sources = answer["sources"]
    assert sources["sitemap"] == 0 and sources["page"] == 10 and sources["links"] == len(links) - 11, sources
    pages = [p for p in site.paths() if p not in ("/robots.txt", "/sitemap.xml")]
    assert len(pages) == len(set(pages)) == sources["pages_fetched"] + 1 <= 201  # each once, bounded
    assert site.host_max_in_flight[site.url.split("/")[2]] <= 2  # the host's politeness held
    # A sitemap that lists enough is the map: nothing more is fetched.
    listed: Server = serve(_linked_site(600, sitemap=150))
    status, answer = await svc.call("POST", "/v1/map", {"url": listed.url})
    assert answer["sources"]["pages_fetched"] == 0 and len(answer["links"]) == 151
    assert sorted(listed.paths()) == ["/", "/robots.txt", "/sitemap.xml"]


async def test_health_and_readiness_probes_answer_anyone_and_tell_nothing(service, tmp_path: Path, monkeypatch) -> None:
    from crawler.service import api

    svc = await service(token=TOKEN)
    svc.token = None  # a probe carries no token
    for host in (None, "10.0.0.7:8700", "lb.internal"):  # Kubernetes' pod address, a load balancer's name
        assert await svc.call("GET", "/healthz", host=host) == (200, {"status": "ok"})
        status, ready = await svc.call("GET", "/readyz", host=host)
        assert (status, ready) == (200, {"status": "ready", "checks": {"data": True, "jobs": True}})
    assert (await svc.call("GET", "/api/jobs"))[0] == 401  # the rest still wants the token
    monkeypatch.setattr(api, "READY_FREE", 1 << 62)  # the data directory's disk "full"
    status, ready = await svc.call("GET", "/readyz")
    assert (status, ready) == (503, {"status": "not ready", "checks": {"data": False, "jobs": True}})
    assert str(tmp_path) not in json.dumps(ready)


async def test_the_dashboard_and_api_runs_list_the_apis_crawls(service, serve) -> None:
    site: Server = serve(pages_app({"/": "<title>home</title>"}))
    svc = await service()
    status, started = await svc.call("POST", "/v1/crawl", {"url": site.url, "limit": 1})
    assert status == 200
    await _ended(svc, started["id"])
    status, listed = await svc.call("GET", "/api/runs")
    assert status == 200 and listed["runs"] == []
    (crawl,) = listed["crawls"]
    assert (crawl["id"], crawl["status"], crawl["url"], crawl["error"]) == (started["id"], "completed", site.url, None)
    assert crawl["created_at"] and crawl["ended_at"]
    status, page = await svc.call("GET", "/")
    assert status == 200 and "API crawls" in page and started["id"][:8] in page and site.url in page


@pytest.mark.slow  # seconds of a slow site
async def test_a_maps_walk_ends_within_the_calls_time_quietly(service, serve, caplog) -> None:
    slow = web.Application()

    async def page(request: web.Request) -> web.Response:
        if request.path == "/robots.txt":
            return web.Response(text="")
        await asyncio.sleep(0.3)
        n = int(request.path[2:]) if request.path[2:].isdigit() else 0
        return web.Response(text="".join(f"<a href='/p{10 * n + j}'>x</a>" for j in range(1, 11)),
                            content_type="text/html")

    slow.router.add_get("/{tail:.*}", page)
    site: Server = serve(slow)
    svc = await service(timeout=3)
    began = time.monotonic()
    status, answer = await svc.call("POST", "/v1/map", {"url": site.url})
    assert status == 200 and time.monotonic() - began < 3.0, answer  # the walk stopped at 80% of the call's time
    assert answer["sources"]["pages_fetched"] > 0 and len(answer["links"]) > 11
    assert "--max-runtime" not in caplog.text and "stopping" not in caplog.text
