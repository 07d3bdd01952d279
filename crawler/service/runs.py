"""The service's runs: each a child process (``python -m crawler crawl ...``), so a crash in a run
never takes the service down; at most one run of a job at a time (another one asked for meanwhile
is recorded as skipped), at most ``max_running`` at once (the others queued, up to
:data:`MAX_QUEUED`); and the schedule, which starts each job's runs at the times of its cron
expression."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime
import json
import logging
import os
import shutil
import signal
import sqlite3
import sys
from pathlib import Path

from crawler.children import stop_signal_held
from crawler.errors import EXIT_INTERRUPTED
from crawler.service.diskfull import full_reason, is_disk_full, with_full_disk
from crawler.service.jobs import Job, environment_of
from crawler.service.store import CANCELLED, FAILED, FINISHED, INTERRUPTED, QUEUED, SKIPPED, RunStore

log = logging.getLogger("crawler")

MAX_QUEUED = 100  # runs waiting for a slot, at most; one more is recorded as skipped
STOP_GRACE = 30.0  # seconds the runs get to stop (as on SIGINT) when the service stops
NAP = 60.0  # the schedule looks at the clock at least this often (a clock that jumped)
STATS_INTERVAL = 2.0  # seconds between a run's stats lines (the live figures of its events stream)


class Runs:
    """Starts, watches and stops the runs of ``jobs``, files under ``data``."""

    def __init__(self, jobs: dict[str, Job], data: Path, max_running: int, jobs_dir: Path,
                 keep_runs: int = 0) -> None:
        """``keep_runs``: the files of each job's latest this many runs are kept, older ones'
        deleted (their records in the database stay); 0 keeps them all."""
        self.keep_runs = keep_runs
        self.jobs = jobs
        self.data = data
        self.jobs_dir = jobs_dir  # a job's seeds_file is read from beside the jobs file
        self.max_running = max_running
        self.store = RunStore(data / "service.db")
        self.running: dict[str, tuple[int, asyncio.subprocess.Process]] = {}  # job -> (run, its process)
        self.queue: collections.deque[tuple[int, str]] = collections.deque()
        self.cancelled: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._scheduler: asyncio.Task[None] | None = None
        self.stopping = False  # the service is stopping: its runs end interrupted, not failed

    async def start(self) -> None:
        """Mark the runs a stopped service left behind as failed, and start the schedule."""
        for run, pid in self.store.recover():
            # Its crawl may go on without the service that started it: stop it as Ctrl-C would
            # (its job dir keeps what it did; the job's next run goes on from there).
            if pid is not None and _is_crawl(pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGINT)
                log.warning("run %d was left running by the last service: its crawl (pid %d) is stopped, the run "
                            "marked failed", run, pid)
            else:
                log.warning("run %d was left unfinished by the last service: marked failed", run)
        self._scheduler = asyncio.get_running_loop().create_task(self._schedule())

    def run_dir(self, run: int) -> Path:
        """Where run ``run`` keeps its output, log, stats and report."""
        return self.data / "runs" / str(run)

    async def trigger(self, name: str, trigger: str) -> int:
        """Ask for a run of job ``name`` now (``trigger``: ``api`` or ``schedule``); its id. A run
        of a job that is running or queued already is recorded as skipped."""
        if name in self.running or any(job == name for _, job in self.queue):
            log.info("job %s: a run is under way already: this one is skipped", name)
            return await self.store.add(name, SKIPPED, trigger, "a run of this job was under way")
        if len(self.queue) >= MAX_QUEUED:
            return await self.store.add(name, SKIPPED, trigger, f"{MAX_QUEUED} runs were queued already")
        run = await self.store.add(name, QUEUED, trigger)
        self.queue.append((run, name))
        await self._dispatch()
        return run

    async def cancel(self, run: int) -> bool:
        """Stop ``run`` as SIGINT stops a crawl (its job dir keeps where it was), or take it out
        of the queue; False when it is neither running nor queued."""
        for queued in self.queue:
            if queued[0] == run:
                self.queue.remove(queued)
                await self.store.ended(run, CANCELLED, None, None, "cancelled before it started")
                return True
        for job_run, process in self.running.values():
            if job_run == run:
                self.cancelled.add(run)
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGINT)
                return True
        return False

    async def _dispatch(self) -> None:
        while self.queue and len(self.running) < self.max_running:
            run, name = self.queue.popleft()
            try:
                await self._launch(run, self.jobs[name])
            except OSError as e:  # its folder or log cannot be made: a full disk, most often
                reason = full_reason(self.data) if is_disk_full(e) else f"it could not start: {e.strerror or e}"
                log.error("job %s: run %d could not start: %s", name, run, reason)
                await self.store.ended(run, FAILED, None, None, reason)

    async def _launch(self, run: int, job: Job) -> None:
        folder = self.run_dir(run)
        folder.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "crawler", "crawl", *job.seeds]
        if job.seeds_file is not None:
            cmd += ["--seeds", str(self.jobs_dir / job.seeds_file)]
        cmd += ["--job-dir", str(self.data / "jobs" / job.name), "-o", str(folder / "output.jsonl"),
                "--stats", str(folder / "stats.json"), "--report", str(folder / "report.html"), "--no-progress",
                "--stats-interval", str(STATS_INTERVAL)]
        env = os.environ | environment_of(job)
        with open(folder / "log.txt", "ab") as logfile, stop_signal_held():  # a cancel waits for the crawl
            process = await asyncio.create_subprocess_exec(
                *cmd, stdin=asyncio.subprocess.DEVNULL, stdout=logfile, stderr=asyncio.subprocess.STDOUT, env=env,
                cwd=self.jobs_dir,  # a job's spider module is found beside the jobs file
                start_new_session=True)  # a Ctrl-C at the service's terminal is the service's to pass on
        self.running[job.name] = (run, process)
        await self.store.started(run, process.pid)
        log.info("job %s: run %d started (pid %d)", job.name, run, process.pid)
        task = asyncio.get_running_loop().create_task(self._wait(run, job.name, process))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _wait(self, run: int, name: str, process: asyncio.subprocess.Process) -> None:
        status = await process.wait()
        self.running.pop(name, None)  # its crawl has ended: the job may run again, whatever is written
        try:
            stats = None
            with contextlib.suppress(OSError, ValueError):
                stats = json.loads((self.run_dir(run) / "stats.json").read_text("utf-8"))
            if run in self.cancelled:
                state, reason = CANCELLED, "cancelled"
            elif self.stopping and status == EXIT_INTERRUPTED:
                state, reason = INTERRUPTED, "the service stopped: the job's next run goes on from where it was"
            elif status == 0:
                state, reason = FINISHED, None
            else:
                state, reason = FAILED, with_full_disk(_reason(status), self.data)
            await self.store.ended(run, state, status, stats, reason)
            log.info("job %s: run %d %s (exit %d)", name, run, state, status)
        finally:
            self.cancelled.discard(run)
        if self.keep_runs:
            await self._retain(name)
        await self._dispatch()

    async def _retain(self, name: str) -> None:
        """Delete the files of ``name``'s runs older than its latest ``keep_runs``."""
        old = (await self.store.list(name, limit=self.keep_runs + 1000))[self.keep_runs:]
        for run in old:
            folder = self.run_dir(run["id"])
            if folder.exists():
                await asyncio.to_thread(shutil.rmtree, folder, True)

    def next_runs(self, now: datetime.datetime) -> dict[str, datetime.datetime | None]:
        """Each job's next scheduled time after ``now``."""
        return {name: job.next_run(now) for name, job in self.jobs.items()}

    async def _schedule(self) -> None:
        now = datetime.datetime.now(datetime.UTC)
        due = {name: when for name, when in self.next_runs(now).items() if when is not None}
        while True:
            now = datetime.datetime.now(datetime.UTC)
            for name, when in list(due.items()):
                if when <= now:
                    try:
                        await self.trigger(name, "schedule")
                    except (OSError, sqlite3.Error) as e:  # a full disk: this time is missed, not the next
                        log.error("job %s: its scheduled run could not be recorded: %s", name,
                                  full_reason(self.data) if is_disk_full(e) else e)
                    nxt = self.jobs[name].next_run(now)
                    if nxt is not None:
                        due[name] = nxt
            wait = min([(when - now).total_seconds() for when in due.values()] + [NAP])
            await asyncio.sleep(max(0.05, wait))

    async def stop(self) -> None:
        """Stop the schedule, and the runs as SIGINT stops a crawl (each resumable), waiting for
        them up to :data:`STOP_GRACE` seconds."""
        self.stopping = True
        if self._scheduler is not None:
            self._scheduler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._scheduler
        for run, _ in list(self.queue):
            await self.store.ended(run, CANCELLED, None, None, "the service stopped before it started")
        self.queue.clear()
        for _, process in self.running.values():
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGINT)
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=STOP_GRACE)
        for _, process in self.running.values():
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        self.store.close()


def _is_crawl(pid: int) -> bool:
    """Is process ``pid`` a crawl this service started (``python -m crawler crawl``)?"""
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"crawler" in words and b"crawl" in words


def _reason(status: int) -> str:
    return {1: "the crawl failed (see its log)", 2: "a usage error (see its log)",
            3: "it failed its expectations", 75: "another run held the job dir", 130: "stopped by a signal"}.get(
        status, f"exit status {status}" if status >= 0 else f"killed by signal {-status}")


__all__ = ["MAX_QUEUED", "Runs"]
