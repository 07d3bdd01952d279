"""``--format markdown -o DIR``: a site as a folder of Markdown. Each page with Markdown
(``--extract``, all fields unless it names others) becomes ``DIR/<host>/<path>.md`` with a
front matter of its URL, title, fetch time and metadata; every record (pages without Markdown
too, and failures) is a line of ``DIR/index.jsonl``, with ``path``: its file under DIR (null
when it has none), without the text and Markdown themselves.

The index is the output file the writer appends to and a durable crawl commits (cut back to
its committed length on resume); a page's file is written, to a temporary name and renamed,
before its index line, and a page done again after a resume writes the same file again, so
every page is in the folder once.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from crawler.output.encoders import records_of

INDEX = "index.jsonl"
#: Record fields written to the front matter (those present), in this order.
FRONT_MATTER = ("url", "final_url", "title", "fetched_at", "description", "canonical", "lang", "author", "published",
                "modified", "site_name", "image")
_LEFT_OUT = frozenset({"markdown", "text"})  # in the .md file (or not wanted there), not in the index
_MAX_SEGMENT = 120  # bytes of a path segment kept as it is; longer ones are hashed
_UNSAFE = str.maketrans({c: "_" for c in '<>:"\\|?*\0'})


def page_path(url: str) -> str:
    """Where a page's Markdown goes under DIR: ``host[_port]/path.md``; a path ending in ``/``
    gives ``index.md`` in that folder; a query adds a short hash of it to the name."""
    parts = urlsplit(url)
    host = (parts.hostname or "host") + (f"_{parts.port}" if parts.port else "")
    segments = [_segment(s) for s in unquote(parts.path).split("/") if s not in ("", ".", "..")]
    name = "index" if not segments or parts.path.endswith("/") else segments.pop()
    if parts.query:
        name += "_" + hashlib.sha1(parts.query.encode()).hexdigest()[:10]
    return "/".join([_segment(host), *segments, name + ".md"])


def _segment(segment: str) -> str:
    safe = segment.translate(_UNSAFE)
    if len(safe.encode()) > _MAX_SEGMENT:
        safe = safe[:40] + "_" + hashlib.sha1(safe.encode()).hexdigest()[:16]
    return safe


def front_matter(record: dict[str, Any]) -> str:
    """The YAML front matter of a page (every value as JSON, which YAML reads)."""
    lines = ["---"]
    for key in FRONT_MATTER:
        value = record.get(key)
        if value is not None:
            lines.append(f"{key}: {json.dumps(value, ensure_ascii=False)}")
    lines.append("---")
    return "\n".join(lines) + "\n\n"


class MarkdownEncoder:
    """Writes each record's Markdown file and returns its index line (run in a thread: it
    writes files)."""

    captures = False
    offload = "thread"

    def __init__(self, root: str) -> None:
        self.root = Path(root)

    def encode(self, entries: list[Any], at_start: bool) -> tuple[bytes, int]:
        """The index lines of ``entries``, once their files are written."""
        lines = []
        for record in records_of(entries):
            markdown = record.get("markdown")
            path = None
            if isinstance(markdown, str) and markdown:
                path = page_path(record.get("final_url") or record["url"])
                self._write(path, front_matter(record) + markdown.rstrip("\n") + "\n")
            lines.append(json.dumps({**{k: v for k, v in record.items() if k not in _LEFT_OUT}, "path": path},
                                    ensure_ascii=False))
        return ("\n".join(lines) + "\n").encode("utf-8") if lines else b"", len(lines)

    def _write(self, path: str, text: str) -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(target.name + ".tmp")
        temporary.write_text(text, "utf-8")
        os.replace(temporary, target)

    def resume(self, head: bytes) -> None:
        """Nothing to take up: the files are there."""


__all__ = ["FRONT_MATTER", "INDEX", "MarkdownEncoder", "front_matter", "page_path"]
