"""Does a page look built by script? What ``--render auto`` asks of each HTML page fetched over
HTTP, and how it tells whether rendering changed a page.

The signals, in the order they are tried (the first that holds is the reason given):

- ``app_root``: an app's mount point is empty: an element ``#root``, ``#app``, ``#__next``,
  ``#__nuxt``, ``#___gatsby``, ``#svelte``, ``[data-reactroot]``, ``[ng-app]``, ``[ng-version]``
  or ``[data-server-rendered]`` with no text and no element in it;
- ``noscript``: a ``<noscript>`` that tells the reader to turn JavaScript on (its text names
  JavaScript);
- ``script_links``: the page has links only script can follow (``href="javascript:..."``,
  ``onclick`` handlers) and no plain ones;
- ``little_text``: the page has scripts and little text for its size: under 200 characters, or
  under 2% of its bytes.

A plain page says none of these and is left as fetched. Every function here is pure (run in the
parse threads for big pages).
"""

from __future__ import annotations

import dataclasses
import re

from selectolax.lexbor import LexborHTMLParser

from crawler.parse.charsets import decode_html
from crawler.urls import DEFAULT_MAX_LENGTH, join_url

APP_ROOTS = ("#root", "#app", "#__next", "#__nuxt", "#___gatsby", "#svelte", "[data-reactroot]", "[ng-app]",
             "[ng-version]", "[data-server-rendered]")
LITTLE_TEXT = 200  # characters of text under which a page with scripts looks built by script
TEXT_SHARE = 0.02  # ... or text under this share of its bytes
SAME_TEXT = 1.1  # a rendering that adds less than this much text (and 50 characters) changed nothing
_UNSEEN = ("script", "style", "noscript", "template")
_SCRIPT = re.compile(rb"<script", re.IGNORECASE)


@dataclasses.dataclass(slots=True)
class PageShape:
    """What a page holds for a reader: its text's length, its links, and why it looks built by
    script (None: it does not)."""

    text: int
    links: frozenset[str]
    reason: str | None = None


def has_scripts(body: bytes) -> bool:
    """Could the page be built by script at all? (A page without a ``<script`` says none of the
    signals worth rendering for: nothing would fill an empty root or follow a script link.) A
    byte search, a fraction of :func:`page_shape`'s parse: plain pages are not parsed twice."""
    return _SCRIPT.search(body) is not None


def page_shape(body: bytes | str, charset: str | None, url: str, max_url_length: int = DEFAULT_MAX_LENGTH) -> PageShape:
    """The shape of the HTML ``body`` (bytes in ``charset``, or text) of the page at ``url``;
    links longer than ``max_url_length`` are not counted."""
    html = body if isinstance(body, str) else decode_html(body, charset)
    tree = LexborHTMLParser(html)
    scripts = bool(tree.css_first("script"))
    noscript = " ".join(node.text() for node in tree.css("noscript")).lower()
    links = set()
    script_links = 0
    for node in tree.css("a[href], area[href]"):
        href = (node.attributes.get("href") or "").strip()
        if href.lower().startswith("javascript:"):
            script_links += 1
        elif href and not href.startswith("#"):
            joined = join_url(url, href, max_url_length)
            if joined is not None:
                links.add(joined)
    script_links += len(tree.css("[onclick]"))
    empty_root = any(_empty(node) for selector in APP_ROOTS for node in tree.css(selector))
    tree.strip_tags(list(_UNSEEN))
    body_node = tree.body
    text = len(" ".join((body_node.text(separator=" ") if body_node is not None else "").split()))
    reason = None
    if empty_root:
        reason = "app_root"
    elif "javascript" in noscript:
        reason = "noscript"
    elif script_links and not links:
        reason = "script_links"
    elif scripts and (text < LITTLE_TEXT or text < TEXT_SHARE * len(html)):
        reason = "little_text"
    return PageShape(text, frozenset(links), reason)


def _empty(node: object) -> bool:
    """Has this element neither text nor an element inside?"""
    child = getattr(node, "child", None)
    while child is not None:
        if child.tag != "-text" or child.text_content.strip():
            return False
        child = child.next
    return True


def changed(plain: PageShape, rendered: PageShape) -> bool:
    """Did rendering change what the page holds: links plain HTTP did not give, or more text?"""
    return bool(rendered.links - plain.links) or rendered.text > plain.text * SAME_TEXT + 50


__all__ = ["APP_ROOTS", "PageShape", "changed", "has_scripts", "page_shape"]
