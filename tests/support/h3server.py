"""A real HTTP/3 server for the tests: Hypercorn (with aioquic) serving a small ASGI site over
QUIC and over TCP on the same loopback port, with a certificate of a private CA. Each page's
title is the HTTP version it was asked in, so the records say what went over the wire."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import trustme

from crawler.cli.testsite import free_port
from tests.conftest import wait_for
from tests.support.proxies import _listening

PAGES = 5


async def app(scope: dict, receive, send) -> None:  # type: ignore[no-untyped-def]
    """``/`` and ``/p/1`` .. ``/p/{PAGES - 1}``, each linking to all; titled with the version."""
    if scope["type"] != "http":
        return
    links = "".join(f"<a href='/p/{i}'>{i}</a>" for i in range(1, PAGES))
    body = f"<html><head><title>HTTP/{scope['http_version']}</title></head><body>{links}</body></html>".encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/html"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


@contextmanager
def h3_server(workdir: Path) -> Iterator[tuple[str, Path]]:
    """Hypercorn on a free port, HTTP/3 over QUIC and HTTP/1.1 or 2 over TLS: (its URL, the
    private CA's PEM to trust)."""
    root = workdir / "h3"
    root.mkdir()
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_pem.write_to_path(str(root / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(root / "cert.pem"))
    ca.cert_pem.write_to_path(str(root / "ca.pem"))
    port = free_port()
    address = f"127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "hypercorn", "--bind", address, "--quic-bind", address,
                             "--certfile", str(root / "cert.pem"), "--keyfile", str(root / "key.pem"),
                             "tests.support.h3server:app"], stdout=subprocess.DEVNULL,
                            stderr=open(root / "log.txt", "w"), cwd=Path(__file__).parents[2])
    try:
        wait_for(lambda: _listening(port) or proc.poll() is not None, timeout=20)
        assert proc.poll() is None, (root / "log.txt").read_text()
        yield f"https://{address}/", root / "ca.pem"
    finally:
        proc.terminate()
        proc.wait(10)
