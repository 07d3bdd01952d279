"""``python -m crawler serve``: the crawl service (see :mod:`crawler.service`)."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from crawler.cli.options import Parser
from crawler.errors import EXIT_OK, EXIT_USAGE, UsageError
from crawler.monitor.logs import setup_logging
from crawler.service.jobs import Job

DEFAULT_HOST, DEFAULT_PORT, DEFAULT_RUNNING, DEFAULT_KEEP = "127.0.0.1", 8700, 2, 50
TOKEN_VARIABLE = "CRAWLER_SERVE_TOKEN"


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog="crawler serve", description="Run scheduled crawl jobs, and answer an HTTP API about them.")
    p.add_argument("--jobs", metavar="FILE.toml", required=True, help="the jobs: a [jobs.NAME] table a job")
    p.add_argument("--data", metavar="DIR", required=True,
                   help="where the service keeps its database, the jobs' job dirs and each run's files")
    p.add_argument("--host", default=DEFAULT_HOST,
                   help=f"address to listen on (default: {DEFAULT_HOST}; another needs --token-file)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT})")
    p.add_argument("--max-running", type=int, default=DEFAULT_RUNNING, metavar="N",
                   help=f"runs at once, at most (default: {DEFAULT_RUNNING}); the others wait their turn")
    p.add_argument("--keep-runs", type=int, default=DEFAULT_KEEP, metavar="N",
                   help=f"keep the files of each job's latest N runs, delete older ones' (default: {DEFAULT_KEEP}; "
                        "0: keep all)")
    p.add_argument("--token-file", metavar="FILE",
                   help=f"a file holding the secret every request must carry (or ${TOKEN_VARIABLE})")
    p.add_argument("--log-level", default="info", help="debug, info, warning or error (default: info)")
    return p


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _token(args: argparse.Namespace) -> str | None:
    if args.token_file:
        try:
            token = Path(args.token_file).read_text("utf-8").strip()
        except OSError as e:
            raise UsageError(f"--token-file: cannot read {args.token_file}: {e.strerror or e}") from None
        if len(token) < 16:
            raise UsageError("--token-file: the token must be 16 characters or more")
        return token
    return os.environ.get(TOKEN_VARIABLE) or None


def serve_main(argv: Sequence[str]) -> int:
    """``serve --jobs FILE --data DIR [--host H] [--port N] [--max-running N] [--token-file F]``."""
    args = _parser().parse_args(argv)
    try:
        try:
            import croniter  # noqa: F401  (the jobs' schedules)
        except ImportError:
            raise UsageError("crawler serve needs the serve extra: pip install 'crawlwell[serve]'") from None
        from crawler.service.jobs import load_jobs

        token = _token(args)
        if not _loopback(args.host) and token is None:
            raise UsageError(f"--host {args.host} is not a loopback address: give --token-file (or "
                             f"${TOKEN_VARIABLE}), so that only those who hold the token can use the service")
        if args.keep_runs < 0:
            raise UsageError(f"--keep-runs must be 0 or more, got {args.keep_runs}")
        if args.max_running < 1:
            raise UsageError(f"--max-running must be at least 1, got {args.max_running}")
        jobs = load_jobs(args.jobs)
        data = Path(args.data)
        try:
            (data / "runs").mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UsageError(f"--data: cannot use {data}: {e.strerror or e}") from None
    except UsageError as e:
        print(f"crawler: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    setup_logging(args.log_level)
    return asyncio.run(_serve(args, jobs, data, token))


async def _serve(args: argparse.Namespace, jobs: dict[str, Job], data: Path, token: str | None) -> int:
    from aiohttp import web

    from crawler.service.api import make_app
    from crawler.service.runs import Runs

    runs = Runs(jobs, data, args.max_running, Path(args.jobs).resolve().parent, args.keep_runs)
    await runs.start()
    runner = web.AppRunner(make_app(runs, token), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port)
    try:
        await site.start()
    except OSError as e:
        print(f"crawler: error: cannot listen on {args.host}:{args.port}: {e.strerror or e}", file=sys.stderr)
        await runs.stop()
        await runner.cleanup()
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
    await runs.stop()
    return EXIT_OK


__all__ = ["serve_main"]
