"""Block and challenge pages told from pages: the answers of bot screens (Cloudflare, Akamai,
DataDome, PerimeterX/HUMAN, Imperva, AWS WAF) and CAPTCHA forms, which a crawl must not take for
the site's content. They are labelled (the error ``blocked``), never solved nor bypassed.

Each rule asks for a vendor's own mark: a header only its screen sends (``cf-mitigated:
challenge``, ``x-datadome``, ``x-amzn-waf-action``), or markers in the first bytes of the body
that only its challenge page carries, on the statuses those pages come with. A page that merely
mentions a CAPTCHA is a page: a CAPTCHA form counts only on an error status (403, 429, 503...).
"""

from __future__ import annotations

from collections.abc import Mapping

from crawler import errors
from crawler.result import FetchResult

HEAD_BYTES = 32_768  # of a body looked at: a challenge page says what it is early
SCREEN_STATUSES = frozenset({401, 403, 405, 429, 503})  # what block pages come with (not 200)

# (vendor, statuses, markers all of which the body has: lower case)
_BODY_RULES: tuple[tuple[str, frozenset[int], tuple[str, ...]], ...] = (
    ("cloudflare", SCREEN_STATUSES, ("<title>just a moment...</title>",)),
    ("cloudflare", SCREEN_STATUSES, ("attention required! | cloudflare",)),
    ("cloudflare", SCREEN_STATUSES, ("/cdn-cgi/challenge-platform/",)),
    ("akamai", SCREEN_STATUSES, ("<title>access denied</title>", "errors.edgesuite.net")),
    ("datadome", SCREEN_STATUSES, ("captcha-delivery.com",)),
    ("perimeterx", SCREEN_STATUSES, ("px-captcha",)),
    ("perimeterx", SCREEN_STATUSES, ("_pxappid",)),
    ("imperva", SCREEN_STATUSES, ("_incapsula_resource",)),
    ("imperva", SCREEN_STATUSES, ("incapsula incident id",)),
    ("aws_waf", SCREEN_STATUSES | {202}, ("awswafintegration",)),
)
# Imperva's page comes with any status, 200 too: its marks as the page spells them (both hold
# "Incapsula", looked for once) in its first bytes (the page is a small one), found without copying
# or lower-casing a body: every page is looked at, and this is the common path.
_ANY_STATUS = (b"_Incapsula_Resource", b"Incapsula incident ID")
_ANY_STATUS_BYTES = 4096
_BODY_STATUSES = SCREEN_STATUSES | {202}
_CAPTCHAS = ("g-recaptcha", "h-captcha", "cf-turnstile", "recaptcha/api.js", "hcaptcha.com/1/api.js")


def block_page(status: int | None, headers: Mapping[str, str] | None, body: bytes) -> str | None:
    """The screen that answered (``cloudflare``, ``akamai``, ``datadome``, ``perimeterx``,
    ``imperva``, ``aws_waf``, ``captcha``) when this answer is a block or challenge page, else
    None. ``headers`` is looked up case-blind (aiohttp's)."""
    if status is None:
        return None
    if headers is not None:
        if headers.get("cf-mitigated", "").lower() == "challenge":
            return "cloudflare"
        if status in SCREEN_STATUSES and ("x-datadome" in headers or "x-dd-b" in headers):
            return "datadome"
        if headers.get("x-amzn-waf-action", "").lower() in ("captcha", "challenge", "block"):
            return "aws_waf"
    if not body:
        return None
    if status not in _BODY_STATUSES:
        if body.find(b"Incapsula", 0, _ANY_STATUS_BYTES) < 0:
            return None
        return "imperva" if any(body.find(m, 0, _ANY_STATUS_BYTES) >= 0 for m in _ANY_STATUS) else None
    head = body[:HEAD_BYTES].decode("latin-1").lower()
    for vendor, statuses, markers in _BODY_RULES:
        if status in statuses and all(m in head for m in markers):
            return vendor
    if status in SCREEN_STATUSES and "<form" in head and any(m in head for m in _CAPTCHAS):
        return "captcha"
    return None


def label_blocked(result: FetchResult) -> None:
    """Make ``result`` a ``blocked`` error (tried again later, as a 503 is) when it is a block or
    challenge page; ``result.blocked`` names the screen."""
    if result.error not in (None, errors.HTTP) or result.location is not None:
        return
    vendor = block_page(result.status, result.headers, result.body)
    if vendor is not None:
        result.error, result.retryable, result.blocked = errors.BLOCKED, True, vendor


__all__ = ["HEAD_BYTES", "SCREEN_STATUSES", "block_page", "label_blocked"]
