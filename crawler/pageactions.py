"""What a spider's request may do in its rendered page before the DOM is read
(``Request(url, render=True, page_actions=[...])``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: What a spider's ``page_actions`` may do before the DOM is read: each action is
#: ``(name, *arguments)``, the name one of Playwright's Page methods here, or ``scroll``
#: (to the bottom, as often as asked: ``("scroll", 3)``).
PAGE_ACTIONS = frozenset({"click", "fill", "press", "hover", "check", "select_option", "wait_for_selector",
                          "wait_for_timeout", "wait_for_load_state", "evaluate", "scroll"})


def check_actions(actions: Sequence[Any]) -> list[list[Any]]:
    """``actions`` as lists ``[name, *arguments]``; :class:`ValueError` naming one that is not
    of :data:`PAGE_ACTIONS`."""
    out = []
    for action in actions:
        parts = [action] if isinstance(action, str) else list(action)
        if not parts or parts[0] not in PAGE_ACTIONS:
            raise ValueError(f"page action {action!r}: the name must be one of {', '.join(sorted(PAGE_ACTIONS))}")
        out.append(parts)
    return out


__all__ = ["PAGE_ACTIONS", "check_actions"]
