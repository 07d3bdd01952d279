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

import errno
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crawler.output.encoders import records_of

INDEX = "index.jsonl"
#: Record fields written to the front matter (those present), in this order.
FRONT_MATTER = ("url", "final_url", "title", "fetched_at", "description", "canonical", "lang", "author", "published",
                "modified", "site_name", "image")
_LEFT_OUT = frozenset({"markdown", "text"})  # in the .md file (or not wanted there), not in the index
_MAX_SEGMENT = 120  # bytes of a path segment kept as it is; longer ones are cut and hashed
_MAX_PATH = 1024  # bytes of a page's path under DIR; a longer one goes under <host>/~long/
# Characters written ~XX in a file or folder name: those some file systems refuse, and "~" itself,
# so that the marks made here ("~" not followed by two hex digits) are never a URL's own.
_ESCAPED = frozenset('<>:"\\|?*~') | frozenset(map(chr, [*range(32), 127]))
_NAME_ERRORS = frozenset({errno.ENAMETOOLONG, errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.EILSEQ, errno.EINVAL})
_NON_ASCII = re.compile(r"(?:%[89A-F][0-9A-F])+")  # UTF-8 bytes of characters beyond ASCII


def page_path(url: str) -> str:
    """Where a page's Markdown goes under DIR: ``host[_port]/path.md``, one file a URL: the
    mapping is deterministic and never gives two URLs one file, nor a file where a folder must
    go, and no URL leads out of DIR.

    A path ending in ``/`` gives ``index.md`` in that folder (``/index`` gives ``index~.md``);
    a query adds ``~q`` and a hash of it to the name; a folder whose name ends in ``.md`` gets a
    ``~`` (``/x.md/y`` is ``x.md~/y.md``, beside ``/x``'s ``x.md``); characters beyond ASCII are
    shown as themselves, ``~`` and the characters file systems refuse as ``~XX``; an empty
    segment is ``~``; a segment longer than 120 bytes is cut and hashed (``~h``), and a path
    longer than 1,024 bytes is ``<host>/~long/<hash of the URL>.md``."""
    parts = urlsplit(url)
    host = _escape(parts.hostname or "host").replace("_", "~5F") + (f"_{parts.port}" if parts.port else "")
    if host.startswith("index."):
        host += "~"  # never DIR/index.jsonl nor a shard's index.N.jsonl
    segments = [_segment(s) for s in parts.path.split("/")[1:]]
    name = segments.pop() if segments else "~"
    name = {"~": "index", "index": "index~"}.get(name, name)
    folders = [s + "~" if s.endswith(".md") else s for s in segments]
    if parts.query:
        name += "~q" + hashlib.sha1(parts.query.encode()).hexdigest()[:12]
    path = "/".join([host, *folders, name + ".md"])
    if len(path.encode()) > _MAX_PATH:
        path = long_path(host, url)
    return path


def long_path(host: str, url: str) -> str:
    """Where the page of ``url`` goes when its own name is too long (or refused): by its hash."""
    return f"{host}/~long/{hashlib.sha1(url.encode()).hexdigest()}.md"


def _escape(text: str) -> str:
    return "".join(f"~{ord(c):02X}" if c in _ESCAPED else c for c in text)


def _readable(match: re.Match[str]) -> str:
    try:
        return bytes.fromhex(match.group().replace("%", "")).decode("utf-8")
    except UnicodeDecodeError:
        return match.group()


def _segment(segment: str) -> str:
    """One segment of a normalized URL's path as a name on disk. A segment with capitals gets
    ``~c`` and a hash of it, so that two that differ in case only (``/A`` and ``/a``) never
    share a file where the file system ignores case (macOS's, Windows')."""
    if segment in ("", ".", ".."):
        return {"": "~", ".": "~2E", "..": "~2E~2E"}[segment]
    safe = _escape(_NON_ASCII.sub(_readable, segment))
    if len(safe.encode()) > _MAX_SEGMENT:
        safe = safe[:40] + "~h" + hashlib.sha1(safe.encode()).hexdigest()[:16]
    if safe != safe.lower():
        safe += "~c" + hashlib.sha1(safe.encode()).hexdigest()[:8]
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
    writes files). ``relative``: at the end of each run (:meth:`finish`), the links of every
    page to a page of the tree become relative links to its file (wget's ``--convert-links``)."""

    captures = False
    offload = "thread"

    def __init__(self, root: str, relative: bool = False) -> None:
        self.root = Path(root)
        self.relative = relative

    def finish(self, index: str) -> None:
        """Rewrite the tree's links (``relative``): each page's link to a URL the index gives a
        file is made relative to the page's own file; links elsewhere stay as they are. Run
        again at each run's end, it takes up the links to the pages that run added."""
        if self.relative:
            relative_links(self.root, Path(index))

    def encode(self, entries: list[Any], at_start: bool) -> tuple[bytes, int]:
        """The index lines of ``entries``, once their files are written."""
        lines = []
        for record in records_of(entries):
            markdown = record.get("markdown")
            path = None
            if isinstance(markdown, str) and markdown:
                url = record.get("final_url") or record["url"]
                path = page_path(url)
                text = front_matter(record) + markdown.rstrip("\n") + "\n"
                try:
                    self._write(path, text)
                except OSError as e:
                    if e.errno not in _NAME_ERRORS:
                        raise  # a full disk, no permission: the output's failure
                    # A name this file system will not take after all (a case-blind one...).
                    path = long_path(path.split("/", 1)[0], url)
                    self._write(path, text)
            lines.append(json.dumps({**{k: v for k, v in record.items() if k not in _LEFT_OUT}, "path": path},
                                    ensure_ascii=False))
        return ("\n".join(lines) + "\n").encode("utf-8") if lines else b"", len(lines)

    def _write(self, path: str, text: str) -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(target.name + "~tmp")  # no URL's file or folder is named so
        temporary.write_text(text, "utf-8")
        os.replace(temporary, target)

    def resume(self, head: bytes) -> None:
        """Nothing to take up: the files are there."""


_LINK = re.compile(r"(\]\()(<?)(https?://[^)\s>]+)(>?)((?:\s+\"[^\"]*\")?\))")


def relative_links(root: Path, index: Path) -> int:
    """Rewrite the links of the tree under ``root`` whose URL ``index`` (its ``index.jsonl``)
    gives a file to that file, relative to the page that links; the files changed."""
    files: dict[str, str] = {}
    with open(index, encoding="utf-8") as f:
        for line in f:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("path"):
                for key in ("url", "final_url"):
                    if record.get(key):
                        files[record[key]] = record["path"]
    changed = 0
    for page in set(files.values()):
        path = root / page
        try:
            text = path.read_text("utf-8")
        except OSError:
            continue
        here = os.path.dirname(page)

        def local(match: re.Match[str], here: str = here) -> str:
            url, fragment = match.group(3).partition("#")[::2]
            target = files.get(url)
            if target is None:
                return match.group(0)
            link = os.path.relpath(target, here or ".").replace(os.sep, "/") + (f"#{fragment}" if fragment else "")
            return f"{match.group(1)}{match.group(2)}{link}{match.group(4)}{match.group(5)}"

        rewritten = _LINK.sub(local, text)
        if rewritten != text:
            temporary = path.with_name(path.name + "~tmp")
            temporary.write_text(rewritten, "utf-8")
            os.replace(temporary, path)
            changed += 1
    return changed


__all__ = ["FRONT_MATTER", "INDEX", "MarkdownEncoder", "front_matter", "page_path",
           "relative_links"]
