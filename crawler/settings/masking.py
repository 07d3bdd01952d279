"""Settings as they may be shown (``config --show``, the report, logs): credentials hidden."""

from __future__ import annotations

from typing import Any


def mask_url(url: str) -> str:
    """``url`` with the credentials it may carry hidden (``http://user:***@host``)."""
    scheme, sep, rest = url.partition("://")
    at = rest.find("@")
    if sep and 0 <= at < (rest.find("/") if "/" in rest else len(rest)):
        user = rest[:at].partition(":")[0]
        return f"{scheme}://{user + ':' if user else ''}***@{rest[at + 1:]}"
    return url


def mask_header(header: str) -> str:
    """A header ``Name: value`` with its value hidden."""
    name, colon, _ = header.partition(":")
    return f"{name}: ***" if colon else "***"


def masked(key: str, value: Any) -> Any:
    """A setting's value as it may be shown (logs, ``config --show``, the report): the
    credentials in ``auth``, ``cookie``, ``header`` and ``proxy`` (and in any URL) hidden."""
    if key == "auth":
        return (value.partition(":")[0] + ":***") if value else value
    if key == "header":
        return tuple(mask_header(h) for h in value)
    if key == "cookie":
        return tuple(c.partition("=")[0] + "=***" for c in value)
    if isinstance(value, str) and "://" in value:
        return mask_url(value)
    return value


__all__ = ["mask_header", "mask_url", "masked"]
