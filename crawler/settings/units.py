"""Durations (``"30m"``, ``"7d"``) and sizes (``"100MB"``, ``"1GiB"``) as settings take them."""

from __future__ import annotations

import re
from typing import Any

_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)?\s*", re.IGNORECASE)
_UNITS = {None: 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}
DURATIONS = ("max_runtime", "recrawl_after", "http_cache_expiry", "recrawl_min", "recrawl_max")
_SIZE = re.compile(r"\s*(\d+)\s*([kmgt]?)(i?b)?\s*", re.IGNORECASE)
SIZES = ("rotate_size", "render_max_memory", "max_diff_bytes", "max_bytes", "robots_max_bytes", "sitemap_max_bytes",
         "inline_parse_bytes")


def parse_size(value: Any) -> int:
    """Bytes from ``1000000``, ``"500K"``, ``"100MB"`` or ``"1GiB"`` (K, M, G, T are powers of
    1024); ValueError else."""
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    match = _SIZE.fullmatch(str(value))
    if not match:
        raise ValueError(value)
    size: int = int(match.group(1)) * 1024 ** " kmgt".index(match.group(2).lower() or " ")
    return size


def format_size(size: int) -> str:
    """``size`` bytes as :func:`parse_size` reads it back, in the largest unit that divides it
    (``10485760`` -> ``"10MiB"``, ``1000`` -> ``"1000"``)."""
    for power, unit in ((4, "TiB"), (3, "GiB"), (2, "MiB"), (1, "KiB")):
        if size and size % 1024 ** power == 0:
            return f"{size // 1024 ** power}{unit}"
    return str(size)


def parse_duration(value: Any) -> float:
    """Seconds from ``90``, ``"90s"``, ``"30m"``, ``"6h"``, ``"7d"`` or ``"2w"``; ValueError else."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    match = _DURATION.fullmatch(str(value))
    if not match:
        raise ValueError(value)
    unit = match.group(2).lower() if match.group(2) else None
    return float(match.group(1)) * _UNITS[unit]


__all__ = ["DURATIONS", "SIZES", "format_size", "parse_duration", "parse_size"]
