"""The service's own database (``DATA/service.db``, SQLite): every run of every job, its state,
exit status and figures. Small and written rarely: each call runs in a thread."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any

from crawler.service.diskfull import Unwritten
from crawler.timestamps import utc_now_iso

log = logging.getLogger("crawler")

#: A run's states: waiting for a slot, its crawl under way, ended (exit 0), ended otherwise
#: (the exit status says how), stopped by a cancel, not started (its job was running already),
#: stopped because the service stopped (Ctrl-C, SIGTERM: the job's next run goes on from there).
QUEUED, RUNNING, FINISHED, FAILED = "queued", "running", "finished", "failed"
CANCELLED, SKIPPED, INTERRUPTED = "cancelled", "skipped", "interrupted"
SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    job TEXT NOT NULL,
    state TEXT NOT NULL,
    trigger TEXT NOT NULL,
    created_at TEXT NOT NULL,
    started_at TEXT,
    ended_at TEXT,
    exit_status INTEGER,
    reason TEXT,
    stats TEXT,
    pid INTEGER
);
CREATE INDEX IF NOT EXISTS runs_job ON runs (job, id);
"""
_COLUMNS = ("id", "job", "state", "trigger", "created_at", "started_at", "ended_at", "exit_status", "reason", "stats")
ADDED_COLUMNS = (("pid", "INTEGER"),)
FAILED_SHOWN = 20  # a run's failed URLs shown by the API and the dashboard (the first ones)


class RunStore:
    """The runs, in ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        have = {row[1] for row in self._db.execute("PRAGMA table_info(runs)")}
        for column, kind in ADDED_COLUMNS:
            if column not in have:
                self._db.execute(f"ALTER TABLE runs ADD COLUMN {column} {kind}")
        self._lock = threading.Lock()
        self.unwritten = Unwritten()  # runs' changes a full disk refused, written when it can

    def close(self) -> None:
        with self._lock:
            self.unwritten.flush(self._write)
        self._db.close()

    def _write(self, run: int, columns: dict[str, Any]) -> None:
        sets = ", ".join(f"{column} = ?" for column in columns)
        self._db.execute(f"UPDATE runs SET {sets} WHERE id = ?", (*columns.values(), run))

    async def _call(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        def run() -> list[tuple[Any, ...]]:
            with self._lock:
                self.unwritten.flush(self._write)
                return self._db.execute(sql, args).fetchall()

        return await asyncio.to_thread(run)

    async def _update(self, run: int, **columns: Any) -> None:
        """Change ``run``'s columns; on a full disk the change is kept in memory (and answered)
        until it can be written, with one error line."""
        def update() -> None:
            with self._lock:
                if not self.unwritten.write(run, columns, self._write):
                    log.error("run %d: its state (%s) cannot be written to %s: the disk is full; it is kept "
                              "until it can be", run, columns.get("state"), self.path)

        await asyncio.to_thread(update)

    def recover(self) -> list[tuple[int, int | None]]:
        """At start: the runs the last service left queued or running did not end well (it was
        stopped, or killed): mark them failed. Those that were running, with their process ids."""
        with self._lock:
            running = self._db.execute("SELECT id, pid FROM runs WHERE state = ?", (RUNNING,)).fetchall()
            self._db.execute(
                "UPDATE runs SET state = ?, ended_at = ?, reason = ? WHERE state IN (?, ?)",
                (FAILED, utc_now_iso(), "the service stopped while the run was queued or running", QUEUED,
                 RUNNING))
            return [(int(run), pid) for run, pid in running]

    async def add(self, job: str, state: str, trigger: str, reason: str | None = None) -> int:
        """A new run of ``job``; its id."""
        ended = utc_now_iso() if state == SKIPPED else None
        rows = await self._call(
            "INSERT INTO runs (job, state, trigger, created_at, ended_at, reason) VALUES (?, ?, ?, ?, ?, ?) "
            "RETURNING id", (job, state, trigger, utc_now_iso(), ended, reason))
        return int(rows[0][0])

    async def started(self, run: int, pid: int) -> None:
        await self._update(run, state=RUNNING, started_at=utc_now_iso(), pid=pid)

    async def ended(self, run: int, state: str, status: int | None, stats: dict[str, Any] | None,
                    reason: str | None = None) -> None:
        await self._update(run, state=state, ended_at=utc_now_iso(), exit_status=status,
                           stats=json.dumps(stats) if stats is not None else None, reason=reason)

    async def get(self, run: int) -> dict[str, Any] | None:
        rows = await self._call(f"SELECT {', '.join(_COLUMNS)} FROM runs WHERE id = ?", (run,))
        return self._run(rows[0]) if rows else None

    async def list(self, job: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The latest runs (of ``job``), newest first."""
        where, args = ("WHERE job = ?", (job,)) if job else ("", ())
        rows = await self._call(f"SELECT {', '.join(_COLUMNS)} FROM runs {where} ORDER BY id DESC LIMIT ?",
                                (*args, limit))
        return [self._run(row) for row in rows]

    def _run(self, row: tuple[Any, ...]) -> dict[str, Any]:
        """A row as the API shows it (with its changes not yet written)."""
        run = self.unwritten.overlay(row[0], dict(zip(_COLUMNS, row, strict=True)))
        run.pop("pid", None)
        return _shown(run)


def _shown(run: dict[str, Any]) -> dict[str, Any]:
    raw = run.pop("stats")
    stats = json.loads(raw) if raw else None
    run["figures"] = None if stats is None else {
        key: stats.get(key) for key in ("pages", "ok", "items", "errors", "elapsed_s", "pages_per_s", "changes",
                                        "change_urls", "expectations_failed", "failed", "nothing_due")}
    if stats is not None:
        run["figures"]["failed_urls"] = (stats.get("failed_urls") or [])[:FAILED_SHOWN]
    return run


__all__ = ["CANCELLED", "FAILED", "FINISHED", "INTERRUPTED", "QUEUED", "RUNNING", "SKIPPED", "RunStore"]
