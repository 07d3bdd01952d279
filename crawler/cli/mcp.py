"""``python -m crawler mcp``: the MCP server over stdio, for desktop agents (see
:mod:`crawler.service.mcptools`). Its standard output is the protocol's: the log goes to
standard error."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from crawler._version import install_hint
from crawler.cli.options import Parser
from crawler.cli.serve import add_call_options, calls_of, hold_data
from crawler.durable.job import JobLocked
from crawler.errors import EXIT_OK, EXIT_USAGE, UsageError
from crawler.monitor.logs import setup_logging


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog="crawler mcp", description="An MCP server over stdio (for an agent to start): the tools scrape, "
                                               "crawl, crawl_status, map and extract.")
    p.add_argument("--data", metavar="DIR",
                   help="keep the crawls here, to be read on after a restart (default: a temporary folder, removed "
                        "at exit)")
    p.add_argument("--log-level", default="warning", help="debug, info, warning or error (default: warning)")
    add_call_options(p)
    return p


def mcp_main(argv: Sequence[str]) -> int:
    """``mcp [--data DIR] [--allow-private] ...``: serve the tools on stdin and stdout."""
    args = _parser().parse_args(argv)
    from crawler.service.ondemand import mcp_available

    temporary = None
    try:
        if not mcp_available():
            raise UsageError(f"crawler mcp needs the mcp extra: {install_hint('mcp')}")
        if args.data:
            data = Path(args.data)
        else:
            data = temporary = Path(tempfile.mkdtemp(prefix="crawler-mcp-"))
        lock = hold_data(data, "crawler mcp")
        calls = calls_of(args, data)
    except (UsageError, JobLocked) as e:
        print(f"crawler: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    setup_logging(args.log_level)
    from crawler.service.mcptools import run_stdio

    try:
        asyncio.run(run_stdio(calls.desk, calls.crawls))
    except KeyboardInterrupt:
        pass
    finally:
        lock.release()
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
    return EXIT_OK


__all__ = ["mcp_main"]
