"""What ``--render auto`` learns of each host: whether rendering its pages changes them.

A host starts by rendering the pages that look built by script (the parse stage says why:
:mod:`crawler.parse.scripted`). Each rendering is compared with the page as HTTP gave it:

- :data:`LEARN` renderings in a row that gave nothing new (no new link, no more text) and the
  host is learned ``plain``: its pages are no longer rendered, however they look, but every
  :data:`RECHECK`-th page that looks built by script is (``recheck``), and one that changes
  sends the host back to detecting;
- :data:`LEARN` renderings in a row that changed the page and the host is learned ``render``:
  every HTML page of it is rendered (``host``), without asking how it looks, until
  :data:`LEARN` renderings in a row change nothing (back to detecting).
"""

from __future__ import annotations

import collections
from typing import Any

LEARN = 3  # renderings in a row that agree before a host's plan changes
RECHECK = 20  # a host learned plain renders every this-many-th page that looks built by script
DETECT, PLAIN, RENDER = "detect", "plain", "render"


class _Host:
    __slots__ = ("changed", "mode", "rendered", "same", "skipped")

    def __init__(self) -> None:
        self.mode = DETECT
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
        if changed is None:
            return
        if changed:
            plan.changed, plan.same = plan.changed + 1, 0
            if plan.mode == PLAIN:
                plan.mode = DETECT
            elif plan.changed >= LEARN:
                plan.mode = RENDER
        else:
            plan.same, plan.changed = plan.same + 1, 0
            if plan.same >= LEARN and plan.mode != PLAIN:
                plan.mode = PLAIN if plan.mode == DETECT else DETECT

    def figures(self) -> dict[str, Any]:
        """Per host: its plan, pages rendered by why, pages left plain by its plan."""
        return {host: {"plan": plan.mode, "rendered": sum(plan.rendered.values()), "why": dict(plan.rendered),
                       "skipped": plan.skipped}
                for host, plan in sorted(self._hosts.items())}


__all__ = ["LEARN", "RECHECK", "RenderPlan"]
