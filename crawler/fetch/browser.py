"""The browser pool of ``--render``: one Chromium at a time, driven by Playwright, giving each
page its own context (no cookies or storage shared between pages).

Chromium is the system's (Debian's ``chromium``, or ``--browser PATH``); nothing is downloaded.
Playwright launches it through a keeper (:mod:`crawler.fetch.browserkeeper`), in a process group
of its own, so no chromium process outlives the crawl however it ends (even ``kill -9``), and
terminal Ctrl-C reaches only the crawler, which closes the browser itself. Playwright talks to it
over a pair of pipes (``--remote-debugging-pipe``), never over a port another local user could
open; a crawl returns only once its browsers, their keepers and Playwright's driver have exited.

Self-healing: a browser is retired (a fresh one started for the next pages, the old one closed
once its last page is done) after ``--render-restart-pages`` pages, once its processes hold
more than ``render_max_memory``, when it crashes, and when a page hangs it (then it is killed:
the pages it held fail with error ``render``, the crawl goes on).

Chromium is started so that it cannot reach the network itself: every name resolves to
nothing and every connection goes to a dead proxy. All a page gets, it gets through the
crawler's interception (:mod:`crawler.fetch.render`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import shutil
import signal
import sys
import tempfile
from collections.abc import AsyncIterator
from typing import Any

from crawler._version import install_hint
from crawler.errors import UsageError
from crawler.fetch import browserkeeper
from crawler.fetch.browserkeeper import processes
from crawler.settings import Settings

log = logging.getLogger(__name__)

BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
INSTALL_HINT = "install Debian's chromium package (apt-get install chromium) or give --browser PATH"
START_TIMEOUT = 30.0  # seconds a browser may take to start and be connected to
CLOSE_TIMEOUT = 5.0  # seconds a context or a browser may take to close; then it is killed
# No network of its own: names resolve to nothing, connections go to a port nothing listens on
# (loopback included), so a request that escaped the interception would fail, never leave.
ISOLATION = ("--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9",
             "--proxy-bypass-list=<-loopback>",
             # WebRTC's UDP goes around the proxy and the interception: none that is not proxied
             # (and the proxy is a dead end), so no STUN or TURN packet leaves the browser.
             "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
             "--webrtc-ip-handling-policy=disable_non_proxied_udp",
             "--dns-prefetch-disable")
QUIET = ("--headless", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--disable-quic", "--mute-audio",
         "--disable-features=MediaRouter,OptimizationHints,Translate", "--metrics-recording-only",
         "--password-store=basic", "--use-mock-keychain", "--disable-breakpad", "--disable-crash-reporter",
         # Pages rendered side by side are all "in front": none has its timers slowed as a hidden tab's.
         "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
         "--disable-backgrounding-occluded-windows", "--disable-ipc-flooding-protection")


def find_browser(given: str) -> str:
    """The Chromium program to drive: ``given`` (``--browser``), else the first of
    :data:`BROWSER_NAMES` on PATH; :class:`UsageError` when there is none."""
    if given:
        found = shutil.which(given)
        if found is None:
            raise UsageError(f"--browser: {given} is not a program that can be run; {INSTALL_HINT}")
        return found
    for name in BROWSER_NAMES:
        found = shutil.which(name)
        if found is not None:
            return found
    raise UsageError(f"--render: no Chromium found on PATH; {INSTALL_HINT}")


def require_playwright() -> None:
    """:class:`UsageError` unless Playwright for Python (the ``render`` extra) is installed."""
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        raise UsageError(f"--render needs Playwright for Python: {install_hint('render')}") from None


def browser_for(settings: Settings) -> str:
    """The browser ``--render`` will drive, once Playwright is known to be there; one
    :class:`UsageError` line naming what to install otherwise."""
    require_playwright()
    return find_browser(settings.browser)


class BrowserGone(Exception):
    """The browser crashed, was killed or could not be started: the page it held is lost."""


class _Launched:
    """One running browser: Playwright's handle, its keeper's pid (its process group), and its use."""

    def __init__(self, browser: Any, keeper: int, folder: str) -> None:
        self.browser = browser
        self.keeper = keeper
        self.folder = folder  # the launch's wrapper script and pid file
        self.pages = 0  # pages it has served
        self.in_use = 0
        self.retired = False
        self.dead = False
        self.counted = False  # among the pool's lost browsers
        browser.on("disconnected", lambda *_: self._lost())

    def _lost(self) -> None:
        self.dead = self.retired = True

    def kill(self) -> None:
        """End it now: the keeper, told to, kills every process of the browser."""
        self.dead = self.retired = True
        with contextlib.suppress(OSError):
            os.kill(self.keeper, signal.SIGTERM)

    def memory(self) -> int:
        """Bytes resident in the browser's processes (its process group), from /proc."""
        page = os.sysconf("SC_PAGE_SIZE")
        return sum(int(fields[21]) * page for _, fields in processes() if int(fields[2]) == self.keeper)


class Tab:
    """A page of the pool's browser, in a context of its own (:meth:`BrowserPool.page`)."""

    def __init__(self, page: Any, launched: _Launched) -> None:
        self.page = page
        self._launched = launched

    @property
    def gone(self) -> bool:
        """Has its browser crashed or been killed?"""
        return self._launched.dead

    def kill_browser(self) -> None:
        """The page hung the browser: kill it (its other pages fail; the next page gets a new one)."""
        log.warning("a page hung the browser: it is killed and started again")
        self._launched.kill()


