"""Rendering one page in the browser (:mod:`crawler.fetch.browser`), every request it makes
intercepted.

The page's own HTML is the answer the crawler already fetched over HTTP (it is not asked for
twice). Each other request the page makes is decided here, never by the browser:

- a kind in ``--render-block`` (images, fonts, media by default) is refused (``blocked``);
- a scheme other than http(s) (``scheme``), a host out of the crawl's scope (``scope``) or a
  private address named by an IP literal (``private``, the SSRF guard) is refused;
- anything else is fetched by the crawler's own fetcher (its guarded resolver, proxies,
  headers, ``--max-bytes`` and timeout), one request at a time per host within the page's slot
  of the frontier, spaced by the host's delay, each start holding the host's next start back
  by that delay: a rendering keeps to ``--per-host`` and ``--delay`` like any other fetch.

The page is loaded, its network left to go quiet (``render_quiet`` seconds without a request
going, counted here, where every request passes), its actions run
(:data:`crawler.pageactions.PAGE_ACTIONS`), and its DOM read, all within
``--render-timeout``; a page that never goes quiet has its DOM read at the deadline
(``unsettled``). A page that cannot be read at all (the browser crashed, or hangs) raises
:class:`RenderFailed`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from crawler.fetch.browser import BrowserGone, BrowserPool
from crawler.fetch.client import Fetcher
from crawler.fetch.guard import is_blocked
from crawler.fetch.transport import FetchRequest
from crawler.result import FetchResult
from crawler.settings import Settings
from crawler.settings.checks import blocked_kinds
from crawler.urls import host_of, hostname_of, normalize_url

log = logging.getLogger(__name__)

READ_TIMEOUT = 5.0  # seconds to read the DOM after the deadline; longer: the page hung the browser
# Response headers that describe the bytes on the wire, not the (decoded) body handed over.
_WIRE_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding", "connection", "keep-alive"})
# Request headers of the browser's that go on with its request (the crawler sends its own
# User-Agent, Accept-Encoding and the crawl's headers).
_PASSED = frozenset({"accept", "accept-language", "content-type", "referer", "origin", "cookie",
                     "x-requested-with", "range"})


class RenderFailed(Exception):
    """The page could not be rendered (the browser crashed or hung): the URL ends with error
    ``render``."""


@dataclasses.dataclass(slots=True)
class Rendered:
    """A rendered page: its DOM as HTML, and what it asked for."""

    html: str
    unsettled: bool = False  # its network never went quiet before the deadline
    requests: int = 0  # requests fetched for it
    reused: int = 0  # scripts and styles answered from the crawl's cache of them (fetched for an earlier page)
    blocked: int = 0  # requests refused by kind (--render-block)
    refused: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)


class Renderer:
    """Renders pages through ``pool``, fetching what they ask for through ``fetcher``."""

    def __init__(self, settings: Settings, fetcher: Fetcher, pool: BrowserPool, host_allows: Callable[[str], bool],
                 delay: Callable[[str], float], hold: Callable[[str, float], Awaitable[None]]) -> None:
        """``host_allows(url)``: may the page ask ``url``'s host (the crawl's scope, the SSRF
        guard); ``delay(host)``: the host's delay now; ``hold(host, seconds)``: start nothing
        else on the host for that long."""
        self.settings = settings
        self.fetcher = fetcher
        self.pool = pool
        self.host_allows = host_allows
        self.delay = delay
        self.hold = hold
        self.blocked_kinds = blocked_kinds(settings.render_block)
        self.requests = 0
        self.blocked = 0
        self.refused: collections.Counter[str] = collections.Counter()
        self.unsettled = 0
        self.reused = 0
        self.assets = AssetCache(ASSET_CACHE_BYTES)  # scripts and styles, fetched once a crawl

    async def render(self, url: str, document: FetchResult, actions: Sequence[Sequence[Any]] = (),
                     fetched_at: float | None = None) -> Rendered:
        """Render ``url`` from ``document`` (its HTTP answer, whose request started at loop time
        ``fetched_at``: the page's first request to its host waits the host's delay from then),
        running ``actions`` before the DOM is read."""
        loop = asyncio.get_running_loop()
        try:
            async with self.pool.page() as tab:
                deadline = loop.time() + self.settings.render_timeout  # from the moment the page has a browser
                page = tab.page
                visit = _Visit(self, url, document, fetched_at)
                await page.route("**/*", visit.route)
                try:
                    await asyncio.wait_for(self._load(page, visit, url, actions, deadline), deadline - loop.time())
                except TimeoutError:
                    visit.out.unsettled = True
                except BrowserGone:
                    raise
                except Exception as e:
                    if page.is_closed() or tab.gone:
                        raise RenderFailed(f"the browser failed on the page: {_first_line(e)}") from None
                    log.debug("rendering %s: %s", url, _first_line(e))  # a bad action, a frame gone: the DOM as it is
                try:
                    visit.out.html = await asyncio.wait_for(page.content(), READ_TIMEOUT)
                except TimeoutError:
                    if not tab.gone:
                        tab.kill_browser()  # the page hangs the browser
                    raise RenderFailed("the page's DOM could not be read: the page hangs") from None
                except Exception as e:  # the browser went, or the page navigated away as it was read
                    raise RenderFailed(f"the page's DOM could not be read: {_first_line(e)}") from None
                finally:
                    visit.cancel()
        except BrowserGone as e:
            raise RenderFailed(str(e)) from None
        out = visit.out
        self.requests += out.requests
        self.reused += out.reused
        self.blocked += out.blocked
        self.refused.update(out.refused)
        self.unsettled += out.unsettled
        return out

    async def _load(self, page: Any, visit: _Visit, url: str, actions: Sequence[Sequence[Any]],
                    deadline: float) -> None:
        """Load the page, let its network go quiet, run its actions (quiet again after each)."""
        loop = asyncio.get_running_loop()
        quiet = self.settings.render_quiet
        await page.goto(url, wait_until="load", timeout=max(1.0, (deadline - loop.time()) * 1000))
        await visit.settle(quiet)
        for name, *args in actions:
            if name == "scroll":
                for _ in range(int(args[0]) if args else 1):
                    await page.evaluate("window.scrollTo(0, document.body ? document.body.scrollHeight : 0)")
                    await visit.settle(quiet)
            else:
                await getattr(page, name)(*args)
                await visit.settle(quiet)


class _Visit:
    """One page's requests: the interception handler and what it counted."""

    def __init__(self, renderer: Renderer, url: str, document: FetchResult, fetched_at: float | None = None) -> None:
        self.renderer = renderer
        self.url = url
        self.document: FetchResult | None = document
        self.out = Rendered("")
        self._turns: dict[str, asyncio.Lock] = {}  # host -> one request at a time
        self._last: dict[str, float] = {}  # host -> loop time of the page's last start there
        if fetched_at is not None:  # the page's own request: its host's delay counts from it
            self._last[host_of(url)] = fetched_at
        self._tasks: set[asyncio.Task[Any]] = set()
        self._busy = 0  # requests being decided or fetched
        self._moved = asyncio.get_running_loop().time()  # when one last started or ended
        self._change = asyncio.Event()

    def _mark(self, step: int) -> None:
        self._busy += step
        self._moved = asyncio.get_running_loop().time()
        self._change.set()

    async def settle(self, quiet: float) -> None:
        """Wait until the page has had no request going for ``quiet`` seconds (the caller bounds it)."""
        loop = asyncio.get_running_loop()
        while True:
            left = self._moved + quiet - loop.time()
            if self._busy == 0 and left <= 0:
                return
            self._change.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._change.wait(), None if self._busy else left)

    def cancel(self) -> None:
        """The page is done: fetches still going are cancelled."""
        for task in self._tasks:
            task.cancel()

    async def route(self, route: Any) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._mark(1)
        try:
            await self._decide(route)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await route.abort("aborted")
            raise
        except Exception as e:  # the page is closing under it
            log.debug("intercepting %s: %s", route.request.url, _first_line(e))
        finally:
            self._mark(-1)
            if task is not None:
                self._tasks.discard(task)

    async def _decide(self, route: Any) -> None:
        request = route.request
        document = self.document
        if document is not None and request.is_navigation_request():
            self.document = None  # the page itself: the answer fetched over HTTP
            await route.fulfill(status=document.status or 200, headers=_headers(document), body=document.body)
            return
        renderer = self.renderer
        if request.resource_type in renderer.blocked_kinds:
            self.out.blocked += 1
            await route.abort("blockedbyclient")
            return
        url = request.url
        if not url.startswith(("http://", "https://")):
            self.out.refused["scheme"] += 1
            await route.abort("blockedbyclient")
            return
        target = normalize_url(url, renderer.settings.max_url_length)
        if target is None or not renderer.host_allows(target):
            reason = "private" if target is not None and is_blocked(hostname_of(target)) else "scope"
            self.out.refused[reason] += 1
            log.debug("rendering %s: %s refused (%s)", self.url, url, reason)
            await route.abort("blockedbyclient")
            return
        cached = request.method == "GET" and request.resource_type in CACHED_KINDS
        result = await renderer.assets.get(target) if cached else None
        if result is not None:
            self.out.reused += 1
        else:
            try:
                result = await self._fetch(target, request)
            except BaseException:
                if cached:
                    renderer.assets.forget(target)  # the pages waiting for it fetch it themselves
                raise
            if cached:
                renderer.assets.put(target, result)
        if result.status is None:
            await route.abort("failed")
            return
        await route.fulfill(status=result.status, headers=_headers(result), body=result.body)

    async def _fetch(self, url: str, request: Any) -> FetchResult:
        """Fetch ``url`` for the page: the host's turn, its delay, the crawler's fetcher."""
        renderer = self.renderer
        host = host_of(url)
        turn = self._turns.setdefault(host, asyncio.Lock())
        loop = asyncio.get_running_loop()
        async with turn:
            delay = renderer.delay(host)
            if delay:
                wait = self._last.get(host, float("-inf")) + delay - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                await renderer.hold(host, delay)
            self._last[host] = loop.time()
            self.out.requests += 1
            own = {k: v for k, v in request.headers.items() if k.lower() in _PASSED}
            fetcher = renderer.fetcher
            return await fetcher.fetch(FetchRequest(url, follow=False, method=request.method,
                                                    body=request.post_data_buffer,
                                                    headers=fetcher.shaper.headers_for(url, self.url, own) or own))


