"""Fixtures: real aiohttp servers on 127.0.0.1 (each in its own thread and event loop), the
crawler run in-process or as a subprocess, and helpers that wait for conditions with deadlines.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from crawler import load_settings
from crawler.cli.testsite import ServerThread, make_app
from crawler.core.engine import Engine
from crawler.errors import ERROR_NAMES
from crawler.monitor.stats import Stats

pytest_plugins = ["tests.support.resolver"]  # the names fixture: a stub resolver

ROOT = Path(__file__).resolve().parent.parent

# A proxy set in the environment of whoever runs the tests would carry the crawls' requests away
# from the servers the tests start; the tests that want one set their own.
for _name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
    os.environ.pop(_name, None)
    os.environ.pop(_name.lower(), None)


@dataclass
class Hit:
    """One request as the server saw it."""

    path: str
    host: str
    start: float
    headers: dict[str, str]
    end: float | None = None
    status: int | None = None  # of the answer (None if the handler raised or was cut off)


@dataclass
class Server:
    """A running test server and what it has seen."""

    url: str
    port: int
    hits: list[Hit] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    host_in_flight: Counter[str] = field(default_factory=Counter)  # by Host header
    host_max_in_flight: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def paths(self) -> list[str]:
        return [h.path for h in self.hits]

    def count(self, path: str) -> int:
        return sum(1 for h in self.hits if h.path == path)


def _counting(server: Server) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        hit = Hit(request.path_qs, request.host, time.monotonic(), dict(request.headers))
        with server.lock:
            server.hits.append(hit)
            server.in_flight += 1
            server.max_in_flight = max(server.max_in_flight, server.in_flight)
            server.host_in_flight[hit.host] += 1
            server.host_max_in_flight[hit.host] = max(server.host_max_in_flight[hit.host],
                                                      server.host_in_flight[hit.host])
        try:
            response = await handler(request)
            hit.status = response.status
            return response
        except web.HTTPException as e:
            hit.status = e.status
            raise
        finally:
            with server.lock:
                server.in_flight -= 1
                server.host_in_flight[hit.host] -= 1
            hit.end = time.monotonic()

    return middleware


@pytest.fixture
def serve() -> Iterator[Callable[[web.Application], Server]]:
    """Start ``app`` on 127.0.0.1 on a free port; every request is counted."""
    threads: list[ServerThread] = []

    def start(app: web.Application, sites: int = 1, host: str = "127.0.0.1") -> Server:
        server = Server(url="", port=0)
        app.middlewares.append(_counting(server))
        thread = ServerThread(app, host=host, sites=sites).__enter__()
        threads.append(thread)
        server.url, server.port, server.ports = thread.url, thread.port, thread.ports
        return server

    yield start
    for thread in threads:
        thread.__exit__(None, None, None)


@pytest.fixture
def site(serve: Callable[[web.Application], Server]) -> Callable[..., Server]:
    """A generated site (see crawler.cli.testsite) on a real server."""

    def make(pages: int, **kwargs: Any) -> Server:
        return serve(make_app(pages, **kwargs))

    return make


@dataclass
class CrawlResult:
    records: list[dict[str, Any]]
    stats: Stats

    def by_url(self) -> dict[str, dict[str, Any]]:
        return {r["url"]: r for r in self.records}


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every line of a JSON Lines file, each parsed (fails on a bad line)."""
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


#: The HTTP clients (--http-client): every fetching guarantee is tested with each. The curl runs
#: are in the slow set, so the quick subset keeps its time (tests/fetch/test_curl.py has quick ones).
HTTP_CLIENTS = [pytest.param("aiohttp", id="aiohttp"), pytest.param("curl", id="curl", marks=pytest.mark.slow)]


