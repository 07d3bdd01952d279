"""The in-memory frontier (the default): a seen set over the per-host scheduler. Nothing is
kept when the process ends; ``--job-dir`` is for that."""

from __future__ import annotations

from collections.abc import Iterable

from crawler.frontier.base import JobStore
from crawler.frontier.scheduler import HostScheduler
from crawler.work import CrawlRequest, Tracked


class MemoryFrontier(HostScheduler):
    """A frontier held in this process's memory. See :class:`crawler.frontier.base.Frontier`."""

    job: JobStore | None = None  # nothing kept on disk
    shared = False

    def __init__(self, per_host: int, delay: float = 0.0) -> None:
        super().__init__(per_host, delay)
        self._seen: set[str] = set()
        self._owners: dict[str, str] = {}  # redirect target -> the URL that claimed it

    async def open(self) -> int:
        return 0

    async def aclose(self) -> None:
        pass

    async def commit(self, urls: Iterable[str], meta: dict[str, str] | None = None,
                     validators: dict[str, tuple[str | None, str | None, str | None]] | None = None,
                     tracked: dict[str, Tracked] | None = None) -> None:
        pass  # nothing kept: a record written is all there is to it

    async def give_back(self) -> None:
        pass

    async def claim(self, target: str, owner: str, depth: int = 0) -> bool:
        if target not in self._seen:
            self._seen.add(target)
            self._owners[target] = owner
            return True
        return self._owners.get(target) == owner

    async def unseen(self, urls: list[str]) -> list[str]:
        seen = self._seen
        return [url for url in urls if url not in seen]

    async def add(self, requests: Iterable[CrawlRequest], *, queue: bool = True,
                  limit: int | None = None) -> list[CrawlRequest]:
        accepted: list[CrawlRequest] = []
        seen = self._seen
        for request in requests:
            key = request.key
            if key in seen:
                continue
            if limit is not None and len(accepted) >= limit:
                break
            seen.add(key)
            accepted.append(request)
        if queue:
            self.push(accepted)
        return accepted
