"""Proxies, against real ones: tinyproxy (HTTP) and microsocks (SOCKS5) on loopback."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from aiohttp import web

from crawler.cli.testsite import free_port
from tests.conftest import read_jsonl, run_cli
from tests.support.proxies import microsocks, tinyproxy
from tests.support.rawserver import RawServer, response

SECRET = "pr0xy-pa55"


def peers_app(seen: list[str], pages: int = 20) -> web.Application:
    """/ links to /p/0 ... ; every request's peer address is recorded."""

    async def answer(request: web.Request) -> web.Response:
        seen.append(request.remote or "")
        return web.Response(text="".join(f'<a href="/p/{i}">x</a>' for i in range(pages)), content_type="text/html")

    app = web.Application()
    app.router.add_get("/{tail:.*}", answer)
    return app


def crawl(tmp_path: Path, seed: str, *extra: str, env: dict[str, str] | None = None):
    (tmp_path / "seeds.txt").write_text(seed + "\n")
    return run_cli("--seeds", str(tmp_path / "seeds.txt"), "-o", str(tmp_path / "out.jsonl"), "--no-robots",
                   "--stats", str(tmp_path / "stats.json"), "--report", str(tmp_path / "report.html"), *extra,
                   cwd=tmp_path, env=env, timeout=90)


def no_secret(tmp_path: Path, stderr: str) -> None:
    assert SECRET not in stderr
    for name in ("out.jsonl", "stats.json", "report.html"):
        assert SECRET not in (tmp_path / name).read_text()


@pytest.mark.usefixtures("http_client")
def test_an_http_proxy_carries_every_request(serve, tmp_path: Path) -> None:
    seen: list[str] = []
    server = serve(peers_app(seen))
    with tinyproxy(tmp_path, bind="127.0.0.8", auth=("me", SECRET)) as (proxy, log):
        done = crawl(tmp_path, server.url, "--proxy", proxy)
        assert done.returncode == 0, done.stderr
        assert len(read_jsonl(tmp_path / "out.jsonl")) == 21
        assert seen and set(seen) == {"127.0.0.8"}  # every request came out of the proxy
        assert log.read_text().count("GET http://127.0.0.1") >= 21
        (figures,) = json.loads((tmp_path / "stats.json").read_text())["proxies"]
        assert figures == {"proxy": proxy.replace(SECRET, "***"), "requests": 21, "failures": 0, "benched_s": 0.0,
                           "bans": 0}
        report = (tmp_path / "report.html").read_text()
        assert "<h2>Proxies</h2>" in report and 'data-stat="proxies.0.requests">21<' in report
        no_secret(tmp_path, done.stderr)


@pytest.mark.usefixtures("http_client")
@pytest.mark.slow
def test_socks5_and_socks5h_proxies_carry_every_request(serve, tmp_path: Path) -> None:
    seen: list[str] = []
    server = serve(peers_app(seen))
    with microsocks(bind="127.0.0.9", auth=("me", SECRET)) as address:
        for scheme in ("socks5", "socks5h"):
            seen.clear()
            done = crawl(tmp_path, server.url, "--proxy", f"{scheme}://{address}")
            assert done.returncode == 0, done.stderr
            assert len(read_jsonl(tmp_path / "out.jsonl")) == 21 and set(seen) == {"127.0.0.9"}
            no_secret(tmp_path, done.stderr)


@pytest.mark.usefixtures("http_client")
def test_a_dead_proxy_in_the_list_is_benched_and_the_crawl_completes(serve, tmp_path: Path) -> None:
    seen: list[str] = []
    server = serve(peers_app(seen, pages=40))
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with tinyproxy(tmp_path, bind="127.0.0.8") as (http, _), microsocks(bind="127.0.0.9") as socks:
        (tmp_path / "proxies.txt").write_text(f"# three proxies\n{dead}\n{http}\nsocks5://{socks}\n")
        done = crawl(tmp_path, server.url, "--proxy-file", str(tmp_path / "proxies.txt"), "--proxy-rotate",
                     "request", "--per-host", "4")
        assert done.returncode == 0, done.stderr
        records = read_jsonl(tmp_path / "out.jsonl")
        assert len(records) == 41 and all(r["error"] is None for r in records)
        assert set(seen) == {"127.0.0.8", "127.0.0.9"}
        figures = {f["proxy"]: f for f in json.loads((tmp_path / "stats.json").read_text())["proxies"]}
        assert figures[dead]["failures"] >= 1 and figures[dead]["benched_s"] >= 1
        assert figures[http]["requests"] > 0 and figures[f"socks5://{socks}"]["requests"] > 0
        assert f"proxy {dead} failed" in done.stderr


