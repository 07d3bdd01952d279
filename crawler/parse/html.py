"""HTML parsing with selectolax's lexbor parser: title, links, robots directives.

Runs in the parse thread pool, off the event loop; every function here is pure.
"""

from __future__ import annotations

import codecs
import dataclasses
import logging
import re
from collections.abc import Callable

import webencodings
from selectolax.lexbor import LexborHTMLParser

from crawler.parse.treesize import sane_prefix
from crawler.urls import join_url

log = logging.getLogger(__name__)

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})

_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]+)""", re.IGNORECASE)
# Python's name where it differs from the codec webencodings names: the standard's gbk decoder
# is gb18030's.
_PYTHON_CODEC = {"gbk": "gb18030"}


def is_html(media_type: str | None) -> bool:
    """Is a response of this media type parsed for links?"""
    return media_type in HTML_TYPES


def _codec(label: str | None, in_document: bool = False) -> str | None:
    """The Python codec of a charset label, by the WHATWG Encoding standard's label table (via
    webencodings): ``latin1``, ``ascii`` and ``iso-8859-1`` are windows-1252, ``tis-620`` is
    windows-874, and so on. A label the standard does not know, UTF-7 among them (browsers
    refuse it: it can hide markup from readers that do not decode it), is None: ignored, as
    browsers ignore it. In the document itself (``<meta charset>``) UTF-16 means UTF-8 and
    x-user-defined windows-1252, as the standard says."""
    if not label:
        return None
    encoding = webencodings.lookup(label)
    if encoding is None:
        return None
    name = encoding.name
    if in_document and name in ("utf-16le", "utf-16be"):
        return "utf-8"
    if in_document and name == "x-user-defined":
        return "cp1252"
    if name in ("replacement", "x-user-defined"):
        return name
    return _PYTHON_CODEC.get(name, encoding.codec_info.name)


def sniff_encoding(body: bytes, header_charset: str | None) -> str:
    """The encoding of an HTML body: a BOM, else the Content-Type charset, else a
    ``<meta charset>`` in the first 4 KiB, else UTF-8 (the HTML standard's order; labels it
    does not know are passed over)."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name
    codec = _codec(header_charset)
    if codec:
        return codec
    match = _META_CHARSET.search(body, 0, 4096)
    if match:
        codec = _codec(match.group(1).decode("ascii"), in_document=True)
        if codec:
            return codec
    return "utf-8"


def decode_html(body: bytes, header_charset: str | None) -> str:
    """The body as text; undecodable bytes become U+FFFD."""
    encoding = sniff_encoding(body, header_charset)
    if encoding == "replacement":  # ISO-2022-KR and the like: one U+FFFD for the document
        return "\ufffd" if body else ""
    if encoding == "x-user-defined":  # no Python codec of that name
        return webencodings.decode(body, webencodings.lookup(encoding), errors="replace")[0]
    text = body.decode(encoding, errors="replace")
    return text[1:] if text.startswith("\ufeff") else text


@dataclasses.dataclass(slots=True)
class ParsedPage:
    """What the crawler takes from one HTML page."""

    title: str | None
    links: list[str]  # normalized, in scope, each once: a[href] in document order, then area[href]
    follow: bool  # False when the page says nofollow (meta robots)
    noindex: bool  # True when the page says noindex (meta robots)
    dropped: int = 0  # in-scope links left out by max_links_per_page

    def cap(self, max_links: int) -> ParsedPage:
        """Keep the first ``max_links`` links (0: all), counting the others in ``dropped``."""
        if max_links and len(self.links) > max_links:
            self.dropped += len(self.links) - max_links
            del self.links[max_links:]
        return self


def robots_directives(value: str, agent: str | None = None) -> set[str]:
    """The directives of a meta robots content or an ``X-Robots-Tag`` value, lower case.
    ``none`` stands for ``noindex, nofollow``. Directives aimed at another crawler
    (``otherbot: noindex``) are left out; those for ``agent`` are kept."""
    found: set[str] = set()
    for part in value.lower().split(","):
        name, colon, directive = part.partition(":")
        if colon and directive.strip() and " " not in name.strip():
            if name.strip() not in [*(agent or "").lower().split(), "*"]:
                continue
            part = directive
        found.add(part.strip())
    if "none" in found:
        found |= {"noindex", "nofollow"}
    return found


def html_tree(text: str) -> LexborHTMLParser:
    """The lexbor tree of an HTML document (of its sane part: :func:`crawler.parse.treesize.sane_prefix`;
    raises :class:`crawler.parse.treesize.TooComplex` for markup that would build a tree far larger than
    the page)."""
    return LexborHTMLParser(sane_prefix(text))


def parse_html(
    body: bytes,
    charset: str | None,
    url: str,
    allows: Callable[[str], bool],
    max_url_length: int,
    obey_nofollow: bool = True,
    max_links: int = 0,
) -> ParsedPage:
    """Title and in-scope links of an HTML page fetched from ``url``: :func:`page_of` its tree."""
    return page_of(html_tree(decode_html(body, charset)), url, allows, max_url_length, obey_nofollow, max_links)


def page_of(
    tree: LexborHTMLParser,
    url: str,
    allows: Callable[[str], bool],
    max_url_length: int,
    obey_nofollow: bool = True,
    max_links: int = 0,
) -> ParsedPage:
    """Title and in-scope links of the parsed HTML page fetched from ``url`` (the first
    ``max_links`` of them, unless 0; the others are counted in ``dropped``).

    Links come from ``a[href]`` and ``area[href]``, resolved against ``<base href>`` when there
    is one; unless ``obey_nofollow`` is False, ``rel=nofollow`` links are skipped, and
    ``<meta name=robots content=nofollow>`` makes ``follow`` False.
    """
    # tree.tags() is many times faster than CSS selectors here (a walk, no selector engine).
    titles = tree.tags("title")
    title = titles[0].text(strip=True) if titles else None
    directives: set[str] = set()
    for meta in tree.tags("meta"):
        if (meta.attributes.get("name") or "").strip().lower() == "robots":
            directives |= robots_directives(meta.attributes.get("content") or "")
    base = url
    for node in tree.tags("base"):
        href = node.attributes.get("href")
        if href:
            base = join_url(url, href, max_url_length) or url
            break
    links: list[str] = []
    found: set[str] = set()
    for node in tree.tags("a") + tree.tags("area"):
        attrs = node.attributes
        href = attrs.get("href")
        if href is None:
            continue
        rel = attrs.get("rel")
        if rel and obey_nofollow and "nofollow" in rel.lower():
            continue
        link = join_url(base, href, max_url_length)
        if link is not None and link not in found and allows(link):
            found.add(link)
            links.append(link)
    return ParsedPage(title=title or None, links=links, follow=not (obey_nofollow and "nofollow" in directives),
                      noindex="noindex" in directives).cap(max_links)
