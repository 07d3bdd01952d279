"""The wait before a fetch is tried again: exponential backoff with jitter, at least what the
server's ``Retry-After`` asked for."""

from __future__ import annotations

import random

from crawler.settings import Settings


def backoff_delay(attempt: int, settings: Settings, retry_after: float | None = None) -> float:
    """Seconds to wait before try ``attempt + 1``: exponential backoff with jitter
    (``retry_backoff`` doubling, at most ``retry_backoff_max``), at least what ``Retry-After``
    asked for (capped the same way)."""
    cap = settings.retry_backoff_max
    base = min(cap, settings.retry_backoff * 2.0 ** max(attempt - 1, 0))
    wait = base / 2 + random.uniform(0, base / 2)
    if retry_after is not None:
        wait = max(wait, min(retry_after, cap))
    return wait


__all__ = ["backoff_delay"]
