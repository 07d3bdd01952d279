"""Logging as the crawler does it: one line a message on stderr (``crawler: WARNING: ...``, after
an ISO 8601 UTC timestamp when stderr is not a terminal: a log file, cron's mail, a pipe), or one
JSON object a line (``--log-format json``)."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from crawler.timestamps import local_now_iso, utc_now_iso


class JsonFormatter(logging.Formatter):
    """Log records as one JSON object a line: time, level, message (and ``stats`` if given)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as JSON."""
        entry: dict[str, Any] = {"time": utc_now_iso(), "level": record.levelname.lower(),
                                 "logger": record.name, "message": record.getMessage()}
        stats = getattr(record, "stats", None)
        if stats is not None:
            entry["stats"] = stats
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


_clock: list[Any] = [None]  # what stamps the log's lines (None: nothing, a terminal); set by setup_logging


def stamp() -> str:
    """The time as the log's lines start with it, and a space; nothing on a terminal (for the
    summary, printed after them)."""
    return f"{_clock[0]()} " if _clock[0] is not None else ""


class TextFormatter(logging.Formatter):
    """``crawler: LEVEL: message``, after the time (``2026-12-04T02:15:00.123Z``, or the local
    time with its offset) when ``stamped``."""

    def __init__(self, stamped: bool, clock: Any = None) -> None:
        super().__init__("crawler: %(levelname)s: %(message)s")
        self.stamped = stamped
        self.clock = clock or utc_now_iso

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line (an exception's traceback after it)."""
        line = super().format(record)
        if not self.stamped:
            return line
        return f"{self.clock()} {line}"


def setup_logging(level: str, fmt: str = "text", time: str = "utc") -> None:
    """Log at ``level`` on stderr, as text or JSON lines (the root logger's handlers replaced),
    stamped by ``time``'s clock (``utc`` or ``local``: ``--log-time``) off a terminal."""
    class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
        """Writes to whatever ``sys.stderr`` is now (rich's live display swaps it)."""

        @property
        def stream(self) -> Any:
            return sys.stderr

        @stream.setter
        def stream(self, value: Any) -> None:
            pass

    handler = StderrHandler()
    stamped = not (hasattr(sys.stderr, "isatty") and sys.stderr.isatty())  # a log file, not a person's terminal
    clock = local_now_iso if time == "local" else utc_now_iso
    _clock[0] = clock if stamped and fmt != "json" else None
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter(stamped, clock))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp").setLevel(logging.WARNING)


def logging_configured() -> bool:
    """Has the program set up logging itself (a handler on the root logger)?"""
    return bool(logging.getLogger().handlers)


__all__ = ["JsonFormatter", "TextFormatter", "logging_configured", "setup_logging", "stamp"]
