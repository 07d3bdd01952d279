"""The crawl's cookie jar: aiohttp's (bounded as Firefox bounds it: 180 cookies a domain, 3,300
in all, least recently used evicted), read from and written to Netscape ``cookies.txt`` files,
the format browsers' exports, curl and wget share."""

from __future__ import annotations

import logging
import time
from http.cookies import Morsel, SimpleCookie

import aiohttp
from yarl import URL

log = logging.getLogger("crawler")
HEADER = "# Netscape HTTP Cookie File\n# Written by crawler: domain, subdomains, path, secure, expires, name, value\n"


def new_jar() -> aiohttp.CookieJar:
    """An empty jar; cookies of hosts named by their IP address are kept too (as browsers do)."""
    return aiohttp.CookieJar(unsafe=True)


def load_netscape(jar: aiohttp.CookieJar, text: str) -> int:
    """Put the cookies of a ``cookies.txt`` into ``jar`` (expired ones left out); how many.
    Lines: domain, subdomains (TRUE/FALSE), path, secure, expiry (Unix time, 0: the session),
    name, value, split by tabs; ``#HttpOnly_`` before a domain is curl's mark, other ``#`` lines
    are comments. ValueError names a line that is none of these."""
    count = 0
    now = time.time()
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("#HttpOnly_"):
            line = line[len("#HttpOnly_"):]
        elif not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 7:
            raise ValueError(f"line {number}: not a cookies.txt line (7 fields split by tabs)")
        domain, _, path, secure, expires, name, value = fields
        try:
            expiry = int(expires or 0)
        except ValueError:
            raise ValueError(f"line {number}: the expiry is no Unix time: {expires!r}") from None
        if expiry and expiry < now:
            continue
        morsel: Morsel[str] = Morsel()
        morsel.set(name, value, value)
        host = domain.lstrip(".")
        if domain.startswith("."):
            morsel["domain"] = host
        morsel["path"] = path or "/"
        if secure.upper() == "TRUE":
            morsel["secure"] = True
        if expiry:
            morsel["max-age"] = str(int(expiry - now))
        url = URL.build(scheme="https" if morsel["secure"] else "http", host=host, path=morsel["path"])
        jar.update_cookies(SimpleCookie({name: morsel}), url)
        count += 1
    return count


def dump_netscape(jar: aiohttp.CookieJar) -> str:
    """The jar as a ``cookies.txt``."""
    lines = [HEADER]
    host_only = jar.host_only_cookies
    expirations: dict[tuple[str, str, str], float] = getattr(jar, "_expirations", {})  # absolute times
    for (domain, path), cookies in sorted(jar.cookies.items()):
        for name, morsel in cookies.items():
            subdomains = (domain, path, name) not in host_only
            expires = int(expirations.get((domain, path, name), 0))
            lines.append("\t".join([("." if subdomains else "") + domain, "TRUE" if subdomains else "FALSE",
                                    path or "/", "TRUE" if morsel["secure"] else "FALSE", str(expires), name,
                                    morsel.value]) + "\n")
    return "".join(lines)


__all__ = ["dump_netscape", "load_netscape", "new_jar"]
