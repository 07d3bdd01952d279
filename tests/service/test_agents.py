"""The calls for agents as users start them: ``python -m crawler mcp`` driven by the MCP SDK's own
client over stdio, a scrape rendered by a real Chromium, and an API crawl that survives
``kill -9`` of the service."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from crawler.cli.demoshop import shop_app
from tests.cli.test_serve import free_port
from tests.conftest import ROOT, Server, wait_for
from tests.service.test_calls import crawl_ended, pages_app

pytestmark = pytest.mark.slow  # child processes, a browser


async def test_an_agent_drives_crawler_mcp_over_stdio(serve, tmp_path: Path) -> None:
    from mcp import Client, StdioServerParameters

    shop: Server = serve(shop_app())
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "crawler", "mcp", "--private-host", "127.0.0.1", "--data",
                                      str(tmp_path / "mcp")],
        env=os.environ | {"PYTHONPATH": str(ROOT)}, cwd=str(tmp_path))
    async with Client(params) as client:
        names = sorted(t.name for t in (await client.list_tools()).tools)
        assert names == ["crawl", "crawl_status", "extract", "map", "scrape"]
        page = (await client.call_tool("scrape", {"url": shop.url + "product/5"})).structured_content
        assert page["title"] == "Widget 5" and "A fine widget, number 5." in page["markdown"]
        started = (await client.call_tool("crawl", {"url": shop.url, "limit": 5})).structured_content
        status = await crawl_ended(client, started["id"])
        assert (status["status"], status["completed"], len(status["pages"])) == ("completed", 5, 5)
        urls = (await client.call_tool("map", {"url": shop.url, "search": "news"})).structured_content["urls"]
        assert urls == [shop.url + f"news/{i}" for i in (1, 2, 3)]
        refused = await client.call_tool("scrape", {"url": "http://169.254.169.254/latest/meta-data/"})
        assert refused.is_error and "blocked_address" in refused.content[0].text


async def test_render_auto_scrapes_the_demo_shops_script_built_page(serve, chromium, tmp_path: Path) -> None:
    from crawler import load_settings
    from crawler.service.calls import Bounds, ScrapeAsk
    from crawler.service.ondemand import Calls

    shop: Server = serve(shop_app())
    calls = Calls(load_settings({}), Bounds(), tmp_path, private_hosts=("127.0.0.1",))
    plain = await calls.desk.scrape(ScrapeAsk(shop.url + "app", formats=("markdown",), render="never"))
    assert "Widget 1" not in plain["markdown"]  # the HTML has an empty div: the script fills it
    rendered = await calls.desk.scrape(ScrapeAsk(shop.url + "app", formats=("markdown", "links"), render="auto"))
    assert rendered["metadata"]["rendered"] is True
    assert "Widget 1" in rendered["markdown"] and shop.url + "product/1" in rendered["links"]
    await calls.close()


def _call(url: str, method: str = "GET", body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_an_api_crawl_goes_on_after_kill_9_of_the_service_each_page_once(serve, tmp_path: Path) -> None:
    links = "".join(f"<a href='/{j}'>{j}</a>" for j in range(40))
    site: Server = serve(pages_app({f"/{i}": f"<title>P{i}</title>{links}" for i in range(40)}, wait=0.1))
    port = free_port()
    log = open(tmp_path / "serve.log", "ab")

    def start() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "crawler", "serve", "--data", str(tmp_path / "data"), "--port", str(port),
             "--private-host", "127.0.0.1"], env=os.environ | {"PYTHONPATH": str(ROOT)}, stdout=log, stderr=log)
        wait_for(lambda: _up(port, proc), timeout=30)
        return proc

    service = start()
    base = f"http://127.0.0.1:{port}"
    started = _call(base + "/v1/crawl", "POST", {"url": site.url + "0", "limit": 40, "allowBackwardLinks": True})
    crawl = f"{base}/v1/crawl/{started['id']}"
    wait_for(lambda: _call(crawl)["completed"] >= 5, timeout=60)
    os.kill(service.pid, signal.SIGKILL)
    service.wait(30)
    service = start()
    try:
        done = wait_for(lambda: (lambda s: s if s["status"] != "scraping" else None)(_call(crawl)), timeout=120)
        assert (done["status"], done["completed"]) == ("completed", 40)
        urls = [d["metadata"]["sourceURL"] for d in done["data"]]
        assert sorted(urls) == sorted(f"{site.url}{i}" for i in range(40))  # each page once
        assert b"going on from its job dir" in (tmp_path / "serve.log").read_bytes()
    finally:
        service.send_signal(signal.SIGTERM)
        assert service.wait(60) == 0


def _up(port: int, proc: subprocess.Popen[bytes]) -> bool:
    import socket

    assert proc.poll() is None, "the service ended"
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False
