"""The SQLite store's compact layout: each URL stored once (a fingerprint index, not a second copy
of the text), and job dirs of the first layout rewritten when opened, losing nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from crawler.frontier import SQLiteFrontier
from crawler.work import CrawlRequest

# The first layout, as job dirs made before it was compacted hold it.
FIRST_LAYOUT = """
CREATE TABLE urls (
    id INTEGER PRIMARY KEY, url TEXT NOT NULL UNIQUE, host TEXT NOT NULL, depth INTEGER NOT NULL, referrer TEXT,
    kind TEXT NOT NULL, lastmod TEXT, state INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,
    done_at REAL, etag TEXT, last_modified TEXT, content_hash TEXT, spider_request TEXT, fetched_at TEXT,
    kept_hash TEXT, kept_text BLOB, interval REAL
);
CREATE INDEX urls_pending ON urls (state, id);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
SEED = "http://site.test/"


def first_layout_job(path: Path) -> None:
    """A job of the first layout: the seed done (with validators and kept text), 200 of its links
    pending, one redirect target claimed by the seed, one URL seen only for its record."""
    db = sqlite3.connect(path)
    db.executescript(FIRST_LAYOUT)
    row = ("INSERT INTO urls (url, host, depth, referrer, kind, state, done_at, etag, kept_text) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
    db.execute(row, (SEED, "site.test", 0, None, "page", 2, 1.0, '"v1"', b"kept"))
    db.executemany(row, [(f"{SEED}p/{i}", "site.test", 1, SEED, "page", 0, None, None, None) for i in range(200)])
    db.execute(row, ("http://other.test/moved", "other.test", 1, SEED, "redirect", 2, 1.0, None, None))
    db.execute("INSERT INTO meta VALUES ('offset', '4242')")
    db.commit()
    db.close()


async def test_a_job_dir_of_the_first_layout_is_rewritten_and_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "frontier.db"
    first_layout_job(path)
    frontier = SQLiteFrontier(path, per_host=100)
    assert await frontier.open() == 200  # the pending ones, still pending
    assert await frontier.counts() == (201, 1)  # the redirect target is not counted, as before
    assert await frontier.meta("offset") == "4242"
    assert await frontier.kept_text(SEED) == b"kept"
    assert await frontier.add([CrawlRequest(f"{SEED}p/7", 1, SEED), CrawlRequest(SEED)]) == []  # seen
    assert await frontier.claim("http://other.test/moved", SEED)  # still the seed's
    assert not await frontier.claim("http://other.test/moved", f"{SEED}p/1")
    handed = []
    while len(frontier):
        request = await frontier.get()
        assert request is not None
        handed.append((request.url, request.referrer, request.depth, request.kind))
        await frontier.release(request)
    assert handed == [(f"{SEED}p/{i}", SEED, 1, "page") for i in range(200)]  # in the order accepted
    await frontier.aclose()
    db = sqlite3.connect(path)
    columns = {row[1] for row in db.execute("PRAGMA table_info(urls)")}
    assert "fp" in columns and "host" not in columns
    names = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE name LIKE 'urls%'")]
    assert names == ["urls", "urls_fp"]  # the first layout's table and indexes are gone
    db.close()


async def test_a_url_is_stored_once(tmp_path: Path) -> None:
    """Two thousand URLs of one site, each a page's link: the file holds each URL's text once (its
    path; the site's origin once in all), and the referrer as a row id, not its URL again."""
    path = tmp_path / "frontier.db"
    frontier = SQLiteFrontier(path, per_host=100)
    await frontier.open()
    await frontier.add([CrawlRequest(SEED)])
    paths = [f"/a-rather-long-path/to/page-number-{i:06d}" for i in range(2000)]
    assert len(await frontier.add([CrawlRequest(SEED.rstrip("/") + p, 1, SEED) for p in paths])) == 2000
    await frontier.aclose()
    data = path.read_bytes()
    assert data.count(b"page-number-001234") == 1
    assert data.count(b"http://site.test") == 2  # in origins and its index; the rows hold its id
    again = SQLiteFrontier(path, per_host=100)
    await again.open()
    request = await again.get()
    assert request is not None and request.url == SEED and request.referrer is None
    request = await again.get()
    assert request is not None and request.url == SEED.rstrip("/") + paths[0] and request.referrer == SEED
    await again.aclose()


def rows_in(path: Path) -> set[str]:
    """The URLs in the file, as another process reads it."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {row[0] for row in db.execute(
            "SELECT coalesce(o.origin, '') || u.url FROM urls u LEFT JOIN origins o ON o.id = u.origin")}
    finally:
        db.close()


async def test_a_page_is_done_only_once_the_links_it_found_are_in_the_file(tmp_path: Path) -> None:
    """New URLs wait to be written in a bigger transaction, but never past the commit of the page
    that found them: a process killed before that commit loses the links with the page's done
    mark, and the page is fetched again."""
    path = tmp_path / "frontier.db"
    frontier = SQLiteFrontier(path, per_host=100, window=1)
    await frontier.open()
    await frontier.add([CrawlRequest(SEED)])  # in the window, which is full (one URL)
    links = [CrawlRequest(f"{SEED}p/{i}", 1, SEED) for i in range(300)]
    assert len(await frontier.add(links)) == 300
    assert not {f"{SEED}p/{i}" for i in range(300)} & rows_in(path)  # staged: not in the file yet
    assert await frontier.add([CrawlRequest(f"{SEED}p/8", 2)]) == []  # but seen
    await frontier.commit([SEED])
    assert {f"{SEED}p/{i}" for i in range(300)} <= rows_in(path)  # written with the page's commit
    assert await frontier.counts() == (301, 1)
    more = [CrawlRequest(f"{SEED}q/{i}", 1, SEED) for i in range(10)]
    assert len(await frontier.add(more)) == 10
    assert await frontier.add([CrawlRequest(f"{SEED}q/3", 2)], limit=5) == []  # seen, whichever way it goes in
    assert await frontier.counts() == (311, 1)
    await frontier.aclose()
