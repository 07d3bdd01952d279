"""Requests as text, for frontiers kept outside the process (SQLite, Redis).

A spider's request keeps its callback and errback by method name (a resumed run, or another
process, looks them up on its own spider), its meta only if it is JSON, its headers and
priority.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from crawler.request import Request
from crawler.urls import host_of, origin_of
from crawler.work import PAGE, CrawlRequest


def spider_request_fields(request: CrawlRequest) -> dict[str, Any] | None:
    """The spider's request of ``request`` as JSON-ready fields, defaults left out (None if
    there is no spider's request)."""
    public = request.request
    if public is None:
        return None
    fields: dict[str, Any] = {}
    if public.priority:
        fields["priority"] = public.priority
    if public.headers:
        fields["headers"] = public.headers
    for name in ("callback", "errback"):
        fn = getattr(public, name)
        if fn is not None:
            fields[name] = fn if isinstance(fn, str) else getattr(fn, "__name__", None)
    if public.meta:
        try:
            fields["meta"] = json.loads(json.dumps(public.meta))
        except (TypeError, ValueError):
            pass  # meta that is not JSON does not survive the trip
    if public.method != "GET":
        fields["method"] = public.method
    payload = public.payload()
    if payload is not None:
        fields["body"] = base64.b64encode(payload).decode("ascii")
    for name in ("cookies", "proxy", "dont_filter", "repeat", "page_actions"):
        value = getattr(public, name)
        if value:
            fields[name] = value
    if public.render is not None:
        fields["render"] = public.render
    if public.cb_kwargs:
        try:
            fields["cb_kwargs"] = json.loads(json.dumps(public.cb_kwargs))
        except (TypeError, ValueError):
            pass  # as for meta
    if request.key != request.url:
        fields["url"] = request.url  # the row or entry is known by the key
    return fields


def spider_request_json(request: CrawlRequest) -> str | None:
    """:func:`spider_request_fields` as JSON text."""
    fields = spider_request_fields(request)
    return None if fields is None else json.dumps(fields)


def spider_request_from(url: str, fields: dict[str, Any]) -> Request:
    """The spider's request back from its fields."""
    body = base64.b64decode(fields["body"]) if "body" in fields else None
    request = Request(fields.get("url", url), fields.get("callback"), fields.get("errback"), fields.get("meta") or {},
                      fields.get("headers"), fields.get("priority", 0), fields.get("method", "GET"), body,
                      cookies=fields.get("cookies"), proxy=fields.get("proxy"), cb_kwargs=fields.get("cb_kwargs") or {},
                      dont_filter=bool(fields.get("dont_filter")), render=fields.get("render"),
                      page_actions=fields.get("page_actions") or [])
    request.repeat = fields.get("repeat", "")
    return request


def request_to_json(request: CrawlRequest) -> str:
    """A queued request whole (where it is along a redirect chain, its attempts), as JSON."""
    fields: dict[str, Any] = {"url": request.url, "depth": request.depth}
    if request.fetch_url != request.url:
        fields["fetch_url"] = request.fetch_url
        fields["redirects"] = request.redirects
        fields["visited"] = sorted(request.visited or ())
        if request.hop is not None:
            fields["hop"] = list(request.hop)
        if request.downgraded:
            fields["downgraded"] = True
    for name in ("referrer", "lastmod"):
        value = getattr(request, name)
        if value is not None:
            fields[name] = value
    if request.kind != "page":
        fields["kind"] = request.kind
    if request.attempts:
        fields["attempts"] = request.attempts
    spider = spider_request_fields(request)
    if spider is not None:
        fields["spider"] = spider
    return json.dumps(fields, separators=(",", ":"))


def request_from_json(text: str | bytes) -> CrawlRequest:
    """The request :func:`request_to_json` wrote."""
    fields = json.loads(text)
    request = CrawlRequest(fields["url"], fields["depth"], fields.get("referrer"), fields.get("kind", "page"),
                           fields.get("lastmod"))
    if "fetch_url" in fields:
        request.visited = set(fields.get("visited") or ())
        request.redirects = fields.get("redirects", 0)
        request.fetch_url = fields["fetch_url"]
        request.host = host_of(request.fetch_url)
        if "hop" in fields:
            request.hop = (fields["hop"][0], int(fields["hop"][1]))
        request.downgraded = bool(fields.get("downgraded"))
    request.attempts = fields.get("attempts", 0)
    if "spider" in fields:
        request.request = spider_request_from(request.url, fields["spider"])
    return request


def request_to_text(request: CrawlRequest) -> str:
    """A queued request as the Redis frontier keeps it: a plain page (a link, not along a
    redirect, never tried, no spider's request, no lastmod, no ``|`` in its URL) in one compact
    line, ``~|DEPTH|URL|REFERRER`` (the referrer's path alone when it shares the URL's origin),
    about half its JSON; any other as :func:`request_to_json`. After the ``~`` the Redis
    scripts count the times its lease was lost."""
    if (request.fetch_url != request.url or request.kind != PAGE or request.attempts or request.request is not None
            or request.lastmod is not None or "|" in request.url):
        return request_to_json(request)
    referrer = request.referrer or ""
    if referrer:
        origin = origin_of(request.url)
        if referrer.startswith(origin) and referrer[len(origin):len(origin) + 1] == "/":
            referrer = referrer[len(origin):]
    return f"~|{request.depth}|{request.url}|{referrer}"


def request_from_text(text: str | bytes) -> CrawlRequest:
    """The request :func:`request_to_text` wrote."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "surrogatepass")
    if not text.startswith("~"):
        return request_from_json(text)
    _, depth, url, referrer = text.split("|", 3)
    if referrer.startswith("/"):
        referrer = origin_of(url) + referrer
    return CrawlRequest(url, int(depth), referrer or None)
