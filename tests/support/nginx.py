"""A real nginx for the tests (Debian's package, .ci/run installs it): HTTP/2 over TLS with a
certificate of a private CA, in front of a test server, logging each request's protocol."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import trustme

from crawler.cli.testsite import free_port
from tests.conftest import wait_for
from tests.support.proxies import _listening

CONF = """
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    log_format proto '$server_protocol $status $request_uri';
    access_log {root}/access.log proto;
    server {{
        listen 127.0.0.1:{port} ssl http2;
        ssl_certificate {root}/cert.pem;
        ssl_certificate_key {root}/key.pem;
        location / {{
            proxy_pass http://127.0.0.1:{backend};
            proxy_set_header Host $host;
            proxy_http_version 1.1;
        }}
    }}
}}
"""


def nginx_binary() -> str:
    """nginx's path (often /usr/sbin, off a user's PATH); in CI a missing one fails."""
    path = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if path is None:
        message = "NGINX IS NOT INSTALLED: the HTTP/2 tests did not run (apt-get install nginx)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@contextmanager
def nginx_h2(workdir: Path, backend: int) -> Iterator[tuple[str, Path, Path]]:
    """nginx on a free port, HTTP/2 over TLS, passing every request to 127.0.0.1:``backend``:
    (its URL, the private CA's PEM to trust, its access log: "PROTOCOL STATUS URI" a line)."""
    root = workdir / "nginx"
    root.mkdir()
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.private_key_pem.write_to_path(str(root / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(root / "cert.pem"))
    ca.cert_pem.write_to_path(str(root / "ca.pem"))
    port = free_port()
    (root / "nginx.conf").write_text(CONF.format(root=root, port=port, backend=backend))
    proc = subprocess.Popen([nginx_binary(), "-c", str(root / "nginx.conf"), "-p", str(root), "-e",
                             str(root / "error.log")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: _listening(port) or proc.poll() is not None, timeout=15)
        assert proc.poll() is None, (root / "error.log").read_text()
        yield f"https://127.0.0.1:{port}/", root / "ca.pem", root / "access.log"
    finally:
        proc.terminate()
        proc.wait(10)
