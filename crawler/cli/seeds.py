"""Reading seed URLs: one a line, ``#`` comments and blank lines ignored, ``-`` for stdin."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable

from crawler.errors import UsageError
from crawler.spider import Request
from crawler.urls import SCHEME, normalize_url, seed_problem
from crawler.work import CrawlRequest

log = logging.getLogger("crawler")


MAX_WARNINGS = 10  # malformed seed lines named one by one; the rest are counted
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def shown(text: str, limit: int = 200) -> str:
    """``text`` as it may go to a terminal: control characters written as ``\\xNN`` (a seed file
    of binary junk must not drive the terminal), cut at ``limit`` characters."""
    text = text[:limit]
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


REQUEST_KEYS = frozenset({"url", "method", "headers", "body", "json", "meta"})


def seed_request(text: str, max_length: int) -> Request:
    """A seeds line that is a JSON object (``{"url": ..., "method": "POST", "headers": {...},
    "body": "...", "json": {...}, "meta": {...}}``) as a request; ValueError naming what is wrong."""
    try:
        fields = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"not valid JSON ({e.msg})") from None
    if not isinstance(fields, dict):
        raise ValueError("a JSON line must be an object")
    unknown = sorted(set(fields) - REQUEST_KEYS)
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} (a request has {', '.join(sorted(REQUEST_KEYS))})")
    url = fields.get("url")
    if not isinstance(url, str):
        raise ValueError('no "url" (text)')
    normal = normalize_url(url, max_length)
    if normal is None:
        raise ValueError("its url is not an http(s) URL")
    method = fields.get("method", "GET")
    headers = fields.get("headers")
    body = fields.get("body")
    meta = fields.get("meta", {})
    if not isinstance(method, str) or not method.isalpha():
        raise ValueError('"method" must be a word, such as POST')
    if headers is not None and not (isinstance(headers, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items())):
        raise ValueError('"headers" must be an object of text values')
    if body is not None and not isinstance(body, str):
        raise ValueError('"body" must be text (use "json" for a JSON body)')
    if body is not None and "json" in fields:
        raise ValueError('give "body" or "json", not both')
    if not isinstance(meta, dict):
        raise ValueError('"meta" must be an object')
    return Request(normal, meta=meta, headers=headers, method=method, body=body, json=fields.get("json"))


def as_crawl_request(seed: str | Request) -> CrawlRequest:
    """A seed as the frontier takes it."""
    if isinstance(seed, str):
        return CrawlRequest(seed)
    request = CrawlRequest(seed.url)
    request.request = seed
    return request


def parse_seeds(lines: Iterable[str], source: str, max_length: int, strict: bool = False) -> list[str | Request]:
    """Normalized seed URLs, and requests (a line that is a JSON object: :func:`seed_request`);
    a malformed line is reported with its number and skipped (the first :data:`MAX_WARNINGS`;
    then one line counts the rest).

    A line without a scheme (``example.com/page``, ``localhost:8080``) is taken as ``http://``,
    as wget and curl do; a typo of a URL (``http//host/``, ``htp://host``, a port out of range:
    :func:`crawler.urls.seed_problem`) is not. ``strict`` (the command line's URLs): a line that
    is not a URL is a :class:`UsageError` saying why, not a warning.
    """
    seeds: list[str | Request] = []
    skipped = 0
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if text.startswith("{"):
            try:
                seeds.append(seed_request(text, max_length))
            except ValueError as e:
                skipped += 1
                if skipped <= MAX_WARNINGS:
                    log.warning("%s:%d: not a request, skipped: %s", source, number, shown(str(e)))
            continue
        problem = seed_problem(text)
        scheme = SCHEME.match(text)
        candidate = text if scheme and not text[scheme.end():][:1].isdigit() else "http://" + text
        url = normalize_url(candidate, max_length) if problem is None else None
        if url is None:
            if strict:
                raise UsageError(shown(problem or f"{text!r} is not an http(s) URL", 400))
            skipped += 1
            if skipped <= MAX_WARNINGS:
                log.warning("%s:%d: not an http(s) URL, skipped: %s", source, number,
                            shown(problem or text, 400))
            continue
        seeds.append(url)
    if skipped > MAX_WARNINGS:
        log.warning("%s: %d more lines that are not http(s) URLs or requests skipped", source,
                    skipped - MAX_WARNINGS)
    return seeds


def seed_text(data: bytes, source: str) -> str:
    """The text of a seed file; a usage error when it is not text: NUL bytes, or bytes that
    are not UTF-8 in more than a few places (a binary given by mistake)."""
    if b"\0" in data:
        raise UsageError(f"--seeds: {source} is not a text file (it holds NUL bytes)")
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd") - data.decode("utf-8", errors="ignore").count("\ufffd")
    if bad > 10 and bad * 100 > len(text):
        raise UsageError(f"--seeds: {source} is not UTF-8 text ({bad} bytes that are not)")
    return text


def read_seeds(path: str, max_length: int) -> list[str | Request]:
    """The seeds in file ``path`` (``-`` is stdin); a usage error when it cannot be read, is
    not text, or holds no valid URL."""
    source = "stdin" if path == "-" else path
    try:
        if path == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as f:
                data = f.read()
    except FileNotFoundError:
        raise UsageError(f"--seeds: no such file: {path}") from None
    except IsADirectoryError:
        raise UsageError(f"--seeds: {path} is a directory, not a file") from None
    except OSError as e:
        raise UsageError(f"--seeds: cannot read {path}: {e.strerror}") from None
    seeds = parse_seeds(seed_text(data, source).splitlines(), source, max_length)
    if not seeds:
        raise UsageError(f"--seeds: no valid URL in {source}")
    return seeds
