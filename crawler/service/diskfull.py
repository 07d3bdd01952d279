"""A full disk under the service's data directory: told apart from other failures, and the
writes it refuses kept in memory (a run's or a crawl's end) until they can be made, so that what
the service answers is true meanwhile and its database is whole once space returns."""

from __future__ import annotations

import errno
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: What a full disk (or a quota) says: OSError's errnos, SQLite's message.
FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
NEARLY_FULL = 1024 * 1024  # bytes free below which a run that failed is taken to have failed for it


def is_disk_full(error: BaseException) -> bool:
    """Is ``error`` a disk (or quota) that is full?"""
    if isinstance(error, OSError):
        return error.errno in FULL_ERRNOS
    return isinstance(error, sqlite3.OperationalError) and "full" in str(error)


def free_bytes(folder: Path) -> int | None:
    """Bytes free on ``folder``'s file system (None when it cannot be asked)."""
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def full_reason(folder: Path) -> str:
    """One line naming the full disk of ``folder``."""
    free = free_bytes(folder)
    left = f" ({free} bytes free)" if free is not None else ""
    return f"the disk of the data directory {folder} is full{left}: free some space"


def with_full_disk(reason: str, folder: Path) -> str:
    """``reason`` (why a run or crawl failed), and the full disk's when ``folder``'s is nearly full."""
    free = free_bytes(folder)
    return f"{reason}; {full_reason(folder)}" if free is not None and free < NEARLY_FULL else reason


class Unwritten:
    """Rows' columns a full disk kept from being written, by key: overlaid on what the database
    says, written when :meth:`flush` can."""

    def __init__(self) -> None:
        self.pending: dict[Any, dict[str, Any]] = {}

    def keep(self, key: Any, columns: dict[str, Any]) -> None:
        self.pending.setdefault(key, {}).update(columns)

    def write(self, key: Any, columns: dict[str, Any], write: Callable[[Any, dict[str, Any]], None]) -> bool:
        """Change ``key``'s row by ``columns`` (after what is kept for it, in order); False when
        a full disk kept the change here instead."""
        self.keep(key, columns)
        self.flush(write)
        return key not in self.pending

    def overlay(self, key: Any, row: dict[str, Any]) -> dict[str, Any]:
        """``row`` with the columns kept for ``key``."""
        return row | self.pending[key] if key in self.pending else row

    def flush(self, write: Callable[[Any, dict[str, Any]], None]) -> None:
        """Write each kept row with ``write(key, columns)``; those a full disk still refuses stay."""
        for key, columns in list(self.pending.items()):
            try:
                write(key, columns)
            except (OSError, sqlite3.OperationalError) as e:
                if not is_disk_full(e):
                    raise
                return
            del self.pending[key]


__all__ = ["NEARLY_FULL", "Unwritten", "free_bytes", "full_reason", "is_disk_full", "with_full_disk"]
