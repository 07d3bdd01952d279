"""The curl transport (``--http-client curl``): HTTP/2 with a real nginx over TLS (a private CA),
the WARC records of an HTTP/2 crawl in HTTP/1.1's shape, and ``--impersonate``: the TLS hello a
local server records carries a browser's marks (Chrome's GREASE values, never sent by Python's
``ssl`` nor by curl uncovered), and the browser's headers are sent. Every other guarantee is
tested with both clients where it is tested for one (the ``http_client`` fixture)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from aiohttp import web
from warcio.archiveiterator import ArchiveIterator

from crawler.cli.testsite import make_app
from tests.conftest import read_jsonl, run_cli
from tests.support.nginx import nginx_h2


def run(tmp_path: Path, seed: str, *args: str, out: str = "out.jsonl", status: int = 0):
    """The crawl of ``seed``, ended with exit ``status`` (1: its every URL failed)."""
    (tmp_path / "seeds.txt").write_text(seed + "\n")
    done = run_cli("--seeds", str(tmp_path / "seeds.txt"), "-o", str(tmp_path / out), "--no-progress", *args,
                   cwd=tmp_path, timeout=120)
    assert done.returncode == status, done.stderr[-3000:]
    return done


def test_a_crawl_with_curl_is_served_over_http2_by_nginx_with_per_host_limits_held(serve, tmp_path: Path) -> None:
    backend = serve(make_app(40))
    with nginx_h2(tmp_path, backend.port) as (url, ca, log):
        run(tmp_path, url, "--http-client", "curl", "--ca-bundle", str(ca), "--per-host", "2", "--concurrency", "16")
        lines = log.read_text().splitlines()
    records = read_jsonl(tmp_path / "out.jsonl")
    assert len(records) == 40 and all(r["status"] == 200 and r["error"] is None for r in records)
    pages = [line for line in lines if not line.endswith("/robots.txt")]
    assert len(pages) == 40 and all(line.startswith("HTTP/2.0 200 ") for line in pages), lines
    # HTTP/2 multiplexes one connection: the per-host limit is the crawl's, held at the server.
    assert max(backend.host_max_in_flight.values()) <= 2


@pytest.mark.slow
def test_the_default_client_speaks_http_1_1_to_the_same_nginx(serve, tmp_path: Path) -> None:
    backend = serve(make_app(3))
    with nginx_h2(tmp_path, backend.port) as (url, ca, log):
        run(tmp_path, url, "--ca-bundle", str(ca))
        lines = log.read_text().splitlines()
    assert len(read_jsonl(tmp_path / "out.jsonl")) == 3
    assert lines and all(line.startswith("HTTP/1.1 ") for line in lines)


@pytest.mark.slow
def test_an_http2_exchange_is_written_to_warc_as_http_1_1_records(serve, tmp_path: Path) -> None:
    backend = serve(make_app(3))
    with nginx_h2(tmp_path, backend.port) as (url, ca, log):
        run(tmp_path, url, "--http-client", "curl", "--ca-bundle", str(ca), "--no-robots", out="out.warc.gz")
        assert all(line.startswith("HTTP/2.0 ") for line in log.read_text().splitlines())
    responses, requests = {}, {}
    with open(tmp_path / "out.warc.gz", "rb") as f:
        for record in ArchiveIterator(f):
            uri = record.rec_headers.get_header("WARC-Target-URI")
            if record.rec_type == "response":
                responses[uri] = (record.http_headers.protocol, record.http_headers.get_statuscode(),
                                  record.content_stream().read(), record.rec_headers.get_header("WARC-IP-Address"))
            elif record.rec_type == "request":
                requests[uri] = (record.http_headers.statusline.rsplit(" ", 1)[-1],
                                 record.http_headers.get_header("Host"))
    assert len(responses) == 3
    for uri, (protocol, status, body, ip) in responses.items():
        assert (protocol, status, ip) == ("HTTP/1.1", "200", "127.0.0.1")
        assert body.startswith(b"<!doctype html>") or body.startswith(b"<html"), body[:50]
        assert requests[uri][0] == "HTTP/1.1" and requests[uri][1] == url.split("/")[2]


# -- The TLS hello ------------------------------------------------------------------------------

def is_grease(value: int) -> bool:
    """RFC 8701's reserved values, 0x0A0A, 0x1A1A ... 0xFAFA: what Chrome sprinkles in its hello."""
    return value & 0x0F0F == 0x0A0A and value >> 8 == value & 0xFF


