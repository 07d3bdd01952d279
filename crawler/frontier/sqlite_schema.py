"""The SQLite frontier's file: its tables, the states of a URL's row, and rows made requests
again (:mod:`crawler.frontier.sqlite` runs the file)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from crawler.frontier.codec import spider_request_from
from crawler.work import CrawlRequest

PENDING, IN_FLIGHT, DONE, RECORD_ONLY = 0, 1, 2, 3
REDIRECT = "redirect"  # the kind of a row that is a redirect target, fetched as its owner's (referrer)
SCHEMA = """
CREATE TABLE IF NOT EXISTS urls (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL UNIQUE,
    host TEXT NOT NULL,
    depth INTEGER NOT NULL,
    referrer TEXT,
    kind TEXT NOT NULL,
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
CREATE INDEX IF NOT EXISTS urls_pending ON urls (state, id);
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
DONE_COUNT = "SELECT count(*), count(*) FILTER (WHERE state = ?) FROM urls WHERE kind != ?"  # known, done


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
    request = CrawlRequest(url, depth, referrer, kind, lastmod)
    if etag or last_modified or content_hash:
        request.validators = (etag, last_modified, content_hash)
    if fetched_at:
        request.previous = (fetched_at, kept, interval)
    if fields is not None:
        request.request = spider_request_from(url, fields)
    return request
