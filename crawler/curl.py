"""A ``curl`` command line as the keywords of a :class:`crawler.request.Request`
(:meth:`Request.from_curl`): what a browser's "Copy as cURL" gives, read as curl reads it."""

from __future__ import annotations

import argparse
import base64
import logging
import shlex
import urllib.parse
from typing import Any

log = logging.getLogger("crawler")

# Options that change nothing in the request itself (how curl shows, follows or checks it).
_PASSED_OVER = ("-L", "--location", "--compressed", "-s", "--silent", "-S", "--show-error", "-v", "--verbose",
                "-i", "--include", "-k", "--insecure", "-f", "--fail", "--http1.1", "--http2",
                "--http2-prior-knowledge", "-g", "--globoff", "-N", "--no-buffer", "-#", "--progress-bar")
_DATA = ("-d", "--data", "--data-raw", "--data-ascii", "--data-binary")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        raise ValueError(f"not a curl command this can read: {message}")


def _parser() -> _Parser:
    p = _Parser(prog="curl", add_help=False, allow_abbrev=False)
    p.add_argument("url", nargs="?")
    p.add_argument("--url", dest="url_option")
    p.add_argument("-X", "--request", dest="method")
    p.add_argument("-H", "--header", action="append", default=[])
    p.add_argument("-b", "--cookie", action="append", default=[])
    for flag in _DATA:
        p.add_argument(flag, dest="data", action="append", default=[])
    p.add_argument("--data-urlencode", dest="urlencode", action="append", default=[])
    p.add_argument("--json", action="append", default=[])
    p.add_argument("-u", "--user")
    p.add_argument("-A", "--user-agent")
    p.add_argument("-e", "--referer")
    p.add_argument("-x", "--proxy")
    p.add_argument("-G", "--get", action="store_true")
    p.add_argument("-I", "--head", action="store_true")
    for number, flag in enumerate(_PASSED_OVER):
        p.add_argument(flag, action="store_true", dest=f"passed_over_{number}")
    return p


def curl_to_request_kwargs(command: str, ignore_unknown_options: bool = True) -> dict[str, Any]:
    """The keywords of the request ``command`` (``curl ...``) makes: url, method, headers,
    cookies, body, proxy. ValueError names what cannot be read (``@file`` data among it)."""
    words = shlex.split(command.replace("\\\r\n", " ").replace("\\\n", " "))
    if not words or words[0] != "curl":
        raise ValueError("a curl command starts with curl")
    args, unknown = _parser().parse_known_args(words[1:])
    if unknown:
        if not ignore_unknown_options:
            raise ValueError(f"curl options not understood: {' '.join(unknown)}")
        log.warning("Request.from_curl: options passed over: %s", " ".join(unknown))
    url = args.url or args.url_option
    if not url:
        raise ValueError("the curl command names no URL")
    if "://" not in url:
        url = "http://" + url  # as curl does
    headers: dict[str, str] = {}
    cookies: dict[str, str] = {}
    for header in args.header:
        name, _, value = header.partition(":")
        name, value = name.strip(), value.strip()
        if name.lower() == "cookie":
            cookies.update(_cookies(value))
        elif name:
            headers[name] = value
    for text in args.cookie:
        if "=" not in text:
            raise ValueError(f"-b {text!r}: reading cookies from a file is not supported; give name=value pairs")
        cookies.update(_cookies(text))
    parts = []
    for data in args.data:
        if data.startswith("@"):
            raise ValueError(f"-d {data!r}: reading data from a file is not supported")
        parts.append(data)
    for data in args.urlencode:
        name, equals, value = data.partition("=")
        parts.append(f"{name}={urllib.parse.quote_plus(value)}" if equals else urllib.parse.quote_plus(name))
    for data in args.json:
        parts.append(data)
        headers.setdefault("Content-Type", "application/json")
        headers.setdefault("Accept", "application/json")
    if args.user:
        headers["Authorization"] = "Basic " + base64.b64encode(args.user.encode()).decode()
    if args.user_agent:
        headers["User-Agent"] = args.user_agent
    if args.referer:
        headers["Referer"] = args.referer
    body = "&".join(parts) if parts else None
    method = args.method.upper() if args.method else ("HEAD" if args.head else "POST" if body is not None else "GET")
    if args.get and body is not None:  # -G: the data goes into the query
        split = urllib.parse.urlsplit(url)
        url = urllib.parse.urlunsplit(split._replace(query="&".join(p for p in (split.query, body) if p)))
        body, method = None, args.method.upper() if args.method else "GET"
    if body is not None and not args.json:
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    kwargs: dict[str, Any] = {"url": url, "method": method}
    if headers:
        kwargs["headers"] = headers
    if cookies:
        kwargs["cookies"] = cookies
    if body is not None:
        kwargs["body"] = body
    if args.proxy:
        kwargs["proxy"] = args.proxy if "://" in args.proxy else "http://" + args.proxy
    return kwargs


def _cookies(text: str) -> dict[str, str]:
    found = {}
    for part in text.split(";"):
        name, equals, value = part.strip().partition("=")
        if equals and name:
            found[name] = value
    return found


__all__ = ["curl_to_request_kwargs"]
