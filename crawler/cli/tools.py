"""The spider writer's tools, Scrapy's ``shell``, ``fetch`` and ``parse``:

    python -m crawler fetch URL [--headers] [options]
    python -m crawler shell [URL] [-c EXPR] [--spider mod:Class] [options]
    python -m crawler parse URL --spider mod:Class [--callback NAME] [options]
    python -m crawler extract FILE.html|URL [--field markdown] [--extract-engine NAME]

Each fetches as a crawl with the same options would (robots.txt, headers, cookies, proxies,
``--http-cache``...), because it runs one (:mod:`crawler.core.fetchone`).
"""

from __future__ import annotations

import argparse
import asyncio
import code
import dataclasses
import json
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from typing import Any

from crawler.cli.options import command_parser
from crawler.cli.spiders import make_spider, settings_and_sources, spider_arguments
from crawler.core.fetchone import Fetched, fetch_one
from crawler.errors import EXIT_FATAL, EXIT_OK, UsageError
from crawler.monitor.logs import setup_logging
from crawler.settings import Settings
from crawler.spider import FollowAll, Request, Response, Spider, item_dict
from crawler.spider.runner import outputs_of

#: The tools log warnings and errors only, unless --log-level says otherwise.
TOOL_DEFAULTS = {"log_level": "warning"}


def _parser(command: str, description: str) -> argparse.ArgumentParser:
    return command_parser(f"crawler {command}", description)


def _setup(parser: argparse.ArgumentParser, argv: Sequence[str], defaults: dict[str, Any] | None = None
           ) -> tuple[argparse.Namespace, Settings, Spider | None]:
    args = parser.parse_args(list(argv))
    settings, _, cls = settings_and_sources(args, TOOL_DEFAULTS | (defaults or {}))
    setup_logging(settings.log_level, settings.log_format, settings.log_time)
    spider = make_spider(cls, spider_arguments(settings)) if cls is not None else None
    if spider is not None:
        spider.settings = settings
    return args, settings, spider


def _fetch(settings: Settings, url: str | Request, spider: Spider | None) -> Fetched:
    return asyncio.run(fetch_one(settings, url, spider))


def fetch_main(argv: Sequence[str]) -> int:
    """``fetch URL``: the body (or with ``--headers`` the status line and headers) on stdout.
    Exit 1 when there was no response or its status was 400 or more (as ``curl -f``)."""
    parser = _parser("fetch", "Fetch one URL as a crawl would and print its body (or headers).")
    parser.add_argument("url", help="the URL to fetch")
    parser.add_argument("--headers", action="store_true", default=False,
                        help="print the status line and headers, not the body")
    args, settings, spider = _setup(parser, argv)
    fetched = _fetch(settings, args.url, spider)
    response = fetched.response
    if response is None:
        print(f"crawler fetch: {args.url}: {fetched.error}", file=sys.stderr)
        return EXIT_FATAL
    if args.headers:
        lines = [f"{response.status} {response.url}"] + [f"{k}: {v}" for k, v in response.headers.items()]
        sys.stdout.write("\n".join(lines) + "\n")
    else:
        sys.stdout.buffer.write(response.body)
    sys.stdout.flush()
    if fetched.error is not None:
        print(f"crawler fetch: {response.url}: {fetched.error} (status {response.status})", file=sys.stderr)
        return EXIT_FATAL
    return EXIT_OK


def parse_main(argv: Sequence[str]) -> int:
    """``parse URL --spider mod:Class [--callback NAME]``: what that callback makes of the
    page, one JSON object a line: ``{"item": {...}}`` or ``{"request": {...}}``."""
    parser = _parser("parse", "Run one callback of a spider on one URL and print the items and requests it yields.")
    parser.add_argument("url", help="the URL to fetch")
    parser.add_argument("--callback", "-c", metavar="NAME", default=None,
                        help="the spider method to call (default: parse)")
    parser.add_argument("--meta", metavar="JSON", default=None, help="the request's meta, as a JSON object")
    parser.add_argument("--cb-kwargs", metavar="JSON", default=None,
                        help="keyword arguments for the callback, as a JSON object")
    args, settings, spider = _setup(parser, argv)
    if spider is None:
        raise UsageError("parse: say which spider (--spider module:Class)")
    name = args.callback or "parse"
    callback = getattr(spider, name, None)
    if not callable(callback):
        raise UsageError(f"parse: {type(spider).__name__} has no method {name!r}")
    request = Request(args.url, meta=_json_object("--meta", args.meta), cb_kwargs=_json_object("--cb-kwargs",
                                                                                              args.cb_kwargs))
    fetched = _fetch(settings, request, spider)
    if fetched.response is None or fetched.error is not None:
        status = f" (status {fetched.status})" if fetched.status is not None else ""
        print(f"crawler parse: {args.url}: {fetched.error}{status}: the callback was not called", file=sys.stderr)
        return EXIT_FATAL
    outputs = asyncio.run(outputs_of(callback, fetched.response, request.cb_kwargs))
    items = requests = 0
    for output in outputs:
        if isinstance(output, FollowAll):
            for r in output:
                requests += 1
                print(json.dumps({"request": _request_fields(r)}))
        elif isinstance(output, Request):
            requests += 1
            print(json.dumps({"request": _request_fields(output)}))
        elif output is not None:
            items += 1
            print(json.dumps({"item": item_dict(output)}, default=str, ensure_ascii=False))
    print(f"crawler parse: {name} on {fetched.response.url} ({fetched.status}): items {items}, requests {requests}",
          file=sys.stderr)
    return EXIT_OK