class BrowserPool:
    """``--render-concurrency`` pages at once in one browser, restarted as the module says.
    Use as an async context manager; the browser is started at the first page."""

    def __init__(self, settings: Settings, user_agent: str) -> None:
        self.settings = settings
        self.user_agent = user_agent
        self.executable = browser_for(settings)
        self._slots = asyncio.Semaphore(settings.render_concurrency)
        self._starting = asyncio.Lock()
        self._playwright: Any = None
        self._current: _Launched | None = None
        self._all: set[_Launched] = set()
        self.started = 0  # browsers started
        self.lost = 0  # browsers that crashed or were killed
        self.seconds = 0.0  # pages' time holding a browser (context made and closed included)

    async def __aenter__(self) -> BrowserPool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @contextlib.asynccontextmanager
    async def page(self) -> AsyncIterator[Tab]:
        """A fresh page in a context of its own, for one rendering; :class:`BrowserGone` when
        the browser dies under it (or cannot be started)."""
        loop = asyncio.get_running_loop()
        async with self._slots:
            began = loop.time()
            launched = await self._ready()
            launched.in_use += 1
            context = None
            try:
                try:
                    context, page = await self._open(launched)
                except Exception as e:
                    launched.kill()
                    raise BrowserGone(f"the browser did not open a page: {e}") from None
                yield Tab(page, launched)
            finally:
                launched.in_use -= 1
                launched.pages += 1
                if context is not None and not launched.dead:
                    try:
                        await asyncio.wait_for(context.close(), CLOSE_TIMEOUT)
                    except Exception:
                        launched.kill()
                await self._check(launched)
                self.seconds += loop.time() - began

    async def _open(self, launched: _Launched) -> tuple[Any, Any]:
        """A new context of ``launched``'s and a page in it."""
        context = await asyncio.wait_for(launched.browser.new_context(
            user_agent=self.user_agent, service_workers="block", accept_downloads=False), START_TIMEOUT)
        return context, await asyncio.wait_for(context.new_page(), START_TIMEOUT)

    async def _ready(self) -> _Launched:
        """The browser new pages go to, started if there is none."""
        async with self._starting:
            current = self._current
            if current is not None and not current.retired:
                return current
            self._current = current = await self._launch()
            return current

    async def _check(self, launched: _Launched) -> None:
        """After a page: retire the browser when it has served its pages, grown too big or
        died; close a retired one its last page has left."""
        settings = self.settings
        if not launched.retired:
            if settings.render_restart_pages and launched.pages >= settings.render_restart_pages:
                launched.retired = True
            elif settings.render_max_memory and await asyncio.to_thread(launched.memory) > settings.render_max_memory:
                log.info("the browser holds more than render_max_memory: a fresh one takes the next pages")
                launched.retired = True
        if launched.dead and not launched.counted and launched in self._all:
            launched.counted = True
            self.lost += 1
        if launched.retired and launched.in_use == 0:
            await self._end(launched)

    async def _launch(self) -> _Launched:
        from playwright.async_api import async_playwright

        if self._playwright is None:
            self._playwright = await async_playwright().start()
        # Playwright runs this in Chromium's place: the keeper, which runs Chromium with the pipes.
        folder = tempfile.mkdtemp(prefix="crawler-browser-")
        pidfile = os.path.join(folder, "keeper.pid")
        wrapper = os.path.join(folder, "chromium")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\nexec " + " ".join(shlex.quote(part) for part in (
                sys.executable, "-I", browserkeeper.__file__, pidfile, self.executable)) + ' "$@"\n')
        os.chmod(wrapper, 0o700)
        try:
            browser = await self._playwright.chromium.launch(
                executable_path=wrapper, args=[*QUIET, *ISOLATION], headless=True,
                chromium_sandbox=os.geteuid() != 0,  # Chromium's sandbox refuses to run as root
                handle_sigint=False, handle_sigterm=False, handle_sighup=False, timeout=START_TIMEOUT * 1000)
            with open(pidfile) as f:
                keeper = int(f.read())
        except Exception as e:
            shutil.rmtree(folder, ignore_errors=True)
            raise BrowserGone(f"{self.executable} did not start: {e}") from None
        launched = _Launched(browser, keeper, folder)
        self._all.add(launched)
        self.started += 1
        log.debug("browser %d started (%s, keeper pid %d)", self.started, self.executable, keeper)
        return launched

    async def _end(self, launched: _Launched) -> None:
        """Close ``launched``: the browser is asked to close and Playwright waits for its
        processes to end; past CLOSE_TIMEOUT (or when it is dead already) its keeper kills what
        is left, and that is waited for too."""
        self._all.discard(launched)
        if self._current is launched:
            self._current = None
        try:
            await asyncio.wait_for(launched.browser.close(), CLOSE_TIMEOUT)
        except Exception:
            launched.kill()
        await _gone(launched.keeper)
        shutil.rmtree(launched.folder, ignore_errors=True)

    async def close(self) -> None:
        """Close every browser and Playwright."""
        for launched in list(self._all):
            await self._end(launched)
        if self._playwright is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._playwright.stop(), CLOSE_TIMEOUT)
            self._playwright = None


async def _gone(pid: int) -> None:
    """Wait until process ``pid`` (a keeper: Playwright's driver reaps it) has exited; SIGKILL
    its whole group past CLOSE_TIMEOUT."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + CLOSE_TIMEOUT
    while _running(pid):
        if loop.time() > deadline:
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)
            deadline = float("inf")
        await asyncio.sleep(0.01)


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


__all__ = ["BrowserGone", "BrowserPool", "Tab", "browser_for", "find_browser", "require_playwright"]