def parse_hello(data: bytes) -> dict[str, list[int]]:
    """A TLS ClientHello's cipher suites, extension types (in order), supported groups and ALPN."""
    assert data[0] == 0x16 and data[5] == 0x01, "not a TLS handshake starting with a ClientHello"
    body = data[9:]
    i = 2 + 32  # version, random
    i += 1 + body[i]  # session id
    n = int.from_bytes(body[i:i + 2], "big")
    ciphers = [int.from_bytes(body[i + 2 + k:i + 4 + k], "big") for k in range(0, n, 2)]
    i += 2 + n
    i += 1 + body[i]  # compression methods
    end = i + 2 + int.from_bytes(body[i:i + 2], "big")
    i += 2
    extensions: list[int] = []
    groups: list[int] = []
    alpn: list[bytes] = []
    while i < end:
        kind, size = int.from_bytes(body[i:i + 2], "big"), int.from_bytes(body[i + 2:i + 4], "big")
        data_ = body[i + 4:i + 4 + size]
        extensions.append(kind)
        if kind == 10:
            groups = [int.from_bytes(data_[2 + k:4 + k], "big") for k in range(0, int.from_bytes(data_[:2], "big"), 2)]
        elif kind == 16:
            j = 2
            while j < len(data_):
                alpn.append(data_[j + 1:j + 1 + data_[j]])
                j += 1 + data_[j]
        i += 4 + size
    return {"ciphers": ciphers, "extensions": extensions, "groups": groups, "alpn": alpn}  # type: ignore[dict-item]


