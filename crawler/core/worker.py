"""A fetch worker: takes a request from the frontier and walks it through a chain of steps: the
gate (robots.txt first, for a host not seen yet), the fetch, and what comes of the answer (one
:mod:`crawler.core.steps` value: a retry, a redirect hop, an unchanged page, the page for the
handler, or its end), acted on in one place. ``--concurrency`` of them run at once."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from crawler import errors
from crawler.core.accept import Refused
from crawler.core.lane import CacheLane
from crawler.core.stages import Stages
from crawler.core.steps import End, Hop, Outcome, Page, Retry, Same
from crawler.durable.recrawl import conditional_headers
from crawler.errors import FatalError
from crawler.fetch.blocked import label_blocked
from crawler.fetch.transport import FetchRequest
from crawler.output.bodies import store_body
from crawler.parse.sitemaps import SitemapParser
from crawler.result import FetchResult
from crawler.urls import normalize_url, origin_of
from crawler.work import PAGE, SITEMAP, CrawlRequest, Done, Unchanged, request_key

log = logging.getLogger("crawler")


class Worker:
    """The fetch workers' shared logic (each worker is a task running :meth:`run`)."""

    def __init__(self, stages: Stages) -> None:
        self.stages = stages
        self.bodies = stages.settings.store_bodies or None
        self._sitemap_origins: set[str] = set()

    async def run(self) -> None:
        """Take requests until the frontier is closed (or a fatal error)."""
        state, frontier = self.stages.state, self.stages.frontier
        measures = state.stats.measures
        loop = asyncio.get_running_loop()
        while True:
            try:
                request = await frontier.get()
            except FatalError as e:  # the frontier's store is gone
                state.fail(e)
                return
            if request is None:
                return
            state.leased()
            if frontier.shared:
                if request.depth == 0 and request.referrer is None:
                    self.stages.scope.add_seed(request.url)  # a seed another process (or `seed`) added
            if request.queued is not None:
                measures.frontier_wait.add(loop.time() - request.queued)
                request.queued = None
            if not await self._take(request):
                return

    async def run_lane(self, lane: CacheLane) -> None:
        """Take the requests the HTTP cache answers (:mod:`crawler.core.lane`) until the lane
        is closed or the crawl stops."""
        while not self.stages.state.stopping.is_set():
            request = await lane.get()
            if request is None or not await self._take(request, lane=True):
                return

    async def _take(self, request: CrawlRequest, lane: bool = False) -> bool:
        """Process one request and queue what it made for the writer; False when the crawl
        must stop (a fatal error, callbacks that keep failing)."""
        state = self.stages.state
        measures = state.stats.measures
        loop = asyncio.get_running_loop()
        started = loop.time()
        state.in_flight += 1
        host = request.host
        try:
            records = await self.process(request, lane)
            if not lane and not self.stages.frontier.has_work(host):
                self.stages.fetcher.host_done(host)  # its idle connections go: nothing more for it here
        except asyncio.CancelledError:
            raise
        except FatalError as e:
            state.fail(e)
            return False
        except Exception:
            log.exception("unexpected error on %s", request.url)
            try:
                records = await self._act(request, End(None, errors.CONTENT), _Walk())
            except Exception:
                records = [Done.of(request, None, errors.CONTENT)]
        finally:
            state.in_flight -= 1
            measures.workers_busy += loop.time() - started
        if records:
            await self.stages.output.put(records)  # one entry a URL: its items, its Done, ...
        failing = self.stages.runner.failures.stop
        if failing is not None:  # the spider's callbacks keep raising: --max-callback-errors
            state.fail(failing)
            return False
        return True

    async def process(self, request: CrawlRequest, lane: bool = False) -> list[Any]:
        """Walk one request through the gate (robots.txt), the fetch and what comes of it,
        holding a slot of its host (unless it came by the cache ``lane``: then it holds none).
        Returns what goes to the output queue: its own items and Done (unless it goes back to
        the frontier), its HTTP exchanges (WARC), and the ends of URLs it found that robots.txt
        forbids."""
        if request.started is None:
            request.started = asyncio.get_running_loop().time()
        walk = _Walk()
        outcome = await self._gate(request, lane, walk)
        if outcome is None:
            outcome = await self._fetch(request, lane, walk)
        return await self._act(request, outcome, walk)

    async def _gate(self, request: CrawlRequest, lane: bool, walk: _Walk) -> Outcome | None:
        """robots.txt's word on ``request``: None when it may be fetched now; else it waits for
        its host's robots.txt (read now, in this slot) or is refused."""
        robots = self.stages.robots
        if robots is None:
            return None
        origin = origin_of(request.fetch_url)
        rules = robots.cached(origin)
        if rules is None and lane:  # forgotten since it was accepted: the page takes its turn
            return Retry()
        if rules is None:
            # This slot fetches robots.txt; the page waits its turn (and the host's delay).
            try:
                with self.stages.state.traces.span("robots.txt", origin + "/robots.txt"):
                    rules = await robots.load(origin)
            finally:
                await self.stages.frontier.release(request)
            await self.stages.politeness.apply_robots(request.host, rules)
            if self.stages.settings.use_sitemaps and origin not in self._sitemap_origins:
                self._sitemap_origins.add(origin)
                return Retry(0.0, rules.sitemaps or [origin + "/sitemap.xml"])
            return Retry()
        if not rules.allowed(request.fetch_url):
            if not lane:
                await self.stages.frontier.release(request)
            # A redirect hop refused: the record says which (the hop's URL is redirect_to).
            return End(None, rules.reason, redirect_to=request.fetch_url if request.redirects else None)
        return None

    async def _fetch(self, request: CrawlRequest, lane: bool, walk: _Walk) -> Outcome:
        """Fetch ``request`` (a page, rendered if asked, or a sitemap whose URLs are accepted as
        they are read), give its host's slot back, and say what comes of the answer."""
        loop = asyncio.get_running_loop()
        stages = self.stages
        settings, frontier = stages.settings, stages.frontier
        request.attempts += 1
        sitemap = (SitemapParser(settings.sitemap_max_bytes, settings.sitemap_max_urls)
                   if request.kind == SITEMAP else None)
        listed: list[str] = []
        started = loop.time()
        fetching = stages.state.fetching
        fetching[request.host] += 1
        try:
            if sitemap is not None:
                result = await self._fetch_sitemap(request, sitemap, walk, listed)
            else:
                public = await stages.runner.before_fetch(request)
                proxy = (public.proxy or public.meta.get("proxy")) if public is not None else None
                traces = stages.state.traces
                with traces.fetch(request.method, request.fetch_url) as span:
                    result = await stages.fetcher.fetch(FetchRequest(
                        request.fetch_url, keep_body=self._keep_body, follow=False, headers=self._headers(request),
                        proxy=proxy, capture=stages.captures, method=request.method, body=request.payload(),
                        cookies=public.cookies if public is not None else None,
                        digest=frontier.job is not None))  # a durable job tells a changed body by its hash
                    traces.answered(span, result.status, result.error)
                if stages.rendering.on or (public is not None and public.render):
                    with traces.span("render", request.fetch_url):
                        result = await stages.rendering.after_fetch(request, result, started)
                label_blocked(result)
        finally:
            fetching[request.host] -= 1
            if not fetching[request.host]:
                del fetching[request.host]
            if not lane:
                await frontier.release(request)
        wire = result.wire
        if wire is not None and result.error in (None, errors.HTTP):  # whole exchanges only
            walk.found.append(wire)
        seconds = loop.time() - started
        if result.cached:  # the site was not asked: nothing to be polite about
            stages.state.stats.cached += 1
            wait = 0.0
        else:
            stages.state.stats.measures.fetched(request.host, seconds)
            wait = await stages.politeness.after_fetch(request.host, result, seconds)
        if result.retryable and request.attempts <= settings.retries and not stages.state.stopping.is_set():
            stages.state.stats.retries += 1
            return Retry(wait)
        if result.location is not None:
            return Hop(result)
        if sitemap is not None:
            return End(result, listed=listed)
        if frontier.job is not None:
            unchanged = stages.validators.remember(request, result)
            if unchanged is not None and wire is not None:
                wire.revisit = unchanged
            # The spider is not called: the same body is the same page (unless the page's next
            # interval is learned from this visit: --recrawl-after auto).
            if unchanged is not None and settings.changed_only and (
                    stages.tracker is None or stages.tracker.schedule is None):
                return Same()
        return Page(result)

    async def _act(self, request: CrawlRequest, outcome: Outcome, walk: _Walk) -> list[Any]:
        """Do what ``outcome`` says for ``request``: back to the frontier, or its end through
        the handler (the one place a URL is ended); with the ends of the URLs robots.txt refused
        on the way. What goes to the output queue."""
        handler = self.stages.handler
        if isinstance(outcome, Hop):
            outcome = await self._hop(request, outcome.result)
        ended: list[Any] = []
        if isinstance(outcome, Retry):
            await self.requeue(request, outcome.wait)
            if outcome.sitemaps is not None:
                walk.refused += await self.stages.acceptor.accept_sitemaps(outcome.sitemaps)
        elif isinstance(outcome, Same):
            ended = [Unchanged(request.key)]
        elif isinstance(outcome, Page):
            ended = await handler.finish(request, outcome.result, body_path=await self._store_body(outcome.result))
        else:
            ended = await handler.finish(request, outcome.result, outcome.error, listed=outcome.listed,
                                         redirect_to=outcome.redirect_to)
        if walk.refused:
            return [*walk.found, *await handler.finish_refused(walk.refused), *ended]
        return [*walk.found, *ended] if walk.found else ended

    async def _store_body(self, result: FetchResult) -> str | None:
        """With ``--store-bodies``, the page's body saved by its hash (beside the WARC
        exchanges in ``walk.found``: the crawl's other captures); where, else None."""
        if self.bodies is not None and result.body and result.error in (None, errors.HTTP):
            return await store_body(self.bodies, result.body, result.sha1() or "")
        return None

    def _keep_body(self, media_type: str | None) -> bool:
        stages = self.stages
        return (stages.settings.changed_only or self.bodies is not None or stages.spider.wants_body(media_type)
                or stages.rendering.wants_body(media_type))

    def _headers(self, request: CrawlRequest) -> dict[str, str] | None:
        """The headers of the next fetch of ``request``: what the shaper gives (the crawl's
        headers and credentials in their scope, the spider request's own; credentials dropped
        once a redirect has left the request's origin), and conditional GET headers on a
        recrawl."""
        spider = request.request
        own = spider.headers if spider is not None else None
        if spider is not None and spider.json is not None and request.payload() is not None and not any(
                k.lower() == "content-type" for k in own or ()):
            own = {**(own or {}), "Content-Type": "application/json"}
        headers = self.stages.fetcher.shaper.headers_for(request.fetch_url, request.url, own)
        conditional = conditional_headers(request) if self.stages.frontier.job is not None else None
        return (headers or {}) | conditional if conditional else headers

    async def requeue(self, request: CrawlRequest, wait: float) -> None:
        """Send ``request`` back to the frontier, not to be handed out before ``wait`` seconds
        (a retry, a redirect hop, a page that waited for robots.txt). On a shared frontier it
        is no longer this process's to finish: whoever leases it next counts it."""
        request.queued = asyncio.get_running_loop().time()
        await self.stages.frontier.retry(request, wait)
        self.stages.state.given_back()
        # A requeued request can be ready again at once, and an in-memory frontier hands it out
        # without suspending: yield here, so a worker can never cycle requeue -> get and starve
        # the task it waits for.
        await asyncio.sleep(0)

    async def _hop(self, request: CrawlRequest, result: FetchResult) -> Retry | End:
        """A redirect: on to its target through the frontier (so the target's host slot, delay
        and robots.txt apply to the hop): :class:`Retry`. When the hop is refused (scope, too
        many) or the target is another URL's (linked itself, or where another redirect went),
        the request ends here, its record saying where the redirect pointed (``redirect_to``)."""
        target = result.location
        assert target is not None
        if not self.stages.scope.allows(target):
            log.debug("redirect from %s to %s blocked by the scope", request.fetch_url, target)
            return End(result, errors.REDIRECT_BLOCKED, redirect_to=target)
        if (target == request.fetch_url or (request.visited is not None and target in request.visited)
                or request.redirects >= self.stages.settings.max_redirects):
            return End(result, errors.TOO_MANY_REDIRECTS, redirect_to=target)
        if not await self.stages.frontier.claim(_hop_key(request, target, result.status), request.key, request.depth):
            log.debug("redirect from %s to %s: a URL of the crawl already, not fetched again",
                      request.fetch_url, target)
            return End(result, redirect_to=target)
        request.redirect(target, result.status or 302)
        return Retry()

    async def _fetch_sitemap(self, request: CrawlRequest, parser: SitemapParser, walk: _Walk,
                             listed: list[str]) -> FetchResult:
        """Fetch a sitemap, accepting the URLs it lists as they are parsed (the in-scope ones
        are added to ``listed``, those robots.txt refuses to ``walk.refused``); the result."""

        async def take() -> None:
            pages: list[CrawlRequest] = []
            for entry in parser.take():
                url = normalize_url(entry.loc, self.stages.settings.max_url_length)
                if url is None or not self.stages.scope.allows(url):
                    continue
                listed.append(url)
                kind = SITEMAP if entry.is_sitemap else PAGE
                pages.append(CrawlRequest(url, 0, request.url, kind, None if entry.is_sitemap else entry.lastmod))
            walk.refused += await self.stages.acceptor.accept(pages)

        async def consume(data: bytes) -> bool:
            parser.feed(data)
            await take()
            return not parser.full  # at the cap, the rest is not read

        stages = self.stages
        result = await stages.fetcher.fetch(FetchRequest(request.fetch_url, follow=False, consumer=consume,
                                                         limit=stages.settings.sitemap_max_bytes,
                                                         capture=stages.captures))
        if result.error is None and result.location is None and result.status is not None and result.status < 300:
            parser.close()
            await take()
            if parser.full:
                log.warning("sitemap %s lists more than %d URLs (sitemap_max_urls, the protocol's limit): "
                            "the rest are left out", request.fetch_url, parser.max_urls)
            elif parser.error is not None:
                log.warning("sitemap %s: %s", request.fetch_url, parser.error)
                result.error = errors.CONTENT
        return result


class _Walk:
    """What one request's walk collects for the output queue besides its end: its HTTP
    exchanges (``found``) and the URLs found on the way that robots.txt refuses (``refused``,
    ended with it)."""

    __slots__ = ("found", "refused")

    def __init__(self) -> None:
        self.found: list[Any] = []
        self.refused: Refused = []


def _hop_key(request: CrawlRequest, target: str, status: int | None) -> str:
    """The key of a redirect's next hop: its URL for a GET, else with the method and body that
    go on with it (see :meth:`CrawlRequest.redirect`)."""
    method = request.method
    if status in (301, 302, 303) and method not in ("GET", "HEAD"):
        return target  # on as a GET, without the body
    return request_key(target, method, request.payload())


__all__ = ["Worker"]
