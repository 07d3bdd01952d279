"""What a job's SQLite file keeps besides its queue, read and written by the SQLite frontier (a
part of :class:`crawler.frontier.sqlite.SQLiteFrontier`): the job's meta values, robots.txt
answers, and what change tracking keeps of each page (the text for the next diff, the
freshness of the job's pages)."""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Callable
from typing import Any, TypeVar

from crawler.frontier.seen import stable_fingerprint
from crawler.frontier.sqlite_schema import DONE, REDIRECT

T = TypeVar("T")
FRESHNESS_SAMPLE = 10_000  # pages sampled for the freshness estimate


class JobRecords:
    """The job's records in the file (a mixin of the SQLite frontier, which opens the file and
    runs every call on its thread)."""

    _db: sqlite3.Connection | None
    first_interval: float | None

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        raise NotImplementedError  # the frontier's: on the file's thread

    def _commit(self, urls: list[str], meta: dict[str, str]) -> None:
        raise NotImplementedError  # the frontier's: one transaction

    async def freshness(self) -> float | None:
        """``--recrawl-after auto``: the share of the job's pages estimated unchanged since their
        last fetch (a sample of them: each page changing at random, once an interval on average,
        is unchanged after a time t with the chance exp(-t / interval)); None when it has none."""
        return await self._call(self._freshness)

    def _freshness(self) -> float | None:
        assert self._db is not None
        rows = self._db.execute(
            "SELECT done_at, coalesce(interval, ?) FROM urls WHERE state = ? AND kind IS NOT ? "
            "ORDER BY random() LIMIT ?",
            (self.first_interval or 1.0, DONE, REDIRECT, FRESHNESS_SAMPLE)).fetchall()
        now = time.time()
        chances = [math.exp(-max(0.0, now - done) / interval) for done, interval in rows if done and interval]
        return sum(chances) / len(chances) if chances else None

    async def near_duplicate(self, url: str, text_hash: str, bits: int) -> str | None:
        """The URL of the earliest other page of the job whose text hash (a 64-bit SimHash, 16
        hex digits) is at most ``bits`` bits from ``text_hash``, if any; ``url``'s hash is kept
        for the pages after it. Found by bands: ``bits + 1`` slices of the hash, one of which a
        near hash shares whole, each looked up in an index (no scan)."""
        return await self._call(self._near_duplicate, url, text_hash, bits)

    def _near_duplicate(self, url: str, text_hash: str, bits: int) -> str | None:
        assert self._db is not None
        value = int(text_hash, 16)
        slices = _bands(value, bits + 1)
        own = self._db.execute("SELECT min(rowid), hash FROM simhash WHERE url = ?", (url,)).fetchone()
        kept = own[0] is not None and own[1] == text_hash  # the same text as last time: its place stays
        before = own[0] if kept else None  # only pages kept before it count as earlier
        found: tuple[int, str] | None = None
        for band, part in enumerate(slices):
            rows = self._db.execute("SELECT rowid, hash, url FROM simhash WHERE band = ? AND value = ? AND url != ?",
                                    (band, part, url))
            for rowid, other, url_of in rows:
                if (before is None or rowid < before) and (found is None or rowid < found[0]) \
                        and (int(other, 16) ^ value).bit_count() <= bits:
                    found = (rowid, url_of)
        if not kept:
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM simhash WHERE url = ?", (url,))
            self._db.executemany("INSERT INTO simhash (band, value, hash, url) VALUES (?, ?, ?, ?)",
                                 [(band, part, text_hash, url) for band, part in enumerate(slices)])
            self._db.execute("COMMIT")
        return found[1] if found is not None else None

    async def kept_text(self, key: str) -> bytes | None:
        """The text the last record of ``key`` kept for a diff (zlib-compressed), if any."""
        return await self._call(self._kept_text, key)

    def _kept_text(self, key: str) -> bytes | None:
        assert self._db is not None
        row = self._db.execute("SELECT kept_text FROM urls WHERE fp = ?", (stable_fingerprint(key),)).fetchone()
        return row[0] if row is not None else None

    async def robots_get(self, origin: str) -> tuple[str, str, float, str] | None:
        """The robots.txt answer kept for ``origin`` (see :class:`crawler.fetch.robots.RobotsStore`)."""
        return await self._call(self._robots_get, origin)

    def _robots_get(self, origin: str) -> tuple[str, str, float, str] | None:
        assert self._db is not None
        row = self._db.execute("SELECT mode, body, expires, reason FROM robots WHERE origin = ?", (origin,)).fetchone()
        return None if row is None else (row[0], row[1], float(row[2]), row[3])

    async def robots_put(self, origin: str, mode: str, text: str, expires: float, reason: str) -> None:
        """Keep the robots.txt answer of ``origin`` for later runs."""
        await self._call(self._robots_put, origin, mode, text, expires, reason)

    def _robots_put(self, origin: str, mode: str, text: str, expires: float, reason: str) -> None:
        assert self._db is not None
        self._db.execute("INSERT OR REPLACE INTO robots (origin, mode, body, expires, reason) VALUES (?, ?, ?, ?, ?)",
                         (origin, mode, text, expires, reason))

    async def meta(self, key: str) -> str | None:
        """A value stored by :meth:`commit` or :meth:`set_meta`."""
        return await self._call(self._meta, key)

    def _meta(self, key: str) -> str | None:
        assert self._db is not None
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])



def _bands(value: int, count: int) -> list[int]:
    """The 64-bit ``value`` cut into ``count`` slices (as even as they come)."""
    edges = [round(64 * i / count) for i in range(count + 1)]
    return [(value >> edges[i]) & ((1 << (edges[i + 1] - edges[i])) - 1) for i in range(count)]


__all__ = ["FRESHNESS_SAMPLE", "JobRecords"]
