"""Change tracking in a durable job: what each record says of its page against the job's last
record of it (``change``, ``previous_fetched_at``, and for a changed page a ``diff``), and what
the job keeps for the next run (committed with the record, so exactly once like the rest).

A page is judged on what the user keeps of it: the extracted Markdown or main text when
``--extract`` gives them (a new ad or timestamp in the page's chrome is no change), else its
body. The diff is of that text, so there is one when ``--extract`` gives ``markdown`` or
``text``; without them a changed page says so with ``diff`` null.
"""

from __future__ import annotations

import asyncio
import difflib
import hashlib
import json
import zlib
from concurrent.futures import Executor
from typing import Any

from crawler.frontier.base import JobStore
from crawler.result import FetchResult
from crawler.timestamps import utc_now_iso
from crawler.work import CrawlRequest, Tracked

NEW, SAME, CHANGED, REMOVED = "new", "same", "changed", "removed"
GONE_STATUSES = frozenset({404, 410})
GONE = "gone"  # what a page that answered 404 or 410 is kept as
TEXT_FIELDS = ("markdown", "text")  # the extracted fields a diff is made of, the first there
MAX_KEPT_TEXT = 1 << 20  # the most text kept a page for the next diff (1 MiB, before compression)
# --recrawl-after auto, Nutch's adaptive fetch schedule: a page found changed comes back after
# its interval times (1 - DEC_RATE), one found the same after its interval times (1 + INC_RATE).
INC_RATE, DEC_RATE = 0.4, 0.2
NEAR_BITS = 3  # pages whose SimHashes (text_hash) are at most this many bits apart are near duplicates


def change_of(previous: tuple[str, str | None, float | None] | None, status: int | None,
              digest: str | None) -> str | None:
    """The ``change`` of a page answered ``status`` whose kept content hashes to ``digest``
    (:data:`GONE` when it is gone), given the job's ``previous`` (fetched_at, hash); None when
    this fetch cannot tell (it failed otherwise)."""
    if previous is None:
        return NEW
    if status in GONE_STATUSES:
        return SAME if previous[1] == GONE else REMOVED
    if status == 304:
        return SAME
    if digest is None:
        return None
    return SAME if digest == previous[1] else CHANGED


def next_interval(previous: float | None, change: str, low: float, high: float) -> float:
    """``--recrawl-after auto``: a page's next interval (seconds) after this fetch found
    ``change``, from its ``previous`` one, within ``low`` and ``high`` (a new page: ``low``)."""
    if previous is None or change == NEW:
        return low
    factor = 1 - DEC_RATE if change in (CHANGED, REMOVED) else 1 + INC_RATE
    return min(high, max(low, previous * factor))


def unified_diff(old: str, new: str, limit: int) -> str:
    """``old`` against ``new`` as a unified diff (``git diff``'s shape), cut at ``limit``
    characters with a last line saying so."""
    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), "previous", "current", lineterm="", n=2)
    out: list[str] = []
    size = 0
    for line in lines:
        size += len(line) + 1
        if size > limit:
            out.append("... (diff cut at max_diff_bytes)")
            break
        out.append(line)
    return "\n".join(out)


