"""Durable crawls: where the state lives (``--job-dir``, ``--frontier sqlite:///``), the lock
that keeps two runs out of a job at once, the job's output (cut back to what was committed, then
written on), output name placeholders and the run log.

The lock is an ``flock`` on ``DIR/lock``, so the kernel frees it when its process dies; the file
names the holder (pid and host) for the messages."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from crawler.errors import CrawlerError, UsageError
from crawler.frontier import JobStore
from crawler.output.files import expand_output, output_file, part_path, sink_for
from crawler.output.writer import Sink
from crawler.settings import Settings
from crawler.timestamps import utc_now_iso

if TYPE_CHECKING:
    from crawler.monitor.stats import Stats

log = logging.getLogger("crawler")


class JobLocked(CrawlerError):
    """Another live run holds the job's lock: exit status 75."""


class JobLock:
    """An exclusive lock on a job directory (or beside a frontier file)."""

    def __init__(self, path: Path, holder: str = "run", option: str = "--job-dir") -> None:
        """``holder``: what holds such a lock, ``option``: what names the folder (for the
        messages: ``crawler serve`` locks its ``--data`` too)."""
        self.path = path
        self.holder = holder
        self.option = option
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise :class:`JobLocked` naming who holds it. A lock file left by a
        dead process is taken over with a warning."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise UsageError(f"{self.option}: cannot use {self.path.parent}: {e.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd)
            os.close(fd)
            raise JobLocked(f"{self.path.parent} is in use by another {self.holder} ({holder}); "
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


def lock_path(settings: Settings, store: JobStore) -> Path:
    """Where the lock of a durable crawl is: ``DIR/lock`` for a ``--job-dir``, else beside the
    store's file (``--frontier sqlite:///``)."""
    if settings.job_dir:
        return Path(settings.job_dir) / "lock"
    return store.path.with_name(store.path.name + ".lock")


async def open_job_output(frontier: JobStore, settings: Settings, pending: int) -> Sink:
    """This run's output, opened, in the job of ``frontier`` (opened, ``pending`` URLs to do).

    The last run's output is cut back to the length that run committed (records written after
    its last commit belong to URLs that are pending again), and this run writes on after what
    was committed to its file (with rotation: to the part it had reached).
    """
    run = int(await frontier.meta("runs") or 0) + 1
    template = output_file(expand_output(settings.output, run), settings.format)
    part = int(await frontier.meta("part:" + template) or 0)
    output = part_path(template, part) if settings.rotate_size or settings.rotate_records else template
    last = await frontier.meta("output")
    if last and last != output and os.path.exists(last):
        committed = int(await frontier.meta("offset:" + last) or 0)
        if os.path.getsize(last) > committed:
            log.warning("cutting %s back to the %d bytes its run committed", last, committed)
            os.truncate(last, committed)
    resume_at = int(await frontier.meta("offset:" + output) or 0)
    size = os.path.getsize(output) if os.path.exists(output) else 0
    if size < resume_at:  # someone removed or cut the file: never pad it with zeros
        log.warning("%s is shorter than the %d bytes this job committed to it; writing on after its end",
                    output, resume_at)
        resume_at = size
    due = frontier.made_due
    if resume_at and pending:
        left = pending - due
        what = (f"recrawling: {due} URLs due again" if not left else
                f"resuming: {left} URLs left by earlier runs and {due} due again" if due else
                f"resuming: {pending} URLs to go")
        log.info("%s, output %s kept to %d bytes", what, output, resume_at)
    records = int(await frontier.meta("records:" + output) or 0) if resume_at else 0
    sink = sink_for(settings, template, resume_at, part, records)
    await sink.open()
    await frontier.commit([], {"runs": str(run), **sink.state()})
    return sink


def log_run(job_dir: str, output: str, stats: Stats, left: int) -> None:
    """Append a run's figures to ``DIR/runs.log`` (one JSON object a line)."""
    entry = {"ended_at": utc_now_iso(), "output": output, **stats.as_dict(), "left": max(left, 0)}
    try:
        with open(Path(job_dir) / "runs.log", "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")
    except OSError as e:
        log.warning("cannot write the run log in %s: %s", job_dir, e.strerror)
