"""The SSRF guard and credentials on redirects: private addresses only for the seeds' hosts (or
with --allow-private), IP literals in every spelling, a resolver that filters its answers.

Names are answered by a stub resolver that points them at the test server on 127.0.0.1:
nothing here resolves a real name or connects anywhere but loopback."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from crawler import Request, Spider
from crawler.core.engine import Engine
from crawler.core.scope import Scope
from crawler.fetch import guard
from crawler.fetch.guard import BlockedAddress, GuardedResolver, is_blocked
from crawler.settings import load_settings
from crawler.urls import normalize_url
from tests.conftest import read_jsonl
from tests.support.resolver import StubResolver
from tests.support.sites import html


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.255.0.9", "10.1.2.3", "172.16.0.1", "192.168.1.1", "100.64.0.1", "169.254.169.254",
    "0.0.0.0", "224.0.0.1", "::1", "fe80::1", "fd00::1", "[fd12:3456::1]", "::ffff:127.0.0.1", "::ffff:7f00:1",
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    # IPv4 carried in IPv6 (the audit's): NAT64 well-known and local-use, IPv4-compatible,
    # IPv4-translated (SIIT), the metadata address through NAT64, Teredo of a private client.
    "[64:ff9b::7f00:1]", "[64:ff9b:1::7f00:1]", "[::127.0.0.1]", "[::ffff:0:7f00:1]", "64:ff9b::a9fe:a9fe",
    "64:ff9b::10.0.0.1", "::ffff:0:169.254.169.254", "2001:0:4136:e378:8000:63bf:f5ff:fffe",
])
def test_private_addresses_are_blocked(address: str) -> None:
    assert is_blocked(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "example.com",
                                     "64:ff9b::808:808"])  # NAT64 of a public address: that address's rule
def test_public_addresses_and_names_pass(address: str) -> None:
    assert not is_blocked(address)  # a name passes here: the resolver checks what it resolves to


@pytest.mark.parametrize("spelling", [
    "http://127.1/", "http://2130706433/", "http://0x7f.1/", "http://0177.0.0.1/", "http://0x7F000001/",
    "http://127.0.0.1./", "http://[::ffff:127.0.0.1]/", "http://[::1]/", "http://169.254.169.254/latest/meta-data/",
    "http://0xa9fea9fe/", "http://10.0.0.1:8080/", "http://100.64.0.1/", "http://[fd00::1]/",
])
def test_ip_literals_in_every_spelling_are_out_of_scope(spelling: str) -> None:
    scope = Scope(load_settings({"scope": "any"}), ["http://site.test/"])
    url = normalize_url(spelling)
    assert url is not None and not scope.allows(url), url
    assert Scope(load_settings({"scope": "any", "allow_private": True}), ["http://site.test/"]).allows(url)


@pytest.mark.parametrize("spelling", ["http://0/", "http://0.0.0.0:8080/", "http://0.1.2.3/", "http://0x0/",
                                      "http://[::]/", "http://[::ffff:0.0.0.0]/"])
def test_this_host_addresses_are_no_urls_at_all(spelling: str) -> None:
    assert normalize_url(spelling) is None  # not as a seed, a link, a redirect: on Linux they reach this machine


async def test_the_resolver_never_answers_this_host_addresses_even_for_a_seed() -> None:
    resolver = GuardedResolver(StubResolver({"zero.test": [["0.0.0.0"]], "some.test": [["0.0.0.5", "127.0.0.1"]]}),
                               allowed=lambda host: True)  # as for a seed's host, or --allow-private
    with pytest.raises(BlockedAddress, match=r"0\.0\.0\.0/8"):
        await resolver.resolve("zero.test", 80)
    assert [a["host"] for a in await resolver.resolve("some.test", 80)] == ["127.0.0.1"]


def test_a_seed_host_may_be_private() -> None:
    scope = Scope(load_settings({}), ["http://127.0.0.1:8080/"])
    assert scope.allows("http://127.0.0.1:8080/page") and scope.allows("http://127.0.0.1:9090/other-port")
    assert not scope.allows("http://10.0.0.1:8080/")


async def test_the_resolver_drops_private_answers_and_dns_rebinding_fails() -> None:
    stub = StubResolver({"rebind.test": [["93.184.216.34"], ["127.0.0.1"]],
                         "mixed.test": [["10.0.0.7", "93.184.216.34"]], "seed.test": [["127.0.0.1"]]})
    resolver = GuardedResolver(stub, allowed=lambda host: host == "seed.test")
    assert [a["host"] for a in await resolver.resolve("rebind.test", 80)] == ["93.184.216.34"]
    with pytest.raises(BlockedAddress, match=r"rebind\.test resolves only to private addresses"):
        await resolver.resolve("rebind.test", 80)  # the second answer is private: refused
    assert [a["host"] for a in await resolver.resolve("mixed.test", 80)] == ["93.184.216.34"]
    assert [a["host"] for a in await resolver.resolve("seed.test", 80)] == ["127.0.0.1"]


def linking_app(links: list[str]) -> web.Application:
    async def root(request: web.Request) -> web.Response:
        return html("".join(f'<a href="{link}">x</a>' for link in links))

    async def other(request: web.Request) -> web.Response:
        return html("reached")

    app = web.Application()
    app.router.add_get("/", root)
    app.router.add_get("/{path:.+}", other)
    return app


@pytest.mark.usefixtures("http_client")
async def test_links_to_private_literals_are_never_fetched(serve, crawl, names) -> None:
    # The seed's host is a name (resolved to the loopback server); its page links back to the
    # same server by loopback literals in several spellings, none of them the seed's host.
    links: list[str] = []
    server = serve(linking_app(links))
    port = server.port
    links += [f"http://127.1:{port}/a", f"http://2130706433:{port}/b", f"http://0x7f.1:{port}/c",
              f"http://0177.0.0.1:{port}/d", f"http://[::ffff:127.0.0.1]:{port}/e", f"http://127.0.0.1:{port}/f"]
    names["site.test"] = [["127.0.0.1"]]
    seed = f"http://site.test:{port}/"
    result = await crawl([seed], scope="any", robots=False)
    assert [r["url"] for r in result.records] == [seed]  # the links were refused before any lookup
    assert server.paths() == ["/"]
    allowed = await crawl([seed], scope="any", robots=False, allow_private=True)
    assert {f"http://127.0.0.1:{port}/{p}" for p in "abcdf"} <= {r["url"] for r in allowed.records}
    assert {"/a", "/b", "/c", "/d", "/f"} <= set(server.paths())


@pytest.mark.usefixtures("http_client")
async def test_a_name_that_resolves_to_a_private_address_is_refused(serve, crawl, names) -> None:
    links: list[str] = []
    server = serve(linking_app(links))
    secret = f"http://evil.test:{server.port}/secret"
    inner = f"http://db1:{server.port}/secret"  # a name may end with a digit: it is no address
    links.extend([secret, inner])
    names["site.test"] = [["127.0.0.1"]]
    names["evil.test"] = [["127.0.0.1"]]  # a public-looking name that points inside
    names["db1"] = [["127.0.0.1"]]
    seed = f"http://site.test:{server.port}/"
    result = await crawl([seed], scope="any", robots=False)
    assert result.by_url()[secret]["error"] == "dns" and result.by_url()[inner]["error"] == "dns"
    assert result.stats.retries == 0  # refused, not retried
    assert [h.host for h in server.hits] == [f"site.test:{server.port}"]  # /secret never reached
    allowed = await crawl([seed], scope="any", robots=False, allow_private=True)
    assert allowed.by_url()[secret]["status"] == 200


@pytest.mark.usefixtures("http_client")
async def test_a_redirect_to_a_private_literal_is_blocked(serve, crawl, names) -> None:
    async def jump(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"http://2130706433:{request.url.port}/inside")

    async def inside(request: web.Request) -> web.Response:
        return html("inside")

    app = web.Application()
    app.router.add_get("/", jump)
    app.router.add_get("/inside", inside)
    server = serve(app)
    names["site.test"] = [["127.0.0.1"]]
    seed = f"http://site.test:{server.port}/"
    result = await crawl([seed], scope="any", robots=False)
    assert result.by_url()[seed]["error"] == "redirect_blocked"
    assert server.paths() == ["/"]


class WithCredentials(Spider):
    def __init__(self, urls: list[str]) -> None:
        super().__init__()
        self.urls = urls

    def start(self) -> Any:
        async def requests() -> Any:
            for url in self.urls:
                yield Request(url, headers={"Authorization": "Bearer secret", "Cookie": "session=1",
                                            "Proxy-Authorization": "Basic x", "X-Trace": "kept"})
        return requests()

    def parse(self, response: Any) -> Any:
        yield {"url": response.url}


async def test_credentials_are_not_sent_to_another_origin(serve, tmp_path: Path, http_client: str) -> None:
    async def hop(request: web.Request) -> web.Response:
        other = next(p for p in server.ports if p != request.url.port)
        target = {"/away": f"http://127.0.0.1:{other}/landed", "/stay": "/landed"}[request.path]
        raise web.HTTPFound(target)

    async def landed(request: web.Request) -> web.Response:
        return html("landed")

    app = web.Application()
    app.router.add_get("/away", hop)
    app.router.add_get("/stay", hop)
    app.router.add_get("/landed", landed)
    server = serve(app, sites=2)
    first = server.ports[0]
    spider = WithCredentials([f"http://127.0.0.1:{first}/away", f"http://127.0.0.1:{first}/stay"])
    settings = load_settings({"output": str(tmp_path / "o.jsonl"), "progress": False, "robots": False,
                              "http_client": http_client})
    await Engine(settings, [], spider=spider).run()
    assert len(read_jsonl(tmp_path / "o.jsonl")) == 2
    by_port = {int(h.host.rsplit(":", 1)[1]): h for h in server.hits if h.path == "/landed"}
    elsewhere, same = by_port[server.ports[1]], by_port[first]
    assert "Authorization" not in elsewhere.headers and "Cookie" not in elsewhere.headers
    assert "Proxy-Authorization" not in elsewhere.headers and elsewhere.headers["X-Trace"] == "kept"
    assert same.headers["Authorization"] == "Bearer secret" and same.headers["Cookie"] == "session=1"


@pytest.mark.usefixtures("http_client")
async def test_new_hosts_are_looked_up_as_soon_as_they_are_found(serve, crawl, names, monkeypatch) -> None:
    # One fetch at a time: without the early look-up, b.test's name would be asked only once
    # a.test's pages were done. Each name is still asked once.
    looked_up: dict[str, float] = {}
    stub = StubResolver(names)
    inner = stub.resolve

    async def timed(host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list:
        looked_up.setdefault(host, time.monotonic())
        return await inner(host, port, family)

    stub.resolve = timed  # type: ignore[method-assign]
    monkeypatch.setattr(guard, "base_resolver", lambda: stub)
    server = serve(linking_app([]))
    hosts = ["a.test", "b.test", "c.test"]
    for host in ["site.test", *hosts]:
        names[host] = [["127.0.0.1"]]
    seeder = serve(linking_app([f"http://{h}:{server.port}/x" for h in hosts]))
    result = await crawl([f"http://site.test:{seeder.port}/"], scope="any", robots=False, concurrency=1,
                         allow_private=True)
    assert len(result.records) == 4
    first_hit = min(h.start for h in server.hits)
    assert all(looked_up[h] < first_hit for h in hosts)  # all found on the seed page, asked at once
    assert sorted(stub.asked) == sorted(["site.test", *hosts])  # once each


async def test_an_early_answer_is_guarded_like_any_other() -> None:
    stub = StubResolver({"evil.test": [["10.0.0.1"]], "ok.test": [["93.184.216.34"]]})
    resolver = GuardedResolver(stub, allowed=lambda host: False)
    resolver.prefetch("evil.test", 80)
    resolver.prefetch("ok.test", 80)
    with pytest.raises(BlockedAddress, match="private addresses"):
        await resolver.resolve("evil.test", 80, socket.AF_UNSPEC)
    assert [a["host"] for a in await resolver.resolve("ok.test", 80, socket.AF_UNSPEC)] == ["93.184.216.34"]
    assert resolver.prefetched == 2 and stub.asked == ["evil.test", "ok.test"]
    await resolver.close()
