"""How the SQLite frontier's rows hold a URL once, compactly: the key's 64-bit fingerprint is
the seen set (a unique index of 8-byte integers, not of the text), the scheme and host are an
id in ``origins`` (a site's URLs repeat them), and a referrer is the id of its own row."""

from __future__ import annotations

import sqlite3

from crawler.frontier.seen import stable_fingerprint
from crawler.urls import origin_of

CACHED_ORIGINS = 100_000  # origin ids kept in memory (forgotten all at once past this)


def split_key(key: str) -> tuple[str | None, str]:
    """A key's origin (``scheme://host[:port]``) and the rest; (None, key) when it has none
    (a spider's POST, say, whose key starts with its method)."""
    if key.startswith(("http://", "https://")):
        origin = origin_of(key)
        if len(origin) < len(key):
            return origin, key[len(origin):]
    return None, key


def key_origin(key: str) -> str | None:
    """:func:`split_key`'s origin (an SQL function of the migration)."""
    return split_key(key)[0]


def key_rest(key: str) -> str:
    """:func:`split_key`'s rest (an SQL function of the migration)."""
    return split_key(key)[1]


class Keys:
    """The file's origins and key look-ups, on the database's thread."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self._origins: dict[str, int] = {}

    def split(self, key: str) -> tuple[int | None, str]:
        """``key`` as a row holds it: its origin's id (the origin added if new) and the rest."""
        origin, rest = split_key(key)
        if origin is None:
            return None, key
        known = self._origins.get(origin)
        if known is None:
            self.db.execute("INSERT OR IGNORE INTO origins (origin) VALUES (?)", (origin,))
            known = int(self.db.execute("SELECT id FROM origins WHERE origin = ?", (origin,)).fetchone()[0])
            if len(self._origins) >= CACHED_ORIGINS:
                self._origins.clear()
            self._origins[origin] = known
        return known, rest

    def row_of(self, key: str | None) -> int | str | None:
        """What a row keeps of a referrer: the id of ``key``'s row, or ``key`` when it has none."""
        if key is None:
            return None
        row = self.db.execute(f"SELECT u.id, {FULL_KEY} FROM urls u LEFT JOIN origins o ON o.id = u.origin "
                              "WHERE u.fp = ?", (stable_fingerprint(key),)).fetchone()
        return int(row[0]) if row is not None and row[1] == key else key

    def forget(self) -> None:
        """Drop the cached origin ids (a transaction that added some was rolled back)."""
        self._origins.clear()


FULL_KEY = "coalesce(o.origin, '') || u.url"  # a row's key, from ``urls u LEFT JOIN origins o``

__all__ = ["CACHED_ORIGINS", "FULL_KEY", "Keys", "key_origin", "key_rest", "split_key"]
