"""The crawls programs and agents start (``POST /v1/crawl``, the MCP ``crawl`` tool): each a
durable crawl in the service's own process, so that it goes through the service's
:class:`crawler.fetch.hostgate.HostGate` with every other call, and its pages are counted and
read while it runs.

Each crawl keeps a job dir and its records under ``DATA/crawls/ID/`` and a row in
``DATA/crawls/crawls.db``; a crawl that was under way when the service stopped (Ctrl-C, a crash,
``kill -9``) goes on from its job dir when the service starts again, each page written once. A
crawl's files are deleted :data:`KEEP_DAYS` days after it started (its ``expiresAt``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import json
import logging
import shutil
import sqlite3
import threading
import uuid
from pathlib import Path
from typing import Any

from crawler.core.engine import Engine
from crawler.errors import FatalError, UsageError
from crawler.service.callerror import CallError
from crawler.service.calls import Desk
from crawler.service.diskfull import Unwritten, full_reason, is_disk_full, with_full_disk
from crawler.service.patterns import compile_pattern

log = logging.getLogger("crawler")

SCRAPING, COMPLETED, FAILED, CANCELLED = "scraping", "completed", "failed", "cancelled"
KEEP_DAYS = 7  # days a crawl's pages are kept (Firecrawl keeps them 24 hours)
PAGE_DOCS = 100  # pages a status answer carries at most (the rest: its next link)
PAGE_BYTES = 8 * 1024 * 1024  # bytes of records a status answer carries at most
RUNNING_MAX = 8  # crawls under way at once, at most (another is refused as busy)
SCHEMA = """
CREATE TABLE IF NOT EXISTS crawls (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    created_at TEXT NOT NULL,
    ended_at TEXT,
    ask TEXT NOT NULL,
    error TEXT
);
"""


@dataclasses.dataclass
class CrawlAsk:
    """One crawl, as the endpoint and the tool take it (checked)."""

    url: str
    limit: int
    max_depth: int
    include: tuple[str, ...] = ()  # URL regexes
    exclude: tuple[str, ...] = ()
    scope: str = "host"
    markdown: bool = True
    render: str = "never"
    headers: tuple[str, ...] = ()  # Name: value lines (kept in the service's data dir, never shown)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _iso(when: datetime.datetime) -> str:
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Crawls:
    """The crawls under ``folder``, made through ``desk`` (its settings, gate and bounds)."""

    def __init__(self, desk: Desk, folder: Path) -> None:
        self.desk = desk
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(folder / "crawls.db", check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()
        self.engines: dict[str, Engine] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._cancelled: set[str] = set()
        self._starting = 0  # crawls between their check against RUNNING_MAX and their launch
        self.unwritten = Unwritten()  # crawls' ends a full disk refused, written when it can

    async def _sql(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        def run() -> list[tuple[Any, ...]]:
            with self._lock:
                self.unwritten.flush(self._write)
                return self._db.execute(sql, args).fetchall()
        return await asyncio.to_thread(run)

    def _write(self, crawl_id: str, columns: dict[str, Any]) -> None:
        self._db.execute("UPDATE crawls SET state = ?, ended_at = ?, error = ? WHERE id = ?",
                         (columns["state"], columns["ended_at"], columns["error"], crawl_id))

    async def _end(self, crawl_id: str, state: str, error: str | None) -> None:
        """Record the crawl's end; on a full disk it is kept in memory (and answered) until it
        can be written."""
        def end() -> None:
            with self._lock:
                if not self.unwritten.write(crawl_id, {"state": state, "ended_at": _iso(_now()), "error": error},
                                            self._write):
                    log.error("crawl %s: its end (%s) cannot be written: the disk is full; kept until it can be",
                              crawl_id, state)
        await asyncio.to_thread(end)

    async def open(self) -> None:
        """Delete the crawls past their time; go on with those under way when the service stopped."""
        expired = _iso(_now() - datetime.timedelta(days=KEEP_DAYS))
        for (old,) in await self._sql("SELECT id FROM crawls WHERE created_at < ?", (expired,)):
            await asyncio.to_thread(shutil.rmtree, self.folder / old, True)
            await self._sql("DELETE FROM crawls WHERE id = ?", (old,))
        for crawl_id, ask in await self._sql("SELECT id, ask FROM crawls WHERE state = ?", (SCRAPING,)):
            log.info("crawl %s: under way when the service stopped: going on from its job dir", crawl_id)
            fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(ask).items()}
            try:
                self._launch(crawl_id, CrawlAsk(**fields))
            except (TypeError, CallError) as e:  # kept by another version, or no longer valid
                log.warning("crawl %s cannot go on: %s", crawl_id, e)
                await self._sql("UPDATE crawls SET state = ?, ended_at = ?, error = ? WHERE id = ?",
                                (FAILED, _iso(_now()), f"could not go on after a restart: {e}", crawl_id))

    async def start(self, ask: CrawlAsk) -> str:
        """Start a crawl; its id. At most :data:`RUNNING_MAX` are under way (those starting
        counted: their place is taken before anything is awaited)."""
        if len(self._tasks) + self._starting >= RUNNING_MAX:
            raise CallError("busy", f"{RUNNING_MAX} crawls are under way already: try again when one has ended")
        self._starting += 1
        try:
            crawl_id = str(uuid.uuid4())
            self._settings(crawl_id, ask)  # a bad regex or value: refused now, not in the crawl
            await self._sql("INSERT INTO crawls (id, state, created_at, ask) VALUES (?, ?, ?, ?)",
                            (crawl_id, SCRAPING, _iso(_now()), json.dumps(dataclasses.asdict(ask))))
            self._launch(crawl_id, ask)
        finally:
            self._starting -= 1
        return crawl_id

    def _settings(self, crawl_id: str, ask: CrawlAsk) -> Any:
        folder = self.folder / crawl_id
        fields = ("markdown", "description", "lang") if ask.markdown else ("description", "lang")
        try:
            return self.desk.settings.replace(
                job_dir=str(folder / "job"), output=str(folder / "output.jsonl"), format="jsonl", frontier="",
                workers=1, max_pages=ask.limit, max_depth=ask.max_depth, include=ask.include, exclude=ask.exclude,
                scope=ask.scope, extract=fields, render=ask.render, header=self.desk.settings.header + ask.headers,
                max_bytes=self.desk.bounds.max_bytes, max_runtime=self.desk.bounds.max_runtime, progress=False,
                stats="", report="", stats_interval=86400.0, metrics_port=0, expect={}, notify=())
        except UsageError as e:
            raise CallError("bad_request", str(e)) from None

    def _launch(self, crawl_id: str, ask: CrawlAsk) -> None:
        engine = Engine(self._settings(crawl_id, ask), [ask.url], gate=self.desk.gate,
                        private_hosts=self.desk.trusted(), patterns=compile_pattern)
        self.engines[crawl_id] = engine
        task = asyncio.get_running_loop().create_task(self._run(crawl_id, engine))
        self._tasks[crawl_id] = task

    async def _run(self, crawl_id: str, engine: Engine) -> None:
        state, error = COMPLETED, None
        try:
            stats = await engine.run()
            if stats.stopped_by == "max_runtime":
                error = f"stopped after the service's most of {self.desk.bounds.max_runtime:g} s a crawl"
            elif stats.interrupted and crawl_id not in self._cancelled:
                return  # the service is stopping: the crawl goes on when it starts again
        except (FatalError, UsageError) as e:
            state, error = FAILED, with_full_disk(str(e), self.folder)
        except Exception as e:  # a crawl's failure is its own, never the service's
            if is_disk_full(e):
                log.error("crawl %s failed: %s", crawl_id, full_reason(self.folder))
                state, error = FAILED, f"{full_reason(self.folder)} ({e})"
            else:
                log.exception("crawl %s failed", crawl_id)
                state, error = FAILED, f"{type(e).__name__}: {e}"
        finally:
            self.engines.pop(crawl_id, None)
            self._tasks.pop(crawl_id, None)
        if crawl_id in self._cancelled:
            state = CANCELLED
            self._cancelled.discard(crawl_id)
        await self._end(crawl_id, state, error)
        log.info("crawl %s %s", crawl_id, state)

    async def cancel(self, crawl_id: str) -> bool:
        """Stop the crawl (what it wrote stays readable); False when it is not under way."""
        engine = self.engines.get(crawl_id)
        if engine is None:
            return False
        self._cancelled.add(crawl_id)
        engine.stop("cancelled")
        task = self._tasks.get(crawl_id)
        if task is not None:
            await asyncio.wait({task}, timeout=60)
        return True

    async def latest(self, limit: int = 20) -> list[dict[str, Any]]:
        """The latest crawls, newest first: ``id``, ``status``, ``url``, ``created_at``,
        ``ended_at``, ``error`` (the dashboard's and ``/api/runs``' list)."""
        rows = await self._sql("SELECT id, state, created_at, ended_at, ask, error FROM crawls "
                               "ORDER BY created_at DESC LIMIT ?", (limit,))
        found = []
        for crawl_id, state, created, ended, ask, error in rows:
            row = self.unwritten.overlay(crawl_id, {"state": state, "ended_at": ended, "error": error})
            try:
                url = json.loads(ask).get("url")
            except ValueError:
                url = None
            found.append({"id": crawl_id, "status": row["state"], "url": url, "created_at": created,
                          "ended_at": row["ended_at"], "error": row["error"]})
        return found

    async def row(self, crawl_id: str) -> tuple[str, str, str | None] | None:
        """(state, created_at, error) of the crawl, None when there is none."""
        try:
            uuid.UUID(crawl_id)
        except ValueError:
            return None
        rows = await self._sql("SELECT state, created_at, error FROM crawls WHERE id = ?", (crawl_id,))
        if not rows:
            return None
        row = self.unwritten.overlay(crawl_id, {"state": rows[0][0], "error": rows[0][2]})
        return row["state"], rows[0][1], row["error"]

    async def status(self, crawl_id: str, skip: int = 0, page_docs: int | None = None) -> dict[str, Any]:
        """The crawl in Firecrawl's status shape: ``status``, ``completed`` (pages with a
        record), ``total`` (those and the ones waiting), ``expiresAt``, and ``data``: the
        records from the ``skip``-th on, as documents, up to ``page_docs``; ``next_skip`` where
        the next page starts when there is more."""
        page_docs = page_docs or PAGE_DOCS
        found = await self.row(crawl_id)
        if found is None:
            raise CallError("not_found", f"no crawl {crawl_id!r}")
        state, created, error = found
        records = await asyncio.to_thread(_records, self.folder / crawl_id / "output.jsonl")
        completed = len(records)
        total = completed
        engine = self.engines.get(crawl_id)
        if engine is not None:  # under way: the pages written, in flight and waiting
            total = completed + len(engine.frontier) + engine.state.in_flight
        docs: list[dict[str, Any]] = []
        size, end = 0, skip
        for line in records[skip:skip + page_docs]:
            if docs and size + len(line) > PAGE_BYTES:
                break
            docs.append(record_document(json.loads(line)))
            size += len(line)
            end += 1
        expires = datetime.datetime.fromisoformat(created.replace("Z", "+00:00")) + datetime.timedelta(days=KEEP_DAYS)
        answer: dict[str, Any] = {"status": state, "completed": completed, "total": total,
                                  "creditsUsed": completed, "expiresAt": _iso(expires), "data": docs}
        if end < completed:
            answer["next_skip"] = end
        if error is not None:
            answer["error"] = error
        return answer

    async def close(self) -> None:
        """Stop the crawls under way, as Ctrl-C stops a crawl: each goes on at the next start."""
        for engine in self.engines.values():
            engine.stop("signal")
        if self._tasks:
            await asyncio.wait(set(self._tasks.values()), timeout=60)
        for task in list(self._tasks.values()):
            task.cancel()
        with self._lock:
            self.unwritten.flush(self._write)
            self._db.close()


def _records(path: Path) -> list[bytes]:
    """The whole lines of a crawl's records (the last may be being written)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    return data[:data.rfind(b"\n") + 1].splitlines()


def record_document(record: dict[str, Any]) -> dict[str, Any]:
    """A crawl's record as a Firecrawl document: ``markdown`` (when extracted), ``metadata``."""
    metadata: dict[str, Any] = {"title": record.get("title"), "description": record.get("description"),
                                "language": record.get("lang"), "sourceURL": record.get("url"),
                                "url": record.get("final_url") or record.get("url"),
                                "statusCode": record.get("status"), "contentType": record.get("content_type")}
    if record.get("error"):
        metadata["error"] = record["error"]
    doc: dict[str, Any] = {}
    if "markdown" in record:
        doc["markdown"] = record["markdown"] or ""
    doc["metadata"] = metadata
    return doc


__all__ = ["CANCELLED", "COMPLETED", "FAILED", "SCRAPING", "CrawlAsk", "Crawls", "record_document"]
