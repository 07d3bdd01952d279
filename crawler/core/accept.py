"""The producer: seeds, sitemap entries, links and spider requests become accepted URLs.

normalize -> scope -> robots.txt (when its rules are known already) -> budgets -> frontier.add

A URL is counted outstanding before the frontier sees it (a store may hand it out at once). One
that robots.txt already forbids is accepted without being queued and given back to the caller
with the reason, to be ended there (:meth:`crawler.core.handle.Handler.finish`): accepting never
ends a URL itself.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

from crawler.core.lane import CacheLane
from crawler.core.scope import Scope
from crawler.core.state import RunState
from crawler.fetch.robots import Robots, RobotsRules
from crawler.frontier import Frontier
from crawler.settings import Settings
from crawler.spider import FollowAll, Request, Spider, check_method
from crawler.urls import normalize_url, origin_of
from crawler.work import SITEMAP, CrawlRequest

log = logging.getLogger("crawler")

Refused = list[tuple[CrawlRequest, str]]  # accepted but never to be fetched, with the error to end them with


class Acceptor:
    """Accepts URLs into the frontier under the crawl's scope, robots.txt and budgets."""

    def __init__(self, settings: Settings, state: RunState, frontier: Frontier, scope: Scope,
                 robots: Robots | None = None, lane: CacheLane | None = None,
                 accepted: Callable[[str], None] | None = None) -> None:
        """``robots``: the rules known (robots.txt on); ``lane``: where what the HTTP cache answers
        goes (``--http-cache`` on a memory frontier); ``accepted``: told each accepted URL (a new
        host's name is looked up early)."""
        self.settings = settings
        self.state = state
        self.frontier = frontier
        self.scope = scope
        self.robots = robots
        self.lane = lane
        self.accepted = accepted
        self._host_pages: Counter[str] = Counter()  # URLs accepted from each host (--max-pages-per-host)
        self._budget_lock = asyncio.Lock()  # --max-pages: accepts counted one after another
        self.started = 0  # requests the spider's start gave
        self._repeats = 0  # dont_filter requests accepted (each a key of its own: this run's token, a number)
        self._token = os.urandom(3).hex()

    async def accept(self, requests: Iterable[CrawlRequest]) -> Refused:
        """Accept new URLs (each counted until its record is written; at most ``max_pages`` in
        all). Those that robots.txt already forbids are accepted but not queued: they are
        returned with their error, for the caller to end."""
        stats = self.state.stats
        requests = list(requests)
        if not self.settings.max_pages:
            return await self._accept(requests, None)
        # One accept at a time counts against --max-pages: another adding while this one waits
        # on its store would count on the same room (a store that answers later, as Redis does).
        async with self._budget_lock:
            room = self.settings.max_pages - stats.discovered
            if room <= 0:
                return []
            return await self._accept(requests, room)

    async def _accept(self, requests: list[CrawlRequest], room: int | None) -> Refused:
        state, stats = self.state, self.state.stats
        denied: list[CrawlRequest] = []
        reasons: dict[str, str] = {}
        if self.robots is not None:
            rules_of: dict[str, RobotsRules | None] = {}  # one cache look-up per origin
            allowed = []
            for r in requests:
                origin = origin_of(r.url)
                if origin not in rules_of:
                    rules_of[origin] = self.robots.cached(origin)
                rules = rules_of[origin]
                if rules is not None and not rules.allowed(r.url):
                    denied.append(r)
                    reasons[r.url] = rules.reason
                else:
                    allowed.append(r)
            requests = allowed
        budget = self.settings.max_pages_per_host
        if budget:
            requests = self._within_host_budget(requests, budget)
        now = asyncio.get_running_loop().time()
        for r in requests:
            r.queued = now
        lane = self.lane
        answered: list[CrawlRequest] = []  # the cache answers these: marked seen, not queued
        if lane is not None and requests:
            queued: list[CrawlRequest] = []
            for r in requests:
                (answered if lane.answers(r) else queued).append(r)
            requests = queued
        # Counted before the store sees them: a store may hand a URL out (and the writer end
        # it) before add() returns, and the crawl must not look over meanwhile. What the store
        # turns away (seen already, over the limit) is taken off the count afterwards.
        state.queued(len(requests) + len(answered))
        state.ended_unqueued(len(denied))
        accepted: list[CrawlRequest] = []
        refused: list[CrawlRequest] = []
        try:
            accepted = await self.frontier.add(requests, limit=room)
            if answered:
                assert lane is not None
                left = None if room is None else room - len(accepted)
                fast = await self.frontier.add(answered, queue=False, limit=left)
                lane.put(fast)
                accepted += fast
            if denied:
                room = None if room is None else room - len(accepted)
                refused = await self.frontier.add(denied, queue=False, limit=room)
        finally:
            state.queued(len(accepted) - len(requests) - len(answered))
            state.ended_unqueued(len(refused) - len(denied))
        if budget:
            for r in accepted:
                self._host_pages[r.host] += 1
        if self.accepted is not None:
            for r in accepted:
                self.accepted(r.fetch_url)
        stats.discovered += len(accepted) + len(refused)
        return [(r, reasons[r.url]) for r in refused]

    def _within_host_budget(self, requests: list[CrawlRequest], budget: int) -> list[CrawlRequest]:
        """Those of ``requests`` that fit in their hosts' ``--max-pages-per-host`` budget (some
        may be known already, so a host can end up a little under it, never over)."""
        kept = []
        left: dict[str, int] = {}
        for r in requests:
            room = left.get(r.host)
            if room is None:
                room = budget - self._host_pages[r.host]
            if room > 0:
                kept.append(r)
            left[r.host] = room - 1
        return kept

    async def start(self, spider: Spider) -> Refused:
        """Accept the spider's start URLs and requests (their hosts join the scope)."""
        requests: list[Request | FollowAll] = []
        starts: AsyncIterator[Any] = spider.start()
        async for start in starts:
            if isinstance(start, Request):
                check_method(spider, start.callback, f"the start request of {start.url}: callback")
                check_method(spider, start.errback, f"the start request of {start.url}: errback")
                requests.append(start)
            elif isinstance(start, str):
                requests.append(Request(start))
            elif start is not None:
                log.warning("%s: its start gave %s, which is neither a URL nor a Request: left out",
                            type(spider).__name__, type(start).__name__)
        self.started = len(requests)
        for r in requests:
            assert isinstance(r, Request)
            url = normalize_url(r.url, self.settings.max_url_length)
            if url is not None:
                self.scope.add_seed(url)
            else:
                log.warning("%s: a start URL that is not an http(s) URL: %.200s", type(spider).__name__, r.url)
        return await self.accept_requests(requests, None)

    async def accept_requests(self, requests: list[Request | FollowAll], parent: CrawlRequest | None) -> Refused:
        """Accept requests a spider made (scope and depth apply to those found on pages). Each
        :class:`Request`'s URL is normalized in place; a :class:`FollowAll`'s URLs already seen
        are skipped before any request is made for them."""
        depth = 0 if parent is None else parent.depth + 1
        if not requests or (parent is not None and 0 <= self.settings.max_depth < depth):
            return []
        referrer = parent.url if parent is not None else None
        scope = self.scope
        accepted = []
        for r in requests:
            if type(r) is FollowAll:
                urls = r.urls if r.in_scope or parent is None else [u for u in r.urls if scope.allows(u)]
                new = await self.frontier.unseen(urls) if urls else []
                if parent is not None:
                    new = [url for url in new if not scope.is_trap(url)]
                if r.callback is None and not r.kwargs:
                    accepted += [CrawlRequest(url, depth, referrer) for url in new]
                    continue
                for url in new:
                    crawl_request = CrawlRequest(url, depth, referrer)
                    crawl_request.request = r.request(url)
                    accepted.append(crawl_request)
                continue
            assert isinstance(r, Request)
            normal = normalize_url(r.url, self.settings.max_url_length)
            if normal is None or (parent is not None and (not scope.allows(normal) or scope.is_trap(normal))):
                log.debug("spider request dropped (not http(s), out of scope or a trap): %.200s", r.url)
                continue
            r.url = normal
            if r.dont_filter and not r.repeat:
                self._repeats += 1
                r.repeat = f"{self._token}.{self._repeats}"
            crawl_request = CrawlRequest(normal, depth, referrer)
            crawl_request.request = r
            accepted.append(crawl_request)
        return await self.accept(accepted) if accepted else []

    async def accept_sitemaps(self, urls: Iterable[str], referrer: str | None = None) -> Refused:
        """Accept sitemap documents (normalized, in scope) to read seeds from."""
        found = []
        for url in urls:
            normal = normalize_url(url, self.settings.max_url_length)
            if normal is not None and self.scope.allows(normal):
                found.append(CrawlRequest(normal, 0, referrer, SITEMAP))
        return await self.accept(found)


__all__ = ["Acceptor", "Refused"]
