"""The MCP server (the official ``mcp`` SDK): the service's calls as tools an agent can call,
over stdio (``python -m crawler mcp``) or streamable HTTP at ``/mcp`` on ``crawler serve``.

Tools: ``scrape`` (a page as Markdown and metadata), ``crawl`` (starts a bounded crawl) and
``crawl_status`` (its pages), ``map`` (a site's URLs), ``extract`` (a page's named fields). They
call the same :class:`crawler.service.calls.Desk` as the HTTP endpoints: the same politeness,
SSRF guard and bounds. Each answer is small enough for a model's context: Markdown past
``max_chars`` is cut, and the answer says where to read on (the tool called again with
``offset``, answered from the page fetched already).
"""

from __future__ import annotations

import asyncio
import collections
import time
from typing import Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from crawler._version import __version__
from crawler.service.apicrawls import Crawls
from crawler.service.callerror import CallError
from crawler.service.calls import Desk, ScrapeAsk
from crawler.service.firecrawl import crawl_ask

KEPT_PAGES = 32  # pages scraped lately, kept so that reading on does not fetch them again
KEPT_SECONDS = 600.0
PAGE_SHARE = 4000  # characters of one page's Markdown in a crawl_status answer, at most
INSTRUCTIONS = """Fetch web pages as clean Markdown, politely (robots.txt, per-site limits).
scrape: one page. map: a site's URLs. crawl then crawl_status: a bounded crawl of a site.
extract: a page's metadata, JSON-LD, feeds. Long Markdown is cut: call again with the offset given."""

Render = Literal["never", "auto", "always"]


def _cut(text: str, offset: int, size: int) -> tuple[str, dict[str, Any] | None]:
    """``text[offset:offset+size]``, and a note saying how to read on when there is more."""
    part = text[offset:offset + size]
    end = offset + len(part)
    if end >= len(text):
        return part, None
    return part, {"shown": [offset, end], "total_chars": len(text), "next_offset": end,
                  "note": f"cut at {size} characters: call again with offset={end} to read on"}


