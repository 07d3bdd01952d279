"""The :class:`Spider` to subclass, the :class:`Failure` its errbacks get, and
:class:`DropItem` for its pipelines."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from crawler.errors import UsageError
from crawler.request import Request
from crawler.spider.response import FollowAll, Response

#: What a generator callback gives (``def parse(self, response) -> CallbackOutput``, for
#: ``mypy --strict``): items (dicts, dataclasses, attrs classes, pydantic models), requests and
#: :class:`FollowAll`, one at a time. An ``async def`` generator's: :data:`AsyncCallbackOutput`.
CallbackOutput = Iterator[Any]
AsyncCallbackOutput = AsyncIterator[Any]


class DropItem(Exception):
    """Raised by an item pipeline's ``process_item`` to drop the item."""


@dataclasses.dataclass
class Failure:
    """Why a request ended without a response for its callback.

    ``error`` is the record error name (``timeout``, ``connect``, ``dns``, ``tls``,
    ``too_large``, ``too_many_redirects``, ``redirect_blocked``, ``http``, ``content``,
    ``robots``, ``blocked``); ``url`` the URL of the failed fetch; ``response`` the response when
    there was one (an ``http`` error's page, a block page: ``response.blocked``, a redirect that
    was refused, a body cut short, a page whose callback raised), else None; ``exception`` what
    the callback raised (the error is then
    ``content``); ``final_url`` the last URL that answered (the response's, or the redirect
    before a refused hop).

    ``redirect_to`` is set when the request ended at a redirect: its target was refused (by
    the scope, robots.txt or the hop limit: ``error`` says which), or it is a URL the crawl
    has on its own (linked directly, or where another redirect went), fetched once under that
    URL: then ``error`` is None and ``status`` the redirect's.
    """

    request: Request
    error: str | None
    status: int | None
    url: str
    response: Response | None = None
    depth: int = 0
    referrer: str | None = None
    lastmod: str | None = None
    elapsed_ms: float = 0.0
    fetched_at: str | None = None
    exception: Exception | None = None
    redirect_to: str | None = None
    final_url: str | None = None


class Spider:
    """Subclass it: set ``start_urls`` (or override :meth:`start`, or the older
    :meth:`start_requests`), write :meth:`parse`.

    ``Spider(**arguments)`` sets each argument as an attribute (the command line's
    ``-a NAME=VALUE``, as Scrapy does); a spider with an ``__init__`` of its own takes them as
    keywords there.
    """

    def __init__(self, name: str | None = None, **arguments: Any) -> None:
        if name is not None:
            self.name = name
        self.__dict__.update(arguments)

    name: str = "spider"
    start_urls: list[str] = []  # noqa: RUF012 - overridden by subclasses, read only
    custom_settings: dict[str, Any] = {}  # noqa: RUF012
    #: The crawl's effective :class:`crawler.settings.Settings`, set when the crawl starts.
    settings: Any = None
    pipelines: list[Any] = []  # noqa: RUF012
    #: Objects with ``process_request(request, spider)`` (change ``request.headers``, set
    #: ``request.meta["proxy"]``) and/or ``process_response(response, spider)`` (return the
    #: response, or another one for the callback); plain or ``async def``.
    hooks: list[Any] = []  # noqa: RUF012

    async def start(self) -> AsyncIterator[str | Request]:
        """The first URLs or requests (an async generator, as Scrapy 2.13's); by default those
        of :meth:`start_requests`."""
        starts = self.start_requests()
        if hasattr(starts, "__aiter__"):
            async for start in starts:
                yield start
        else:
            for start in starts or ():
                yield start

    def start_requests(self) -> Iterable[str | Request] | AsyncIterator[str | Request]:
        """The first URLs or requests, the older way (a plain generator); by default one for
        each of ``start_urls``."""
        return iter(self.start_urls)

    #: Run plain (not ``async``) callbacks on the event loop, not in the thread pool, for
    #: responses of at most the ``inline_parse_bytes`` setting (64 KiB): there the hand-off to a
    #: thread costs more than a quick callback. Only for callbacks that never block.
    inline_callbacks: bool = False

    def parse(self, response: Response) -> Any:
        """Handle a response: yield items and requests. The default yields nothing."""
        return ()

    def errback(self, failure: Failure) -> Any:
        """Handle a request that failed for good and names no errback of its own (its URL
        could not be fetched, robots.txt forbids it, the status was 400 or more, or its
        callback raised): yield items and requests. The default yields nothing."""
        return ()

    def parse_sitemap(self, response: Response) -> Any:
        """Handle a sitemap document the crawl read (``--sitemap``, ``--use-sitemaps``). The
        crawler itself queues the URLs it lists (``response.links()``); the default yields
        nothing."""
        return ()

    def wants_body(self, content_type: str | None) -> bool:
        """Keep the body of responses of this media type for the callback? (Bodies not kept
        are still read to the end and counted in ``response.size``.) The default keeps all."""
        return True


def callback_outputs(value: Any) -> list[Any]:
    """What a callback returned, as a list of outputs: None is nothing; an item, a Request or
    a FollowAll is one; any other iterable (a generator) is its elements."""
    if value is None:
        return []
    if isinstance(value, (dict, Request, FollowAll)) or not hasattr(value, "__iter__"):
        return [value]
    return list(value)


def custom_settings(cls: type[Spider] | Spider) -> dict[str, Any]:
    """A spider's ``custom_settings``: a mapping of settings, checked to be one."""
    found = getattr(cls, "custom_settings", None) or {}
    if not isinstance(found, dict):
        name = cls.__name__ if isinstance(cls, type) else type(cls).__name__
        raise UsageError(f"{name}.custom_settings must be a dict of settings, got {type(found).__name__}")
    return dict(found)


def check_callbacks(spider: Spider, seeded: bool) -> None:
    """Raise :class:`UsageError` (before the crawl starts) when ``spider`` cannot handle what it
    will be given: no ``parse`` of its own while its start URLs or the crawl's seeds (``seeded``)
    go there, or a ``Rule`` naming a method the spider does not have."""
    cls = type(spider)
    name = cls.__name__
    if cls.parse is Spider.parse and (spider.start_urls or seeded or not _overrides_start(cls)):
        raise UsageError(f"{name} has no parse method: the responses to its start URLs and seeds go to "
                         f"parse (write one, or name a callback in each Request)")
    for index, rule in enumerate(getattr(spider, "rules", None) or ()):
        for role in ("callback", "errback", "process_links", "process_request"):
            check_method(spider, getattr(rule, role, None), f"rules[{index}].{role}")


def check_method(spider: Spider, fn: Any, named_by: str) -> None:
    """A callback given by name must be a method of ``spider``: :class:`UsageError` if not."""
    if isinstance(fn, str) and not callable(getattr(spider, fn, None)):
        raise UsageError(f"{named_by} names {fn!r}, which {type(spider).__name__} does not have")


def _overrides_start(cls: type[Spider]) -> bool:
    return cls.start is not Spider.start or cls.start_requests is not Spider.start_requests


def has_start(spider: Spider) -> bool:
    """Does ``spider`` say where to start (``start_urls``, or a ``start`` or ``start_requests``
    of its own)?"""
    return bool(spider.start_urls) or _overrides_start(type(spider))


__all__ = [
    "AsyncCallbackOutput", "CallbackOutput", "DropItem", "Failure", "Spider", "callback_outputs", "check_callbacks",
    "check_method", "custom_settings", "has_start",
]
