"""Real proxies for the tests: tinyproxy (HTTP, with CONNECT) and microsocks (SOCKS5), from
Debian's packages (.ci/run installs them), each on a free loopback port, each connecting out from
an address of its own, so the test server can tell what came through which."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from crawler.cli.testsite import free_port
from tests.conftest import wait_for


def binary(name: str) -> str:
    """The program's path; in CI (``CI`` set, as .ci/run does) a missing one fails, elsewhere it
    skips loudly."""
    path = shutil.which(name)
    if path is None:
        message = f"{name.upper()} IS NOT INSTALLED: the proxy tests did not run (apt-get install {name})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


@contextmanager
def tinyproxy(workdir: Path, bind: str, auth: tuple[str, str] | None = None) -> Iterator[tuple[str, Path]]:
    """An HTTP proxy: (its URL, its log file). Its connections out come from ``bind``."""
    port = free_port()
    log = workdir / f"tinyproxy-{port}.log"
    conf = workdir / f"tinyproxy-{port}.conf"
    lines = [f"Port {port}", "Listen 127.0.0.1", f"Bind {bind}", "Allow 127.0.0.1", "Timeout 30",
             f"LogFile \"{log}\"", "LogLevel Info", "MaxClients 100"]
    if auth:
        lines.append(f"BasicAuth {auth[0]} {auth[1]}")
    conf.write_text("\n".join(lines) + "\n")
    proc = subprocess.Popen([binary("tinyproxy"), "-d", "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: _listening(port), timeout=10)
        credentials = f"{auth[0]}:{auth[1]}@" if auth else ""
        yield f"http://{credentials}127.0.0.1:{port}", log
    finally:
        proc.terminate()
        proc.wait(10)


@contextmanager
def microsocks(bind: str, auth: tuple[str, str] | None = None) -> Iterator[str]:
    """A SOCKS5 proxy: its address (host:port, with credentials if any). Its connections out come
    from ``bind``."""
    port = free_port()
    args = [binary("microsocks"), "-i", "127.0.0.1", "-p", str(port), "-b", bind]
    if auth:
        args += ["-u", auth[0], "-P", auth[1]]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: _listening(port), timeout=10)
        credentials = f"{auth[0]}:{auth[1]}@" if auth else ""
        yield f"{credentials}127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
