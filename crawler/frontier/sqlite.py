"""A durable frontier in one SQLite file: every accepted URL with its state, so a crawl can be
resumed after any stop: the store of ``--job-dir`` (``DIR/frontier.db``).

- Schema (:mod:`.sqlite_schema`): ``urls(id, fp, url, depth, referrer, kind, lastmod, state,
  attempts, done_at, ...)`` with a unique index on ``fp``, and ``meta(key, value)``. A URL is
  stored once: the seen set is the index of its key's 64-bit fingerprint, ``referrer`` the
  referrer's row id. ``state`` is 0 pending, 2 done (:meth:`commit`, once its record is
  written), 3 accepted without a fetch (robots.txt forbids it) but its record not yet written;
  1 (in flight) is reserved. A reopened file makes 1 and 3 pending again. WAL mode. A job dir of
  the first layout (the URL in the table and again in its index) is rewritten when opened.
- :meth:`commit` marks URLs done and stores the output's committed length in one transaction:
  the hinge of exactly-once output across crashes.
- ``robots(origin, mode, body, expires, reason)`` keeps robots.txt answers for later runs.
- A spider's request is kept as JSON (callback and errback by method name, meta if it is JSON,
  headers, priority), so a resumed spider crawl calls the same methods.
- SQLite runs on one dedicated thread; each call is one transaction over a batch (all the links
  of a page, say), so the event loop never waits on the disk.
- Only a bounded window of pending URLs (``window``) is in memory, in the same per-host
  scheduler as the in-memory store; it is refilled from the file in id order as it drains, so
  memory stays flat however large the frontier grows.
- On open, URLs left in flight by a stopped or killed run become pending again.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from crawler.errors import FatalError, UsageError
from crawler.frontier.gather import Flushers
from crawler.frontier.scheduler import HostScheduler
from crawler.frontier.seen import stable_fingerprint
from crawler.frontier.sqlite_job import JobRecords
from crawler.frontier.sqlite_keys import Keys
from crawler.frontier.sqlite_rows import Rows
from crawler.frontier.sqlite_schema import (
    DONE,
    DONE_COUNT,
    IN_FLIGHT,
    PENDING,
    PENDING_ROWS,
    RECORD_ONLY,
    REDIRECT,
    SCHEMA,
    migrate,
    request_of,
)
from crawler.work import CrawlRequest, Tracked

T = TypeVar("T")
log = logging.getLogger(__name__)
WINDOW = 10_000  # pending URLs kept in memory, refilled from the file as they drain
# Pages in the write-ahead log before they are copied into the file: each transaction of new URLs
# touches pages all over the fingerprints' index, and fewer checkpoints copy each of them fewer
# times (a quarter more URLs accepted a second than SQLite's 1,000, for a log of up to 40 MB).
CHECKPOINT_PAGES = 10_000
WAL_LIMIT = 4 << 20  # bytes the write-ahead log is cut back to after a checkpoint (it grows by a transaction)
# SQLite's page cache, KiB (its default is 2,000): the seen set's index is looked up and written at
# random, and kept in memory up to this size a million URLs go in 20 % faster (bench_frontier.py).
CACHE_KIB = 64 << 10


_DONE = "UPDATE urls SET state = ?, done_at = ?"
_VALIDATORS = ", etag = ?, last_modified = ?, content_hash = ?"
_TRACKED = ", fetched_at = ?, kept_hash = ?, kept_text = coalesce(?, kept_text), interval = coalesce(?, interval)"
_COMMITS = tuple(_DONE + part + " WHERE fp = ?"
                 for part in ("", _VALIDATORS, _TRACKED, _VALIDATORS + _TRACKED))  # as the rows of _commit


class SQLiteFrontier(Rows, JobRecords, HostScheduler):
    """A frontier whose URLs live in a SQLite file. Call :meth:`open` first, :meth:`aclose`
    last. See :class:`crawler.frontier.base.Frontier`."""

    @property
    def job(self) -> SQLiteFrontier:
        """This store keeps the job: its own state beside the URLs."""
        return self

    shared = False

    def __init__(self, path: str | Path, per_host: int, delay: float = 0.0, *, window: int = WINDOW,
                 label: str | None = None, due_before: float | None = None,
                 first_interval: float | None = None) -> None:
        """``label`` names the store in error messages (``job dir jobs/news``; by default the
        file). ``due_before`` (a Unix time): URLs done before then are due again when the file
        is opened (a recrawl)."""
        super().__init__(per_host, delay)
        self.due_before = due_before
        self.first_interval = first_interval  # --recrawl-after auto: each page is due after its own interval
        self.made_due = 0  # URLs done by earlier runs that this one found due again
        self.path = Path(path)
        self.label = label or f"frontier file {self.path}"
        self.window = window
        self._broken: FatalError | None = None  # the store failed: every call fails with this
        self._unusable = False  # the file is corrupt or no SQLite database
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite")
        self._db: sqlite3.Connection | None = None
        self._keys: Keys | None = None
        self._init_rows()
        self._loaded_upto = 0  # highest id moved into the window
        self._unloaded = 0  # pending rows not in the window yet
        self._refilling = False
        self._adds: list[tuple[list[CrawlRequest], bool, int | None, asyncio.Future[list[CrawlRequest]]]] = []
        self._flushers = Flushers(self._flush_adds)

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on the database thread. A failure of the store (a full disk, an I/O
        error, a file that is no database) is fatal: it is raised as a :class:`FatalError`
        naming the store, by this call and every later one, and the adds waiting for their
        transaction fail with it too, so nothing waits for a store that is gone."""
        if self._broken is not None:
            raise self._broken
        try:
            return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)
        except (sqlite3.Error, OSError) as e:
            self._broken = self._broken or FatalError(self._describe(e))
            adds, self._adds = self._adds, []
            for *_, future in adds:
                if not future.done():
                    future.set_exception(self._broken)
            raise self._broken from None

    def _describe(self, error: sqlite3.Error | OSError) -> str:
        if isinstance(error, OSError):
            return f"cannot write {self.label}: {error.strerror or error}"
        code = getattr(error, "sqlite_errorcode", None)
        if code == sqlite3.SQLITE_FULL:
            return f"cannot write {self.label}: {os.strerror(errno.ENOSPC)}"
        if code == sqlite3.SQLITE_NOTADB or code == sqlite3.SQLITE_CORRUPT:
            self._unusable = True
            return (f"{self.label}: {self.path} is not a usable SQLite database ({error}): "
                    "move it away to start the crawl over")
        return f"cannot use {self.label}: {error}"

    # -- opening and closing ----------------------------------------------------------------

    async def open(self) -> int:
        """Create or reopen the file; the number of URLs still to do (pending, and those due
        again: ``due_before``)."""
        try:
            pending = await self._call(self._open, self.due_before)
        except FatalError as e:
            if self._unusable:  # a corrupt or foreign file: the user's to move away, not a crash
                raise UsageError(str(e)) from None
            raise
        self._unloaded = pending
        await self._refill()
        return pending

    def _open(self, due_before: float | None) -> int:
        first_interval = self.first_interval
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        db.execute(f"PRAGMA journal_size_limit={WAL_LIMIT}")
        db.execute(f"PRAGMA wal_autocheckpoint={CHECKPOINT_PAGES}")
        if migrate(db):
            log.info("%s: rewritten in the compact layout (each URL stored once)", self.label)
        db.executescript(SCHEMA)
        db.execute("UPDATE urls SET state = ? WHERE state IN (?, ?)", (PENDING, IN_FLIGHT, RECORD_ONLY))
        if due_before is not None:
            self.made_due = db.execute("UPDATE urls SET state = ? WHERE state = ? AND done_at < ? AND kind IS NOT ?",
                                       (PENDING, DONE, due_before, REDIRECT)).rowcount
        elif first_interval is not None:  # each page after its own interval (a new one's: the first)
            self.made_due = db.execute(
                "UPDATE urls SET state = ? WHERE state = ? AND done_at + coalesce(interval, ?) < ? AND kind IS NOT ?",
                (PENDING, DONE, first_interval, time.time(), REDIRECT)).rowcount
        self._db, self._keys = db, Keys(db)
        return int(db.execute("SELECT count(*) FROM urls WHERE state = ?", (PENDING,)).fetchone()[0])

    async def aclose(self) -> None:
        """Flush and close the file (also after the store failed)."""
        if self._db is not None:
            if self._broken is None:
                try:
                    await self._call(self._flush_staged)
                except FatalError as e:  # what was committed stays; the rest is fetched again next run
                    log.warning("%s", e)
            db, self._db = self._db, None
            try:
                await asyncio.get_running_loop().run_in_executor(self._thread, db.close)
            except sqlite3.Error:
                pass  # reported already, when the store failed
        self._thread.shutdown(wait=True)

    # -- the Frontier interface -------------------------------------------------------------

    async def unseen(self, urls: list[str]) -> list[str]:
        # A query here would cost a trip to the database thread per page for what ``add``'s
        # INSERT OR IGNORE decides anyway; pass everything on (the interface allows it).
        return urls

    async def missing(self, urls: list[str]) -> list[str]:
        """Those of ``urls`` not in the file (one query; for tools and tests)."""
        return await self._call(self._unseen, urls)

    def _unseen(self, urls: list[str]) -> list[str]:
        assert self._db is not None
        self._flush_staged()
        fps = [stable_fingerprint(url) for url in urls]
        known = self._known(fps)
        return [url for url, fp in zip(urls, fps, strict=True) if fp not in known]

    async def add(self, requests: Iterable[CrawlRequest], *, queue: bool = True,
                  limit: int | None = None) -> list[CrawlRequest]:
        # Group commit: adds that arrive while a transaction runs share the next one, so many
        # workers adding their pages' links cost one trip to the disk, not one each.
        if self._broken is not None:
            raise self._broken
        future: asyncio.Future[list[CrawlRequest]] = asyncio.get_running_loop().create_future()
        self._adds.append((list(requests), queue, limit, future))
        self._flushers.start()
        accepted = await future
        if queue and accepted:
            self._unloaded += len(accepted)
            await self._refill()
        return accepted

    async def _flush_adds(self) -> None:
        while self._adds:  # (see crawler/frontier/gather.py: here a call takes every add waiting)
            batch, self._adds = self._adds, []
            try:
                # Fingerprints made here, while the database thread runs the call before (in SQLite,
                # without the GIL).
                adds = [(r, q, n, [stable_fingerprint(x.key) for x in r]) for r, q, n, _ in batch]
                results = await self._call(self._add_batch, adds)
            except BaseException as e:  # the adds of this batch (and, for a store error, all) fail
                error = e if isinstance(e, Exception) else FatalError(f"{self.label}: interrupted")
                for *_, future in batch:
                    if not future.done():
                        future.set_exception(error)
                if not isinstance(e, Exception):
                    raise
                continue
            for (*_, future), accepted in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(accepted)

    async def claim(self, target: str, owner: str, depth: int = 0) -> bool:
        """A target claimed is a row of kind ``redirect`` (state done: never fetched or counted
        on its own) whose referrer is its owner."""
        return bool(await self._call(self._claim, target, owner, depth))

    def _claim(self, target: str, owner: str, depth: int) -> bool:
        assert self._db is not None
        assert self._keys is not None
        self._flush_staged()
        fp, referrer = stable_fingerprint(target), self._keys.row_of(owner)
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO urls (fp, origin, url, depth, referrer, kind, state) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (fp, *self._keys.split(target), depth, referrer, REDIRECT, DONE))
        if cursor.rowcount == 1:
            return True
        row = self._db.execute("SELECT kind, referrer FROM urls WHERE fp = ?", (fp,)).fetchone()
        return row is not None and row[0] == REDIRECT and row[1] == referrer

    def __len__(self) -> int:
        """The backlog: pending URLs in the window and in the file."""
        return self._queued + self._unloaded

    async def counts(self) -> tuple[int, int]:
        """(URLs the job knows, URLs done), redirect targets left out (fetched as another's)."""
        return await self._call(self._counts)

    def _counts(self) -> tuple[int, int]:
        assert self._db is not None
        self._flush_staged()
        known, done = self._db.execute(DONE_COUNT, (DONE, REDIRECT)).fetchone()
        return int(known), int(done)

    async def get(self) -> CrawlRequest | None:
        request = await super().get()
        if request is not None and self._queued < self.window // 2 and self._unloaded:
            await self._refill()
        return request

    async def settle(self) -> int:
        """The rows not done (there should be none once nothing is outstanding): loaded into the
        window again from the start of the file."""
        left = int(await self._call(self._reopen_left))
        if left:
            self._loaded_upto = 0
            self._unloaded = left
            await self._refill()
        return left

    def _reopen_left(self) -> int:
        assert self._db is not None
        self._flush_staged()
        self._db.execute("UPDATE urls SET state = ? WHERE state IN (?, ?)", (PENDING, IN_FLIGHT, RECORD_ONLY))
        return int(self._db.execute("SELECT count(*) FROM urls WHERE state = ?", (PENDING,)).fetchone()[0])

    async def give_back(self) -> None:
        """Nothing to hand back: URLs not committed are pending in the file for the next run."""

    async def commit(self, urls: Iterable[str], meta: dict[str, str] | None = None,
                     validators: dict[str, tuple[str | None, str | None, str | None]] | None = None,
                     tracked: dict[str, Tracked] | None = None) -> None:
        """Their records are written (and synced): mark these URLs done, keep their
        ``validators`` (ETag, Last-Modified, body hash) for the next recrawl and what change
        tracking keeps of them (``tracked``), and store ``meta`` (such as the output's committed
        length), all in one transaction."""
        await self._call(self._commit, list(urls), meta or {}, validators or {}, tracked or {})

    def _commit(self, urls: list[str], meta: dict[str, str],
                validators: dict[str, tuple[str | None, str | None, str | None]] | None = None,
                tracked: dict[str, Tracked] | None = None) -> None:
        assert self._db is not None
        now = time.time()
        with self._transaction():
            self._write_staged()  # the links these pages found are in the file before the pages are done
            # One statement a URL: done, with what it keeps (validators, change tracking) if any.
            validators, tracked = validators or {}, tracked or {}
            rows: tuple[list[tuple[Any, ...]], ...] = ([], [], [], [])  # neither, validators, tracked, both
            for url in urls:
                v, t, fp = validators.get(url), tracked.get(url), stable_fingerprint(url)
                if v is None:
                    rows[0 if t is None else 2].append((DONE, now, fp) if t is None else (DONE, now, *t, fp))
                else:
                    rows[1 if t is None else 3].append((DONE, now, *v, fp) if t is None else (DONE, now, *v, *t, fp))
            for sql, batch in zip(_COMMITS, rows, strict=True):
                if batch:
                    self._db.executemany(sql, batch)
            self._db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", list(meta.items()))

    async def set_meta(self, key: str, value: str) -> None:
        """Store ``value`` under ``key``."""
        await self._call(self._commit, [], {key: value})

    async def _refill(self) -> None:
        """Move pending URLs from the file into the window, in the order they were accepted."""
        if self._refilling or not self._unloaded:
            return
        self._refilling = True
        try:
            while self._unloaded and self._queued < self.window:
                room = min(self.window - self._queued, 1000)
                rows = await self._call(self._load, room)
                if not rows:
                    self._unloaded = 0
                    break
                self._unloaded = max(0, self._unloaded - len(rows))
                self.push(request_of(row) for row in rows)
        finally:
            self._refilling = False

    def _load(self, n: int) -> list[tuple[Any, ...]]:
        assert self._db is not None
        self._flush_staged()
        rows = self._db.execute(PENDING_ROWS, (PENDING, self._loaded_upto, n)).fetchall()
        if rows:
            self._loaded_upto = rows[-1][0]
        return rows
