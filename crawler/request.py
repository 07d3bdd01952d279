"""A spider's :class:`Request`: a URL to fetch, how (method, headers, body, cookies, proxy), and
what to call with the answer."""

from __future__ import annotations

import dataclasses
import json
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from crawler.pageactions import check_actions


@dataclasses.dataclass
class Request:
    """A URL for the crawl to fetch, and what to call with the response.

    ``callback(response)`` defaults to the spider's ``parse``; ``errback(failure)`` is called
    instead when the fetch fails for good (an error, or a status of 400 or more). ``meta`` is
    handed on to the response; ``headers`` are sent with the request (besides the crawl's own,
    ``--header``). A positive ``priority`` puts the request at the front of its host's queue
    instead of the back (hosts themselves take turns by readiness).

    ``method`` (GET by default), ``body`` (bytes or text) or ``json`` (any JSON value, sent as
    JSON with its Content-Type) make other requests: a POST to an API, say. A request that is no
    plain GET is told apart from others to its URL by its method and body (both are part of its
    key in the frontier). ``cookies`` are sent with this request only (with the crawl's jar,
    ``--cookies``, when there is one); ``proxy`` sends it through that proxy (``http://``,
    ``https://``, ``socks5://``, ``socks5h://``; ``meta["proxy"]`` works too).

    ``cb_kwargs`` are passed to the callback as keyword arguments (Scrapy's), besides the
    response. ``dont_filter`` fetches the request even when its URL was seen before (a page
    asked for again after logging in, say); it still counts against ``--max-pages``,
    ``--max-pages-per-host`` and the depth limit, so a callback that asks for its own page again
    ends at ``--max-depth``.

    ``render=True`` renders the page in the browser whatever ``--render`` says (``False``:
    never; None: as ``--render`` decides); ``page_actions`` are done in the rendered page before
    its DOM is read, each ``(name, *arguments)`` calling that method of the Playwright page
    (``("click", "button.more")``, ``("fill", "#q", "shoes")``, ``("wait_for_selector", "li")``,
    ``("evaluate", "js")``...; the names are :data:`crawler.pageactions.PAGE_ACTIONS`), or
    ``("scroll", N)`` to scroll to the bottom N times, the network left to go quiet each time.

    :meth:`from_curl` makes one from a ``curl`` command line (a browser's "Copy as cURL").
    """

    url: str
    callback: Callable[..., Any] | str | None = None  # a str: a method's name (a resumed request)
    errback: Callable[..., Any] | str | None = None
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)
    headers: dict[str, str] | None = None
    priority: int = 0
    method: str = "GET"
    body: bytes | str | None = None
    json: Any = None
    cookies: dict[str, str] | None = None
    proxy: str | None = None
    cb_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    dont_filter: bool = False
    render: bool | None = None
    page_actions: list[Any] = dataclasses.field(default_factory=list)
    #: Set by the crawl on a ``dont_filter`` request: which asking of its URL it is (part of its key).
    repeat: str = dataclasses.field(default="", repr=False, compare=False)

    def __post_init__(self) -> None:
        self.method = self.method.upper()
        if self.page_actions:
            self.page_actions = check_actions(self.page_actions)  # ValueError: an action that is none

    @classmethod
    def from_curl(cls, command: str, ignore_unknown_options: bool = True, **kwargs: Any) -> Request:
        """The request a ``curl`` command line makes (URL, ``-X``, ``-H``, ``-b``, ``-d`` and its
        kin, ``--json``, ``-u``, ``-A``, ``-e``, ``-G``, ``-I``, ``-x``); ``kwargs`` (a callback,
        meta...) are added or win. Options that change nothing in the request (``-L``,
        ``--compressed``, ``-s``...) are passed over; unknown ones are named in a warning, or
        with ``ignore_unknown_options=False`` raise ValueError."""
        from crawler.curl import curl_to_request_kwargs

        return cls(**(curl_to_request_kwargs(command, ignore_unknown_options) | kwargs))

    def payload(self) -> bytes | None:
        """The body to send: ``body`` (text as UTF-8), else ``json`` as JSON, else None."""
        if self.body is not None:
            return self.body.encode("utf-8") if isinstance(self.body, str) else self.body
        if self.json is not None:
            return json.dumps(self.json, ensure_ascii=False).encode("utf-8")
        return None


@dataclasses.dataclass
class FormRequest(Request):
    """A request that sends a form's fields (Scrapy's): ``formdata`` (a dict, or pairs) URL-encoded,
    as the body of a POST (the default method here, with its Content-Type) or as the query of a
    GET. :meth:`from_response` fills a form of a page, as a browser would submit it."""

    method: str = "POST"
    formdata: dataclasses.InitVar[Mapping[str, Any] | Iterable[tuple[str, Any]] | None] = None

    def __post_init__(self, formdata: Mapping[str, Any] | Iterable[tuple[str, Any]] | None) -> None:
        super().__post_init__()
        if formdata is None:
            return
        encode_form(self, list(formdata.items()) if isinstance(formdata, Mapping) else list(formdata))

    @classmethod
    def from_response(cls, response: Any, **kwargs: Any) -> Request:
        """The request that submits a form of ``response``: see :meth:`Response.form`."""
        form: Request = response.form(**kwargs)
        return form


FORM_TYPE = "application/x-www-form-urlencoded"


def encode_form(request: Request, pairs: list[tuple[str, Any]]) -> None:
    """Put ``pairs`` (a value None leaves its name out; a list sends the name once a value) into
    ``request``: the query of a GET's URL (replacing the one it had, as browsers do), else the
    body, with the form Content-Type."""
    flat = [(name, "" if v is None else str(v)) for name, value in pairs if value is not None
            for v in (value if isinstance(value, (list, tuple)) else [value])]
    query = urllib.parse.urlencode(flat)
    if request.method in ("GET", "HEAD"):
        parts = urllib.parse.urlsplit(request.url)
        request.url = urllib.parse.urlunsplit(parts._replace(query=query))
        return
    request.body = query
    headers = dict(request.headers or {})
    if not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = FORM_TYPE
    request.headers = headers


__all__ = ["FORM_TYPE", "FormRequest", "Request", "encode_form"]
