"""The ``expect`` setting: checks a run must pass (see :mod:`crawler.monitor.expect`), as a config
file's ``[expect]`` table, ``--expect KEY=VALUE`` items or a spider's ``custom_settings`` give
them, checked here when the settings are read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: The checks and what each takes: a count, a share (0 to 1), or a table of field -> share.
CHECKS = {
    "min_pages": "count",  # records written, at least
    "min_items": "count",  # items written (a spider's; the built-in recorder's records), at least
    "max_error_rate": "share",  # records with an error, of those written, at most
    "required_fields": "fields",  # each field's share of items that have it (not null or empty), at least
    "max_removed_share": "share",  # pages removed this run (a durable job), of the job's pages, at most
    "min_changed": "count",  # pages new or changed this run (a durable job), at least
}


def parse_expect(value: Any) -> dict[str, Any]:
    """The ``expect`` setting as given (a table, or ``KEY=VALUE`` items as ``--expect`` gives
    them, ``required_fields.price=0.95`` for a field) checked and made a table; ``ValueError``
    saying what is wrong."""
    if isinstance(value, (list, tuple)):
        table: dict[str, Any] = {}
        for item in value:
            key, sep, text = str(item).partition("=")
            if not sep:
                raise ValueError(f"expected KEY=VALUE, got {item!r}")
            name, dot, field = key.strip().partition(".")
            if dot:
                table.setdefault(name, {})[field] = _number(text)
            else:
                table[name] = _number(text)
        value = table
    if not isinstance(value, Mapping):
        raise ValueError(f"expected a table of checks, got {value!r}")
    checked: dict[str, Any] = {}
    for key, given in value.items():
        kind = CHECKS.get(key)
        if kind is None:
            raise ValueError(f"unknown check {key!r} (known: {', '.join(CHECKS)})")
        if kind == "fields":
            if not isinstance(given, Mapping) or not given:
                raise ValueError(f"{key}: expected a table of field = least share, got {given!r}")
            checked[key] = {str(f): _share(f"{key}.{f}", v) for f, v in given.items()}
        elif kind == "share":
            checked[key] = _share(key, given)
        else:
            if isinstance(given, bool) or not isinstance(given, int) or given < 0:
                raise ValueError(f"{key}: expected a whole number of 0 or more, got {given!r}")
            checked[key] = given
    return checked


def _number(text: str) -> int | float:
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"expected a number, got {text!r}") from None


def _share(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"{key}: expected a share from 0 to 1, got {value!r}")
    return float(value)


__all__ = ["CHECKS", "parse_expect"]
