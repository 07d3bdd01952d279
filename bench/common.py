"""Shared by the benchmarks: a generated static site, served by nginx when it is installed
(else by aiohttp in a subprocess), and child processes measured for time and peak memory.
Everything listens on 127.0.0.1 only. Output goes under bench/out/ (ignored by git).
"""

from __future__ import annotations

import contextlib
import json
import os
import pty
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crawler.cli.testsite import free_port, write_site

OUT = Path(__file__).resolve().parent / "out"
NGINX_CONF = """
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    types {{ text/html html; }}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        root {site};
        index index.html;
    }}
}}
"""


def site(pages: int, links: int = 10, size: int = 15000) -> Path:
    """The static site of ``pages`` pages (made once, then reused)."""
    root = OUT / f"site-{pages}-{links}-{size}"
    if not root.exists():
        print(f"writing a {pages}-page site to {root} ...", file=sys.stderr)
        partial = root.with_name(root.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        write_site(partial, pages, links, size)
        partial.rename(root)
    return root


def _wait_up(url: str, deadline: float = 15.0) -> None:
    end = time.monotonic() + deadline
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                r.read()
            return
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.05)


@contextmanager
def serve(root: Path):
    """Serve ``root`` on 127.0.0.1; yields (root URL, server name)."""
    port = free_port()
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    with tempfile.TemporaryDirectory() as tmp:
        if nginx:
            conf = Path(tmp) / "nginx.conf"
            conf.write_text(NGINX_CONF.format(root=tmp, port=port, site=root))
            cmd = [nginx, "-c", str(conf), "-p", tmp, "-e", f"{tmp}/error.log"]
            name = "nginx"
        else:
            name = "aiohttp static files"
            cmd = [sys.executable, str(Path(__file__).parent / "static_server.py"), str(root), str(port)]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{port}/"
            _wait_up(url)
            yield url, name
        finally:
            proc.terminate()
            proc.wait(10)


def run_measured(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int, str, int]:
    """Run ``cmd`` as a child (``env``: variables to add): its CPU seconds (user + system) and
    its own peak RSS, from wait4, its stdout and its exit status."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=None if env is None else os.environ | env)

    # Read the pipes in full, then reap with wait4 to get this child's resource usage.
    def pump(stream, sink):
        sink.append(stream.read())

    outs: list[bytes] = []
    errs: list[bytes] = []
    threads = [threading.Thread(target=pump, args=(proc.stdout, outs)),
               threading.Thread(target=pump, args=(proc.stderr, errs))]
    for t in threads:
        t.start()
    _, status, usage = os.wait4(proc.pid, 0)
    for t in threads:
        t.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    out, err = outs[0], errs[0]
    if proc.returncode != 0:
        sys.stderr.write(err.decode(errors="replace")[-2000:])
    return (usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024, out.decode(errors="replace"),
            proc.returncode)


def run_on_terminal(cmd: list[str]) -> tuple[int, bytes, float]:
    """Run ``cmd`` with its stderr on a pseudo-terminal (as a person at a shell sees it), its
    stdout discarded; its exit status, what it drew on the terminal, and its CPU seconds."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    drawn = bytearray()
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed its end
            break
        if not chunk:
            break
        drawn += chunk
    os.close(master)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, bytes(drawn), usage.ru_utime + usage.ru_stime


def machine() -> str:
    """A line naming the machine the figures come from."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {sys.version.split()[0]}"


def dump(path: Path, data: dict) -> None:
    """Keep a run's figures as JSON under bench/out/."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


@contextmanager
def tree_memory(every: float = 0.2):
    """The peak summed memory of this process's children and their children while the block
    runs (a crawl, its worker processes, its browser), sampled with psutil: a list filled in
    with the peak RSS and the peak PSS (shared pages counted once across the processes, where
    RSS counts, say, Chromium's shared libraries once a process)."""
    import psutil

    peak = [0, 0]
    done = threading.Event()

    def sample() -> None:
        me = psutil.Process()
        while not done.wait(every):
            rss = pss = 0
            for child in me.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    info = child.memory_full_info()
                    rss += info.rss
                    pss += getattr(info, "pss", info.rss)
            peak[0], peak[1] = max(peak[0], rss), max(peak[1], pss)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        done.set()
        thread.join()
