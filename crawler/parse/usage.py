"""A page's machine-readable signals about its use for AI and text and data mining, recorded
as found, not interpreted: ``noai``/``noimageai`` in meta robots or ``X-Robots-Tag``, the TDM
Reservation Protocol's ``tdm-reservation`` and ``tdm-policy`` (header or meta), and the
``Content-Signal`` and ``Content-Usage`` lines of its host's robots.txt."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

#: The robots directives that speak of AI use.
AI_DIRECTIVES = ("noai", "noimageai")


def ai_usage(robots_values: Iterable[str], headers: Mapping[str, str], metas: Mapping[str, str],
             robots_lines: Iterable[tuple[str, str]]) -> dict[str, Any] | None:
    """What the page and its host say (None when they say nothing): ``robots`` (the AI
    directives found in meta robots and ``X-Robots-Tag``), ``tdm_reservation``,
    ``tdm_policy``, ``content_signal`` and ``content_usage`` (the values of the robots.txt lines
    :func:`crawler.fetch.robots.usage_lines` kept)."""
    found: dict[str, Any] = {}
    said = " ".join([*robots_values, *_all(headers, "x-robots-tag")]).lower().replace(",", " ").replace(":", " ")
    directives = [d for d in AI_DIRECTIVES if d in said.split()]
    if directives:
        found["robots"] = directives
    for name in ("tdm-reservation", "tdm-policy"):
        value = next(iter(_all(headers, name)), None) or metas.get(name)
        if value:
            found[name.replace("-", "_")] = value.strip()
    for name, value in robots_lines:
        found.setdefault(name.replace("-", "_"), []).append(value)
    return found or None


def _all(headers: Mapping[str, str], name: str) -> list[str]:
    getall = getattr(headers, "getall", None)
    if getall is not None:
        return list(getall(name, []))
    return [v for k, v in headers.items() if k.lower() == name]


__all__ = ["AI_DIRECTIVES", "ai_usage"]
