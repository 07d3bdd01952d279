"""What ``--render auto`` learns of each host: whether rendering its pages changes them.

A host starts by rendering the pages that look built by script (the parse stage says why:
:mod:`crawler.parse.scripted`). Each rendering is compared with the page as HTTP gave it:

- :data:`LEARN` renderings in a row that gave nothing new (no new link, no more text) and the
  host is learned ``plain``: its pages are no longer rendered, however they look, but every
  :data:`RECHECK`-th page that looks built by script is (``recheck``), and one that changes
  sends the host back to detecting;
- :data:`LEARN` renderings in a row that changed the page, on a host most of whose pages
  (:data:`MOSTLY`) look built by script, and the host is learned ``render``: a site built by
  script throughout, every HTML page of which is rendered (``host``) without asking how it
  looks, until :data:`LEARN` renderings in a row change nothing (back to detecting). A host
  where only some pages look built by script keeps detecting: those pages are rendered, the
  others not.

Pages are decided while others are being rendered: a rendering decided under a plan the host
has left since (a ``host`` one after the host went back to detecting) teaches nothing, and the
counts start again at each change of plan.
"""

from __future__ import annotations

import collections
from typing import Any

LEARN = 3  # renderings in a row that agree before a host's plan changes
RECHECK = 20  # a host learned plain renders every this-many-th page that looks built by script
MOSTLY = 0.5  # a host is learned "render" only when at least this share of its pages look built by script
DETECT, PLAIN, RENDER = "detect", "plain", "render"


class _Host:
    __slots__ = ("changed", "flagged", "mode", "rendered", "same", "seen", "skipped")

    def __init__(self) -> None:
        self.mode = DETECT
        self.seen = 0  # pages decided
        self.flagged = 0  # ... that looked built by script
        self.same = 0  # renderings in a row that changed nothing
        self.changed = 0  # renderings in a row that changed the page
        self.skipped = 0  # pages that looked built by script, not rendered (host learned plain)
        self.rendered: collections.Counter[str] = collections.Counter()  # why -> pages


class RenderPlan:
    """Each host's plan (only hosts a page of which looked built by script, or was rendered)."""

    def __init__(self) -> None:
        self._hosts: dict[str, _Host] = {}

    def decide(self, host: str, reason: str | None) -> str | None:
        """Why to render a page of ``host`` that looks built by script for ``reason`` (None:
        it does not), or None to keep it as HTTP gave it."""
        plan = self._hosts.get(host)
        if plan is None:
            if reason is None:
                return None
            plan = self._hosts[host] = _Host()
        plan.seen += 1
        plan.flagged += reason is not None
        if plan.mode == RENDER:
            return "host"
        if reason is None:
            return None
        if plan.mode == PLAIN:
            plan.skipped += 1
            return "recheck" if plan.skipped % RECHECK == 0 else None
        return reason

    def learn(self, host: str, why: str, changed: bool | None) -> None:
        """A page of ``host`` was rendered (for ``why``): did that ``changed`` it? (None: not
        asked, as with ``--render always``: only counted.)"""
        plan = self._hosts.setdefault(host, _Host())
        plan.rendered[why] += 1
        if changed is None or (why == "host") != (plan.mode == RENDER):
            return  # not asked, or decided under a plan the host has left since
        if changed:
            plan.changed, plan.same = plan.changed + 1, 0
            if plan.mode == PLAIN:
                self._move(plan, DETECT)
            elif plan.mode == DETECT and plan.changed >= LEARN and plan.flagged >= MOSTLY * plan.seen:
                self._move(plan, RENDER)
        else:
            plan.same, plan.changed = plan.same + 1, 0
            if plan.same >= LEARN and plan.mode != PLAIN:
                self._move(plan, PLAIN if plan.mode == DETECT else DETECT)

    @staticmethod
    def _move(plan: _Host, mode: str) -> None:
        plan.mode = mode
        plan.same = plan.changed = 0

    def figures(self) -> dict[str, Any]:
        """Per host: its plan, pages rendered by why, pages left plain by its plan."""
        return {host: {"plan": plan.mode, "rendered": sum(plan.rendered.values()), "why": dict(plan.rendered),
                       "skipped": plan.skipped}
                for host, plan in sorted(self._hosts.items())}


__all__ = ["LEARN", "RECHECK", "RenderPlan"]