@contextmanager
def hello_recorder() -> Iterator[tuple[str, list[bytes]]]:
    """A TLS server that records each ClientHello it is sent and hangs up: (its URL, the hellos)."""
    hellos: list[bytes] = []
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                data = b""
                while len(data) < 5 or len(data) < 5 + int.from_bytes(data[3:5], "big"):
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                hellos.append(data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{listener.getsockname()[1]}/", hellos
    finally:
        stop.set()
        thread.join()
        listener.close()


@pytest.mark.parametrize("client", ["chrome", pytest.param("firefox", marks=pytest.mark.slow),
                                    pytest.param("curl", marks=pytest.mark.slow),
                                    pytest.param("aiohttp", marks=pytest.mark.slow)])
def test_impersonate_sends_the_browser_s_tls_hello_and_nothing_else_does(tmp_path: Path, client: str) -> None:
    args = {"chrome": ["--http-client", "curl", "--impersonate", "chrome"],
            "firefox": ["--http-client", "curl", "--impersonate", "firefox"],
            "curl": ["--http-client", "curl"], "aiohttp": []}[client]
    with hello_recorder() as (url, hellos):
        done = run(tmp_path, url, "--no-robots", "--retries", "0", *args, status=1)  # the hello goes unanswered
    (record,) = read_jsonl(tmp_path / "out.jsonl")
    assert record["error"] in ("tls", "connect", "content"), done.stderr
    hello = parse_hello(hellos[0])
    greased = [v for key in ("ciphers", "extensions", "groups") for v in hello[key] if is_grease(v)]
    if client == "chrome":
        # GREASE in the cipher suites, the extensions and the groups; ALPS (17513 or 17613) and
        # certificate compression (27), as Chrome sends; HTTP/2 offered first.
        assert {is_grease(v) for v in hello["ciphers"][:1]} == {True}
        assert any(is_grease(v) for v in hello["extensions"]) and any(is_grease(v) for v in hello["groups"])
        assert 27 in hello["extensions"] and {17513, 17613} & set(hello["extensions"])
        assert hello["alpn"][0] == b"h2"
    else:
        assert greased == []  # Python's ssl never sends GREASE, nor libcurl's BoringSSL uncovered
    if client == "firefox":
        assert 28 in hello["extensions"] and 34 in hello["extensions"]  # record size limit, delegated credentials
    if client == "curl":
        assert hello["alpn"][:1] == [b"h2"]
    if client == "aiohttp":
        assert b"h2" not in hello["alpn"]


@pytest.mark.slow
def test_impersonate_sends_the_browser_s_headers_unless_a_user_agent_is_given(serve, tmp_path: Path) -> None:
    seen: list[dict[str, str]] = []

    async def page(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        return web.Response(text="<title>x</title>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    server = serve(app)
    run(tmp_path, server.url, "--no-robots", "--http-client", "curl", "--impersonate", "chrome")
    run(tmp_path, server.url, "--no-robots", "--http-client", "curl", "--impersonate", "chrome",
        "--user-agent", "mybot/1.0 (+https://example.org/bot)")
    run(tmp_path, server.url, "--no-robots", "--http-client", "curl")
    browser, own, plain = seen
    assert "Chrome/" in browser["User-Agent"] and "sec-ch-ua" in {k.lower() for k in browser}
    assert "Upgrade" not in browser and "HTTP2-Settings" not in browser  # no h2c: browsers never offer it
    assert own["User-Agent"] == "mybot/1.0 (+https://example.org/bot)" and "sec-ch-ua" in {k.lower() for k in own}
    assert plain["User-Agent"].startswith("crawler/") and "sec-ch-ua" not in {k.lower() for k in plain}


@pytest.mark.slow
def test_impersonate_without_curl_and_an_unknown_client_are_one_line_errors(tmp_path: Path) -> None:
    done = run_cli("http://127.0.0.1:9/", "--impersonate", "chrome", cwd=tmp_path)
    assert done.returncode == 2 and "--impersonate" in done.stderr and "--http-client curl" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    done = run_cli("http://127.0.0.1:9/", "--http-client", "wget", cwd=tmp_path)
    assert done.returncode == 2 and "--http-client" in done.stderr
    done = run_cli("http://127.0.0.1:9/", "--http2", cwd=tmp_path)  # curl's option: what it is here
    assert done.returncode == 2 and "HTTP/2 is --http-client curl" in done.stderr




@pytest.mark.slow
@pytest.mark.parametrize("client", ["aiohttp", "curl"])
def test_a_chunked_answer_with_trailers_is_read_whole(tmp_path: Path, client: str) -> None:
    # Trailers come after the body (libcurl hands them to the header callback with the headers).
    from tests.support.rawserver import RawServer

    page = b"<html><title>trailed</title>" + b"x" * 5000 + b"</html>"
    chunks = b"".join(f"{len(page[i:i + 1000]):x}\r\n".encode() + page[i:i + 1000] + b"\r\n"
                      for i in range(0, len(page), 1000))
    answer = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n"
              + chunks + b"0\r\nX-Sum: 42\r\n\r\n")
    with RawServer(lambda path: (answer, b"")) as server:
        run(tmp_path, server.url, "--no-robots", "--http-client", client)
    (record,) = read_jsonl(tmp_path / "out.jsonl")
    assert (record["error"], record["title"], record["bytes"]) == (None, "trailed", len(page))


@pytest.mark.slow
def test_http3_is_spoken_to_a_quic_server_and_falls_back_to_http2_where_there_is_none(serve, tmp_path: Path) -> None:
    from tests.support.h3server import PAGES, h3_server

    with h3_server(tmp_path) as (url, ca):
        run(tmp_path, url, "--no-robots", "--http-client", "curl", "--http3", "--ca-bundle", str(ca))
        quic = {r["title"] for r in read_jsonl(tmp_path / "out.jsonl")}
        run(tmp_path, url, "--no-robots", "--http-client", "curl", "--ca-bundle", str(ca))
        tcp = {r["title"] for r in read_jsonl(tmp_path / "out.jsonl")}
    assert len(read_jsonl(tmp_path / "out.jsonl")) == PAGES
    assert (quic, tcp) == ({"HTTP/3"}, {"HTTP/2"})
    backend = serve(make_app(3))
    with nginx_h2(tmp_path, backend.port) as (url, ca, log):  # no QUIC there: HTTP/2 over TCP
        run(tmp_path, url, "--no-robots", "--http-client", "curl", "--http3", "--ca-bundle", str(ca))
        lines = log.read_text().splitlines()
    assert len(read_jsonl(tmp_path / "out.jsonl")) == 3 and all(line.startswith("HTTP/2.0 200") for line in lines)