#: What a rendered page asks for that the crawl keeps (once fetched, for every later page): its
#: scripts and style sheets, a site's same few files on every page.
CACHED_KINDS = frozenset({"script", "stylesheet"})
ASSET_CACHE_BYTES = 32 * 1024 * 1024  # bytes of bodies the crawl keeps of them, at most (least recently used go)


class AssetCache:
    """Scripts and styles answered 200 without ``no-store``, by URL, within ``max_bytes`` (the
    least recently used dropped first); a file asked for by two pages at once is fetched once."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._kept: collections.OrderedDict[str, FetchResult] = collections.OrderedDict()
        self._coming: dict[str, asyncio.Future[FetchResult | None]] = {}

    async def get(self, url: str) -> FetchResult | None:
        """The kept answer for ``url`` (one another page is fetching now is waited for); None
        when the caller is to fetch it (and :meth:`put` it)."""
        kept = self._kept.get(url)
        if kept is not None:
            self._kept.move_to_end(url)
            return kept
        coming = self._coming.get(url)
        if coming is not None:
            return await asyncio.shield(coming)
        self._coming[url] = asyncio.get_running_loop().create_future()
        return None

    def forget(self, url: str) -> None:
        """The fetch of ``url`` did not end (its page closed): whoever waits for it fetches it."""
        coming = self._coming.pop(url, None)
        if coming is not None and not coming.done():
            coming.set_result(None)

    def put(self, url: str, result: FetchResult) -> None:
        """Keep ``result`` if it may be kept; wake the pages waiting for it."""
        coming = self._coming.pop(url, None)
        control = result.headers.get("Cache-Control", "") if result.headers is not None else ""
        keep = result.status == 200 and result.error is None and result.body is not None and \
            "no-store" not in control.lower() and len(result.body) <= self.max_bytes // 8
        if keep and url not in self._kept:
            assert result.body is not None
            self._kept[url] = result
            self.size += len(result.body)
            while self.size > self.max_bytes and self._kept:
                _, old = self._kept.popitem(last=False)
                self.size -= len(old.body or b"")
        if coming is not None and not coming.done():
            coming.set_result(result if keep else None)


def _headers(result: FetchResult) -> dict[str, str]:
    """The answer's headers as the browser is handed them (one value a name: repeated ones
    joined, Set-Cookie by newlines as Playwright takes them)."""
    out: dict[str, str] = {}
    for name, value in (result.headers or {}).items():
        key = name.lower()
        if key in _WIRE_HEADERS:
            continue
        out[key] = (out[key] + ("\n" if key == "set-cookie" else ", ") + value) if key in out else value
    if result.location is not None:
        out["location"] = result.location
    return out


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


__all__ = ["READ_TIMEOUT", "RenderFailed", "Rendered", "Renderer"]
