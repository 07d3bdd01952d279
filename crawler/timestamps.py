"""Timestamps as records and logs write them."""

from __future__ import annotations

import time
from typing import Any

_second: list[Any] = [None, ""]  # the last whole second formatted, and its text


def utc_now_iso() -> str:
    """The current UTC time in ISO 8601 with milliseconds and a ``Z``."""
    now = time.time()
    second = int(now)
    if second != _second[0]:
        _second[:] = [second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))]
    return f"{_second[1]}.{int((now - second) * 1000):03d}Z"
