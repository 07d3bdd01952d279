"""The URL patterns a caller sends (``includePaths``, ``excludePaths`` of ``/v1/crawl`` and the
MCP ``crawl`` tool): run by RE2 (``google-re2``), whose time is linear in the URL whatever the
pattern, so that no pattern can hold the service's event loop (Python's engine backtracks:
``^/(a+)+$`` on a long path takes minutes). RE2 has no look-arounds and no back-references: a
pattern that uses them is refused by name. Each pattern is bounded in length, and the patterns of
one call in number; RE2's memory for one is bounded too."""

from __future__ import annotations

from typing import Any

from crawler._version import install_hint
from crawler.service.callerror import CallError

MAX_LENGTH = 1000  # characters of one pattern
MAX_PATTERNS = 50  # patterns in one list (includePaths, excludePaths)
MAX_MEMORY = 1 << 20  # bytes RE2 may use for one compiled pattern


def _re2() -> Any:
    try:
        import re2
    except ImportError:
        raise CallError("unavailable", "URL patterns need google-re2 (the serve and mcp extras): "
                                       f"{install_hint('serve')}") from None
    return re2


def compile_pattern(pattern: str) -> Any:
    """``pattern`` compiled by RE2 (an object with ``search``); :class:`CallError`
    ``bad_request`` naming it when it is too long or not a pattern RE2 runs."""
    re2 = _re2()
    shown = pattern if len(pattern) <= 80 else pattern[:80] + "..."
    if len(pattern) > MAX_LENGTH:
        raise CallError("bad_request", f"pattern {shown!r} is {len(pattern)} characters: at most {MAX_LENGTH}")
    options = re2.Options()
    options.log_errors = False
    options.never_capture = True
    options.max_mem = MAX_MEMORY
    try:
        return re2.compile(pattern, options)
    except re2.error as e:
        reason = e.args[0].decode("utf-8", "replace") if e.args and isinstance(e.args[0], bytes) else str(e)
        raise CallError("bad_request", f"pattern {shown!r} is refused: {reason} (patterns are RE2's: no "
                                       "look-arounds or back-references)") from None


def check_patterns(patterns: list[str], key: str) -> None:
    """:class:`CallError` when ``patterns`` (a call's ``key``) are too many."""
    if len(patterns) > MAX_PATTERNS:
        raise CallError("bad_request", f"{key}: {len(patterns)} patterns, at most {MAX_PATTERNS}")


def _literal(text: str) -> str:
    return "".join(c if c.isalnum() else "\\" + c for c in text)


def not_under(prefix: str) -> str:
    """A pattern (RE2's: no look-ahead) of the URL paths that do not start with ``prefix`` (a
    path without its first ``/``): at the first character where the path leaves ``prefix``, or
    where it ends (at ``?``, ``#`` or the URL's end) before ``prefix`` does."""
    pattern = ""
    for c in reversed(prefix):
        pattern = f"(?:$|[?#]|[^{_literal(c)}?#]" + (f"|{_literal(c)}{pattern})" if pattern else ")")
    return pattern


__all__ = ["MAX_LENGTH", "MAX_PATTERNS", "check_patterns", "compile_pattern", "not_under"]
