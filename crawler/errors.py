"""Exceptions and the error names that records carry (SPEC: records, ``error``)."""

from __future__ import annotations

TIMEOUT = "timeout"
CONNECT = "connect"
DNS = "dns"
TLS = "tls"
TOO_LARGE = "too_large"
TOO_MANY_REDIRECTS = "too_many_redirects"
REDIRECT_BLOCKED = "redirect_blocked"
HTTP = "http"
CONTENT = "content"
ROBOTS = "robots"
RENDER = "render"  # --render: the browser crashed or hung on the page
BLOCKED = "blocked"  # a bot screen's block or challenge page, or a CAPTCHA form (crawler/fetch/blocked.py)

#: Exit statuses (SPEC: exit codes): done, a fatal error, a usage error, the job held by another
#: run (EX_TEMPFAIL), stopped by a signal, stdout closed by its reader (as SIGPIPE would).
EXIT_OK, EXIT_FATAL, EXIT_USAGE, EXIT_LOCKED, EXIT_INTERRUPTED, EXIT_PIPE = 0, 1, 2, 75, 130, 141
EXIT_EXPECTATIONS = 3  # the run ended, but failed one of its expectations (the expect setting)

ERROR_NAMES = (
    TIMEOUT, CONNECT, DNS, TLS, TOO_LARGE, TOO_MANY_REDIRECTS, REDIRECT_BLOCKED, HTTP, CONTENT, ROBOTS, RENDER,
    BLOCKED,
)


class CrawlerError(Exception):
    """Base class of the crawler's own exceptions."""


class UsageError(CrawlerError):
    """A bad option, setting or input file: reported as one line, exit status 2."""


class FatalError(CrawlerError):
    """The crawl cannot go on (output not writable, store unreachable): exit status 1."""


class OutputClosed(FatalError):
    """Standard output was closed by its reader (``crawler ... | head``): a quiet stop."""
