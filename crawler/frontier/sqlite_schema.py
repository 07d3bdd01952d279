"""The SQLite frontier's file: its tables, the states of a URL's row, and rows made requests
again (:mod:`crawler.frontier.sqlite` runs the file)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from crawler.frontier.codec import spider_request_from
from crawler.frontier.seen import stable_fingerprint
from crawler.frontier.sqlite_keys import FULL_KEY, key_origin, key_rest
from crawler.work import PAGE, CrawlRequest

PENDING, IN_FLIGHT, DONE, RECORD_ONLY = 0, 1, 2, 3
REDIRECT = "redirect"  # the kind of a row that is a redirect target, fetched as its owner's (referrer)
# A URL's row holds it once (:mod:`.sqlite_keys`): ``fp`` is its key's 64-bit fingerprint, whose
# unique index is the seen set; ``origin`` the id of the key's scheme and host in ``origins`` and
# ``url`` the rest of the key; ``referrer`` the referrer's row id (its URL only when it has no
# row); ``kind`` NULL for a page.
URLS = """
CREATE TABLE IF NOT EXISTS origins (id INTEGER PRIMARY KEY, origin TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS urls (
    id INTEGER PRIMARY KEY,
    fp INTEGER NOT NULL,
    origin INTEGER,
    url TEXT NOT NULL,
    depth INTEGER NOT NULL,
    referrer,
    kind TEXT,
    lastmod TEXT,
    state INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    done_at REAL,
    etag TEXT,
    last_modified TEXT,
    content_hash TEXT,
    spider_request TEXT,
    fetched_at TEXT,
    kept_hash TEXT,
    kept_text BLOB,
    interval REAL
);
CREATE UNIQUE INDEX IF NOT EXISTS urls_fp ON urls (fp)
"""
SCHEMA = URLS + """;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS simhash (
    band INTEGER NOT NULL, value INTEGER NOT NULL, hash TEXT NOT NULL, url TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS simhash_band ON simhash (band, value);
CREATE INDEX IF NOT EXISTS simhash_url ON simhash (url);
CREATE TABLE IF NOT EXISTS robots (
    origin TEXT PRIMARY KEY, mode TEXT NOT NULL, body TEXT NOT NULL, expires REAL NOT NULL, reason TEXT NOT NULL
);
"""
# Columns added since the first job dirs: a job made before them gets them when it is opened.
ADDED_COLUMNS = (("fetched_at", "TEXT"), ("kept_hash", "TEXT"), ("kept_text", "BLOB"), ("interval", "REAL"))
DONE_COUNT = "SELECT count(*), count(*) FILTER (WHERE state = ?) FROM urls WHERE kind IS NOT ?"  # known, done
_COPIED = ("id", "depth", "lastmod", "state", "attempts", "done_at", "etag", "last_modified", "content_hash",
           "spider_request", "fetched_at", "kept_hash", "kept_text", "interval")
# A row as a pending request: its key and its referrer's whole.
PENDING_ROWS = (
    f"SELECT u.id, {FULL_KEY}, u.depth, CASE WHEN typeof(u.referrer) = 'integer' "
    "THEN coalesce(ro.origin, '') || r.url ELSE u.referrer END, "
    "u.kind, u.lastmod, u.etag, u.last_modified, u.content_hash, u.spider_request, u.fetched_at, u.kept_hash, "
    "u.interval FROM urls u LEFT JOIN origins o ON o.id = u.origin "
    "LEFT JOIN urls r ON r.id = u.referrer LEFT JOIN origins ro ON ro.id = r.origin "
    "WHERE u.state = ? AND u.id > ? ORDER BY u.id LIMIT ?")


def migrate(db: sqlite3.Connection) -> bool:
    """Rewrite a job dir's ``urls`` table of the first layout (each URL in the table and again in
    its unique index, the referrer's URL in full, the host in a column) in the compact one; True
    if it did. Rows keep their ids, so the queue's order stays."""
    have = {row[1] for row in db.execute("PRAGMA table_info(urls)")}
    if not have or "fp" in have:
        return False
    for column, kind in ADDED_COLUMNS:
        if column not in have:
            db.execute(f"ALTER TABLE urls ADD COLUMN {column} {kind}")
    db.create_function("fingerprint", 1, stable_fingerprint, deterministic=True)
    db.create_function("key_origin", 1, key_origin, deterministic=True)
    db.create_function("key_rest", 1, key_rest, deterministic=True)
    db.execute("BEGIN")
    try:
        db.execute("ALTER TABLE urls RENAME TO urls_first")
        db.execute("DROP INDEX IF EXISTS urls_pending")
        for statement in URLS.split(";"):  # executescript would commit
            db.execute(statement)
        db.execute("INSERT OR IGNORE INTO origins (origin) SELECT DISTINCT key_origin(url) FROM urls_first "
                   "WHERE key_origin(url) IS NOT NULL")
        # INSERT OR IGNORE: of two keys with one fingerprint (see seen.py for the chance) the first stays.
        copied = ", ".join(_COPIED)
        db.execute(f"INSERT OR IGNORE INTO urls (fp, origin, url, referrer, kind, {copied}) "
                   "SELECT fingerprint(f.url), (SELECT id FROM origins WHERE origin = key_origin(f.url)), "
                   "key_rest(f.url), coalesce(r.id, f.referrer), nullif(f.kind, 'page'), "
                   f"{', '.join('f.' + c for c in _COPIED)} "
                   "FROM urls_first f LEFT JOIN urls_first r ON r.url = f.referrer ORDER BY f.id")
        db.execute("DROP TABLE urls_first")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    db.execute("VACUUM")  # give the first layout's pages back to the disk
    return True


def done_in(path: Path) -> int:
    """URLs done in the job whose frontier file is ``path``, read without opening it for writing
    (0 when there is none yet)."""
    if not path.exists():
        return 0
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(db.execute(DONE_COUNT, (DONE, REDIRECT)).fetchone()[1])
    except sqlite3.Error:
        return 0
    finally:
        db.close()


def request_of(row: tuple[Any, ...]) -> CrawlRequest:
    """The request a pending row holds (its ``url`` column is the request's key: the URL, or
    for a request that is no plain GET, its method, URL and body digest)."""
    (_, key, depth, referrer, kind, lastmod, etag, last_modified, content_hash, spider_request, fetched_at, kept,
     interval) = row
    fields = json.loads(spider_request) if spider_request else None
    url = fields.get("url", key) if fields else key
    request = CrawlRequest(url, depth, referrer, kind or PAGE, lastmod)
    if etag or last_modified or content_hash:
        request.validators = (etag, last_modified, content_hash)
    if fetched_at:
        request.previous = (fetched_at, kept, interval)
    if fields is not None:
        request.request = spider_request_from(url, fields)
    return request
