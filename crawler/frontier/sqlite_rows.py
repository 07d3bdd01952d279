"""How the SQLite frontier takes new URLs in (a part of :class:`crawler.frontier.sqlite.SQLiteFrontier`,
run on its database thread): dedupe answered by a read, rows written in big transactions.

Fingerprints are random, so each transaction of new URLs rewrites every page of the seen set's
index that its URLs touch: the fewer and bigger the transactions, the faster URLs go in. A
plain add (queued, no limit) is answered by reading the index: its URLs already in the file or
staged are seen, the others are new and **staged**. The staged rows are written in one
transaction once :data:`STAGED_MAX` of them wait, and before anything that reads or changes
rows: a commit writes them first, in its own transaction (a page is never done before the
links it found are in the file), as do loading the window, a claim, the counts, settling and
closing. So a ``kill -9`` loses staged URLs only together with the commits of the pages that
found them: those pages are fetched again on resume and find them again.
"""

from __future__ import annotations

import sqlite3

from crawler.frontier.codec import spider_request_json
from crawler.frontier.sqlite_keys import Keys
from crawler.frontier.sqlite_schema import PENDING, RECORD_ONLY
from crawler.work import PAGE, CrawlRequest

STAGED_MAX = 50_000  # new URLs waiting for their transaction at most
_INSERT = "INSERT OR IGNORE INTO urls (fp, origin, url, depth, referrer, kind, lastmod, state, spider_request)"


class Rows:
    """New URLs into the file (a mixin of the SQLite frontier, which opens it)."""

    _db: sqlite3.Connection | None
    _keys: Keys | None

    def _init_rows(self) -> None:
        self._staged: list[CrawlRequest] = []
        self._staged_fps: dict[int, None] = {}  # in the order staged: the rows' fingerprints

    def _add_batch(self, batch: list[tuple[list[CrawlRequest], bool, int | None, list[int]]]
                   ) -> list[list[CrawlRequest]]:
        """The adds of one group (requests, queue, limit, their fingerprints): the plain ones
        staged, the others (and the staged rows, when there are others or enough of them)
        written in one transaction; each add's new URLs."""
        results: list[list[CrawlRequest] | None] = [
            self._stage(requests, fps) if queue and limit is None else None for requests, queue, limit, fps in batch]
        if all(r is not None for r in results) and len(self._staged) < STAGED_MAX:
            return [r for r in results if r is not None]
        with self._transaction():
            self._write_staged()
            for i, (requests, queue, limit, fps) in enumerate(batch):
                if results[i] is None:
                    results[i] = self._add(requests, queue, limit, fps)
        return [r if r is not None else [] for r in results]

    def _stage(self, requests: list[CrawlRequest], fps: list[int]) -> list[CrawlRequest]:
        """The requests (whose fingerprints are ``fps``) new to the file and to the staged ones
        (each once), staged."""
        assert self._db is not None
        known = self._known(fps)
        staged, accepted = self._staged_fps, []
        for r, fp in zip(requests, fps, strict=True):
            if fp not in known and fp not in staged:
                staged[fp] = None
                accepted.append(r)
        self._staged.extend(accepted)
        return accepted

    def _known(self, fps: list[int]) -> set[int]:
        """Those of ``fps`` in the file (one read of the index a 500)."""
        assert self._db is not None
        known: set[int] = set()
        for i in range(0, len(fps), 500):
            chunk = fps[i:i + 500]
            marks = ",".join("?" * len(chunk))
            known.update(row[0] for row in self._db.execute(f"SELECT fp FROM urls WHERE fp IN ({marks})", chunk))
        return known

    def _write_staged(self) -> None:
        """Write the staged rows (inside the caller's transaction; each is new, nothing to ask back)."""
        if self._staged:
            assert self._db is not None
            rows = self._rows(self._staged, PENDING, list(self._staged_fps))
            self._staged, self._staged_fps = [], {}
            for i in range(0, len(rows), 100):
                chunk = rows[i:i + 100]
                marks = ",".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(chunk))
                self._db.execute(f"{_INSERT} VALUES {marks}", [v for row in chunk for v in row])

    def _flush_staged(self) -> None:
        """Write the staged rows, in a transaction of their own."""
        if self._staged:
            with self._transaction():
                self._write_staged()

    def _transaction(self) -> _Transaction:
        assert self._db is not None
        return _Transaction(self._db, self._keys)

    def _rows(self, requests: list[CrawlRequest], state: int, fps: list[int]) -> list[tuple[object, ...]]:
        """The rows of ``requests`` (whose fingerprints are ``fps``), as :data:`_INSERT` takes them."""
        keys = self._keys
        assert keys is not None
        referrers = {url: keys.row_of(url) for url in {r.referrer for r in requests}}  # a page's links share one
        return [(fp, *keys.split(r.key), r.depth, referrers[r.referrer], None if r.kind == PAGE else r.kind,
                 r.lastmod, state, spider_request_json(r)) for r, fp in zip(requests, fps, strict=True)]

    def _add(self, requests: list[CrawlRequest], queue: bool, limit: int | None, fps: list[int]) -> list[CrawlRequest]:
        """Insert the new ones (whose fingerprints are ``fps``; inside the caller's transaction);
        those that were new."""
        assert self._db is not None
        db = self._db
        rows = self._rows(requests, PENDING if queue else RECORD_ONLY, fps)
        accepted: list[CrawlRequest] = []
        if limit is None:
            # One statement per hundred: INSERT OR IGNORE ... RETURNING names the new ones.
            new: set[int] = set()
            for i in range(0, len(rows), 100):
                chunk = rows[i:i + 100]
                marks = ",".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(chunk))
                new.update(row[0] for row in db.execute(
                    f"{_INSERT} VALUES {marks} RETURNING fp", [v for row in chunk for v in row]))
            for r, row in zip(requests, rows, strict=True):  # each new URL once, even if it was listed twice
                if row[0] in new:
                    new.discard(row[0])
                    accepted.append(r)
            return accepted
        for r, row in zip(requests, rows, strict=True):
            if len(accepted) >= limit:
                break
            if db.execute(f"{_INSERT} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row).rowcount == 1:
                accepted.append(r)
        return accepted


class _Transaction:
    """BEGIN ... COMMIT, or ROLLBACK (and the cached origin ids forgotten) on any exception."""

    def __init__(self, db: sqlite3.Connection, keys: Keys | None) -> None:
        self.db, self.keys = db, keys

    def __enter__(self) -> None:
        self.db.execute("BEGIN")

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        if kind is None:
            self.db.execute("COMMIT")
            return
        if self.keys is not None:
            self.keys.forget()  # origins it added are gone with it
        if self.db.in_transaction:  # SQLite rolls back itself on some errors (a full disk)
            self.db.execute("ROLLBACK")


__all__ = ["STAGED_MAX", "Rows"]
