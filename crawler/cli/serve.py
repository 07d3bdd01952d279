"""``python -m crawler serve``: the crawl service (see :mod:`crawler.service`)."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import signal
import stat
import sys
from collections.abc import Sequence
from pathlib import Path

from crawler._version import install_hint
from crawler.cli.options import Parser
from crawler.durable.job import JobLock, JobLocked
from crawler.errors import EXIT_OK, EXIT_USAGE, UsageError
from crawler.monitor.logs import setup_logging
from crawler.service.calls import RENDER_MODES, Bounds
from crawler.service.hosts import HostNames
from crawler.service.jobs import Job
from crawler.service.ondemand import Calls
from crawler.settings import load_settings

DEFAULT_HOST, DEFAULT_PORT, DEFAULT_RUNNING, DEFAULT_KEEP = "127.0.0.1", 8700, 2, 50
TOKEN_VARIABLE = "CRAWLER_SERVE_TOKEN"
MIN_TOKEN = 16  # characters of a token, at least (the file's and the variable's)
PRIVATE = 0o077  # the umask of the service and its runs: DATA's folders 0700, its files 0600


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog="crawler serve", description="Run scheduled crawl jobs, and answer an HTTP API about them.")
    p.add_argument("--jobs", metavar="FILE.toml",
                   help="the jobs: a [jobs.NAME] table a job (none: the service answers the calls only)")
    p.add_argument("--data", metavar="DIR", required=True,
                   help="where the service keeps its database, the jobs' job dirs and each run's files")
    p.add_argument("--host", default=DEFAULT_HOST,
                   help=f"address to listen on (default: {DEFAULT_HOST}; another needs --token-file)")
    p.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                   help="a name the service is reached by besides loopback's and --host's (its Host header; "
                        "every other is refused, against DNS rebinding); repeatable; '*': any")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT})")
    p.add_argument("--max-running", type=int, default=DEFAULT_RUNNING, metavar="N",
                   help=f"runs at once, at most (default: {DEFAULT_RUNNING}); the others wait their turn")
    p.add_argument("--keep-runs", type=int, default=DEFAULT_KEEP, metavar="N",
                   help=f"keep the files of each job's latest N runs, delete older ones' (default: {DEFAULT_KEEP}; "
                        "0: keep all)")
    p.add_argument("--token-file", metavar="FILE",
                   help=f"a file holding the secret every request must carry, or several, one a line (or "
                        f"${TOKEN_VARIABLE})")
    p.add_argument("--log-level", default="info", help="debug, info, warning or error (default: info)")
    add_call_options(p)
    return p


def add_call_options(p: argparse.ArgumentParser) -> None:
    """The options of the calls for programs and agents (``/v1``, the MCP tools), which
    ``serve`` and ``mcp`` share."""
    g = p.add_argument_group("calls for programs and agents (/v1/scrape, /v1/crawl, /v1/map, MCP tools)")
    b = Bounds()
    g.add_argument("--config", metavar="FILE.toml",
                   help="crawl settings for the calls (user_agent, per_host, delay, robots...), as a crawl's --config")
    g.add_argument("--allow-private", action="store_true",
                   help="let the calls fetch private, loopback and link-local addresses (refused by default)")
    g.add_argument("--private-host", action="append", default=[], metavar="HOST",
                   help="this host may be at a private address (an intranet's); repeatable")
    g.add_argument("--api-render", choices=RENDER_MODES, default="never",
                   help="a scrape's render when it does not say (default: never; auto and always need the render "
                        "extra)")
    g.add_argument("--api-rate", type=int, default=b.rate, metavar="N",
                   help=f"calls a minute for each token, at most (default: {b.rate}; 0: no limit)")
    g.add_argument("--api-timeout", type=float, default=b.timeout, metavar="SECONDS",
                   help=f"a scrape's, map's or extract's most time (default: {b.timeout:g})")
    g.add_argument("--api-max-pages", type=int, default=b.max_pages, metavar="N",
                   help=f"a crawl's most pages (default: {b.max_pages})")
    g.add_argument("--api-max-runtime", type=float, default=b.max_runtime, metavar="SECONDS",
                   help=f"a crawl's most time (default: {b.max_runtime:g})")
    g.add_argument("--api-max-chars", type=int, default=b.max_chars, metavar="N",
                   help=f"characters of Markdown an MCP tool's answer carries, at most (default: {b.max_chars})")


def make_dir(folder: Path, given: Path) -> None:
    """Make ``folder`` (in ``--data``'s ``given``); :class:`UsageError` when it cannot be."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"--data: cannot use {given}: {e.strerror or e}") from None


def calls_of(args: argparse.Namespace, data: Path) -> Calls:
    """The calls the options ask for, their crawls kept under ``data``; :class:`UsageError` for
    a bad option."""
    for name in ("api_rate", "api_timeout", "api_max_pages", "api_max_runtime", "api_max_chars"):
        value = getattr(args, name)
        if value < (0 if name == "api_rate" else 1):
            raise UsageError(f"--{name.replace('_', '-')} must be {'0 or more' if name == 'api_rate' else 'positive'}, "
                             f"got {value:g}")
    settings = load_settings(config_file=args.config)
    bounds = Bounds(timeout=args.api_timeout, max_pages=args.api_max_pages, max_runtime=args.api_max_runtime,
                    max_bytes=settings.max_bytes, rate=args.api_rate, max_chars=args.api_max_chars)
    return Calls(settings, bounds, data, allow_private=args.allow_private, private_hosts=tuple(args.private_host),
                 render=args.api_render)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _tokens(args: argparse.Namespace) -> list[str]:
    """The tokens of ``--token-file`` (one a line: each has its own rate of calls), else the
    one of ``$CRAWLER_SERVE_TOKEN``."""
    if args.token_file:
        try:
            tokens = [line.strip() for line in Path(args.token_file).read_text("utf-8").splitlines() if line.strip()]
        except OSError as e:
            raise UsageError(f"--token-file: cannot read {args.token_file}: {e.strerror or e}") from None
        if not tokens or any(len(t) < MIN_TOKEN for t in tokens):
            raise UsageError(f"--token-file: a token a line, each {MIN_TOKEN} characters or more")
        return tokens
    token = os.environ.get(TOKEN_VARIABLE, "").strip()
    if os.environ.get(TOKEN_VARIABLE) and len(token) < MIN_TOKEN:
        raise UsageError(f"${TOKEN_VARIABLE}: the token must be {MIN_TOKEN} characters or more "
                         f"(it has {len(token)})")
    return [token] if token else []


def serve_main(argv: Sequence[str]) -> int:
    """``serve --jobs FILE --data DIR [--host H] [--port N] [--max-running N] [--token-file F]``."""
    args = _parser().parse_args(argv)
    try:
        try:
            import croniter  # noqa: F401  (the jobs' schedules)
        except ImportError:
            raise UsageError(f"crawler serve needs the serve extra: {install_hint('serve')}") from None
        from crawler.service.jobs import load_jobs

        tokens = _tokens(args)
        if not _loopback(args.host) and not tokens:
            raise UsageError(f"--host {args.host} is not a loopback address: give --token-file (or "
                             f"${TOKEN_VARIABLE}), so that only those who hold the token can use the service")
        if args.keep_runs < 0:
            raise UsageError(f"--keep-runs must be 0 or more, got {args.keep_runs}")
        if args.max_running < 1:
            raise UsageError(f"--max-running must be at least 1, got {args.max_running}")
        jobs = load_jobs(args.jobs) if args.jobs else {}
        data = Path(args.data)
        lock = hold_data(data, "crawler serve")
        make_dir(data / "runs", data)
        calls = calls_of(args, data)
    except (UsageError, JobLocked) as e:
        print(f"crawler: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    setup_logging(args.log_level)
    try:
        return asyncio.run(_serve(args, jobs, data, tokens, calls))
    finally:
        lock.release()


def hold_data(data: Path, holder: str) -> JobLock:
    """Make ``data`` (``--data``) private to this user (0700; what is written in it 0600,
    by this process's umask, which its runs inherit) and lock it for ``holder`` (``crawler
    serve``, ``crawler mcp``), so that a second one cannot share it (:class:`JobLocked` naming
    the first's pid)."""
    os.umask(PRIVATE)
    make_dir(data, data)
    try:
        data.chmod(0o700)
        for folder, _, files in os.walk(data):  # what an older version or a hand left readable
            for path in (Path(folder), *(Path(folder) / name for name in files)):
                mode = path.lstat().st_mode
                if stat.S_IMODE(mode) & PRIVATE and not stat.S_ISLNK(mode):
                    path.chmod(stat.S_IMODE(mode) & ~PRIVATE)
    except OSError as e:
        raise UsageError(f"--data: cannot make {data} private: {e.strerror or e}") from None
    lock = JobLock(data / "service.lock", holder="crawler serve", option="--data")
    lock.acquire()
    return lock


async def _serve(args: argparse.Namespace, jobs: dict[str, Job], data: Path, tokens: list[str], calls: Calls
                 ) -> int:
    from aiohttp import web

    from crawler.service.api import make_app
    from crawler.service.runs import Runs

    jobs_dir = Path(args.jobs).resolve().parent if args.jobs else data
    runs = Runs(jobs, data, args.max_running, jobs_dir, args.keep_runs)
    await runs.start()
    await calls.open()
    hosts = HostNames.of(args.host, args.allowed_host)
    runner = web.AppRunner(make_app(runs, tokens, calls, hosts), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port)
    try:
        await site.start()
    except OSError as e:
        print(f"crawler: error: cannot listen on {args.host}:{args.port}: {e.strerror or e}", file=sys.stderr)
        await runs.stop()
        await runner.cleanup()
        await calls.close()
        return EXIT_USAGE
    print(f"crawler serve: {len(jobs)} jobs, listening on http://{args.host}:{args.port}/ (Ctrl-C stops)",
          file=sys.stderr, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    print("crawler serve: stopping: the runs stop as on Ctrl-C, each resumable", file=sys.stderr, flush=True)
    await runner.cleanup()
    await calls.close()
    await runs.stop()
    return EXIT_OK


__all__ = ["serve_main"]
