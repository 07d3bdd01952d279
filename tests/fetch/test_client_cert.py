"""Client certificates (mutual TLS): ``--client-cert`` (and ``--client-key``) is presented to the
seeds' hosts when they ask, never to another host, with each HTTP client; a certificate that
cannot be used is a one-line usage error."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import trustme
from aiohttp import web

from crawler.cli.testsite import ServerThread
from tests.conftest import run_cli


def mtls_app(port: list[int]) -> web.Application:
    """Each page is titled with the common name of the client certificate it was shown (or
    "none"); site.test's home links to other.test on the same server."""

    async def page(request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peercert") if request.transport else None
        name = next((v for rdn in (peer or {}).get("subject", ()) for k, v in rdn if k == "commonName"), "none")
        link = f'<a href="https://other.test:{port[0]}/">o</a>' if request.host.startswith("site.test") else ""
        return web.Response(text=f"<html><title>{name}</title>{link}</html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    return app


@pytest.mark.usefixtures("http_client")
@pytest.mark.parametrize("layout", ["apart", pytest.param("one file", marks=pytest.mark.slow)])
async def test_a_client_certificate_goes_to_the_seeds_hosts_only(crawl, names, tmp_path: Path, layout: str) -> None:
    server_ca, client_ca = trustme.CA(), trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ca.issue_cert("site.test", "other.test").configure_cert(context)
    context.verify_mode = ssl.CERT_OPTIONAL  # asks every client for a certificate, serves those without
    context.load_verify_locations(cadata=client_ca.cert_pem.bytes().decode())
    server_ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    me = client_ca.issue_cert("crawler-client@example.org", common_name="crawler-client")
    if layout == "apart":
        me.cert_chain_pems[0].write_to_path(str(tmp_path / "me.pem"))
        me.private_key_pem.write_to_path(str(tmp_path / "me.key"))
        files = {"client_cert": str(tmp_path / "me.pem"), "client_key": str(tmp_path / "me.key")}
    else:
        me.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "me.pem"))
        files = {"client_cert": str(tmp_path / "me.pem")}
    names["site.test"] = [["127.0.0.1"]]
    names["other.test"] = [["127.0.0.1"]]
    port: list[int] = []
    with ServerThread(mtls_app(port), ssl_context=context) as server:
        port.append(server.port)
        seed = f"https://site.test:{server.port}/"
        result = await crawl([seed], scope="any", robots=False, allow_private=True, ca_bundle=str(tmp_path / "ca.pem"),
                             **files)
        without = await crawl([seed], scope="any", robots=False, allow_private=True,
                              ca_bundle=str(tmp_path / "ca.pem"))
    titles = {url: r["title"] for url, r in result.by_url().items()}
    assert titles == {seed: "crawler-client", f"https://other.test:{server.port}/": "none"}
    assert {r["title"] for r in without.records} == {"none"}


@pytest.mark.slow
def test_a_client_certificate_that_cannot_be_used_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "me.pem").write_text("not a certificate\n")
    done = run_cli("https://127.0.0.1:9/", "--client-cert", str(tmp_path / "me.pem"), cwd=tmp_path)
    assert done.returncode == 2 and "--client-cert" in done.stderr and "me.pem" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    done = run_cli("https://127.0.0.1:9/", "--client-key", str(tmp_path / "me.pem"), cwd=tmp_path)
    assert done.returncode == 2 and "needs --client-cert" in done.stderr