class Tracker:
    """Marks the built-in recorder's records of a durable job with their change, and keeps what
    the next run compares against until the records are committed."""

    def __init__(self, job: JobStore, threads: Executor, max_diff: int,
                 schedule: tuple[float, float] | None = None) -> None:
        """``schedule``: with ``--recrawl-after auto``, the least and the most interval between
        two fetches of a page (each page's own is learned from its changes)."""
        self.job = job
        self.schedule = schedule
        self.threads = threads  # diffs are made here, off the event loop
        self.max_diff = max_diff
        self._pending: dict[str, Tracked] = {}

    async def mark(self, request: CrawlRequest, result: FetchResult | None, record: dict[str, Any],
                   extracted: dict[str, Any] | None) -> str | None:
        """Add ``change``, ``previous_fetched_at`` and ``diff`` to ``record`` (the page's, for
        ``request`` fetched as ``result``), and keep what the next run needs; the change."""
        previous = request.previous
        record["change"] = None
        record["previous_fetched_at"] = previous[0] if previous is not None else None
        record["diff"] = None
        if result is None or record.get("redirect_to") is not None or result.status is None:
            return None  # not fetched, or ended at a redirect: nothing to compare
        text = _kept_text(extracted)
        if "text_hash" in record:  # near duplicates of earlier pages of the job (--extract text_hash)
            text_hash = record["text_hash"]
            record["near_duplicate_of"] = (await self.job.near_duplicate(request.url, text_hash, NEAR_BITS)
                                           if text_hash and result.status == 200 else None)
        if result.status in GONE_STATUSES:
            digest: str | None = GONE
        elif result.status == 304:
            digest = previous[1] if previous is not None else None
        elif result.error is not None:
            digest = None
        else:
            digest = hashlib.sha1(text.encode()).hexdigest() if text is not None else result.sha1()
        change = change_of(previous, result.status, digest)
        record["change"] = change
        if change is None:
            return None
        if change == CHANGED and text is not None:
            old = await self.job.kept_text(request.key)
            if old is not None:
                record["diff"] = await asyncio.get_running_loop().run_in_executor(
                    self.threads, _diff, old, text, self.max_diff)
        self._keep(request, change, record["fetched_at"], digest, text[:MAX_KEPT_TEXT] if text is not None else None)
        return change

    async def mark_items(self, request: CrawlRequest, result: FetchResult | None,
                         items: list[dict[str, Any]]) -> str | None:
        """A spider's ``items`` of one page, judged together against the job's last items of
        that page: each gets ``change`` and ``previous_fetched_at``, and for a changed page a
        ``diff`` of its fields, ``{field: {"previous": ..., "current": ...}}`` (items matched
        by their order on the page); the change."""
        previous = request.previous
        text = json.dumps(items, sort_keys=True, default=str, ensure_ascii=False)
        status = result.status if result is not None else None
        digest = GONE if status in GONE_STATUSES else hashlib.sha1(text.encode()).hexdigest()
        change = change_of(previous, status, digest) if status is not None else None  # not fetched: can't tell
        old: list[Any] = []
        if change == CHANGED:
            kept = await self.job.kept_text(request.key)
            old = json.loads(zlib.decompress(kept)) if kept is not None else []
        for i, item in enumerate(items):
            before = old[i] if i < len(old) and isinstance(old[i], dict) else None
            item["change"] = change
            item["previous_fetched_at"] = previous[0] if previous is not None else None
            item["diff"] = _field_diff(before, item) if change == CHANGED and before is not None else None
        if change is None:
            return None
        self._keep(request, change, utc_now_iso(), digest, text)
        return change

    def _keep(self, request: CrawlRequest, change: str, fetched_at: str, digest: str | None, text: str | None) -> None:
        """What the job keeps of this visit for the next: ``text`` (compressed, for the next diff;
        not again when the same) and, with ``--recrawl-after auto``, the page's next interval."""
        previous = request.previous
        kept = zlib.compress(text.encode(), 6) if text is not None and change != SAME else None
        interval = None
        if self.schedule is not None:
            interval = next_interval(previous[2] if previous is not None else None, change, *self.schedule)
        self._pending[request.key] = (fetched_at, digest, kept, interval)

    def take(self, keys: list[str]) -> dict[str, Tracked]:
        """What to keep of the pages known by ``keys`` (those marked), forgotten here."""
        pending = self._pending
        return {key: pending.pop(key) for key in keys if key in pending}


def _field_diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any] | None:
    """The fields of an item that differ from its last version: ``{field: {"previous", "current"}}``."""
    skip = ("change", "previous_fetched_at", "diff")
    diff = {field: {"previous": before.get(field), "current": after.get(field)}
            for field in dict.fromkeys([*before, *after]) if field not in skip
            and json.dumps(before.get(field), sort_keys=True, default=str)
            != json.dumps(after.get(field), sort_keys=True, default=str)}
    return diff or None


def _kept_text(extracted: dict[str, Any] | None) -> str | None:
    """The extracted text a page is judged on and diffed by: its Markdown, else its main text."""
    if extracted:
        for field in TEXT_FIELDS:
            value = extracted.get(field)
            if isinstance(value, str):
                return value
    return None


def _diff(old: bytes, new: str, limit: int) -> str:
    return unified_diff(zlib.decompress(old).decode(errors="replace"), new, limit)


__all__ = ["CHANGED", "NEW", "REMOVED", "SAME", "Tracker", "change_of", "next_interval", "unified_diff"]
