"""The keeper of one browser: ``python -m crawler.fetch.browserkeeper USER_DATA_DIR CHROMIUM [ARGS...]``.

The crawler starts it as the leader of a new session and holds the only write end of its
standard input. The keeper starts Chromium as its child (so in its process group, with every
process Chromium forks) and waits. When its input ends (the crawler closed it, or died, even by
``kill -9``: the kernel closes a dead process's pipes) or when Chromium ends, it kills every
other process of its group, removes the browser's profile folder and exits. No chromium process
of a crawl outlives the crawl, however the crawl ended. Standard library only: it starts in a
few milliseconds.
"""

from __future__ import annotations

import os
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
    group, me, mark = os.getpgrp(), os.getpid(), profile.encode()
    for _ in range(3):  # a process may be forking while the group is walked
        others = []
        for pid, fields in processes():
            if pid == me or fields[0] == b"Z":  # a zombie is dead already
                continue
            if int(fields[2]) != group:
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        if mark not in f.read():
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
    """Run the browser ``argv[1:]`` with profile folder ``argv[0]`` until the input ends or the
    browser does; then end them all."""
    profile, command = argv[0], argv[1:]
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the crawler says when: by closing the input
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    # Chromium keeps its crash reports under its config folder: the profile's, not the user's.
    env = {**os.environ, "XDG_CONFIG_HOME": os.path.join(profile, "config")}
    child = subprocess.Popen(command, stdin=subprocess.DEVNULL, env=env)

    def watch_input() -> None:
        while sys.stdin.buffer.read(65536):
            pass
        done.set()

    def watch_child() -> None:
        child.wait()
        done.set()

    for target in (watch_input, watch_child):
        threading.Thread(target=target, daemon=True).start()
    done.wait()
    kill_browser(profile)
    child.poll()
    shutil.rmtree(profile, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