def extract_main(argv: Sequence[str]) -> int:
    """``extract FILE.html|URL``: one page's extraction as JSON (``--field NAME``: that field
    alone, as text), for trying ``--extract`` and its engines out."""
    parser = _parser("extract", "Print what --extract takes from one page (a file, or a URL fetched as a crawl would).")
    parser.add_argument("page", help="an HTML file, or an http(s) URL")
    parser.add_argument("--field", metavar="NAME", default=None, help="print this field alone (markdown, text...)")
    parser.add_argument("--url", dest="page_url", metavar="URL", default=None,
                        help="the URL a file was fetched from (links and the canonical URL are made absolute)")
    args, settings, _ = _setup(parser, argv)
    from crawler.parse.charsets import decode_html
    from crawler.parse.extract import extract_page, require_extraction
    from crawler.settings import EXTRACT_FIELDS, extract_fields

    fields = extract_fields(settings.extract) or EXTRACT_FIELDS
    require_extraction(fields)
    if args.field is not None and args.field not in EXTRACT_FIELDS:
        raise UsageError(f"extract: --field must be one of {', '.join(EXTRACT_FIELDS)}, got {args.field!r}")
    if args.page.startswith(("http://", "https://")):
        fetched = _fetch(settings, args.page, None)
        if fetched.response is None or fetched.error is not None:
            print(f"crawler extract: {args.page}: {fetched.error}", file=sys.stderr)
            return EXIT_FATAL
        found = fetched.response.extract()
        found = {k: found.get(k) for k in fields}
    else:
        try:
            with open(args.page, "rb") as f:
                body = f.read()
        except OSError as e:
            raise UsageError(f"extract: cannot read {args.page}: {e.strerror}") from None
        url = args.page_url or "file:///" + args.page.lstrip("/")
        found = extract_page(decode_html(body, None), url, fields, settings.extract_engine)
        found.pop("jsonld_invalid", None)
    if args.field is not None:
        value = found.get(args.field)
        print(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=2))
    else:
        print(json.dumps(found, ensure_ascii=False, indent=2))
    return EXIT_OK


def _json_object(option: str, text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError as e:
        raise UsageError(f"{option}: not JSON: {e}") from None
    if not isinstance(value, dict):
        raise UsageError(f"{option}: give a JSON object ({{...}})")
    return value


def _request_fields(request: Request) -> dict[str, Any]:
    fields: dict[str, Any] = {"url": request.url}
    if request.method != "GET":
        fields["method"] = request.method
    callback = request.callback
    if callback is not None:
        fields["callback"] = callback if isinstance(callback, str) else getattr(callback, "__name__", repr(callback))
    if request.meta:
        fields["meta"] = request.meta
    if request.cb_kwargs:
        fields["cb_kwargs"] = request.cb_kwargs
    return json.loads(json.dumps(fields, default=str))  # type: ignore[no-any-return]


def shell_main(argv: Sequence[str]) -> int:
    """``shell [URL]``: an interactive session with ``response``, ``request``, ``fetch(url)``,
    ``spider`` and ``settings``; ``-c EXPR`` prints one expression and exits."""
    parser = _parser("shell", "Fetch a URL and open an interactive session to try selectors on it.")
    parser.add_argument("url", nargs="?", default=None, help="the URL to fetch first")
    parser.add_argument("-c", dest="expr", metavar="EXPR", default=None, help="print this expression's value and exit")
    args, settings, spider = _setup(parser, argv, {"cookies": True})
    namespace: dict[str, Any] = {"spider": spider, "settings": settings, "request": None, "response": None,
                                 "Request": Request}
    # One cookie jar for the session, as a crawl keeps one for its pages (and a browser for its
    # tabs): each fetch() starts from what the last one left (a login's session cookie...).
    jar_dir = tempfile.TemporaryDirectory(prefix="crawler-shell-")  # 0700: the cookies are secrets
    jar = settings.save_cookies or os.path.join(jar_dir.name, "cookies.txt")

    def fetch(target: str | Request) -> Response | None:
        """Fetch a URL or a Request; ``response`` and ``request`` are then its."""
        kept = settings.cookies and os.path.exists(jar)
        session = dataclasses.replace(settings, save_cookies=jar, load_cookies=jar if kept else settings.load_cookies) \
            if settings.cookies else settings
        fetched = _fetch(session, target, spider)
        namespace["request"], namespace["response"] = fetched.request, fetched.response
        if fetched.error is not None:
            print(f"fetch: {fetched.request.url}: {fetched.error}"
                  + (f" (status {fetched.status})" if fetched.status is not None else ""), file=sys.stderr)
        return fetched.response

    namespace["fetch"] = fetch
    if args.url:
        fetch(args.url)
    if args.expr is not None:
        try:
            value = eval(args.expr, namespace)  # the user's own expression, as Scrapy's -c
        except Exception as e:
            print(f"crawler shell: {args.expr}: {type(e).__name__}: {e}", file=sys.stderr)
            return EXIT_FATAL
        print(value)
        return EXIT_OK
    _interact(namespace)
    return EXIT_OK


BANNER = """crawler shell: response, request, fetch(url_or_request), spider, settings
  response.css("title::text").get()   response.xpath("//a/@href").getall()   response.follow_all(css="a")"""


def _interact(namespace: dict[str, Any]) -> None:
    """IPython when it is installed, else the standard console."""
    start: Callable[..., Any] | None
    try:
        from IPython import start_ipython  # type: ignore[import-not-found]
    except ImportError:
        start = None
    else:
        start = start_ipython
    response = namespace.get("response")
    banner = BANNER + (f"\n  [{response.status} {response.url}]" if response is not None else "")
    if start is not None:
        print(banner)
        start(argv=[], user_ns=namespace)
    else:
        code.interact(banner=banner, local=namespace, exitmsg="")


__all__ = ["extract_main", "fetch_main", "parse_main", "shell_main"]
