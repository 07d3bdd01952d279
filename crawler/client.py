"""A program's side of ``crawler serve``: :class:`Client` calls its ``/v1`` endpoints (scrape a
page, crawl a site, map a site's URLs) from another process or machine.

    from crawler.client import Client

    client = Client("http://127.0.0.1:8700", token="...")
    page = client.scrape("https://example.org/")           # Firecrawl's data: markdown, metadata
    pages = client.crawl("https://example.org/", limit=50)  # waits for the crawl, every page
    urls = client.map("https://example.org/", search="blog")

Each method has an ``async`` twin (``ascrape``, ``acrawl``, ``amap``, ``astart_crawl``,
``acrawl_status``, ``acancel_crawl``) for programs that run an event loop. A failure the service
answers is raised as :class:`ServiceError`, with the service's error name and reason.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp

POLL = 0.5  # seconds between two looks at a crawl the client waits for


class ServiceError(Exception):
    """The service refused a call or could not do it: ``status`` (HTTP), ``name`` (its error
    name: ``blocked_address``, ``robots``, ``rate_limited``, ``limit``...), ``reason``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.name, _, self.reason = message.partition(": ")


class Client:
    """Calls the service at ``base_url`` (``http://host:8700``) with ``token`` (None: a
    loopback service without one). ``timeout``: seconds an HTTP call may take."""

    def __init__(self, base_url: str, token: str | None = None, timeout: float = 300.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"Client({self.base_url!r})"  # never the token

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        url = self.base_url + path
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as session, \
                session.request(method, url, json=body, headers=self.headers) as response:
            try:
                answer: dict[str, Any] = await response.json(content_type=None)
            except ValueError:
                raise ServiceError(response.status, f"bad_answer: not JSON ({response.reason})") from None
            if response.status >= 400 or not answer.get("success", True):
                raise ServiceError(response.status, str(answer.get("error") or response.reason))
            return answer

    # async
    async def ascrape(self, url: str, formats: list[str] | None = None, *, only_main_content: bool = True,
                      render: str | None = None, timeout: float | None = None,
                      headers: dict[str, str] | None = None) -> dict[str, Any]:
        """One page: Firecrawl's ``data`` (``markdown``... as ``formats`` ask, ``metadata``)."""
        body: dict[str, Any] = {"url": url, "formats": formats or ["markdown"], "onlyMainContent": only_main_content}
        if render is not None:
            body["render"] = render
        if timeout is not None:
            body["timeout"] = int(timeout * 1000)
        if headers:
            body["headers"] = headers
        return (await self._call("POST", "/v1/scrape", body))["data"]  # type: ignore[no-any-return]

    async def astart_crawl(self, url: str, limit: int = 100, **options: Any) -> str:
        """Start a crawl (``limit`` pages at most; ``options``: the other keys of ``/v1/crawl``,
        as ``maxDepth=2, includePaths=[...]``); its id."""
        return str((await self._call("POST", "/v1/crawl", {"url": url, "limit": limit, **options}))["id"])

    async def acrawl_status(self, crawl_id: str, skip: int = 0) -> dict[str, Any]:
        """The crawl's state, and a page of its documents from ``skip`` on (``next``: more)."""
        return await self._call("GET", f"/v1/crawl/{crawl_id}" + (f"?skip={skip}" if skip else ""))

    async def acancel_crawl(self, crawl_id: str) -> None:
        """Stop the crawl (its pages so far stay readable)."""
        await self._call("DELETE", f"/v1/crawl/{crawl_id}")

    async def acrawl(self, url: str, limit: int = 100, wait: float = 3600.0, **options: Any) -> list[dict[str, Any]]:
        """Crawl and wait for the end (``wait`` seconds at most: :class:`TimeoutError`); every
        page's document."""
        crawl_id = await self.astart_crawl(url, limit, **options)
        deadline = time.monotonic() + wait
        while True:
            status = await self.acrawl_status(crawl_id)
            if status["status"] != "scraping":
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"crawl {crawl_id} still under way after {wait:g} s")
            await asyncio.sleep(POLL)
        if status["status"] == "failed":
            raise ServiceError(200, f"crawl_failed: {status.get('error')}")
        docs = list(status["data"])
        while status.get("next") and status["data"]:
            # The next page is asked of this service, never of an address an answer names (the token goes with it).
            status = await self.acrawl_status(crawl_id, len(docs))
            docs += status["data"]
        return docs

    async def amap(self, url: str, search: str | None = None, limit: int = 5000) -> list[str]:
        """The site's URLs (from its sitemaps and its page's links, and its links followed when
        its sitemaps list few)."""
        body: dict[str, Any] = {"url": url, "limit": limit}
        if search:
            body["search"] = search
        return list((await self._call("POST", "/v1/map", body))["links"])

    # sync
    def scrape(self, url: str, formats: list[str] | None = None, **options: Any) -> dict[str, Any]:
        """:meth:`ascrape`, waited for."""
        return asyncio.run(self.ascrape(url, formats, **options))

    def crawl(self, url: str, limit: int = 100, wait: float = 3600.0, **options: Any) -> list[dict[str, Any]]:
        """:meth:`acrawl`, waited for."""
        return asyncio.run(self.acrawl(url, limit, wait, **options))

    def start_crawl(self, url: str, limit: int = 100, **options: Any) -> str:
        """:meth:`astart_crawl`, waited for."""
        return asyncio.run(self.astart_crawl(url, limit, **options))

    def crawl_status(self, crawl_id: str, skip: int = 0) -> dict[str, Any]:
        """:meth:`acrawl_status`, waited for."""
        return asyncio.run(self.acrawl_status(crawl_id, skip))

    def cancel_crawl(self, crawl_id: str) -> None:
        """:meth:`acancel_crawl`, waited for."""
        asyncio.run(self.acancel_crawl(crawl_id))

    def map(self, url: str, search: str | None = None, limit: int = 5000) -> list[str]:
        """:meth:`amap`, waited for."""
        return asyncio.run(self.amap(url, search, limit))


__all__ = ["Client", "ServiceError"]
