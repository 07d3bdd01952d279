"""Parsers for --parse-isolation tests, loaded by name in the parser processes."""

from __future__ import annotations

import os
import time
from typing import Any

from crawler.parse.html import ParsedPage, parse_html


def crash_or_hang(body: bytes, *args: Any) -> ParsedPage:
    """``parse_html``, except that a page saying CRASH-THE-PARSER kills the process at once (as a
    segfault in lexbor would) and one saying HANG-THE-PARSER never returns."""
    if b"CRASH-THE-PARSER" in body:
        os.abort()
    if b"HANG-THE-PARSER" in body:
        time.sleep(3600)
    return parse_html(body, *args)


def crash_extractor(html: str, *args: Any) -> dict[str, Any]:
    """``extract_page``, except that a page saying noimageai kills the process at once."""
    from crawler.parse.extract import extract_page

    if "noimageai" in html:
        os.abort()
    return extract_page(html, *args)
