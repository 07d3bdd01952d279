"""``--job-dir``: the directory that holds a crawl's state, and the lock that keeps two runs out
of it at once. The lock is an ``flock`` on ``DIR/lock``, so the kernel frees it when its process
dies; the file names the holder (pid and host) for the messages."""

from __future__ import annotations

import fcntl
import logging
import os
import socket
from pathlib import Path

from crawler.errors import CrawlerError, UsageError

log = logging.getLogger("crawler")


class JobLocked(CrawlerError):
    """Another live run holds the job's lock: exit status 75."""


class JobLock:
    """An exclusive lock on a job directory (or beside a frontier file)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise :class:`JobLocked` naming who holds it. A lock file left by a
        dead process is taken over with a warning."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise UsageError(f"--job-dir: cannot use {self.path.parent}: {e.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd)
            os.close(fd)
            raise JobLocked(f"{self.path.parent} is in use by another run ({holder}); "
                            "wait for it to finish or stop it first") from None
        previous = _read(fd)
        if previous:
            log.warning("taking over the lock of %s left by %s, which is no longer running",
                        self.path.parent, previous)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {socket.gethostname()}\n".encode(), 0)
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        """Free the lock and empty the file (a clean stop leaves nothing to take over)."""
        if self._fd is None:
            return
        os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None


def _read(fd: int) -> str:
    text = os.pread(fd, 200, 0).decode("utf-8", "replace").split()
    if len(text) >= 2:
        return f"pid {text[0]} on {text[1]}"
    return ""
