"""``/v1/scrape``, ``/v1/crawl`` and ``/v1/map``: the service's calls for programs, in Firecrawl's
v1 request and response shapes, so that a Firecrawl client switches by its base URL. Answers are
``{"success": true, ...}``; failures ``{"success": false, "error": "<our error name>: <reason>"}``
with a fitting HTTP status. Keys Firecrawl has and this service does not use are taken and
ignored (:data:`IGNORED`); those it cannot honour are refused by name (:data:`REFUSED`); any other
key is refused as unknown.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from crawler.service.apicrawls import CrawlAsk, Crawls
from crawler.service.callerror import CallError
from crawler.service.calls import MAP_LIMIT, NO_MODEL, RENDER_MODES, Desk, ScrapeAsk, header_lines
from crawler.service.patterns import check_patterns, compile_pattern, not_under

#: Firecrawl's keys this service takes and does not use.
IGNORED = frozenset({
    "origin", "integration", "includeTags", "excludeTags", "waitFor", "location", "mobile", "skipTlsVerification",
    "removeBase64Images", "blockAds", "proxy", "parsePDF", "maxAge", "storeInCache", "zeroDataRetention",
    "fastMode", "ignoreSitemap", "deduplicateSimilarURLs", "ignoreQueryParameters", "delay", "maxConcurrency",
    "includeSubdomains", "sitemapOnly", "useIndex", "timeout",
})
#: Firecrawl's keys this service cannot honour, and why.
REFUSED = {
    "actions": "page actions are a spider's (Request(page_actions=...)), not the API's",
    "extract": NO_MODEL,
    "jsonOptions": NO_MODEL,
    "changeTrackingOptions": "change tracking is a durable job's (crawler serve's jobs)",
    "webhook": "the service calls no address it is sent (poll GET /v1/crawl/{id})",
}
SCRAPE_KEYS = frozenset({"url", "formats", "onlyMainContent", "render", "timeout", "headers"})
CRAWL_KEYS = frozenset({"url", "limit", "maxDepth", "maxDiscoveryDepth", "includePaths", "excludePaths",
                        "allowBackwardLinks", "crawlEntireDomain", "allowExternalLinks", "allowSubdomains",
                        "regexOnFullURL", "scrapeOptions"})
MAP_KEYS = frozenset({"url", "search", "limit"})
DESK: web.AppKey[Desk] = web.AppKey("desk", Desk)
CRAWLS: web.AppKey[Crawls] = web.AppKey("crawls", Crawls)


def failure(status: int, message: str, retry_after: float | None = None) -> web.Response:
    """Firecrawl's failure shape."""
    headers = {"Retry-After": str(int(retry_after))} if retry_after is not None else None
    return web.json_response({"success": False, "error": message}, status=status, headers=headers)


