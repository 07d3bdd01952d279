"""What goes out with a request besides its URL, decided in one place for the command line, the
config file and the Spider API alike: the crawl's own headers (``--header``), credentials
(``--auth``, ``--netrc``) and cookies (``--cookies``, ``--cookie``, ``--load-cookies``).

Safe by default:
- the crawl's headers go to the seeds' hosts only, unless ``header_scope = "any"``;
- ``--auth`` goes to the seeds' hosts only; netrc gives each host its own entry's (its
  ``default`` entry only the seeds' hosts);
- ``Authorization``, ``Cookie`` and ``Proxy-Authorization`` are never sent on once a redirect
  has left the request's origin (scheme, host and port), whoever set them, as curl does;
- no credential is ever logged: :func:`crawler.settings.masking.masked` shows them as ``***``.
"""

from __future__ import annotations

import logging
import netrc
from collections.abc import Callable, Mapping
from pathlib import Path

import aiohttp
from yarl import URL

from crawler.errors import UsageError
from crawler.fetch.cookies import dump_netscape, load_netscape, new_jar
from crawler.settings import Settings, netrc_file
from crawler.urls import hostname_of, origin_of

log = logging.getLogger("crawler")
CREDENTIALS = frozenset({"authorization", "cookie", "proxy-authorization"})  # dropped off the origin


def parse_header(text: str) -> tuple[str, str]:
    """``Name: value`` as (name, value)."""
    name, _, value = text.partition(":")
    return name.strip(), value.strip()


class Shaper:
    """The headers, credentials and cookie jar of one crawl. ``seed_host(name)`` says whether a
    host name is one of the seeds' (a ``--sitemap``'s too)."""

    def __init__(self, settings: Settings, seed_host: Callable[[str], bool]) -> None:
        self.settings = settings
        self.seed_host = seed_host
        self.headers = [parse_header(h) for h in settings.header]
        self.everywhere = settings.header_scope == "any"
        self.basic = None
        if settings.auth:
            user, _, password = settings.auth.partition(":")
            self.basic = aiohttp.BasicAuth(user, password).encode()
        self.netrc: netrc.netrc | None = None
        if settings.netrc:
            path = netrc_file()
            try:
                self.netrc = netrc.netrc(str(path))
            except FileNotFoundError:
                raise UsageError(f"--netrc: no such file: {path}") from None
            except (netrc.NetrcParseError, OSError) as e:
                raise UsageError(f"--netrc: cannot read {path}: {e}") from None
        self.jar_on = bool(settings.cookies or settings.cookie or settings.load_cookies or settings.save_cookies)
        self.jar: aiohttp.abc.AbstractCookieJar | None = None
        self._saved = ""  # the jar as last kept in a durable job

    def open_jar(self, seed_hosts: list[str]) -> aiohttp.abc.AbstractCookieJar:
        """The session's jar (on the event loop): aiohttp's bounded one when cookies are on,
        else one that keeps nothing; filled from ``--load-cookies`` and ``--cookie`` (one for
        each of ``seed_hosts``)."""
        if not self.jar_on:
            self.jar = aiohttp.DummyCookieJar()
            return self.jar
        jar = new_jar()
        if self.settings.load_cookies:
            path = self.settings.load_cookies
            try:
                text = Path(path).read_text("utf-8", errors="replace")
            except OSError as e:
                raise UsageError(f"--load-cookies: cannot read {path}: {e.strerror}") from None
            try:
                count = load_netscape(jar, text)
            except ValueError as e:
                raise UsageError(f"--load-cookies: {path}: {e}") from None
            log.info("%d cookies loaded from %s", count, path)
        for text in self.settings.cookie:
            name, _, value = text.partition("=")
            for host in seed_hosts:
                jar.update_cookies({name.strip(): value.strip()}, URL.build(scheme="http", host=host))
        self.jar = jar
        return jar

    def headers_for(self, fetch_url: str, url: str, own: Mapping[str, str] | None) -> dict[str, str] | None:
        """The headers of a fetch of ``fetch_url`` for the request of ``url`` (they differ after
        a redirect): the crawl's (in their scope), the request's ``own``, the credentials of the
        host (``--auth``, netrc); credentials dropped once the redirect left ``url``'s origin."""
        if not own and not self.headers and self.basic is None and self.netrc is None:
            return None  # nothing to add (the common crawl): no work a request
        host = hostname_of(fetch_url).rstrip(".")
        seed = self.seed_host(host)
        left = origin_of(fetch_url) != origin_of(url)
        headers: dict[str, str] = {}
        if self.headers and (self.everywhere or seed):
            headers.update(self.headers)
        if own:
            headers.update(own)
        if left:
            headers = {k: v for k, v in headers.items() if k.lower() not in CREDENTIALS}
        if not any(k.lower() == "authorization" for k in headers):
            if self.basic is not None and seed and not left:
                headers["Authorization"] = self.basic
            elif self.netrc is not None:
                # A host's own entry; the ``default`` one only for the seeds' hosts, not for
                # every host a broad crawl reaches.
                entry = self.netrc.hosts.get(host) or (self.netrc.hosts.get("default") if seed else None)
                if entry is not None:
                    headers["Authorization"] = aiohttp.BasicAuth(entry[0], entry[2] or "").encode()
        return headers or None

    def jar_text(self) -> str | None:
        """The jar as a ``cookies.txt`` if it changed since the last call (for a durable job to
        keep, so cookies come back on resume); None when it did not, or there is no jar."""
        if self.jar is None or not self.jar_on:
            return None
        text = dump_netscape(self.jar)  # type: ignore[arg-type]
        if text == self._saved:
            return None
        self._saved = text
        return text

    def restore(self, text: str) -> None:
        """Take up the jar a durable job kept (on resume)."""
        if self.jar is not None and self.jar_on:
            load_netscape(self.jar, text)  # type: ignore[arg-type]
            self._saved = text

    def save(self) -> None:
        """``--save-cookies``: write the jar (at the end of the crawl)."""
        path = self.settings.save_cookies
        if path and self.jar is not None:
            try:
                Path(path).write_text(dump_netscape(self.jar), encoding="utf-8")  # type: ignore[arg-type]
            except OSError as e:
                log.error("cannot write --save-cookies file %s: %s", path, e.strerror)


__all__ = ["CREDENTIALS", "Shaper", "parse_header"]
