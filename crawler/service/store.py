"""The service's own database (``DATA/service.db``, SQLite): every run of every job, its state,
exit status and figures. Small and written rarely: each call runs in a thread."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from crawler.timestamps import utc_now_iso

#: A run's states: waiting for a slot, its crawl under way, ended (exit 0), ended otherwise
#: (the exit status says how), stopped by a cancel, not started (its job was running already).
QUEUED, RUNNING, FINISHED, FAILED = "queued", "running", "finished", "failed"
CANCELLED, SKIPPED = "cancelled", "skipped"
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

    def close(self) -> None:
        self._db.close()

    async def _call(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        def run() -> list[tuple[Any, ...]]:
            with self._lock:
                return self._db.execute(sql, args).fetchall()

        return await asyncio.to_thread(run)

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
        await self._call("UPDATE runs SET state = ?, started_at = ?, pid = ? WHERE id = ?",
                         (RUNNING, utc_now_iso(), pid, run))

    async def ended(self, run: int, state: str, status: int | None, stats: dict[str, Any] | None,
                    reason: str | None = None) -> None:
        await self._call("UPDATE runs SET state = ?, ended_at = ?, exit_status = ?, stats = ?, reason = ? WHERE id = ?",
                         (state, utc_now_iso(), status, json.dumps(stats) if stats is not None else None, reason,
                          run))

    async def get(self, run: int) -> dict[str, Any] | None:
        rows = await self._call(f"SELECT {', '.join(_COLUMNS)} FROM runs WHERE id = ?", (run,))
        return _run(rows[0]) if rows else None

    async def list(self, job: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The latest runs (of ``job``), newest first."""
        where, args = ("WHERE job = ?", (job,)) if job else ("", ())
        rows = await self._call(f"SELECT {', '.join(_COLUMNS)} FROM runs {where} ORDER BY id DESC LIMIT ?",
                                (*args, limit))
        return [_run(row) for row in rows]


def _run(row: tuple[Any, ...]) -> dict[str, Any]:
    run = dict(zip(_COLUMNS, row, strict=True))
    raw = run.pop("stats")
    stats = json.loads(raw) if raw else None
    run["figures"] = None if stats is None else {
        key: stats.get(key) for key in ("pages", "ok", "items", "errors", "elapsed_s", "pages_per_s", "changes",
                                        "change_urls", "expectations_failed", "failed")}
    if stats is not None:
        run["figures"]["failed_urls"] = (stats.get("failed_urls") or [])[:FAILED_SHOWN]
    return run


__all__ = ["CANCELLED", "FAILED", "FINISHED", "QUEUED", "RUNNING", "SKIPPED", "RunStore"]