def _check_keys(body: Any, known: frozenset[str], what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise CallError("bad_request", f"{what}: the request body must be a JSON object")
    for key in body:
        if key in REFUSED and body[key] not in (None, [], {}):
            raise CallError("bad_request", f"{key}: {REFUSED[key]}")
        if key not in known and key not in IGNORED and key not in REFUSED:
            raise CallError("bad_request", f"{what}: unknown key {key!r} (see the docs' API page)")
    return body


def _int(body: dict[str, Any], key: str, default: int, least: int = 0) -> int:
    value = body.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise CallError("bad_request", f"{key} must be a whole number of at least {least}, got {value!r}")
    return value


def _bool(body: dict[str, Any], key: str, default: bool) -> bool:
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise CallError("bad_request", f"{key} must be true or false, got {value!r}")
    return value


def _strings(body: dict[str, Any], key: str) -> list[str]:
    value = body.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CallError("bad_request", f"{key} must be a list of strings")
    return value


def _patterns(body: dict[str, Any], key: str) -> list[str]:
    patterns = _strings(body, key)
    check_patterns(patterns, key)
    return patterns


def scrape_ask(body: Any) -> ScrapeAsk:
    """A ``/v1/scrape`` body, checked."""
    body = _check_keys(body, SCRAPE_KEYS, "scrape")
    formats = tuple(_strings(body, "formats")) or ("markdown",)
    timeout = body.get("timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0):
        raise CallError("bad_request", f"timeout must be a positive number of milliseconds, got {timeout!r}")
    render = body.get("render")
    if render is not None and render not in RENDER_MODES:
        raise CallError("bad_request", f"render must be one of {', '.join(RENDER_MODES)}, got {render!r}")
    headers = body.get("headers") or {}
    header_lines(headers)
    return ScrapeAsk(url=body.get("url"), formats=formats, only_main_content=_bool(body, "onlyMainContent", True),
                     render=render, timeout=timeout / 1000 if timeout is not None else None, headers=headers)


def path_regex(pattern: str, full_url: bool) -> str:
    """A Firecrawl path pattern (searched in a URL's path; ``^`` anchors it at the path's
    start) as a regex over the whole URL, as ``--include`` and ``--exclude`` take them; checked
    as RE2 runs it (:mod:`crawler.service.patterns`)."""
    compile_pattern(pattern)
    if full_url:
        return pattern
    if pattern.startswith("^"):
        rest = pattern[1:]
        return r"^[a-z][a-z0-9+.-]*://[^/?#]*" + (rest if rest.startswith("/") else "/" + rest)
    return r"^[a-z][a-z0-9+.-]*://[^/?#]*[^?#]*?(?:" + pattern + ")"


async def crawl_ask(body: Any, desk: Desk) -> CrawlAsk:
    """A ``/v1/crawl`` body, checked (its URL by the SSRF guard)."""
    body = _check_keys(body, CRAWL_KEYS, "crawl")
    url = await desk.check_url(body.get("url"))
    most = desk.bounds.max_pages
    limit = _int(body, "limit", most, 1)
    if limit > most:
        raise CallError("limit", f"limit {limit}: a crawl here fetches at most {most} pages (crawler serve "
                                 "--api-max-pages)")
    depth = _int(body, "maxDiscoveryDepth", _int(body, "maxDepth", desk.settings.max_depth))
    full = _bool(body, "regexOnFullURL", False)
    include = tuple(path_regex(p, full) for p in _patterns(body, "includePaths"))
    exclude = [path_regex(p, full) for p in _patterns(body, "excludePaths")]
    if not (_bool(body, "allowBackwardLinks", False) or _bool(body, "crawlEntireDomain", False)):
        path = url.split("/", 3)[3] if url.count("/") >= 3 else ""
        start = path.split("?", 1)[0]
        if start and "/" in start:  # only the pages under the start URL's folder
            folder = start[:start.rfind("/") + 1]
            exclude.append(r"^[a-z][a-z0-9+.-]*://[^/?#]*/" + not_under(folder))
    scope = "any" if _bool(body, "allowExternalLinks", False) else \
        "domain" if _bool(body, "allowSubdomains", False) else "host"
    options = body.get("scrapeOptions") or {}
    if not isinstance(options, dict):
        raise CallError("bad_request", "scrapeOptions must be an object")
    _check_keys(options, SCRAPE_KEYS - {"url"}, "scrapeOptions")
    formats = _strings(options, "formats") or ["markdown"]
    for name in formats:
        if name not in ("markdown", "metadata"):
            raise CallError("bad_request", f"scrapeOptions.formats: a crawl gives markdown and metadata "
                                           f"({name!r}: use /v1/scrape for one page)")
    if not _bool(options, "onlyMainContent", True):
        raise CallError("bad_request", "scrapeOptions.onlyMainContent: a crawl's Markdown is each page's main "
                                       "content (use /v1/scrape for a whole page)")
    render = options.get("render") or "never"
    if render not in RENDER_MODES:
        raise CallError("bad_request", f"render must be one of {', '.join(RENDER_MODES)}, got {render!r}")
    return CrawlAsk(url=url, limit=limit, max_depth=depth, include=include, exclude=tuple(exclude), scope=scope,
                    markdown="markdown" in formats, render=render,
                    headers=header_lines(options.get("headers"), "scrapeOptions.headers"))


async def _body(request: web.Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise CallError("bad_request", "the request body is not JSON") from None
    except RecursionError:
        raise CallError("bad_request", "the request body is nested too deep to read") from None


async def scrape(request: web.Request) -> web.Response:
    """``POST /v1/scrape``."""
    ask = scrape_ask(await _body(request))
    data = await request.app[DESK].scrape(ask)
    return web.json_response({"success": True, "data": data})


async def crawl(request: web.Request) -> web.Response:
    """``POST /v1/crawl``."""
    ask = await crawl_ask(await _body(request), request.app[DESK])
    crawl_id = await request.app[CRAWLS].start(ask)
    return web.json_response({"success": True, "id": crawl_id, "url": _crawl_url(request, crawl_id)})


def _crawl_url(request: web.Request, crawl_id: str) -> str:
    return f"{request.scheme}://{request.host}/v1/crawl/{crawl_id}"


async def crawl_status(request: web.Request) -> web.Response:
    """``GET /v1/crawl/{id}[?skip=N]``."""
    crawl_id = request.match_info["id"]
    try:
        skip = max(0, int(request.query.get("skip", "0")))
    except ValueError:
        raise CallError("bad_request", "skip must be a whole number") from None
    answer = await request.app[CRAWLS].status(crawl_id, skip)
    nxt = answer.pop("next_skip", None)
    if nxt is not None:
        answer["next"] = f"{_crawl_url(request, crawl_id)}?skip={nxt}"
    return web.json_response({"success": True, **answer})


async def crawl_cancel(request: web.Request) -> web.Response:
    """``DELETE /v1/crawl/{id}``."""
    crawls = request.app[CRAWLS]
    crawl_id = request.match_info["id"]
    found = await crawls.row(crawl_id)
    if found is None:
        raise CallError("not_found", f"no crawl {crawl_id!r}")
    if not await crawls.cancel(crawl_id):
        raise CallError("conflict", f"crawl {crawl_id} is {found[0]}: there is nothing to cancel")
    return web.json_response({"success": True, "status": "cancelled"})


async def map_site(request: web.Request) -> web.Response:
    """``POST /v1/map``."""
    body = _check_keys(await _body(request), MAP_KEYS, "map")
    search = body.get("search")
    if search is not None and not isinstance(search, str):
        raise CallError("bad_request", "search must be a string")
    limit = min(_int(body, "limit", 5000, 1), MAP_LIMIT)
    links, sources = await request.app[DESK].map(body.get("url"), search, limit)
    return web.json_response({"success": True, "links": links, "sources": sources})


def add_routes(app: web.Application, desk: Desk, crawls: Crawls) -> None:
    """The ``/v1`` endpoints on ``app``."""
    app[DESK] = desk
    app[CRAWLS] = crawls
    app.add_routes([
        web.post("/v1/scrape", scrape), web.post("/v1/crawl", crawl), web.get("/v1/crawl/{id}", crawl_status),
        web.delete("/v1/crawl/{id}", crawl_cancel), web.post("/v1/map", map_site),
    ])


__all__ = ["CRAWLS", "DESK", "add_routes", "crawl_ask", "failure", "path_regex", "scrape_ask"]
