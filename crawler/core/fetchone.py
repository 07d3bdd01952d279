"""One request fetched as a crawl would fetch it, for the tools (``shell``, ``fetch``,
``parse``): the same robots.txt, politeness, headers, cookies, proxies, redirects, scope and
HTTP cache, because it *is* a crawl of that one request, by a spider that keeps the answer."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Collection
from typing import Any

from crawler.core.engine import Engine
from crawler.fetch.hostgate import HostGate
from crawler.settings import Settings
from crawler.spider import Failure, Request, Response, Spider

#: What the one-request crawl changes in the user's settings: no output, no job, no displays.
QUIET: dict[str, Any] = {"output": "-", "format": "jsonl", "job_dir": "", "frontier": "", "workers": 1,
                         "progress": False, "stats": "", "report": "", "max_depth": 0, "max_pages": 0,
                         "stats_interval": 86400.0, "metrics_port": 0}


@dataclasses.dataclass
class Fetched:
    """The end of one request: its response (also for a status of 400 or more), or why there
    was none."""

    request: Request
    response: Response | None
    error: str | None

    @property
    def status(self) -> int | None:
        """The response's status (None when there was no response)."""
        return self.response.status if self.response is not None else None


class _Keeper(Spider):
    """Crawls one request and keeps what came of it."""

    def __init__(self, request: Request, hooks: list[Any]) -> None:
        super().__init__(name="fetch")
        self.request = request
        self.hooks = hooks
        self.fetched: Fetched | None = None

    async def start(self) -> AsyncIterator[str | Request]:
        yield self.request

    def parse(self, response: Response) -> Any:
        self.fetched = Fetched(self.request, response, None)
        return ()

    def errback(self, failure: Failure) -> Any:
        self.fetched = Fetched(self.request, failure.response, failure.error)
        return ()


def quiet(settings: Settings) -> Settings:
    """``settings`` for a one-request crawl (see :data:`QUIET`)."""
    return dataclasses.replace(settings, **QUIET)


async def fetch_one(settings: Settings, request: str | Request, spider: Spider | None = None, *,
                    gate: HostGate | None = None, private_hosts: Collection[str] | None = None) -> Fetched:
    """Fetch ``request`` under ``settings`` (made :func:`quiet`), with the hooks of ``spider``
    when one is given; ``gate`` and ``private_hosts`` as :class:`Engine` takes them (the
    service's calls)."""
    if isinstance(request, str):
        request = Request(request)
    hooks = list(getattr(spider, "hooks", []) or []) if spider is not None else []
    keeper = _Keeper(dataclasses.replace(request, callback=None, errback=None), hooks)
    engine = Engine(quiet(settings), [], spider=keeper, gate=gate, private_hosts=private_hosts)
    await engine.run()
    if keeper.fetched is None:  # refused before any fetch: out of scope, not http(s)
        return Fetched(request, None, "not fetched (not an http(s) URL?)")
    keeper.fetched.request = request
    if keeper.fetched.response is not None:
        keeper.fetched.response.request = request
        keeper.fetched.response.meta = request.meta
    return keeper.fetched


__all__ = ["QUIET", "Fetched", "fetch_one", "quiet"]