def build(desk: Desk, crawls: Crawls) -> MCPServer:
    """The MCP server of ``desk`` and ``crawls``."""
    server: MCPServer = MCPServer(name="crawler", instructions=INSTRUCTIONS, version=__version__)
    budget = desk.bounds.max_chars
    # Answers kept for reading on (offset > 0): a scrape's page, a map's list.
    kept: collections.OrderedDict[tuple[Any, ...], tuple[float, Any]] = collections.OrderedDict()

    async def call(work: Any) -> Any:
        try:
            return await work
        except CallError as e:
            raise ToolError(str(e)) from None

    @server.tool(description="Fetch one web page (politely: robots.txt, per-site limits) and give its main content "
                             "as Markdown with its title, description, language and status. Long pages are cut: "
                             "call again with the offset the answer gives to read on.")
    async def scrape(url: str, only_main_content: bool = True, render: Render | None = None, offset: int = 0,
                     max_chars: int | None = None) -> dict[str, Any]:
        size = min(max_chars or budget, budget)
        key = (url, only_main_content, render)
        now = time.monotonic()
        hit = kept.get(key)
        if hit is not None and now - hit[0] < KEPT_SECONDS and offset > 0:
            data = hit[1]
        else:
            data = await call(desk.scrape(ScrapeAsk(url=url, formats=("markdown",),
                                                    only_main_content=only_main_content, render=render)))
            kept[key] = (now, data)
            while len(kept) > KEPT_PAGES:
                kept.popitem(last=False)
        meta = data["metadata"]
        markdown, more = _cut(data.get("markdown") or "", max(0, offset), size)
        answer = {"url": meta["url"], "status": meta["statusCode"], "title": meta["title"],
                  "description": meta["description"], "language": meta["language"], "markdown": markdown}
        if meta.get("error"):
            answer["error"] = meta["error"]
        if more is not None:
            answer["truncated"] = more
        return answer

    @server.tool(description="Start a bounded crawl of a site (its pages under the URL, limit pages at most); "
                             "answers an id: call crawl_status with it to read the pages as they come.")
    async def crawl(url: str, limit: int = 10, max_depth: int = 2, include_paths: list[str] | None = None,
                    exclude_paths: list[str] | None = None) -> dict[str, Any]:
        body = {"url": url, "limit": limit, "maxDepth": max_depth, "includePaths": include_paths or [],
                "excludePaths": exclude_paths or []}
        ask = await call(crawl_ask(body, desk))
        crawl_id = await call(crawls.start(ask))
        return {"id": crawl_id, "status": "scraping",
                "note": "call crawl_status with this id to read the pages (again until status is completed)"}

    @server.tool(description="The state of a crawl started by crawl, and its pages from offset on (each with its "
                             "url, title, status and Markdown, cut to fit): call again with next_offset for more.")
    async def crawl_status(id: str, offset: int = 0, max_chars: int | None = None) -> dict[str, Any]:
        size = min(max_chars or budget, budget)
        found = await call(crawls.status(id, max(0, offset)))
        pages: list[dict[str, Any]] = []
        used = 0
        for doc in found["data"]:
            if pages and used >= size:
                break
            meta = doc["metadata"]
            markdown, more = _cut(doc.get("markdown") or "", 0, min(PAGE_SHARE, max(size - used, 500)))
            page = {"url": meta["url"], "title": meta["title"], "status": meta["statusCode"], "markdown": markdown}
            if meta.get("error"):
                page["error"] = meta["error"]
            if more is not None:
                page["truncated"] = f"{more['total_chars']} characters, cut (scrape the url to read it all)"
            pages.append(page)
            used += len(markdown) + 200
        answer: dict[str, Any] = {"status": found["status"], "completed": found["completed"],
                                  "total": found["total"], "pages": pages}
        if offset + len(pages) < found["completed"]:
            answer["next_offset"] = offset + len(pages)
        if found.get("error"):
            answer["error"] = found["error"]
        return answer

    @server.tool(description="The URLs of a site, from its sitemaps and its page's links (and, when its sitemaps "
                             "list few, from a short polite walk of its links); with search, those whose URL holds "
                             "its words. A long list is cut: call again with the offset the answer gives.")
    async def map(url: str, search: str | None = None, limit: int = 200, offset: int = 0) -> dict[str, Any]:
        key = ("map", url, search, limit)
        now = time.monotonic()
        hit = kept.get(key)
        if hit is not None and now - hit[0] < KEPT_SECONDS and offset > 0:
            urls, sources = hit[1]  # reading on: the same list (a walk of the site's links is not the same twice)
        else:
            urls, sources = await call(desk.map(url, search, max(1, min(limit, 5000))))
            kept[key] = (now, (urls, sources))
            while len(kept) > KEPT_PAGES:
                kept.popitem(last=False)
        shown: list[str] = []
        used = 0
        for found in urls[max(0, offset):]:
            if shown and used + len(found) > budget:
                break
            shown.append(found)
            used += len(found) + 4
        answer: dict[str, Any] = {"count": len(urls), "urls": shown, "sources": sources}
        end = max(0, offset) + len(shown)
        if end < len(urls):
            answer["truncated"] = {"next_offset": end, "note": f"{len(urls) - end} more: call again with "
                                                              f"offset={end}, or narrow with search"}
        return answer

    @server.tool(description="Named fields of a page: description, canonical, lang, author, published, modified, "
                             "site_name, image, feeds, opengraph, jsonld (the metadata, when none are named), or "
                             "text, markdown, text_hash, ai_usage.")
    async def extract(url: str, fields: list[str] | None = None) -> dict[str, Any]:
        found: dict[str, Any] = await call(desk.extract(url, fields))
        for name in ("markdown", "text"):
            if isinstance(found.get(name), str):
                found[name], more = _cut(found[name], 0, budget)
                if more is not None:
                    found[f"{name}_truncated"] = more["note"].replace("call again with offset",
                                                                      "scrape the url with offset")
        return found

    del scrape, crawl, crawl_status, map, extract  # registered: the server holds them
    return server


async def run_stdio(desk: Desk, crawls: Crawls) -> None:
    """Serve the tools over stdin and stdout until the client goes."""
    server = build(desk, crawls)
    await crawls.open()
    try:
        await server.run_stdio_async()
    finally:
        await asyncio.shield(crawls.close())


__all__ = ["build", "run_stdio"]
