"""Distributed crawls on Redis from the command line: ``seed`` (add seeds to a new or running
crawl), ``status`` (queue sizes, leases, hosts, pages done, each process's last heartbeat) and
``--workers N`` (N crawling processes on this machine)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any

from crawler.cli.options import Parser
from crawler.cli.seeds import as_crawl_request, read_seeds
from crawler.errors import FatalError, UsageError
from crawler.frontier import frontier_for
from crawler.frontier.redis_parts import crawl_status
from crawler.output.files import tagged_path
from crawler.settings import REDIS_STREAM_SCHEMES, Settings, load_settings
from crawler.settings.masking import mask_url


def _parser(command: str, text: str) -> argparse.ArgumentParser:
    p = Parser(prog=f"crawler {command}", description=text)
    p.add_argument("--frontier", required=True, metavar="URL", help="the crawl's Redis: redis://host:port/db or redis+cluster://host:port,...")
    p.add_argument("--crawl-id", required=True, metavar="NAME", help="the crawl's id")
    return p


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings({"frontier": args.frontier, "crawl_id": args.crawl_id}, overrides_source="command line")


def seed_main(argv: Sequence[str]) -> int:
    """``python -m crawler seed --frontier URL --crawl-id NAME FILE``."""
    p = _parser("seed", "Add seed URLs to a new or running distributed crawl.")
    p.add_argument("file", metavar="FILE", help="seed URLs, one a line; - reads stdin")
    args = p.parse_args(argv)
    settings = _settings(args)
    seeds = read_seeds(args.file, settings.max_url_length)

    async def add() -> int:
        frontier = frontier_for(settings, "seed")
        await frontier.open()
        try:
            return len(await frontier.add(as_crawl_request(seed) for seed in seeds))
        finally:
            await frontier.aclose()

    try:
        added = asyncio.run(add())
    except FatalError as e:
        print(f"crawler: error: {e}", file=sys.stderr)
        return 1
    print(f"{added} new of {len(seeds)} seeds added to crawl {settings.crawl_id}", file=sys.stderr)
    return 0


def status_main(argv: Sequence[str]) -> int:
    """``python -m crawler status --frontier URL --crawl-id NAME [--json]``."""
    p = _parser("status", "Show how a distributed crawl is going.")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = p.parse_args(argv)
    settings = _settings(args)
    try:
        figures = asyncio.run(crawl_status(settings.frontier, settings.crawl_id))
    except OSError as e:
        print(f"crawler: error: --frontier: cannot reach Redis at {mask_url(settings.frontier)}: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # redis-py's own errors
        print(f"crawler: error: --frontier: {mask_url(settings.frontier)}: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    print(f"crawl {figures['crawl_id']}: {figures['done']} pages done, {figures['queued']} queued, "
          f"{figures['leases']} leased, {figures['seen']} URLs seen, {figures['dead']} dead-lettered")
    print(f"hosts: {figures['hosts_ready']} with work waiting, {figures['hosts_busy']} being fetched")
    for worker, age in figures["workers"].items():
        print(f"worker {worker}: last heard from {age:.1f} s ago")
    return 0


def run_workers(argv: list[str], settings: Settings, run: Callable[[list[str]], int]) -> int:
    """``--workers N``: N crawler processes on one crawl (each with its own output, named with
    ``{worker}``, added before the extension when the name has none); their exit status.

    The processes are forked from this one, which has imported everything already: each starts
    crawling at once instead of spending half a second importing the crawler again. ``run``
    is the command line's entry point, called in each child with the child's arguments."""
    if settings.output == "-":
        raise UsageError("--workers: each process writes its own output; give -o FILE")
    output = settings.output
    if "{worker}" not in output and not output.startswith(REDIS_STREAM_SCHEMES):
        output = tagged_path(output, "{worker}")
    child_argv = [*argv, "--workers", "1", "--output", output]
    sys.stdout.flush()
    sys.stderr.flush()
    children = [_fork(run, child_argv) for _ in range(settings.workers)]
    codes: dict[int, int] = {}

    def forward(signum: int, frame: Any) -> None:
        for pid in children:
            if pid not in codes:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGHUP, forward)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the children themselves
    for pid in children:
        _, status = os.waitpid(pid, 0)
        codes[pid] = os.waitstatus_to_exitcode(status)
    if all(code == 0 for code in codes.values()):
        return 0
    return 130 if 130 in codes.values() else max(code for code in codes.values() if code != 0)


def _fork(run: Callable[[list[str]], int], argv: list[str]) -> int:
    """A child process running ``run(argv)`` and exiting with its status; its pid."""
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        code = run(argv)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)
