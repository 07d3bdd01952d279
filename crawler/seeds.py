"""Reading seed URLs: one a line, ``#`` comments and blank lines ignored, ``-`` for stdin."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable

from crawler.errors import UsageError
from crawler.urls import normalize_url

log = logging.getLogger("crawler")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")


def parse_seeds(lines: Iterable[str], source: str, max_length: int) -> list[str]:
    """Normalized seed URLs; a malformed line is reported with its number and skipped.

    A line without a scheme (``example.com/page``, ``localhost:8080``) is taken as ``http://``,
    as wget and curl do.
    """
    seeds: list[str] = []
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        scheme = _SCHEME.match(text)
        candidate = text if scheme and not text[scheme.end():][:1].isdigit() else "http://" + text
        url = normalize_url(candidate, max_length)
        if url is None:
            log.warning("%s:%d: not an http(s) URL, skipped: %.200s", source, number, text)
            continue
        seeds.append(url)
    return seeds


def read_seeds(path: str, max_length: int) -> list[str]:
    """The seeds in file ``path`` (``-`` is stdin); a usage error when it cannot be read or
    holds no valid URL."""
    try:
        if path == "-":
            seeds = parse_seeds(sys.stdin, "stdin", max_length)
        else:
            with open(path, encoding="utf-8", errors="replace") as f:
                seeds = parse_seeds(f, path, max_length)
    except FileNotFoundError:
        raise UsageError(f"--seeds: no such file: {path}") from None
    except IsADirectoryError:
        raise UsageError(f"--seeds: {path} is a directory, not a file") from None
    except OSError as e:
        raise UsageError(f"--seeds: cannot read {path}: {e.strerror}") from None
    if not seeds:
        raise UsageError(f"--seeds: no valid URL in {'stdin' if path == '-' else path}")
    return seeds
