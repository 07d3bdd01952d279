"""The frontier interface: the URL queue with dedupe and per-host scheduling.

A store implements :class:`Frontier`: in memory (:mod:`.memory`), SQLite (durable, behind
``--job-dir``: :mod:`.sqlite`) and Redis (shared by many processes: :mod:`.redis`) behind the
same methods, and the engine knows no other: it never asks which store it has, only what its
``job`` (the job's own state when the store is kept on disk: exactly-once commits; None
otherwise) and ``shared`` (other processes work on it: a URL is this process's once it is
leased, and the crawl is over when the store says so) say. Every method that a store may have
to take to disk or over the network is a coroutine:

- ``open`` and ``aclose`` begin and end the store's life in a crawl (connect, open the file);
  ``open`` says how many URLs are pending from before (a resumed job);
- ``add`` accepts new URLs (dedupe by normalized URL, at most ``limit`` of them) and returns
  those that were new; with ``queue=False`` they are only marked seen (their records are made
  without a fetch, e.g. robots.txt forbids them);
- ``unseen`` pre-filters URLs already accepted, so most links cost a set look-up only;
- ``claim`` marks a redirect target seen on behalf of the URL that redirected there, so the
  target is fetched once: a link to it later is a duplicate, and a redirect to a URL seen
  before (other than by the same URL: a resumed or retried chain) ends at the redirect;
- ``get`` hands out the request whose host is ready soonest, taking a slot of that host and
  waiting while no host is ready, so a slow or delayed host never holds up the others;
- ``release`` returns a host's slot once its fetch is over (``--per-host`` counts slots, and
  the host's delay spaces request starts);
- ``retry`` puts a request back at the head of its host's queue, not to start before ``wait``
  seconds (backoff, ``Retry-After``, a redirect hop, a page waiting for its host's robots.txt);
- ``hold`` and ``set_delay`` move a host's next start (backoff, Crawl-delay, throttling);
- ``commit`` says that URLs' records are written (and synced): SQLite marks them done in one
  transaction with the output's committed length, Redis ends their leases, memory has nothing
  to do;
- ``settle`` is asked when the engine has nothing outstanding: how many URLs the store still
  holds that are not done (made ready to hand out again); the crawl ends only at 0;
- ``give_back`` hands back, at the end of a run, what this process took and did not finish
  (Redis: its leases; the others keep their state as it is);
- ``has_work`` hints whether a host has anything left here (when not, its idle connections are
  closed);
- ``close`` wakes every waiting ``get`` with ``None``: the crawl is over or stopping.

Hosts are ``host[:port]`` strings (:attr:`CrawlRequest.host`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from crawler.work import CrawlRequest, Tracked


class Frontier(Protocol):
    """Queue of URLs to fetch, with dedupe and per-host scheduling."""

    shared: bool  # other processes work on the same store

    @property
    def job(self) -> JobStore | None:
        """The job this store keeps on disk (commits make its output exactly-once across
        stops), or None."""
        ...

    async def open(self) -> int:
        """Get ready for the crawl (connect, open the file); the URLs pending from an earlier run."""
        ...

    async def aclose(self) -> None:
        """The crawl is over: flush and disconnect (also after the store failed)."""
        ...

    async def add(self, requests: Iterable[CrawlRequest], *, queue: bool = True,
                  limit: int | None = None) -> list[CrawlRequest]:
        """Accept the requests whose URLs were never seen (at most ``limit``); return those."""
        ...

    async def unseen(self, urls: list[str]) -> list[str]:
        """Those of ``urls`` not accepted yet: a cheap pre-filter before requests are built
        (``add`` still decides). A store may return ``urls`` unfiltered."""
        ...

    async def claim(self, target: str, owner: str, depth: int = 0) -> bool:
        """Mark ``target``, where ``owner`` (an accepted URL) redirects, as seen; True when it
        is ``owner``'s to fetch (new, or claimed by ``owner`` before), False when another URL
        has it (accepted itself, or the target of another redirect)."""
        ...

    async def get(self) -> CrawlRequest | None:
        """The next request to fetch, taking a slot of its host; None once closed."""
        ...

    async def release(self, request: CrawlRequest) -> None:
        """The fetch of ``request`` is over: free its host slot."""
        ...

    async def retry(self, request: CrawlRequest, wait: float) -> None:
        """Fetch ``request`` again (at ``request.fetch_url``), not before ``wait`` seconds."""
        ...

    async def hold(self, host: str, wait: float) -> None:
        """Start nothing on ``host`` for ``wait`` seconds."""
        ...

    async def set_delay(self, host: str, delay: float) -> None:
        """Space request starts to ``host`` by ``delay`` seconds from now on."""
        ...

    async def commit(self, urls: Iterable[str], meta: dict[str, str] | None = None,
                     validators: dict[str, tuple[str | None, str | None, str | None]] | None = None,
                     tracked: dict[str, Tracked] | None = None) -> None:
        """The records of ``urls`` are written (and, for a durable store, synced): they are done.
        ``meta`` (the output's committed length...) and ``validators`` (ETag, Last-Modified,
        body hash by URL) go with them into the same transaction, where there is one."""
        ...

    async def give_back(self) -> None:
        """Return what this process took and did not finish, for others to take (the run ends)."""
        ...

    async def settle(self) -> int:
        """Nothing is outstanding in this process: the URLs the store still holds that are not
        done, queued to be handed out again (0 when the crawl is over). A shared store, whose
        crawl ends when every process is done, answers 0."""
        ...

    def has_work(self, host: str) -> bool:
        """A hint: False when this store holds nothing queued or in flight for ``host`` in this
        process (its idle connections can go); a store that cannot tell cheaply says True."""
        ...

    def close(self) -> None:
        """Hand out nothing more; every ``get`` returns None."""
        ...

    def __len__(self) -> int:
        """Requests queued and not yet handed out (may be an estimate, for progress)."""
        ...


class JobStore(Protocol):
    """What a job keeps in its durable store besides the URLs: the output's committed length and
    run count (``meta``, written with a commit), robots.txt answers, the job's counts."""

    @property
    def path(self) -> Path:
        """The store's file."""
        ...

    async def meta(self, key: str) -> str | None:
        """A value stored by :meth:`commit` or :meth:`set_meta`."""
        ...

    async def set_meta(self, key: str, value: str) -> None:
        """Store ``value`` under ``key``."""
        ...

    async def counts(self) -> tuple[int, int]:
        """(URLs the job knows, URLs done)."""
        ...

    async def robots_get(self, origin: str) -> tuple[str, str, float, str] | None:
        """The robots.txt answer kept for ``origin``: (mode, text, expiry as a Unix time, reason)."""
        ...

    async def robots_put(self, origin: str, mode: str, text: str, expires: float, reason: str) -> None:
        """Keep the robots.txt answer of ``origin``."""
        ...

    async def commit(self, urls: Iterable[str], meta: dict[str, str] | None = None,
                     validators: dict[str, tuple[str | None, str | None, str | None]] | None = None,
                     tracked: dict[str, Tracked] | None = None) -> None:
        """As :meth:`Frontier.commit`: ``meta`` and what change tracking keeps of each page
        (``tracked``) go into the same transaction."""
        ...

    async def kept_text(self, key: str) -> bytes | None:
        """The text the last record of ``key`` kept for a diff (zlib-compressed), if any."""
        ...

    async def near_duplicate(self, url: str, text_hash: str, bits: int) -> str | None:
        """The earliest other page of the job whose SimHash is within ``bits`` of ``text_hash``
        (its URL), if any; ``url``'s is kept for the pages after it."""
        ...

    @property
    def made_due(self) -> int:
        """URLs done by earlier runs that this run found due again (a recrawl)."""
        ...

    async def freshness(self) -> float | None:
        """The share of the job's pages estimated unchanged since their last fetch, if known."""
        ...
