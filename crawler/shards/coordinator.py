"""``--workers N`` on one machine, without Redis: N processes that split the crawl by host
(:mod:`crawler.shards.frontier`), started and watched by this one (the coordinator), which
passes their calls between them, copies their committed output into the one output asked for
(:mod:`crawler.shards.merge`), adds up their statistics for the summary and ``--stats``, and
starts a killed one again (with ``--job-dir`` it resumes its part of the job; without, its
queue is gone, so the crawl stops, as one process killed would).

The processes are forked from this one, each in a process group of its own: a stop (Ctrl-C,
``kill``) reaches them once, through the coordinator, and each stops as one crawl does. They are
sent SIGTERM if the coordinator dies."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from crawler.children import end_with_parent, take_stop_signal
from crawler.core.outcome import crawl, end_of_crawl, write_stats
from crawler.durable.job import JobLock, JobLocked
from crawler.errors import (
    EXIT_EXPECTATIONS,
    EXIT_FATAL,
    EXIT_INTERRUPTED,
    EXIT_LOCKED,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
)
from crawler.frontier import frontier_for, sqlite_path
from crawler.frontier.sqlite_schema import done_in
from crawler.monitor.expect import judge
from crawler.output.encoders import format_of
from crawler.output.files import expand_output, make_parent, output_file, tagged_path
from crawler.settings import REDIS_STREAM_SCHEMES, Settings
from crawler.shards.frontier import ShardedFrontier
from crawler.shards.merge import OutputMerger
from crawler.shards.router import Router
from crawler.shards.stats import CombinedStats
from crawler.spider import Request, Spider

log = logging.getLogger("crawler")

RESTARTS = 5  # times one process is started again after it was killed, at most
PASS_ON_AFTER = 1.0  # seconds before a stop is passed on to the processes that did not have it
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
SHARDS_FILE = "shards.json"  # in a job: how many processes it is split among, and its runs


def check_job_split(settings: Settings) -> None:
    """A job is resumed the way it was split: a usage error when ``--workers`` differs (each
    process's part holds the hosts it owned)."""
    if not settings.job_dir:
        return
    job = Path(settings.job_dir)
    split = _read_split(job)
    workers = settings.workers
    if split is not None and split.get("workers") != workers:
        raise UsageError(f"--workers: the job in {job} was run with --workers {split.get('workers')}; "
                         f"resume it with the same number (its hosts are split that way)")
    if split is None and workers > 1 and (job / "frontier.db").exists():
        raise UsageError(f"--workers: the job in {job} was run by one process; resume it without --workers")


def _read_split(job: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads((job / SHARDS_FILE).read_text("utf-8"))
        return data
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise UsageError(f"--job-dir: cannot read {job / SHARDS_FILE}: {e}") from None


def run_shards(settings: Settings, seeds: list[str | Request], spider: Spider | None) -> int:
    """Crawl with ``settings.workers`` processes on this machine; the exit status."""
    job = Path(settings.job_dir) if settings.job_dir else None
    lock = JobLock(job / "lock") if job is not None else None
    if lock is not None:
        try:
            lock.acquire()
        except JobLocked as e:
            log.error("%s", e)
            return EXIT_LOCKED
    try:
        coordinator = Coordinator(settings, seeds, spider, job)
        status = asyncio.run(coordinator.run())
        stats = coordinator.stats
        if settings.expect and status == EXIT_OK and not stats.interrupted and not judge(settings.expect, stats):
            status = EXIT_EXPECTATIONS  # the whole crawl is judged, once
        return end_of_crawl(settings, stats, status)
    finally:
        if lock is not None:
            lock.release()


class Coordinator:
    """Starts the processes, routes between them, merges their output, waits for their end."""

    def __init__(self, settings: Settings, seeds: list[str | Request], spider: Spider | None,
                 job: Path | None) -> None:
        self.settings = settings
        self.seeds = seeds
        self.spider = spider
        self.job = job
        self.shards = settings.workers
        self.stats = CombinedStats()
        self.stats.records_only = spider is None  # the built-in recorder: its items are the records
        fmt, compress = format_of(settings.output, settings.format)
        self.fmt, self.compress = fmt, compress
        run = 1
        if job is not None:
            split = _read_split(job) or {}
            run = int(split.get("runs", 0)) + 1
            job.mkdir(parents=True, exist_ok=True)
            (job / SHARDS_FILE).write_text(json.dumps({"workers": self.shards, "runs": run}), "utf-8")
        self.stream = settings.output.startswith(REDIS_STREAM_SCHEMES)  # each process writes to it
        target = settings.output if self.stream else output_file(expand_output(settings.output, run), fmt)
        if target != "-" and not self.stream:
            make_parent("--output", target)  # its folder made now: the parts go beside it
        self.parts = job.resolve() if job is not None else Path(tempfile.mkdtemp(
            prefix=".crawler-parts-", dir=(os.path.dirname(target) or ".") if target != "-" else None))
        self.merger = None if self.stream else OutputMerger(
            target, fmt, compress, job / "merge.json" if job is not None else None)
        self.router: Router | None = None
        # --max-pages is the crawl's, not each process's: one count in shared memory.
        self._budget = multiprocessing.Value("q", 0) if settings.max_pages else None
        self._pids: dict[int, int] = {}
        self._sockets: dict[int, socket.socket] = {}
        self._pidfds: dict[int, int] = {}
        self._restarts = [0] * self.shards
        self._codes: dict[int, int] = {}
        self._ended = asyncio.Event()
        self._stopping = False
        self._killed_without_job = False
        self._restarting: set[asyncio.Task[None]] = set()

    def _part(self, shard: int) -> str:
        if self.stream:
            return self.settings.output
        if self.fmt == "markdown":
            assert self.merger is not None  # the pages go in the folder, the index part beside
            return os.path.join(os.path.dirname(self.merger.target), f"index.shard-{shard}.jsonl")
        return str(self.parts / f"shard-{shard}" / f"part.{self.fmt}{'.gz' if self.compress else ''}")

    def _shard_settings(self, shard: int) -> Settings:
        s = self.settings
        folder = self.parts / f"shard-{shard}"
        folder.mkdir(parents=True, exist_ok=True)
        changes: dict[str, Any] = {
            "workers": 1, "worker": f"{s.worker or socket.gethostname()}.{shard}", "output": self._part(shard),
            "format": "" if self.stream else self.fmt, "stats": str(folder / "stats.json"), "progress": False,
            "job_dir": str(folder) if self.job is not None else "",
        }
        # The machine's share: --concurrency is the crawl's, split among the processes, and so
        # are the extraction processes (one a core in all) and the rendering.
        changes["concurrency"] = max(1, -(-s.concurrency // self.shards))
        if s.max_idle_connections:
            changes["max_idle_connections"] = max(1, -(-s.max_idle_connections // self.shards))
        if s.extract:
            changes["extract_processes"] = max(1, (s.extract_processes or os.cpu_count() or 1) // self.shards)
        if s.render != "never":  # each process its own browser: the pages at once and the memory shared out
            changes["render_concurrency"] = max(1, -(-s.render_concurrency // self.shards))
            if s.render_max_memory:
                changes["render_max_memory"] = max(1, s.render_max_memory // self.shards)
        if s.report:
            changes["report"] = tagged_path(s.report, f"worker{shard}")
        if s.save_cookies:
            changes["save_cookies"] = tagged_path(s.save_cookies, f"worker{shard}")
        if s.metrics_port:
            changes["metrics_port"] = s.metrics_port + shard
        return s.replace(**changes)

    def _take(self, n: int) -> int:
        """Take up to ``n`` pages of --max-pages (give back with a negative ``n``); how many."""
        budget = self._budget
        assert budget is not None
        with budget.get_lock():
            got = n if n < 0 else max(0, min(n, self.settings.max_pages - budget.value))
            budget.value += got
        return got

    async def run(self) -> int:
        """Run the crawl to its end (or its stop); the exit status."""
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        shard_settings = [self._shard_settings(i) for i in range(self.shards)]
        if self.merger is not None:
            self.merger.open()
            self.merger.start()
        self.router = Router(self.shards, self.merger.written if self.merger is not None else lambda *a: None)
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, self.stop, sig)
        take_stop_signal()  # one held since the process started (crawler serve's cancel) stops it now
        # Each shard's URLs done before this run: a worker killed and started again reports only
        # its last life's pages; the ones before are the difference (counted in the summary).
        paths = [sqlite_path(shard_settings[i]) for i in range(self.shards)] if self.job is not None else []
        before = [await asyncio.to_thread(done_in, path) if path is not None else 0 for path in paths]
        try:
            for i in range(self.shards):
                await self._start(i, shard_settings[i])
            await self._ended.wait()
        finally:
            for sig in STOP_SIGNALS:
                loop.remove_signal_handler(sig)
            if self.merger is not None:
                try:
                    await self.merger.close()
                except Exception as e:  # a FatalError, or stdout gone
                    log.error("%s", e)
                    self._codes[-1] = EXIT_FATAL
        for i in range(self.shards):
            try:
                figures = json.loads(Path(shard_settings[i].stats).read_text("utf-8"))
            except (OSError, ValueError):
                log.warning("worker %d left no statistics: the summary lacks its figures", i)
                continue
            self.stats.absorb(figures)
            if self._restarts[i] and before:  # its earlier lives' pages: done when its last began, not before
                began = figures["job"]["done"] - figures["pages"] - figures["unchanged"]
                self.stats.add_unreported(max(0, began - before[i]))
        self.stats.started = started
        self.stats.finish()
        if self.merger is not None and self.merger.failed is not None:
            self.stats.failed = str(self.merger.failed)
        if self.job is None:
            shutil.rmtree(self.parts, ignore_errors=True)
            if self.fmt == "markdown":
                for i in range(self.shards):
                    with contextlib.suppress(OSError):
                        os.unlink(self._part(i))
        return self._status()

    def _status(self) -> int:
        """The worst of the processes' statuses (a process ended by a signal counts as failed)."""
        if self._killed_without_job or (self.merger is not None and self.merger.failed is not None):
            return EXIT_FATAL
        codes = [EXIT_FATAL if code < 0 else code for code in self._codes.values()]
        failed = [code for code in codes if code not in (EXIT_OK, EXIT_INTERRUPTED)]
        if failed:
            return max(failed)
        return EXIT_INTERRUPTED if EXIT_INTERRUPTED in codes else EXIT_OK

    def stop(self, signum: int = signal.SIGTERM) -> None:
        """Stop every process (each as one crawl stops); a second call stops them at once.

        The first stop is passed on after :data:`PASS_ON_AFTER` seconds, to the processes that
        have not begun stopping by then: systemd's ``stop`` signals every process of the
        service itself, and a second signal would mean "stop now" to them."""
        first = not self._stopping
        self._stopping = True
        if self.router is not None:
            self.router.stopping = True
        if first:
            asyncio.get_running_loop().call_later(PASS_ON_AFTER, self._pass_on, signum, True)
        else:
            self._pass_on(signum, False)

    def _pass_on(self, signum: int, unless_stopping: bool) -> None:
        stopping = self.router.closing if self.router is not None and unless_stopping else set()
        for shard, pid in list(self._pids.items()):
            if shard not in stopping:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signum)

    async def _start(self, shard: int, settings: Settings) -> None:
        assert self.router is not None
        mine, theirs = socket.socketpair()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the shard
            code = EXIT_FATAL
            try:
                mine.close()
                for other in self._sockets.values():
                    other.close()
                for fd in self._pidfds.values():
                    os.close(fd)
                code = _shard_main(shard, self.shards, theirs, settings, self.seeds, self.spider,
                                   self._take if self._budget is not None else None)
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else EXIT_FATAL
            except BaseException:
                traceback.print_exc()
            finally:
                with contextlib.suppress(Exception):
                    sys.stdout.flush()
                    sys.stderr.flush()
                os._exit(code)
        theirs.close()
        self._pids[shard] = pid
        self._sockets[shard] = mine
        await self.router.attach(shard, mine)
        fd = os.pidfd_open(pid)
        self._pidfds[shard] = fd
        asyncio.get_running_loop().add_reader(fd, self._on_exit, shard, pid, fd, settings)

    def _on_exit(self, shard: int, pid: int, fd: int, settings: Settings) -> None:
        loop = asyncio.get_running_loop()
        loop.remove_reader(fd)
        os.close(fd)
        self._pidfds.pop(shard, None)
        self._pids.pop(shard, None)
        self._sockets.pop(shard, None)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        assert self.router is not None
        self.router.detach(shard)
        over = self.router.over.is_set()
        if code < 0 and not over and not self._stopping:
            name = signal.Signals(-code).name
            if self.job is not None and self._restarts[shard] < RESTARTS:
                self._restarts[shard] += 1
                log.warning("worker %d was killed (%s): starting it again; it resumes its part of the job",
                            shard, name)
                restart = loop.create_task(self._start(shard, settings))
                self._restarting.add(restart)
                restart.add_done_callback(self._restarting.discard)
                return
            if self.job is None:
                log.error("worker %d was killed (%s); without --job-dir its queue is lost: stopping the crawl "
                          "(with --job-dir it is started again and goes on)", shard, name)
                self._killed_without_job = True
            else:
                log.error("worker %d was killed (%s) %d times: stopping the crawl (the same command resumes it)",
                          shard, name, RESTARTS + 1)
            code = EXIT_FATAL
        self._codes[shard] = code
        if not over and not self._stopping:
            if code not in (EXIT_OK, EXIT_INTERRUPTED):
                log.error("worker %d ended with status %d: stopping the others", shard, code)
            self.stop(signal.SIGTERM)
        if not self._pids:
            self._ended.set()


def _shard_main(shard: int, shards: int, sock: socket.socket, settings: Settings, seeds: list[str | Request],
                spider: Spider | None, budget: Any) -> int:
    """In the forked process: crawl this shard's part; its exit status."""
    # Forked inside the coordinator's event loop: asyncio sees no running loop in a forked child
    # (3.11 checks the pid, later versions reset it at fork); its signal wake-up is let go here.
    signal.set_wakeup_fd(-1)
    for sig in (*STOP_SIGNALS, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    os.setpgid(0, 0)  # a stop comes through the coordinator, once
    end_with_parent(signal.SIGTERM)
    store = frontier_for(settings, settings.worker)
    frontier = ShardedFrontier(store, shard, shards, sock, budget)
    try:
        engine, status = asyncio.run(crawl(settings, seeds, spider, frontier, judged=False))
    except UsageError as e:
        print(f"crawler: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    if status != EXIT_LOCKED:
        engine.stats.discovered += frontier.arrived  # accepted here for the others: this one's URLs
        write_stats(settings, engine.stats)
    return status


__all__ = ["Coordinator", "check_job_split", "run_shards"]
