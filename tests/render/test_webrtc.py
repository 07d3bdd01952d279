"""A rendered page cannot reach a private address outside the crawler's requests (#40): WebRTC's
STUN and TURN servers (UDP and TCP) at 127.0.0.3, where listeners the test runs count every
packet and connection; a preconnect and a prefetch to that address too."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web

from tests.conftest import Server

pytestmark = pytest.mark.slow  # a browser

WEBRTC_JS = """
let said = 'page script ran';
try {
  const pc = new RTCPeerConnection({iceServers: [
    {urls: 'stun:127.0.0.3:%(udp)d'},
    {urls: 'turn:127.0.0.3:%(udp)d?transport=udp', username: 'u', credential: 'p'},
    {urls: 'turn:127.0.0.3:%(tcp)d?transport=tcp', username: 'u', credential: 'p'}]});
  pc.createDataChannel('x');
  pc.createOffer().then(o => pc.setLocalDescription(o));
  said += ', peer connection opened';
} catch (e) { said += ', no peer connection (' + e.name + ')'; }
fetch('/wait').then(() => { document.title = said; });
"""


class _Count(asyncio.DatagramProtocol):
    def __init__(self, seen: list[str]) -> None:
        self.seen = seen

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.seen.append(f"udp from {addr}")


def _free(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.3", 0))
        return int(s.getsockname()[1])


async def test_a_rendered_page_sends_nothing_to_a_private_address_by_webrtc(
        serve: Callable[[web.Application], Server], crawl: Callable[..., Any], chromium: str) -> None:
    seen: list[str] = []
    loop = asyncio.get_running_loop()
    udp, _ = await loop.create_datagram_endpoint(lambda: _Count(seen),
                                                 local_addr=("127.0.0.3", _free(socket.SOCK_DGRAM)))
    udp_port = udp.get_extra_info("sockname")[1]

    async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append("tcp connection")
        writer.close()

    tcp = await asyncio.start_server(accepted, "127.0.0.3", 0)
    tcp_port = tcp.sockets[0].getsockname()[1]
    script = WEBRTC_JS % {"udp": udp_port, "tcp": tcp_port}
    html = (f"<!doctype html><html><head><title>start</title><link rel='preconnect' href='http://127.0.0.3:{tcp_port}'>"
            f"<link rel='dns-prefetch' href='http://127.0.0.3:{tcp_port}'>"
            f"<link rel='prefetch' href='http://127.0.0.3:{tcp_port}/next'></head>"
            f"<body><p>WebRTC</p><script>{script}</script></body></html>")

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=html, content_type="text/html")

    async def wait(request: web.Request) -> web.Response:
        await asyncio.sleep(2)  # the page stays open while ICE gathers
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/wait", wait)
    site = serve(app)
    try:
        result = await crawl([site.url], render="always", render_timeout=8.0, robots=False, max_depth=0)
        record = result.records[0]
        assert record["title"].startswith("page script ran"), record  # rendered, its script run to the end
        await asyncio.sleep(0.5)  # anything still on its way to the listeners
        assert seen == [], seen
    finally:
        udp.close()
        tcp.close()
        await tcp.wait_closed()
