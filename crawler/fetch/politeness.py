"""Politeness per host: robots.txt Crawl-delay, backoff after failures, adaptive throttling.

The frontier enforces a host's delay and holds; this module decides them:

- a robots.txt ``Crawl-delay`` (capped by ``max_crawl_delay``) raises the host's delay floor
  above ``--delay``;
- repeated 5xx, 429, timeouts or connection errors hold the host back exponentially (and a
  ``Retry-After`` for at least that long); the first success resets it;
- with ``--autothrottle`` each response moves the host's delay halfway towards
  ``latency / autothrottle_target_concurrency`` (as Scrapy's AutoThrottle does), never below
  the floor nor above ``autothrottle_max_delay``, and never down on an error response.
"""

from __future__ import annotations

import logging
from typing import Protocol

from crawler import errors
from crawler.fetch.backoff import backoff_delay
from crawler.fetch.robots import RobotsRules
from crawler.result import FetchResult
from crawler.settings import Settings

log = logging.getLogger("crawler")
BLOCK_STREAK = 5  # block pages in a row from a host before it is paused (once, for retry_backoff_max, with a warning)


class HostClock(Protocol):
    """What politeness moves: each host's next start (the frontier's scheduling)."""

    async def hold(self, host: str, wait: float) -> None:
        """Start nothing on ``host`` for ``wait`` seconds."""

    async def set_delay(self, host: str, delay: float) -> None:
        """Space request starts to ``host`` by ``delay`` seconds."""


class BothClocks:
    """A crawl's frontier and the gate, told the same (see :class:`HostClock`)."""

    def __init__(self, first: HostClock, second: HostClock) -> None:
        self.first, self.second = first, second

    async def hold(self, host: str, wait: float) -> None:
        """Hold ``host`` on both."""
        await self.first.hold(host, wait)
        await self.second.hold(host, wait)

    async def set_delay(self, host: str, delay: float) -> None:
        """Set ``host``'s delay on both."""
        await self.first.set_delay(host, delay)
        await self.second.set_delay(host, delay)


class Politeness:
    """Per-host delays and backoff of one crawl."""

    def __init__(self, settings: Settings, frontier: HostClock) -> None:
        self.settings = settings
        self.frontier = frontier
        self._floor: dict[str, float] = {}  # host -> least delay (robots Crawl-delay)
        self._delay: dict[str, float] = {}  # host -> delay set on the frontier, when not --delay
        self._failures: dict[str, int] = {}  # host -> failures in a row
        self._blocks: dict[str, int] = {}  # host -> block pages in a row
        self._paused: set[str] = set()  # hosts paused once for their block pages

    def floor(self, host: str) -> float:
        """The least delay between request starts to ``host``."""
        return self._floor.get(host, self.settings.delay)

    def delay(self, host: str) -> float:
        """The delay between request starts to ``host`` now in force."""
        return self._delay.get(host, self.settings.delay)

    async def _set(self, host: str, delay: float) -> None:
        if delay != self.delay(host):
            self._delay[host] = delay
            await self.frontier.set_delay(host, delay)

    async def apply_robots(self, host: str, rules: RobotsRules) -> None:
        """Take the Crawl-delay of ``host``'s robots.txt."""
        floor = max(self.settings.delay, min(rules.crawl_delay, self.settings.max_crawl_delay))
        if floor == self.settings.delay and host not in self._floor:
            return
        self._floor[host] = floor
        await self._set(host, max(floor, self.delay(host)) if self.settings.autothrottle else floor)

    async def after_fetch(self, host: str, result: FetchResult, latency: float) -> float:
        """Account for one response (or failure) of ``host``; the seconds the host is now held
        back (0 when it is fine)."""
        if result.error == errors.BLOCKED:
            blocks = self._blocks[host] = self._blocks.get(host, 0) + 1
            if blocks >= BLOCK_STREAK and host not in self._paused:
                self._paused.add(host)
                pause = self.settings.retry_backoff_max
                log.warning("%s answers with block pages (%s, %d in a row): paused for %.0f s", host,
                            result.blocked, blocks, pause)
                await self.frontier.hold(host, pause)
                return pause
        else:
            self._blocks.pop(host, None)
        if result.retryable:
            failures = self._failures[host] = self._failures.get(host, 0) + 1
            wait = backoff_delay(failures, self.settings, result.retry_after)
            await self.frontier.hold(host, wait)
            return wait
        self._failures.pop(host, None)
        if self.settings.autothrottle and result.status is not None:
            current = self.delay(host)
            target = latency / self.settings.autothrottle_target_concurrency
            delay = (current + target) / 2
            if result.status >= 400 and delay < current:
                delay = current
            await self._set(host, max(self.floor(host), min(delay, self.settings.autothrottle_max_delay)))
        return 0.0