@pytest.fixture(params=HTTP_CLIENTS)
def http_client(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each HTTP client in turn: set for the crawls run in this process (the ``crawl`` fixture)
    and on the command line (``CRAWLER_HTTP_CLIENT``, read by ``run_cli``'s crawls)."""
    monkeypatch.setenv("CRAWLER_HTTP_CLIENT", request.param)
    return str(request.param)


@pytest.fixture
def crawl(tmp_path: Path) -> Callable[..., Any]:
    """Run a crawl in this process: ``await crawl([seed], per_host=4)`` -> CrawlResult."""
    counter = iter(range(1_000_000))

    async def run(seeds: list[str], **settings: Any) -> CrawlResult:
        out = tmp_path / f"crawl-{next(counter)}.jsonl"
        options = {"output": str(out), "progress": False, "retry_backoff": 0.01,
                   "http_client": os.environ.get("CRAWLER_HTTP_CLIENT", "aiohttp")} | settings
        stats = await Engine(load_settings(options), seeds).run()
        records = read_jsonl(out)
        assert all(r["error"] is None or r["error"] in ERROR_NAMES for r in records)  # SPEC's names only
        return CrawlResult(records, stats)

    return run


def run_cli(*args: str, timeout: float = 60, env: dict[str, str] | None = None,
            **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """``python -m crawler ARGS`` as users run it (``env``: variables to add)."""
    env = os.environ | {"PYTHONPATH": str(ROOT)} | (env or {})
    return subprocess.run([sys.executable, "-m", "crawler", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, **kwargs)


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> Any:
    """Poll ``condition`` until it is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


async def async_wait_for(condition: Callable[[], Any], timeout: float = 10.0) -> Any:
    """``wait_for`` for async tests."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.02)
    return value


def _redis_binary(what: str) -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip(f"REDIS-SERVER IS NOT INSTALLED: {what} did not run (apt-get install redis-server)")
    return binary


def _redis_up(port: int) -> bool:
    """The redis-server on ``port`` answers PING."""
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def start_redis(binary: str, port: int, workdir: Path, *more: str) -> subprocess.Popen[bytes]:
    """A redis-server on ``port`` persisting nothing, once it answers."""
    proc = subprocess.Popen([binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
                             "--dir", str(workdir), *more], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: _redis_up(port), timeout=10)
    return proc


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on a free loopback port, persisting nothing; its URL. Skips, loudly,
    only where the binary is missing (CI installs it: see .ci/run)."""
    from crawler.cli.testsite import free_port

    binary = _redis_binary("the distributed-crawl tests")
    port = free_port()
    proc = start_redis(binary, port, tmp_path_factory.mktemp("redis"))
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


@dataclass
class RedisCluster:
    url: str  # redis+cluster://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3
    ports: list[int]  # its masters'


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    """A real Redis Cluster of 3 masters (no replicas) on free loopback ports, made with
    ``redis-cli --cluster create``, the slots split evenly as it does."""
    from crawler.cli.testsite import free_port

    binary = _redis_binary("the Redis Cluster tests")
    ports = [free_port() for _ in range(3)]
    procs = []
    try:
        for port in ports:
            workdir = tmp_path_factory.mktemp(f"cluster{port}")
            procs.append(start_redis(binary, port, workdir, "--cluster-enabled", "yes", "--cluster-config-file",
                                      str(workdir / "nodes.conf"), "--cluster-port", str(free_port())))
        subprocess.run(["redis-cli", "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports),
                        "--cluster-replicas", "0", "--cluster-yes"], check=True, capture_output=True, timeout=60)

        def ok() -> bool:
            return all("cluster_state:ok" in subprocess.run(["redis-cli", "-p", str(p), "cluster", "info"],
                                                            capture_output=True, text=True).stdout for p in ports)

        wait_for(ok, timeout=30, interval=0.1)
        yield RedisCluster("redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in ports), ports)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(10)


@pytest.fixture(scope="session")
def chromium() -> str:
    """The system's Chromium; CI installs it (.ci/run), so there it must be found."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: CI must install it (.ci/run)")
        pytest.skip("CHROMIUM IS NOT INSTALLED: the rendering tests did not run (apt-get install chromium)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("Playwright is not installed: CI must install the render extra (.ci/run)")
        pytest.skip("PLAYWRIGHT IS NOT INSTALLED: the rendering tests did not run (pip install -e '.[render]')")
    return found
