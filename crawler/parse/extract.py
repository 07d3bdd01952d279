"""What ``--extract`` adds to a page's record: its main text (plain and Markdown) from an
engine, its metadata (:mod:`crawler.parse.metadata`), a SimHash of the text and its AI-usage
signals. :func:`extract_page` is pure and CPU-heavy: the crawl runs it in worker processes
(:mod:`crawler.parse.extractpool`), a spider's ``response.extract()`` in its callback's thread.

Engines (``--extract-engine``), scored on the article set of ``../shared/extraction/`` by
``bench/bench_extract.py``:

- ``trafilatura`` (the default): trafilatura's fast mode, comments left out. Asked for
  Markdown as well, one pass keeps formatting, links and images, and the plain text is that
  pass's text without them.
- ``resiliparse``: resiliparse's main-content heuristics, several times faster and less exact;
  its Markdown is made with markdownify from resiliparse's minimal HTML (headings, paragraphs,
  lists, preformatted text, links).
- ``trafilatura-precision``: trafilatura's full mode with ``favor_precision``: the most exact
  and the slowest.
"""

from __future__ import annotations

import copy
import importlib.util
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser

from crawler._version import install_hint
from crawler.errors import UsageError
from crawler.parse.html import html_tree
from crawler.parse.metadata import meta_contents, page_metadata, robots_values
from crawler.parse.simhash import simhash
from crawler.parse.usage import ai_usage
from crawler.settings import EXTRACT_ENGINES, EXTRACT_FIELDS, Settings, extract_fields

#: Characters of the main text the language is detected from (when the page does not say).
LANG_SAMPLE = 2000
_NEEDS_TEXT = frozenset({"text", "markdown", "text_hash", "lang"})


def extraction_fields(settings: Settings) -> tuple[str, ...]:
    """The fields a crawl extracts: those ``--extract`` names; every one for ``--format
    markdown`` when it names none (the files need the Markdown, their front matter the rest)."""
    fields = extract_fields(settings.extract)
    return fields or (EXTRACT_FIELDS if settings.format == "markdown" else ())


#: What the main text needs: the ``extract`` extra (the metadata fields need nothing more).
EXTRA_MODULES = ("trafilatura", "lxml_html_clean", "resiliparse", "markdownify", "py3langid")


