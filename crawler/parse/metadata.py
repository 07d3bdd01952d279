"""A page's metadata read from the lexbor tree the crawler builds anyway: description,
canonical URL, language, author, dates, site name, image, feeds, OpenGraph and Twitter card
properties, and every JSON-LD block (an invalid one is counted, never fatal). Pure functions,
run in the extraction workers."""

from __future__ import annotations

import json
import re
from typing import Any

from selectolax.lexbor import LexborHTMLParser

from crawler.urls import join_url

#: Feed media types a ``<link rel="alternate">`` may announce.
FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/feed+json",
                        "application/json+feed", "application/rdf+xml"})
#: Meta properties kept in ``opengraph`` (the OpenGraph protocol's, its article/book/profile
#: kinds, and Twitter's cards).
OPENGRAPH_PREFIXES = ("og:", "article:", "book:", "profile:", "twitter:")
_MAX_URL = 4096
_COMMENT = re.compile(r"^\s*(<!--|//\s*<!\[CDATA\[|<!\[CDATA\[)|(-->|//\s*\]\]>|\]\]>)\s*$")


def meta_contents(tree: LexborHTMLParser) -> dict[str, str]:
    """``<meta>`` contents by name, property or itemprop (lower case; the first of each)."""
    found: dict[str, str] = {}
    for node in tree.css("meta[content]"):
        attributes = node.attributes
        content = attributes.get("content")
        if content is None:
            continue
        for attribute in ("property", "name", "itemprop", "http-equiv"):
            key = attributes.get(attribute)
            if key:
                found.setdefault(key.strip().lower(), content.strip())
    return found


def json_ld(tree: LexborHTMLParser) -> tuple[list[Any], int]:
    """Every JSON-LD block of the page, parsed, and how many could not be."""
    blocks: list[Any] = []
    invalid = 0
    for node in tree.css('script[type="application/ld+json"]'):
        text = _COMMENT.sub("", (node.text(deep=True) or "").strip()).strip()
        if not text:
            continue
        try:
            blocks.append(json.loads(text))
        except ValueError:
            invalid += 1
    return blocks, invalid


def _things(blocks: list[Any]) -> list[dict[str, Any]]:
    """The JSON-LD objects, ``@graph`` and lists flattened."""
    out: list[dict[str, Any]] = []
    pending = list(blocks)
    while pending:
        block = pending.pop(0)
        if isinstance(block, list):
            pending[:0] = block
        elif isinstance(block, dict):
            out.append(block)
            graph = block.get("@graph")
            if isinstance(graph, list):
                pending += graph
    return out


def _name(value: Any) -> str | None:
    """A person's, organisation's or image's name or URL as JSON-LD gives it."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, dict):
        for key in ("name", "url", "@id"):
            if isinstance(value.get(key), str):
                return str(value[key]).strip() or None
    if isinstance(value, list):
        names = [n for n in (_name(v) for v in value) if n]
        return ", ".join(dict.fromkeys(names)) or None
    return None


def _first(*values: Any) -> Any:
    return next((v for v in values if v), None)


def page_metadata(tree: LexborHTMLParser, url: str, metas: dict[str, str] | None = None) -> dict[str, Any]:
    """The metadata fields of one page (None where the page says nothing), ``jsonld`` with
    every block, and ``jsonld_invalid``: how many blocks could not be parsed. ``metas``: the
    page's :func:`meta_contents`, when they were read already."""
    metas = meta_contents(tree) if metas is None else metas
    blocks, invalid = json_ld(tree)
    things = _things(blocks)

    def ld(key: str) -> Any:
        return _first(*(t.get(key) for t in things))

    html = tree.css_first("html")
    lang = (html.attributes.get("lang") or html.attributes.get("xml:lang")) if html is not None else None
    lang = _first((lang or "").strip(), metas.get("content-language"), metas.get("og:locale"))
    canonical = None
    for node in tree.css("link[rel][href]"):
        rel = (node.attributes.get("rel") or "").lower().split()
        if "canonical" in rel:
            canonical = join_url(url, node.attributes.get("href") or "", _MAX_URL)
            break
    feeds = []
    for node in tree.css("link[rel][href][type]"):
        rel = (node.attributes.get("rel") or "").lower().split()
        kind = (node.attributes.get("type") or "").lower().strip()
        if "alternate" in rel and kind in FEED_TYPES:
            feed = join_url(url, node.attributes.get("href") or "", _MAX_URL)
            if feed:
                feeds.append(feed)
    image = _first(metas.get("og:image"), metas.get("og:image:url"), metas.get("twitter:image"), _name(ld("image")))
    return {
        "description": _first(metas.get("description"), metas.get("og:description"),
                              metas.get("twitter:description"), _text(ld("description"))),
        "canonical": canonical or (join_url(url, metas["og:url"], _MAX_URL) if metas.get("og:url") else None),
        "lang": lang or None,
        "author": _first(metas.get("author"), metas.get("article:author"), _name(ld("author")),
                         metas.get("dc.creator"), metas.get("twitter:creator")),
        "published": _first(metas.get("article:published_time"), _text(ld("datePublished")),
                            metas.get("datepublished"), metas.get("date"), metas.get("dc.date"),
                            metas.get("pubdate"), metas.get("publish-date"), _time(tree)),
        "modified": _first(metas.get("article:modified_time"), metas.get("og:updated_time"),
                           _text(ld("dateModified")), metas.get("datemodified"), metas.get("last-modified")),
        "site_name": _first(metas.get("og:site_name"), _name(ld("publisher")), metas.get("application-name")),
        "image": join_url(url, image, _MAX_URL) if isinstance(image, str) else None,
        "feeds": list(dict.fromkeys(feeds)),
        "opengraph": {k: v for k, v in metas.items() if k.startswith(OPENGRAPH_PREFIXES)} or None,
        "jsonld": blocks,
        "jsonld_invalid": invalid,
    }


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _time(tree: LexborHTMLParser) -> str | None:
    """The first ``<time datetime>`` of the article (else of the page)."""
    node = tree.css_first("article time[datetime]") or tree.css_first("time[datetime]")
    return (node.attributes.get("datetime") or "").strip() or None if node is not None else None


def robots_values(tree: LexborHTMLParser) -> list[str]:
    """The contents of the page's ``<meta name="robots">`` (and crawler-specific) tags."""
    out = []
    for node in tree.css("meta[name][content]"):
        name = (node.attributes.get("name") or "").lower()
        if name in ("robots", "googlebot", "bingbot", "ccbot", "gptbot"):
            out.append(node.attributes.get("content") or "")
    return out


__all__ = ["FEED_TYPES", "OPENGRAPH_PREFIXES", "json_ld", "meta_contents", "page_metadata", "robots_values"]