@pytest.mark.usefixtures("http_client")
def test_a_proxy_that_cannot_get_pages_is_passed_over_but_never_down(serve, tmp_path: Path) -> None:
    # One "proxy" answers every request with a 502 of its own (no Via): each request it gets
    # goes on through the other proxy, and the crawl completes with no page failed.
    seen: list[str] = []
    server = serve(peers_app(seen, pages=30))
    with RawServer(lambda path: (response("502 Bad Gateway", b"upstream down"), b"")) as broken, \
            tinyproxy(tmp_path, bind="127.0.0.8") as (http, _):
        bad = f"http://127.0.0.1:{broken.port}"
        (tmp_path / "proxies.txt").write_text(f"{bad}\n{http}\n")
        done = crawl(tmp_path, server.url, "--proxy-file", str(tmp_path / "proxies.txt"), "--proxy-rotate",
                     "request")
        assert done.returncode == 0, done.stderr
        records = read_jsonl(tmp_path / "out.jsonl")
        assert len(records) == 31 and all(r["status"] == 200 for r in records)
        figures = {f["proxy"]: f for f in json.loads((tmp_path / "stats.json").read_text())["proxies"]}
        assert broken.hits and figures[bad]["failures"] == len(broken.hits)
        assert "every proxy is down" not in done.stderr


@pytest.mark.usefixtures("http_client")
@pytest.mark.slow
def test_a_dead_site_behind_a_proxy_is_the_site_s_failure_not_the_proxy_s(serve, tmp_path: Path) -> None:
    # tinyproxy answers 500 and microsocks "refused" for a site that is down: the URLs fail as
    # the site's (retried, then recorded), the live site's pages come through, no proxy is down.
    server = serve(peers_app([], pages=3))
    dead = f"http://127.0.0.1:{free_port()}/"
    with tinyproxy(tmp_path, bind="127.0.0.8") as (http, _), microsocks(bind="127.0.0.9") as socks:
        for proxy, error in ((http, "http"), (f"socks5://{socks}", "connect")):
            (tmp_path / "seeds.txt").write_text(f"{dead}\n{server.url}\n")
            done = run_cli("--seeds", str(tmp_path / "seeds.txt"), "-o", str(tmp_path / "out.jsonl"), "--no-robots",
                           "--proxy", proxy, "--retries", "4", cwd=tmp_path, timeout=90,
                           env={"CRAWLER_RETRY_BACKOFF": "0.05"})
            assert done.returncode == 0, done.stderr
            assert "every proxy is down" not in done.stderr, proxy
            by_url = {r["url"]: r for r in read_jsonl(tmp_path / "out.jsonl")}
            assert by_url[dead]["error"] == error, (proxy, by_url[dead])
            assert len(by_url) == 5 and all(r["status"] == 200 for u, r in by_url.items() if u != dead)