def require_extraction(fields: Iterable[str]) -> None:
    """:class:`UsageError` (one line naming what to install) when ``fields`` need the main text
    and the ``extract`` extra is not installed."""
    needs = sorted(_NEEDS_TEXT.intersection(fields))
    if not needs:
        return
    missing = [name for name in EXTRA_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise UsageError(f"extracting {', '.join(needs)} needs the extract extra ({', '.join(missing)} "
                         f"missing): {install_hint('extract')}")


def empty_fields(fields: Iterable[str]) -> dict[str, Any]:
    """The fields of a page that has none (not HTML, not fetched): every one null."""
    return dict.fromkeys(fields)


def main_text(html: str, url: str | None, engine: str = EXTRACT_ENGINES[0],
              markdown: bool = False) -> tuple[str | None, str | None]:
    """The main content of ``html`` as plain text and (``markdown``) as Markdown."""
    if engine == "resiliparse":
        return _resiliparse(html, markdown)
    return _trafilatura(html, url, markdown, precise=engine == "trafilatura-precision")


def _trafilatura(html: str, url: str | None, markdown: bool, precise: bool = False) -> tuple[str | None, str | None]:
    from lxml import etree
    from trafilatura import bare_extraction
    from trafilatura.xml import xmltotxt

    # No url: trafilatura would make links absolute against the site's root, not the page.
    document: Any = bare_extraction(html, fast=not precise, favor_precision=precise, include_comments=False,
                                    include_formatting=markdown, include_links=markdown, include_images=markdown,
                                    with_metadata=False)
    if document is None or document.body is None:
        return None, None
    body = document.body
    _drop_permalinks(body)
    if not markdown:
        return xmltotxt(body, False) or None, None
    if url:
        _absolute_links(body, url)
    plain = copy.deepcopy(body)
    etree.strip_tags(plain, "ref")  # a link's text stays, its URL goes
    etree.strip_elements(plain, "graphic", with_tail=False)
    return xmltotxt(plain, False) or None, xmltotxt(body, True) or None


#: What a heading's permalink shows (Sphinx's "¶", MkDocs' and GitHub's "#", "§", a link sign).
PERMALINK_MARKS = frozenset({"¶", "§", "#", "🔗", "⚓"})
_TRAILING_MARKS = "¶§🔗⚓ \t"  # "#" kept in text: a heading may end in it (C#)


def _drop_permalinks(body: Any) -> None:
    """Take the permalink anchors off an extracted body's headings: a link to a fragment whose
    text is only a mark (``## Title[¶](#title)``), or that mark left at a heading's end when the
    links are not kept."""
    for ref in list(body.iter("ref")):
        if len(ref) == 0 and (ref.text or "").strip() in PERMALINK_MARKS and "#" in (ref.get("target") or ""):
            _remove_keeping_tail(ref)
    for head in body.iter("head"):
        last = head[-1] if len(head) else None
        if last is None and head.text:
            head.text = head.text.rstrip(_TRAILING_MARKS)
        elif last is not None and last.tail:
            last.tail = last.tail.rstrip(_TRAILING_MARKS)


def _remove_keeping_tail(element: Any) -> None:
    parent = element.getparent()
    tail = element.tail or ""
    previous = element.getprevious()
    if previous is not None:
        previous.tail = (previous.tail or "") + tail
    else:
        parent.text = (parent.text or "") + tail
    parent.remove(element)


def _absolute_links(body: Any, url: str) -> None:
    """Links (``ref``) and images (``graphic``) of an extracted body made absolute against the page."""
    for tag, attribute in (("ref", "target"), ("graphic", "src")):
        for element in body.iter(tag):
            value = element.get(attribute)
            if value:
                element.set(attribute, urljoin(url, value.strip()))


def _resiliparse(html: str, markdown: bool) -> tuple[str | None, str | None]:
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    tree = HTMLTree.parse(html)
    text = extract_plain_text(tree, main_content=True) or None
    if not markdown:
        return text, None
    from markdownify import markdownify

    minimal = extract_plain_text(tree, main_content=True, preserve_formatting="minimal_html", links=True)
    return text, markdownify(minimal, heading_style="ATX").strip() or None


def detect_language(text: str | None) -> str | None:
    """The language of ``text`` (an ISO 639-1 code) by py3langid; None without text."""
    if not text or not text.strip():
        return None
    import py3langid

    code, _ = py3langid.classify(text[:LANG_SAMPLE])
    return str(code)


def extract_page(html: str, url: str, fields: Iterable[str] = EXTRACT_FIELDS, engine: str = EXTRACT_ENGINES[0],
                 headers: Mapping[str, str] | None = None, robots_lines: Iterable[tuple[str, str]] = (),
                 tree: LexborHTMLParser | None = None) -> dict[str, Any]:
    """The ``fields`` of one HTML page (decoded), in :data:`EXTRACT_FIELDS` order, plus
    ``jsonld_invalid`` (JSON-LD blocks that could not be parsed, for the stats). ``headers``:
    the response's (``X-Robots-Tag``, ``tdm-reservation``); ``robots_lines``: its host's
    robots.txt ``Content-Signal``/``Content-Usage`` lines; ``tree``: the page parsed already."""
    wanted = [f for f in EXTRACT_FIELDS if f in set(fields)]
    out: dict[str, Any] = dict.fromkeys(wanted)
    tree = html_tree(html) if tree is None else tree
    metas = meta_contents(tree)
    meta = page_metadata(tree, url, metas)
    text = markdown = None
    if _NEEDS_TEXT.intersection(wanted):
        text, markdown = main_text(html, url, engine, markdown="markdown" in wanted)
    for field in wanted:
        if field == "text":
            out["text"] = text
        elif field == "markdown":
            out["markdown"] = markdown
        elif field == "text_hash":
            out["text_hash"] = simhash(text)
        elif field == "lang":
            out["lang"] = meta["lang"] or detect_language(text)
        elif field == "ai_usage":
            out["ai_usage"] = ai_usage(robots_values(tree), headers or {}, metas, robots_lines)
        else:
            out[field] = meta[field]
    out["jsonld_invalid"] = meta["jsonld_invalid"]
    return out


__all__ = ["LANG_SAMPLE", "detect_language", "empty_fields", "extract_page", "extraction_fields", "main_text"]
