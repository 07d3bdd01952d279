"""The command line: ``python -m crawler --seeds urls.txt`` and ``python -m crawler demo``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from crawler import __version__
from crawler.config import Settings, default_values, load_settings
from crawler.engine import Engine
from crawler.errors import FatalError, UsageError
from crawler.seeds import read_seeds

EXIT_OK, EXIT_FATAL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
log = logging.getLogger("crawler")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line, no usage block: ``crawler: error: ...``, exit 2."""
        self.exit(EXIT_USAGE, f"crawler: error: {message}\n")


def build_parser(prog: str = "crawler", demo: bool = False) -> argparse.ArgumentParser:
    """The option parser; every default shown is read from ``config/default.toml``."""
    d = default_values()

    def default(key: str) -> str:
        value = d[key]
        if isinstance(value, list):
            return "none" if not value else ", ".join(value)
        if key == "output" and value == "-":
            return "- (stdout)"
        return str(value) if value != "" else "none"

    p = _Parser(
        prog=prog,
        description=("Serve a generated site on 127.0.0.1 and crawl it." if demo else
                     "Crawl the web from seed URLs and write one JSON record per URL."),
        epilog="Settings may also come from --config FILE (TOML, keys spelled with underscores); "
               "the command line wins.",
        argument_default=argparse.SUPPRESS,
    )
    S = argparse.SUPPRESS
    p.add_argument("--version", action="version", version=f"crawler {__version__}")
    if not demo:
        p.add_argument("--seeds", metavar="FILE", help="seed URLs, one a line; - reads stdin (required)")
    p.add_argument("--config", metavar="FILE", help="TOML settings file (default: none)")
    out = p.add_argument_group("output")
    out.add_argument("-o", "--output", metavar="PATH",
                     help=f"where records go; - is stdout (default: {'demo.jsonl' if demo else default('output')})")
    out.add_argument("--format", choices=["jsonl"], help="output format (default: jsonl)")
    out.add_argument("--stats", metavar="FILE", help=f"write the final statistics as JSON (default: {default('stats')})")
    prog_group = out.add_mutually_exclusive_group()
    prog_group.add_argument("--progress", dest="progress", action="store_const", const=True,
                            help="live progress on stderr (default: when stderr is a terminal)")
    prog_group.add_argument("--no-progress", dest="progress", action="store_const", const=False, help=S)
    out.add_argument("--log-level", metavar="LEVEL", help=f"debug, info, warning or error (default: {default('log_level')})")

    sched = p.add_argument_group("scheduling")
    sched.add_argument("--concurrency", metavar="N", help=f"requests in flight in total (default: {default('concurrency')})")
    sched.add_argument("--per-host", metavar="N", help=f"requests in flight to one host (default: {default('per_host')})")
    sched.add_argument("--delay", metavar="SECONDS", help=f"least time between request starts to one host (default: {default('delay')})")
    sched.add_argument("--max-pages", metavar="N", help=f"stop after N pages; 0 is no limit (default: {default('max_pages')})")
    sched.add_argument("--max-depth", metavar="N",
                       help=f"hops from a seed; 0 is seeds only, -1 no limit (default: {default('max_depth')})")

    scope = p.add_argument_group("scope")
    scope.add_argument("--scope", choices=["host", "domain", "any"],
                       help=f"follow links to the seeds' hosts, their registered domains, or anywhere (default: {default('scope')})")
    scope.add_argument("--allow-domain", metavar="D", action="append", help="also follow links to D and its subdomains (repeatable)")
    scope.add_argument("--deny-domain", metavar="D", action="append", help="never follow links to D and its subdomains (repeatable)")
    scope.add_argument("--include", metavar="REGEX", action="append", help="follow only links matching one of these (repeatable)")
    scope.add_argument("--exclude", metavar="REGEX", action="append", help="never follow links matching one of these (repeatable)")

    fetch = p.add_argument_group("fetching")
    fetch.add_argument("--user-agent", metavar="UA", help=f"User-Agent header (default: {default('user_agent')})")
    fetch.add_argument("--timeout", metavar="SECONDS", help=f"deadline for a whole request, body included (default: {default('timeout')})")
    fetch.add_argument("--max-bytes", metavar="N", help=f"largest body kept, after decompression (default: {default('max_bytes')})")
    fetch.add_argument("--retries", metavar="N", help=f"retries on 5xx, 429, timeouts and connection errors (default: {default('retries')})")
    return p


def _setup_logging(level: str) -> None:
    class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
        """Writes to whatever ``sys.stderr`` is now (rich's live display swaps it)."""

        @property  # type: ignore[override]
        def stream(self) -> Any:
            return sys.stderr

        @stream.setter
        def stream(self, value: Any) -> None:
            pass

    handler = StderrHandler()
    handler.setFormatter(logging.Formatter("crawler: %(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp").setLevel(logging.WARNING)


def settings_from_args(args: argparse.Namespace, defaults: dict[str, Any] | None = None) -> Settings:
    """Settings from parsed options: built-in defaults < ``defaults`` < ``--config`` < options."""
    given = vars(args).copy()
    config_file = given.pop("config", None)
    given.pop("seeds", None)
    if defaults:
        given = defaults | given
    return load_settings(given, config_file=config_file, overrides_source="command line")


async def _crawl(settings: Settings, seeds: list[str]) -> tuple[Engine, int]:
    engine = Engine(settings, seeds)
    try:
        await engine.run(handle_signals=True)
    except FatalError as e:
        log.error("%s", e)
        return engine, EXIT_FATAL
    return engine, EXIT_INTERRUPTED if engine.stats.interrupted else EXIT_OK


def run_crawl(settings: Settings, seeds: list[str]) -> int:
    """Run a crawl to its end, print the summary, write ``--stats``; the exit status."""
    engine, status = asyncio.run(_crawl(settings, seeds))
    print(engine.stats.summary(), file=sys.stderr)
    if settings.stats:
        try:
            Path(settings.stats).write_text(engine.stats.to_json(), encoding="utf-8")
        except OSError as e:
            log.error("cannot write --stats file %s: %s", settings.stats, e.strerror)
            status = status or EXIT_FATAL
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``crawler`` and ``python -m crawler``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv[:1] == ["demo"]:
            from crawler.demo import main as demo_main

            return demo_main(argv[1:])
        args = build_parser().parse_args(argv)
        if "seeds" not in args:
            raise UsageError("--seeds FILE is required (or try: python -m crawler demo)")
        settings = settings_from_args(args)
        _setup_logging(settings.log_level)
        seeds = read_seeds(args.seeds, settings.max_url_length)
        return run_crawl(settings, seeds)
    except UsageError as e:
        print(f"crawler: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:  # a signal before the crawl had set its handlers
        return EXIT_INTERRUPTED