@pytest.mark.usefixtures("http_client")
@pytest.mark.slow
def test_when_every_proxy_is_down_the_crawl_says_so_once_and_stops(serve, tmp_path: Path) -> None:
    server = serve(peers_app([]))
    dead = [f"http://127.0.0.1:{free_port()}", f"socks5://127.0.0.1:{free_port()}"]
    (tmp_path / "proxies.txt").write_text("\n".join(dead) + "\n")
    done = crawl(tmp_path, server.url, "--proxy-file", str(tmp_path / "proxies.txt"))
    assert done.returncode == 1, done.stderr
    errors = [line for line in done.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "every proxy is down" in errors[0], done.stderr
    assert "crawl failed" in done.stderr


@pytest.mark.usefixtures("http_client")
@pytest.mark.slow
def test_the_environment_s_proxy_is_honoured_unless_told_not_to(serve, tmp_path: Path) -> None:
    seen: list[str] = []
    server = serve(peers_app(seen, pages=2))
    with tinyproxy(tmp_path, bind="127.0.0.8") as (proxy, _):
        env = os.environ | {"HTTP_PROXY": proxy, "NO_PROXY": ""}
        for extra, expected in (([], {"127.0.0.8"}), (["--no-env-proxy"], {"127.0.0.1"})):
            seen.clear()
            done = crawl(tmp_path, server.url, *extra, env=env)
            assert done.returncode == 0, done.stderr
            assert set(seen) == expected, extra
        seen.clear()
        done = crawl(tmp_path, server.url, env=env | {"NO_PROXY": "127.0.0.1"})  # bypassed
        assert done.returncode == 0 and set(seen) == {"127.0.0.1"}


@pytest.mark.usefixtures("http_client")
async def test_through_a_proxy_a_name_that_resolves_inside_is_still_refused(serve, crawl, names,
                                                                             tmp_path: Path) -> None:
    # The proxy would resolve evil.test itself and reach what it points at; the guard resolves
    # it here first, and refuses it as it would without a proxy.
    async def root(request: web.Request) -> web.Response:
        return web.Response(text=f'<a href="{secret}">x</a>', content_type="text/html")

    app = web.Application()
    app.router.add_get("/", root)
    server = serve(app)
    secret = f"http://evil.test:{server.port}/secret"
    names["evil.test"] = [["127.0.0.1"]]
    with tinyproxy(tmp_path, bind="127.0.0.8") as (proxy, log):
        result = await crawl([server.url], scope="any", robots=False, proxy=proxy)
        assert result.by_url()[secret]["error"] == "dns"
        assert server.paths() == ["/"]
        assert "evil.test" not in log.read_text()


async def test_a_spider_naming_a_new_socks_proxy_for_each_request_keeps_a_bounded_number_of_sessions(
        serve, tmp_path: Path) -> None:
    # Each proxy URL gets a session and its own pool of kept-alive connections to the proxy:
    # past crawler.fetch.socks.MAX_SESSIONS, the least recently used idle one is closed.
    import asyncio

    import psutil

    from crawler import Crawler, Request, Spider
    from crawler.fetch.socks import MAX_SESSIONS

    seen: list[str] = []
    server = serve(peers_app(seen, pages=80))
    with microsocks(bind="127.0.0.9") as address:
        port = int(address.rsplit(":", 1)[1])

        class EachItsProxy(Spider):
            def start_requests(self):
                for n in range(80):  # one URL of the proxy each (the same proxy: a path python-socks ignores)
                    yield Request(f"{server.url}p/{n}", proxy=f"socks5://{address}/{n}", callback=self.parse)

            def parse(self, response):
                yield {"url": response.url}

        most = 0

        async def watch() -> None:
            nonlocal most
            while True:
                to_proxy = [c for c in psutil.Process().net_connections(kind="tcp")
                            if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED]
                most = max(most, len(to_proxy))
                await asyncio.sleep(0.01)  # sampling the connections, not waiting for work

        watcher = asyncio.ensure_future(watch())
        try:
            stats = await Crawler(EachItsProxy(), output=str(tmp_path / "o.jsonl"), robots=False, per_host=4).run()
        finally:
            watcher.cancel()
    assert stats.items == 80 and set(seen) == {"127.0.0.9"}
    assert most <= MAX_SESSIONS + 4 + 2, most  # the kept sessions' idle connections and those in use


@pytest.mark.usefixtures("http_client")
def test_a_proxy_a_host_bans_rests_for_that_host_and_the_others_carry_its_pages(serve, tmp_path: Path) -> None:
    # The site answers what comes out of 127.0.0.8 with Cloudflare's challenge: that proxy rests
    # for the host, and every page comes through the other one, none recorded as blocked.
    seen: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        seen.append(request.remote or "")
        if request.remote == "127.0.0.8":
            return web.Response(status=403, headers={"cf-mitigated": "challenge"}, content_type="text/html",
                                text="<html><head><title>Just a moment...</title></head></html>")
        return web.Response(text="".join(f'<a href="/p/{i}">x</a>' for i in range(20)), content_type="text/html")

    app = web.Application()
    app.router.add_get("/{tail:.*}", answer)
    server = serve(app)
    with tinyproxy(tmp_path, bind="127.0.0.8") as (banned, _), tinyproxy(tmp_path, bind="127.0.0.9") as (good, _):
        (tmp_path / "proxies.txt").write_text(f"{banned}\n{good}\n")
        done = crawl(tmp_path, server.url, "--proxy-file", str(tmp_path / "proxies.txt"), "--proxy-rotate", "request")
        assert done.returncode == 0, done.stderr
        records = read_jsonl(tmp_path / "out.jsonl")
        assert len(records) == 21 and all(r["status"] == 200 and r["error"] is None for r in records)
        assert 1 <= seen.count("127.0.0.8") <= 2  # (2 may be under way before the first ban is seen)
        figures = {f["proxy"]: f for f in json.loads((tmp_path / "stats.json").read_text())["proxies"]}
        assert figures[banned]["bans"] == seen.count("127.0.0.8") and figures[good]["bans"] == 0
        assert figures[banned]["failures"] == 0  # a ban is the host's word, not the proxy failing
        assert 'data-stat="proxies.0.bans">' in (tmp_path / "report.html").read_text()


@pytest.mark.usefixtures("http_client")
def test_proxy_tiers_a_host_moves_up_only_when_it_blocks(serve, tmp_path: Path) -> None:
    # Tier 1 is direct, tier 2 a proxy out of 127.0.0.8, tier 3 one out of 127.0.0.9. One site
    # blocks direct requests and the tier-2 proxy's: it climbs to tier 3 and every page comes
    # from there; the other site never blocks and is fetched directly throughout.
    seen: dict[int, list[str]] = {}

    async def answer(request: web.Request) -> web.Response:
        port = request.url.port or 0
        seen.setdefault(port, []).append(request.remote or "")
        if port == picky.port and request.remote != "127.0.0.9":
            return web.Response(status=403, headers={"cf-mitigated": "challenge"}, content_type="text/html",
                                text="<html><head><title>Just a moment...</title></head></html>")
        return web.Response(text="".join(f'<a href="/p/{i}">x</a>' for i in range(20)), content_type="text/html")

    def site() -> web.Application:
        app = web.Application()
        app.router.add_get("/{tail:.*}", answer)
        return app

    picky, easy = serve(site()), serve(site())
    with tinyproxy(tmp_path, bind="127.0.0.8") as (second, _), tinyproxy(tmp_path, bind="127.0.0.9") as (third, _):
        for n, line in ((1, "# no proxy at first\ndirect"), (2, second), (3, third)):
            (tmp_path / f"tier{n}.txt").write_text(line + "\n")
        (tmp_path / "seeds.txt").write_text(f"{picky.url}\n{easy.url}\n")
        done = run_cli("--seeds", str(tmp_path / "seeds.txt"), "-o", str(tmp_path / "out.jsonl"), "--no-robots",
                       "--no-progress", "--stats", str(tmp_path / "stats.json"), "--report", str(tmp_path / "r.html"),
                       *[arg for n in (1, 2, 3) for arg in ("--proxy-tier", str(tmp_path / f"tier{n}.txt"))],
                       cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    records = read_jsonl(tmp_path / "out.jsonl")
    assert len(records) == 42 and all(r["status"] == 200 and r["error"] is None for r in records)
    assert set(seen[easy.port]) == {"127.0.0.1"} and len(seen[easy.port]) == 21  # never left the first tier
    hard = seen[picky.port]
    assert 1 <= hard.count("127.0.0.1") <= 2 and 1 <= hard.count("127.0.0.8") <= 2  # (2 at once per host)
    assert hard.count("127.0.0.9") == 21
    stats = json.loads((tmp_path / "stats.json").read_text())
    tiers = stats["proxy_tiers"]
    assert [t["hosts_moved_up"] for t in tiers] == [0, 0, 1]
    assert [t["bans"] for t in tiers] == [hard.count("127.0.0.1"), hard.count("127.0.0.8"), 0]
    assert tiers[0]["proxies"] == ["direct"] and tiers[2]["requests"] == 21
    assert {p["proxy"]: p["tier"] for p in stats["proxies"]} == {"direct": 1, second: 2, third: 3}
    assert 'data-stat="proxy_tiers.2.hosts_moved_up">1<' in (tmp_path / "r.html").read_text()


@pytest.mark.slow
def test_proxy_tiers_take_the_place_of_proxy_and_say_what_a_bad_line_is(tmp_path: Path) -> None:
    (tmp_path / "tier.txt").write_text("direct\nftp://nope\n")
    done = run_cli("http://127.0.0.1:9/", "--proxy-tier", str(tmp_path / "tier.txt"), cwd=tmp_path)
    assert done.returncode == 2 and "tier.txt:2" in done.stderr and "'direct'" in done.stderr
    done = run_cli("http://127.0.0.1:9/", "--proxy-tier", str(tmp_path / "tier.txt"), "--proxy", "http://p:1",
                   cwd=tmp_path)
    assert done.returncode == 2 and "--proxy-tier" in done.stderr and len(done.stderr.strip().splitlines()) == 1
