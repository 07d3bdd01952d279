"""The in-memory frontier (the default): a seen set of URL fingerprints
(:class:`crawler.frontier.seen.SeenSet`, about 14 bytes a URL) over the per-host scheduler.
Past ``window`` pending URLs, the crawl's own ones wait on disk (:class:`crawler.frontier.spill.Spill`,
a temporary folder the crawl deletes) and come back in order as the window drains; a spider's
requests stay in memory (their callbacks and meta may be anything). Nothing is kept when the
process ends; ``--job-dir`` is for that."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from crawler.frontier.base import JobStore
from crawler.frontier.scheduler import HostScheduler
from crawler.frontier.seen import SeenSet
from crawler.frontier.spill import FLUSH_LINES, Spill, remove_leftovers
from crawler.work import CrawlRequest, Tracked


class MemoryFrontier(HostScheduler):
    """A frontier held in this process's memory. See :class:`crawler.frontier.base.Frontier`."""

    job: JobStore | None = None  # nothing kept on disk
    shared = False

    def __init__(self, per_host: int, delay: float = 0.0, window: int = 0, spill_dir: str | None = None) -> None:
        """``window``: pending URLs kept in memory, past which they wait on disk under
        ``spill_dir`` (None: the system's temporary folder); 0: all in memory."""
        super().__init__(per_host, delay)
        self._seen = SeenSet()
        self._owners: dict[str, str] = {}  # redirect target -> the URL that claimed it
        self.window = window
        self.spill = Spill(spill_dir, max(1, min(FLUSH_LINES, window // 10))) if window else None
        self._refilling = False

    def __len__(self) -> int:
        return self._queued + (len(self.spill) if self.spill is not None else 0)

    async def open(self) -> int:
        if self.spill is not None:  # what a killed crawl left in the same place
            await asyncio.to_thread(remove_leftovers, self.spill.root)
        return 0

    async def aclose(self) -> None:
        if self.spill is not None:
            await asyncio.to_thread(self.spill.close)

    async def commit(self, urls: Iterable[str], meta: dict[str, str] | None = None,
                     validators: dict[str, tuple[str | None, str | None, str | None]] | None = None,
                     tracked: dict[str, Tracked] | None = None) -> None:
        pass  # nothing kept: a record written is all there is to it

    async def give_back(self) -> None:
        pass

    async def claim(self, target: str, owner: str, depth: int = 0) -> bool:
        if self._seen.add(target):
            self._owners[target] = owner
            return True
        return self._owners.get(target) == owner

    async def unseen(self, urls: list[str]) -> list[str]:
        return self._seen.missing(urls)

    async def add(self, requests: Iterable[CrawlRequest], *, queue: bool = True,
                  limit: int | None = None) -> list[CrawlRequest]:
        accepted: list[CrawlRequest] = []
        seen = self._seen
        for request in requests:
            if limit is not None and len(accepted) >= limit:
                if request.key in seen:
                    continue
                break
            if seen.add(request.key):
                accepted.append(request)
        if queue:
            spill = self.spill
            if spill is None or (not spill.count and self._queued + len(accepted) <= self.window):
                self.push(accepted)
            else:  # past the window: the crawl's own requests wait on disk, in order
                room = 0 if spill.count else max(0, self.window - self._queued)
                kept = [r for r in accepted if r.request is not None]
                plain = [r for r in accepted if r.request is None]
                self.push(kept + plain[:room])
                await spill.write(plain[room:])
        return accepted

    async def get(self) -> CrawlRequest | None:
        request = await super().get()
        if self.spill is not None and self.spill.count and self._queued < self.window // 2:
            await self._refill()
        return request

    async def settle(self) -> int:
        await self._refill()
        return len(self)

    async def _refill(self) -> None:
        """Bring spilled requests back into the window, oldest first."""
        spill = self.spill
        if spill is None or self._refilling:
            return
        self._refilling = True
        try:
            while spill.count and self._queued < self.window:
                self.push(await spill.read(max(1, self.window - self._queued)))
        finally:
            self._refilling = False
