"""A fetched page as the calls give it: Firecrawl's document (``markdown``, ``html``,
``rawHtml``, ``links``, ``metadata``), or the :class:`crawler.service.calls.CallError` naming
why there is no page to give."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from crawler import errors
from crawler.core.fetchone import Fetched
from crawler.service.callerror import FETCH_ERROR_STATUS, STATUS_OF, CallError

#: Why a page was not given, by its error name (else: the error's meaning in the records' docs).
REASONS = {
    errors.ROBOTS: "robots.txt disallows this URL (or could not be read): it is not fetched",
    errors.REDIRECT_BLOCKED: "the page redirects where the service does not go (a private address, or no http(s) URL)",
    errors.TOO_LARGE: "the page is larger than the service's most bytes a page",
    errors.TOO_MANY_REDIRECTS: "the page redirects too many times, or in a loop",
    errors.BLOCKED: "the site answered with a bot screen's block or challenge page (not solved, not bypassed)",
}


def _failed(error: str) -> CallError:
    name = error if error in errors.ERROR_NAMES else errors.CONTENT
    refused = name in (errors.ROBOTS, errors.REDIRECT_BLOCKED)
    return CallError(name, REASONS.get(name, f"the page could not be fetched ({error})"),
                     STATUS_OF["blocked_address"] if refused else FETCH_ERROR_STATUS)


def response_of(fetched: Fetched) -> Any:
    """The response of ``fetched``; :class:`CallError` naming why there is none."""
    if fetched.response is not None:
        return fetched.response
    raise _failed(fetched.error or errors.CONTENT)


def document(fetched: Fetched, source_url: str, formats: Iterable[str], only_main: bool) -> dict[str, Any]:
    """A fetched page as Firecrawl's ``data``: the ``formats`` asked for, and ``metadata``.
    CPU-heavy (the extraction): run in a thread."""
    response = response_of(fetched)
    if fetched.error is not None and fetched.error != errors.HTTP:  # no page to give (a 4xx or 5xx page is one)
        raise _failed(fetched.error)
    formats = set(formats)
    html = response.text if response.body and _is_html(response.content_type) else ""
    found = response.extract() if html else {}
    data: dict[str, Any] = {}
    if "markdown" in formats:
        if not html:
            data["markdown"] = response.text if response.body and _is_text(response.content_type) else ""
        elif only_main:
            data["markdown"] = found.get("markdown") or ""
        else:
            data["markdown"] = whole_markdown(html)
    if "html" in formats:
        data["html"] = clean_html(html) if html else ""
    if "rawHtml" in formats:
        data["rawHtml"] = html
    if "links" in formats:
        data["links"] = response.links()
    metadata: dict[str, Any] = {
        "title": response.title, "description": found.get("description"), "language": found.get("lang"),
        "sourceURL": source_url, "url": response.url, "statusCode": response.status,
        "contentType": response.content_type,
    }
    for ours, theirs in (("canonical", "canonical"), ("author", "author"), ("published", "publishedTime"),
                         ("modified", "modifiedTime"), ("site_name", "siteName"), ("image", "ogImage")):
        if found.get(ours):
            metadata[theirs] = found[ours]
    if response.rendered:
        metadata["rendered"] = True
    if fetched.error is not None:
        metadata["error"] = fetched.error
    data["metadata"] = metadata
    return data


def _is_html(content_type: str | None) -> bool:
    return content_type is None or content_type in ("text/html", "application/xhtml+xml")


def _is_text(content_type: str | None) -> bool:
    return content_type is not None and (content_type.startswith("text/") or content_type.endswith(("json", "xml")))


STRIPPED = ("script", "style", "noscript", "iframe", "template", "svg")


def clean_html(html: str) -> str:
    """``html`` without scripts, styles and other parts that are no content (Firecrawl's
    ``html`` format)."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(html)
    tree.strip_tags(list(STRIPPED))
    return tree.html or ""


def whole_markdown(html: str) -> str:
    """The whole page as Markdown (``onlyMainContent: false``), by markdownify."""
    from markdownify import markdownify

    text: str = markdownify(clean_html(html), heading_style="ATX")
    return re.sub(r"\n{3,}", "\n\n", text).strip()


__all__ = ["clean_html", "document", "response_of", "whole_markdown"]
