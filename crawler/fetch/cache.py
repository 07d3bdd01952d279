"""The HTTP cache for developing a spider (``--http-cache DIR``, Scrapy's HTTPCACHE): each
answer the crawl gets is kept in a file, and a request asked again is answered from it, so
re-running a spider after changing its code does not fetch the site again.

A file is named by the SHA-1 of the request (method, URL, body, whether redirects were
followed) under a two-letter folder: one JSON line (status, headers, final URL, when it was
stored), then the body. It is written to a temporary name and renamed, so a killed crawl
leaves no half file. What is kept: answers with a status, whole, the body kept by the crawl,
and not to be retried (5xx and 429 are fetched again next time). ``--http-cache-expiry``
makes older files count as absent (they are replaced when fetched again).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from pathlib import Path

from multidict import CIMultiDict, CIMultiDictProxy

from crawler.fetch.blocked import block_page
from crawler.result import FetchResult

#: Statuses never kept: the crawl retries them, so a later run should ask again.
NOT_KEPT = frozenset({429, 500, 502, 503, 504})


def cache_key(method: str, url: str, body: bytes | None, follow: bool) -> str:
    """The name of a request's file (hex SHA-1)."""
    digest = hashlib.sha1(f"{method} {url} {int(follow)}\n".encode())
    if body:
        digest.update(body)
    return digest.hexdigest()


class HttpCache:
    """Responses kept in a directory; which ones are there is read once at the start."""

    def __init__(self, directory: str, expiry: float = 0.0) -> None:
        self.root = Path(directory)
        self.expiry = expiry  # seconds; 0: for ever
        self._kept: dict[str, float] = {}  # key -> mtime
        self.hits = 0
        self.stored = 0

    def open(self) -> None:
        """Make the directory and read what it holds (blocking: call it in a thread)."""
        self.root.mkdir(parents=True, exist_ok=True)
        for folder in self.root.iterdir():
            if folder.is_dir() and len(folder.name) == 2:
                for entry in os.scandir(folder):
                    if not entry.name.endswith(".tmp"):
                        self._kept[entry.name] = entry.stat().st_mtime

    def has(self, key: str) -> bool:
        """Is there a fresh answer for ``key``?"""
        stored = self._kept.get(key)
        return stored is not None and (not self.expiry or time.time() - stored < self.expiry)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / key

    async def get(self, key: str) -> FetchResult | None:
        """The kept answer for ``key`` (None when there is none, or it is stale or unreadable)."""
        if not self.has(key):
            return None
        result = await asyncio.to_thread(self._read, key)
        if result is not None:
            self.hits += 1
        return result

    def _read(self, key: str) -> FetchResult | None:
        try:
            data = self._path(key).read_bytes()
            head, _, body = data.partition(b"\n")
            meta = json.loads(head)
        except (OSError, ValueError):
            self._kept.pop(key, None)
            return None
        return FetchResult(final_url=meta["url"], status=meta["status"],
                           headers=CIMultiDictProxy(CIMultiDict(meta["headers"])),
                           content_type=meta["content_type"], charset=meta["charset"], body=body, size=len(body),
                           redirects=meta["redirects"], location=meta["location"], cached=True)

    @staticmethod
    def keeps(result: FetchResult) -> bool:
        """Is ``result`` one to keep? (Not a block or challenge page: the next run asks the site.)"""
        return (result.status is not None and result.error in (None, "http") and not result.cut
                and result.status not in NOT_KEPT and len(result.body) == result.size and not result.cached
                and block_page(result.status, result.headers, result.body) is None)

    async def put(self, key: str, result: FetchResult) -> None:
        """Keep ``result`` as the answer for ``key`` (when it is one to keep)."""
        if self.keeps(result):
            await asyncio.to_thread(self._write, key, result)
            self.stored += 1

    def _write(self, key: str, result: FetchResult) -> None:
        meta = {"url": result.final_url, "status": result.status,
                "headers": list((result.headers or {}).items()), "content_type": result.content_type,
                "charset": result.charset, "redirects": result.redirects, "location": result.location,
                "stored": time.time()}
        path = self._path(key)
        path.parent.mkdir(exist_ok=True)
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_bytes(json.dumps(meta).encode() + b"\n" + result.body)
        os.replace(temporary, path)
        self._kept[key] = time.time()


__all__ = ["NOT_KEPT", "HttpCache", "cache_key"]
