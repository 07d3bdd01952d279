"""Fetching against real servers: redirects, retries, deadlines, size limits, encodings."""

from __future__ import annotations

import gzip
import json
import time
import zlib

import pytest
from aiohttp import web

from crawler.result import parse_retry_after
from tests.support.sites import app_of, check_moved, html, moved_site, redirect


@pytest.mark.usefixtures("http_client")
async def test_redirect_chain_followed_to_the_end(serve, crawl) -> None:
    server = serve(app_of({
        "/": '<a href="/r3">chain</a>', "/r3": redirect("/r2", 301), "/r2": redirect("r1", 307),
        "/r1": redirect("/final#frag", 308), "/final": '<a href="/from-final">x</a>', "/from-final": "end",
    }))
    result = await crawl([server.url])
    r3 = result.by_url()[server.url + "r3"]
    assert r3["final_url"] == server.url + "final"
    assert (r3["status"], r3["error"], r3["title"], r3["links"]) == (200, None, "t", 1)
    assert server.url + "from-final" in result.by_url()  # links of the final page are followed
    assert server.count("/r3") == server.count("/r2") == server.count("/r1") == 1


@pytest.mark.usefixtures("http_client")
async def test_redirect_loop_and_overlong_chain(serve, crawl) -> None:
    routes = {"/": '<a href="/loop-a">l</a><a href="/hop/0">c</a>', "/loop-a": redirect("/loop-b"),
              "/loop-b": redirect("/loop-a")}

    async def hop(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        return web.Response(status=302, headers={"Location": f"/hop/{n + 1}"})

    app = app_of(routes)
    app.router.add_get("/hop/{n}", hop)
    server = serve(app)
    result = await crawl([server.url], max_redirects=10)
    records = result.by_url()
    assert records[server.url + "loop-a"]["error"] == "too_many_redirects"
    assert server.count("/loop-a") == 1 and server.count("/loop-b") == 1
    assert records[server.url + "hop/0"]["error"] == "too_many_redirects"
    assert server.count("/hop/10") == 1 and server.count("/hop/11") == 0  # 10 hops followed, no more
    assert len(result.records) == 3


@pytest.mark.usefixtures("http_client")
async def test_redirect_off_scope_or_to_other_schemes_is_blocked(serve, crawl) -> None:
    server = serve(app_of({
        "/": '<a href="/away">a</a><a href="/ftp">f</a><a href="/file">l</a>',
        "/away": redirect("http://localhost:{port}/landing"),
        "/ftp": redirect("ftp://127.0.0.1/x"),
        "/file": redirect("file:///etc/passwd"),
        "/landing": "should not be reached",
    }))
    result = await crawl([server.url])
    records = result.by_url()
    for path in ("away", "ftp", "file"):
        assert records[server.url + path]["error"] == "redirect_blocked"
        assert records[server.url + path]["status"] in (301, 302)
    assert server.count("/landing") == 0


def flaky(failures: list[int], headers: dict[str, str] | None = None):
    """Answer with the statuses in ``failures`` first, then 200."""
    state = {"n": 0}

    async def handler(request: web.Request) -> web.Response:
        state["n"] += 1
        if state["n"] <= len(failures):
            return web.Response(status=failures[state["n"] - 1], headers=headers)
        return html("finally")
    return handler


@pytest.mark.usefixtures("http_client")
async def test_server_that_fails_twice_then_works(serve, crawl) -> None:
    server = serve(app_of({"/": flaky([500, 503])}))
    result = await crawl([server.url], retries=3)
    assert (result.records[0]["status"], result.records[0]["error"]) == (200, None)
    assert server.count("/") == 3
    assert result.stats.retries == 2


@pytest.mark.usefixtures("http_client")
async def test_retries_exhausted_gives_http_error(serve, crawl) -> None:
    server = serve(app_of({"/": flaky([500] * 10), "/missing": flaky([404] * 10)}))
    result = await crawl([server.url], retries=2)
    assert (result.records[0]["status"], result.records[0]["error"]) == (500, "http")
    assert server.count("/") == 3


@pytest.mark.usefixtures("http_client")
async def test_404_is_not_retried(serve, crawl) -> None:
    server = serve(app_of({"/": flaky([404] * 10)}))
    result = await crawl([server.url], retries=3)
    assert (result.records[0]["status"], result.records[0]["error"]) == (404, "http")
    assert server.count("/") == 1


@pytest.mark.usefixtures("http_client")
@pytest.mark.slow
async def test_retry_after_is_honoured_at_the_server(serve, crawl) -> None:
    server = serve(app_of({"/": flaky([503], {"Retry-After": "1"})}))
    result = await crawl([server.url], retries=2)
    assert result.records[0]["error"] is None
    first, second = (hit.start for hit in server.hits if hit.path == "/")
    assert second - first >= 1.0


def test_parse_retry_after() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    now = 1_700_000_000
    assert parse_retry_after("Tue, 14 Nov 2023 22:13:20 GMT", now=now) == 0.0
    assert parse_retry_after("Tue, 14 Nov 2023 22:13:40 GMT", now=now) == 20.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


@pytest.mark.usefixtures("http_client")
@pytest.mark.slow
async def test_server_that_never_answers_times_out_within_the_deadline(serve, crawl) -> None:
    import asyncio

    async def hang(request: web.Request) -> web.Response:
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    server = serve(app_of({"/": hang}))
    started = time.monotonic()
    result = await crawl([server.url], timeout=0.5, retries=1)
    elapsed = time.monotonic() - started
    assert result.records[0]["error"] == "timeout"
    assert result.records[0]["status"] is None
    assert server.count("/") == 2
    assert elapsed < 0.5 * 2 + 1.0


@pytest.mark.usefixtures("http_client")
async def test_slow_body_times_out(serve, crawl) -> None:
    import asyncio

    async def trickle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(request)
        for _ in range(100):
            await response.write(b"<p>x</p>")
            await asyncio.sleep(0.1)
        return response

    server = serve(app_of({"/": trickle}))
    started = time.monotonic()
    result = await crawl([server.url], timeout=0.5, retries=0)
    assert result.records[0]["error"] == "timeout"
    assert time.monotonic() - started < 2.0


@pytest.mark.usefixtures("http_client")
async def test_large_body_stops_at_max_bytes(serve, crawl) -> None:
    big = b"x" * (3 * 2**20)

    async def body(request: web.Request) -> web.Response:
        return web.Response(body=big, content_type="text/html")

    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(request)
        for i in range(0, len(big), 65536):
            await response.write(big[i:i + 65536])
        return response

    server = serve(app_of({"/": '<a href="/big">b</a><a href="/chunked">c</a>', "/big": body,
                           "/chunked": chunked}))
    result = await crawl([server.url], max_bytes=2**20)
    records = result.by_url()
    assert records[server.url + "big"]["error"] == "too_large"
    assert records[server.url + "chunked"]["error"] == "too_large"


@pytest.mark.usefixtures("http_client")
async def test_gzip_and_deflate_bodies_are_decoded(serve, crawl) -> None:
    page = b"<html><head><title>Zipped</title></head><body><a href='/z2'>x</a></body></html>"

    async def gz(request: web.Request) -> web.Response:
        return web.Response(body=gzip.compress(page), headers={
            "Content-Encoding": "gzip", "Content-Type": "text/html"})

    async def raw_deflate(request: web.Request) -> web.Response:
        c = zlib.compressobj(wbits=-15)
        return web.Response(body=c.compress(page) + c.flush(), headers={
            "Content-Encoding": "deflate", "Content-Type": "text/html"})

    server = serve(app_of({"/": gz, "/z2": raw_deflate}))
    result = await crawl([server.url])
    records = result.by_url()
    assert records[server.url]["title"] == "Zipped"
    assert records[server.url]["bytes"] == len(page)
    assert records[server.url + "z2"]["title"] == "Zipped" and records[server.url + "z2"]["error"] is None


@pytest.mark.usefixtures("http_client")
async def test_encodings_from_header_meta_and_bom(serve, crawl) -> None:
    title = "Привет, мир"

    async def by_header(request: web.Request) -> web.Response:
        body = f"<title>{title}</title><a href='/meta'>m</a><a href='/bom'>b</a><a href='/sjis'>s</a>"
        return web.Response(body=body.encode("cp1251"), headers={"Content-Type": "text/html; charset=windows-1251"})

    async def by_meta(request: web.Request) -> web.Response:
        body = f"<html><head><meta charset='windows-1251'><title>{title}</title></head></html>"
        return web.Response(body=body.encode("cp1251"), headers={"Content-Type": "text/html"})

    async def by_bom(request: web.Request) -> web.Response:
        body = f"<title>{title}</title>"
        return web.Response(body=b"\xef\xbb\xbf" + body.encode("utf-8"),
                            headers={"Content-Type": "text/html; charset=iso-8859-1"})

    async def sjis(request: web.Request) -> web.Response:
        body = "<meta http-equiv='Content-Type' content='text/html; charset=Shift_JIS'><title>日本語</title>"
        return web.Response(body=body.encode("shift_jis"), headers={"Content-Type": "text/html"})

    server = serve(app_of({"/": by_header, "/meta": by_meta, "/bom": by_bom, "/sjis": sjis}))
    records = (await crawl([server.url])).by_url()
    assert records[server.url]["title"] == title
    assert records[server.url + "meta"]["title"] == title
    assert records[server.url + "bom"]["title"] == title
    assert records[server.url + "sjis"]["title"] == "日本語"


@pytest.mark.usefixtures("http_client")
async def test_undecodable_bytes_are_replaced(serve, crawl) -> None:
    async def broken(request: web.Request) -> web.Response:
        return web.Response(body=b"<title>ok \xff\xfe end</title>",
                            headers={"Content-Type": "text/html; charset=utf-8"})

    server = serve(app_of({"/": broken}))
    records = (await crawl([server.url])).records
    assert records[0]["title"] == "ok \ufffd\ufffd end"
    assert records[0]["error"] is None


@pytest.mark.usefixtures("http_client")
async def test_connection_refused_is_connect_error(crawl) -> None:
    from crawler.cli.testsite import free_port

    url = f"http://127.0.0.1:{free_port()}/"
    records = (await crawl([url], retries=1)).records
    assert records[0]["error"] == "connect" and records[0]["status"] is None


def test_charset_labels_follow_the_whatwg_table() -> None:
    from crawler.parse.charsets import decode_html, sniff_encoding

    assert sniff_encoding(b"", "utf-7") == "utf-8"  # not a label browsers know: passed over
    assert sniff_encoding(b"<meta charset=windows-1251>", "utf-7") == "cp1251"  # ... to the next source
    assert [sniff_encoding(b"", label) for label in ("latin1", "ISO-8859-1", "us-ascii", "tis-620", "gb2312",
                                                     "x-sjis", "ks_c_5601-1987", "iso-8859-8-i")] == [
        "cp1252", "cp1252", "cp1252", "cp874", "gb18030", "cp932", "cp949", "iso8859-8"]
    assert sniff_encoding(b"<meta charset=utf-16le>", None) == "utf-8"  # a document that can say so is not UTF-16
    assert decode_html("Grüße €".encode("cp1252"), "iso-8859-1") == "Grüße €"
    assert decode_html(b"\x1b$)Cabc", "iso-2022-kr") == "\ufffd"  # the replacement decoder






@pytest.mark.usefixtures("http_client")
async def test_a_redirect_target_already_seen_is_not_fetched_again(serve, crawl) -> None:
    server = serve(moved_site())
    check_moved((await crawl([server.url])).records, server)


@pytest.mark.usefixtures("http_client")
async def test_a_redirect_target_already_seen_is_not_fetched_again_in_a_durable_crawl(serve, crawl, tmp_path) -> None:
    server = serve(moved_site())
    check_moved((await crawl([server.url], job_dir=str(tmp_path / "job"))).records, server)


@pytest.mark.usefixtures("http_client")
async def test_a_redirect_to_a_robots_forbidden_path_says_which_hop_was_refused(serve, crawl) -> None:
    async def robots(request: web.Request) -> web.Response:
        return web.Response(text="User-agent: *\nDisallow: /secret\n")

    server = serve(app_of({"/": '<a href="/moved">m</a>', "/moved": redirect("/secret", 302), "/secret": "x",
                           "/robots.txt": robots}))
    record = (await crawl([server.url])).by_url()[server.url + "moved"]
    assert (record["error"], record["status"], record["final_url"], record["redirect_to"]) == (
        "robots", 302, server.url + "moved", server.url + "secret")
    assert server.count("/secret") == 0


@pytest.mark.usefixtures("http_client")
def test_a_certificate_that_does_not_verify_is_tls_not_connect(tmp_path) -> None:
    import ssl

    import trustme

    from crawler.cli.testsite import ServerThread
    from tests.conftest import run_cli

    ca = trustme.CA()  # a CA the crawler has never heard of
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    with ServerThread(app_of({"/": "secret"}), ssl_context=context) as server:
        (tmp_path / "seeds.txt").write_text(server.url + "\n")
        done = run_cli("--seeds", str(tmp_path / "seeds.txt"), "-o", str(tmp_path / "out.jsonl"), "--no-progress",
                       "--no-robots", cwd=tmp_path)
    assert done.returncode == 1 and "no page: all 1 URLs of this run failed (tls 1)" in done.stderr, done.stderr
    (record,) = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert (record["error"], record["status"]) == ("tls", None)
    assert "certificate verify failed" in done.stderr and done.stderr.count("TLS failed") == 1  # not retried


@pytest.mark.usefixtures("http_client")
@pytest.mark.parametrize("mode", ["memory", "workers", "redis"])
def test_tls_failing_for_robots_txt_is_the_pages_error_not_robots(tmp_path, request, mode) -> None:
    # robots.txt could not be fetched because TLS failed: the pages are not fetched (RFC 9309:
    # unreachable means disallow), and their error says why (tls), not "robots".
    import os
    import ssl

    import trustme

    from crawler.cli.testsite import ServerThread
    from tests.conftest import read_jsonl, run_cli

    ca = trustme.CA()  # unknown to the crawler
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    # An http:// page redirecting to https:// on its own plain-HTTP port: TLS fails there too.
    plain = app_of({"/": redirect("https://127.0.0.1:{port}/moved", 302)})
    with ServerThread(app_of({"/": "secret", "/robots.txt": "User-agent: *"}), ssl_context=context) as tls, \
            ServerThread(plain) as http:
        (tmp_path / "seeds.txt").write_text(f"{tls.url}\n{http.url}\n")
        extra = {"memory": [], "workers": ["--workers", "2"],
                 "redis": ["--frontier", request.getfixturevalue("redis_server"), "--crawl-id", f"tls{os.getpid()}"]}
        done = run_cli("--seeds", str(tmp_path / "seeds.txt"), "-o", str(tmp_path / "out.jsonl"), "--no-progress",
                       *extra[mode], cwd=tmp_path, timeout=90)
    assert done.returncode == 1, done.stderr  # no page came: both seeds failed
    records = {r["url"]: r for r in read_jsonl(tmp_path / "out.jsonl")}
    assert (records[tls.url]["error"], records[tls.url]["status"]) == ("tls", None)
    moved = records[http.url]
    assert (moved["error"], moved["status"], moved["redirect_to"]) == ("tls", 302, http.url.replace(
        "http://", "https://") + "moved")
    assert "robots.txt failed (tls)" in done.stderr


@pytest.mark.usefixtures("http_client")
@pytest.mark.slow
def test_a_private_ca_is_trusted_with_ca_bundle_or_ssl_cert_file_and_nothing_with_insecure(tmp_path) -> None:
    import os
    import ssl

    import trustme

    from crawler.cli.testsite import ServerThread
    from tests.conftest import run_cli

    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    with ServerThread(app_of({"/": "secret"}), ssl_context=context) as server:
        (tmp_path / "seeds.txt").write_text(server.url + "\n")
        base = ["--seeds", str(tmp_path / "seeds.txt"), "--no-progress", "--no-robots"]
        for name, extra, env in [("bundle", ["--ca-bundle", str(bundle)], {}),
                                 ("env", [], {"SSL_CERT_FILE": str(bundle)}),
                                 ("insecure", ["--insecure"], {})]:
            out = tmp_path / f"{name}.jsonl"
            done = run_cli(*base, "-o", str(out), *extra, cwd=tmp_path, env=os.environ | env)
            assert done.returncode == 0, done.stderr
            (record,) = [json.loads(line) for line in out.read_text().splitlines()]
            assert (record["error"], record["status"]) == (None, 200), (name, record)
            assert ("--insecure: no server certificate is checked" in done.stderr) == (name == "insecure")
        bad = run_cli(*base, "--ca-bundle", str(tmp_path / "missing.pem"), cwd=tmp_path)
        assert bad.returncode == 2 and "--ca-bundle: cannot use" in bad.stderr


@pytest.mark.usefixtures("http_client")
def test_idle_connections_are_bounded_and_a_done_hosts_are_closed() -> None:
    # A broad crawl meets host after host; each idle kept-alive connection holds buffers (about
    # 90 KB for TLS): --max-idle-connections keeps their number, and memory, flat, and a host the
    # frontier has nothing more for loses its idle connections at once.
    import asyncio

    import aiohttp

    from crawler.cli.testsite import ServerThread
    from crawler.fetch.keepalive import COUNT_EVERY, Connector

    async def page(request: web.Request) -> web.Response:
        return web.Response(text="x")

    app = web.Application()
    app.router.add_get("/", page)

    async def crawl(ports: list[int], bound: int, done: int | None = None) -> tuple[int, set[int]]:
        connector = Connector(limit=16, limit_per_host=0, max_idle=bound)
        async with aiohttp.ClientSession(connector=connector) as session:
            for port in ports:  # one host after another, as a broad crawl goes
                async with session.get(f"http://127.0.0.1:{port}/") as response:
                    await response.read()
            if done is not None:
                connector.close_idle(f"127.0.0.1:{done}")
            return sum(len(c) for c in connector._conns.values()), {key.port for key in connector._conns}

    with ServerThread(app, sites=3 * COUNT_EVERY) as server:
        ports = server.ports
        idle, kept = asyncio.run(crawl(ports, 0, done=ports[5]))
        assert idle == len(ports) - 1 and ports[5] not in kept  # one idle connection a host, but the done one
        idle, kept = asyncio.run(crawl(ports, 8))
        assert idle <= 8 + COUNT_EVERY  # counted every COUNT_EVERY releases: a full pool keeps no more
        assert kept <= set(ports[:8 + COUNT_EVERY])  # those kept stay (a crawl comes back to its hosts in turn)
