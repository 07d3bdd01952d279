"""The keeper of one browser: ``python browserkeeper.py PIDFILE CHROMIUM [ARGS...]``, run by
Playwright's ``launch`` in Chromium's place (through a wrapper script), so that Playwright talks to
Chromium over the pipes it hands over (``--remote-debugging-pipe``: file descriptors 3 and 4),
never over a TCP port another local user could connect to.

Playwright starts it as the leader of a new process group. The keeper writes its pid to PIDFILE
(the group's id: the crawler reads the browser's memory and kills it through it), starts Chromium
as its child (so in its group, with every process Chromium forks), handing it the two pipes, and
waits. When Playwright's end of the pipes is gone (the driver closed them or died, even by
``kill -9``: the kernel closes a dead process's pipes, and the driver itself ends when the
crawler does), when it is sent SIGTERM, or when Chromium ends, it kills every other process of
its group, removes the browser's profile folder and exits. No chromium process of a crawl
outlives the crawl, however the crawl ended. Standard library only: it starts in a few
milliseconds.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator


def processes() -> Iterator[tuple[int, list[bytes]]]:
    """Every process now: its pid and the fields of its ``/proc/PID/stat`` after its name
    (``[0]`` its state, ``[2]`` its process group, ``[21]`` its resident pages)."""
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    yield int(name), f.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue


def kill_browser(profile: str) -> None:
    """SIGKILL every process of this process group but this one, and every process whose
    command line names the browser's ``profile`` folder (Chromium's crash handler leaves the
    group, a session of its own, but its database is in the profile)."""
    group, me, mark = os.getpgrp(), os.getpid(), profile.encode() if profile else None
    for _ in range(3):  # a process may be forking while the group is walked
        others = []
        for pid, fields in processes():
            if pid == me or fields[0] == b"Z":  # a zombie is dead already
                continue
            if int(fields[2]) != group:
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        if mark is None or mark not in f.read():
                            continue
                except OSError:
                    continue
            others.append(pid)
        if not others:
            return
        for pid in others:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def main(argv: list[str]) -> int:
    """Run the browser ``argv[1:]`` (its profile named by ``--user-data-dir=``), writing this
    process's pid to ``argv[0]``, until Playwright's pipes close, SIGTERM comes or the browser
    ends; then end them all."""
    pidfile, command = argv[0], argv[1:]
    profile = next((a.split("=", 1)[1] for a in command if a.startswith("--user-data-dir=")), "")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the crawler says when: SIGTERM, or the pipes
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with open(pidfile + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.replace(pidfile + ".tmp", pidfile)
    env = dict(os.environ)
    if profile:  # Chromium keeps its crash reports under its config folder: the profile's
        env["XDG_CONFIG_HOME"] = os.path.join(profile, "config")
    child = subprocess.Popen(command, stdin=subprocess.DEVNULL, env=env, pass_fds=(3, 4))

    def watch_pipes() -> None:
        # Chromium reads its commands from descriptor 3; the driver holds the writing end. Once
        # no one holds it, poll says so (POLLHUP) without taking any of Chromium's bytes.
        poller = select.poll()
        poller.register(3, 0)
        while not done.is_set():
            if poller.poll(1000):
                break
        done.set()

    def watch_child() -> None:
        child.wait()
        done.set()

    for target in (watch_pipes, watch_child):
        threading.Thread(target=target, daemon=True).start()
    done.wait()
    kill_browser(profile)
    child.poll()
    if profile:
        shutil.rmtree(profile, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
