"""Timestamps as records and logs write them."""

from __future__ import annotations

import datetime
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


#: The clocks log lines may be stamped by (``--log-time``).
LOG_TIMES = ("utc", "local")


def local_now_iso() -> str:
    """Now in this machine's time zone, ISO 8601 with milliseconds and its offset
    (``2026-12-04T03:15:00.123+01:00``)."""
    return datetime.datetime.now().astimezone().isoformat(timespec="milliseconds")
