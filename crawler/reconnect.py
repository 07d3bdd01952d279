"""Calls to a Redis that may be restarting: on a lost connection, try again with backoff
(50 ms doubling to 1 s) for ``reconnect_for`` seconds, then give up with a fatal error naming
the option whose Redis it is. Shared by the Redis frontier and the Redis stream output."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from crawler.errors import FatalError

log = logging.getLogger("crawler")
T = TypeVar("T")

RECONNECT_FIRST, RECONNECT_MAX = 0.05, 1.0  # backoff of calls to a Redis that is gone: first and longest wait


class Reconnecting:
    """Runs calls to the Redis at ``url`` (``option``: what the user named it with, for the
    messages), waiting out an outage of up to ``reconnect_for`` seconds."""

    def __init__(self, url: str, option: str, reconnect_for: float) -> None:
        self.url = url
        self.option = option
        self.reconnect_for = reconnect_for
        self._outage: float | None = None  # loop time Redis was first found gone

    async def call(self, make: Callable[[], Awaitable[T]]) -> T:
        """``await make()``; again on a lost connection, with backoff, until ``reconnect_for``
        is spent (then :class:`FatalError`). The caller decides whether trying again is safe."""
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        loop = asyncio.get_running_loop()
        deadline = None
        wait = RECONNECT_FIRST
        while True:
            try:
                answer = await make()
            except (RedisConnectionError, RedisTimeoutError, OSError) as e:
                if deadline is None:
                    deadline = loop.time() + self.reconnect_for
                    if self._outage is None:
                        self._outage = loop.time()
                        log.warning("lost Redis at %s (%s): trying again for up to %.0f s", self.url, e,
                                    self.reconnect_for)
                if loop.time() + wait > deadline:
                    raise FatalError(f"{self.option}: lost Redis at {self.url} for more than "
                                     f"{self.reconnect_for:.0f} s: {e}") from None
                await asyncio.sleep(wait)
                wait = min(wait * 2, RECONNECT_MAX)
                continue
            if self._outage is not None:
                log.warning("Redis at %s is back after %.1f s", self.url, loop.time() - self._outage)
                self._outage = None
            return answer


__all__ = ["RECONNECT_FIRST", "RECONNECT_MAX", "Reconnecting"]
