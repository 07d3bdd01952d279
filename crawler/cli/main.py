"""The command line: ``python -m crawler --seeds urls.txt`` and ``python -m crawler demo``."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import importlib
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from crawler._version import __version__
from crawler.cli.seeds import read_seeds
from crawler.core.engine import Engine
from crawler.durable.job import JobLocked
from crawler.errors import FatalError, OutputClosed, UsageError
from crawler.output.files import make_parent
from crawler.settings import REDIS_SCHEMES, Settings, default_values, load_settings_with_sources
from crawler.spider.api import Spider

EXIT_OK, EXIT_FATAL, EXIT_USAGE, EXIT_LOCKED, EXIT_INTERRUPTED = 0, 1, 2, 75, 130
EXIT_PIPE = 141  # stdout closed by its reader: what a shell reports for a filter ended by SIGPIPE
DEMO_OUTPUT = "demo.jsonl"
log = logging.getLogger("crawler")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line, no usage block: ``crawler: error: ...``, exit 2."""
        self.exit(EXIT_USAGE, f"crawler: error: {message}\n")


# (group, flags, help, extra argparse arguments); the default is added from defaults.toml.
_OPTIONS: list[tuple[str, tuple[str, ...], str, dict[str, Any]]] = [
    ("output", ("--spider",), "run this spider (importable module:Class) instead of the page recorder",
     {"metavar": "MODULE:CLASS"}),
    ("output", ("-o", "--output"), "where records go; - is stdout", {"metavar": "PATH"}),
    ("output", ("--format",), "output format; empty: from the extension (.jsonl, .jsonl.gz, .csv, .csv.gz, "
     ".warc.gz)", {"choices": ["jsonl", "csv", "warc"]}),
    ("output", ("--rotate-size",), "start a new numbered output file once one reaches SIZE (100MB, 1GiB)",
     {"metavar": "SIZE"}),
    ("output", ("--rotate-records",), "start a new numbered output file every N records", {"metavar": "N"}),
    ("output", ("--store-bodies",), "save every body under DIR, content-addressed by SHA-1 (record field body_path)",
     {"metavar": "DIR"}),
    ("output", ("--stats",), "write the final statistics as JSON to FILE", {"metavar": "FILE"}),
    ("output", ("--report",), "write an HTML report of the crawl to FILE (self-contained: charts as inline SVG)",
     {"metavar": "FILE.html"}),
    ("output", ("--log-level",), "debug, info, warning or error", {"metavar": "LEVEL"}),
    ("output", ("--log-format",), "text, or json: one JSON object a line", {"choices": ["text", "json"]}),
    ("scheduling", ("--parse-isolation",), "parse HTML in the crawler's process (thread), or in worker processes "
     "that a crashing parser cannot take the crawl down with (process)", {"choices": ["thread", "process"]}),
    ("output", ("--metrics-port",), "serve Prometheus metrics on 127.0.0.1:PORT/metrics while crawling",
     {"metavar": "PORT"}),
    ("output", ("--stats-interval",), "without live progress, seconds between two JSON stats lines on stderr",
     {"metavar": "SECONDS"}),
    ("scheduling", ("--concurrency",), "requests in flight in total", {"metavar": "N"}),
    ("scheduling", ("--per-host",), "requests in flight to one host", {"metavar": "N"}),
    ("scheduling", ("--delay",), "least time between request starts to one host", {"metavar": "SECONDS"}),
    ("scheduling", ("--max-pages",), "stop after N pages; 0 is no limit", {"metavar": "N"}),
    ("scheduling", ("--max-pages-per-host",), "accept at most N URLs from one host (host:port), a budget against "
     "traps; 0 is no limit", {"metavar": "N"}),
    ("scheduling", ("--max-links-per-page",), "follow at most N in-scope links of one page (the rest are counted "
     "in links_dropped); 0 is all", {"metavar": "N"}),
    ("scheduling", ("--max-depth",), "hops from a seed; 0 is seeds only, -1 no limit", {"metavar": "N"}),
    ("scope", ("--scope",), "follow links to the seeds' hosts, their registered domains, or anywhere",
     {"choices": ["host", "domain", "any"]}),
    ("scope", ("--allow-domain",), "also follow links to D and its subdomains (repeatable)",
     {"metavar": "D", "action": "append"}),
    ("scope", ("--deny-domain",), "never follow links to D and its subdomains (repeatable)",
     {"metavar": "D", "action": "append"}),
    ("scope", ("--include",), "follow only links matching one of these (repeatable)",
     {"metavar": "REGEX", "action": "append"}),
    ("scope", ("--exclude",), "never follow links matching one of these (repeatable)",
     {"metavar": "REGEX", "action": "append"}),
    ("politeness", ("--sitemap",), "take seeds from this sitemap (repeatable)", {"metavar": "URL", "action": "append"}),
    ("durable crawls", ("--job-dir",), "keep the crawl's state in DIR; the same command again resumes",
     {"metavar": "DIR"}),
    ("durable crawls", ("--frontier",), "memory, sqlite:///path/file.db or redis://host:port/db; none: sqlite in "
     "--job-dir, else memory", {"metavar": "URL"}),
    ("distributed crawls", ("--crawl-id",), "with a Redis frontier: every process with this id shares the crawl",
     {"metavar": "NAME"}),
    ("distributed crawls", ("--lease-timeout",), "seconds a URL handed to a process stays its own",
     {"metavar": "SECONDS"}),
    ("distributed crawls", ("--workers",), "start N processes on this crawl (Redis frontier)", {"metavar": "N"}),
    ("distributed crawls", ("--worker",), "this process's name in the crawl and in {worker}; none: host-pid",
     {"metavar": "NAME"}),
    ("durable crawls", ("--max-runtime",), "end the run cleanly after this long (90s, 30m, 6h); 0 is no limit",
     {"metavar": "DURATION"}),
    ("durable crawls", ("--recrawl-after",), "pages done longer ago than this are fetched again (6h, 7d); 0 is never",
     {"metavar": "DURATION"}),
    ("fetching", ("--user-agent",), "the User-Agent header", {"metavar": "UA"}),
    ("fetching", ("--timeout",), "deadline for a whole request, body included", {"metavar": "SECONDS"}),
    ("fetching", ("--max-bytes",), "largest body kept, counted after decompression", {"metavar": "N"}),
    ("fetching", ("--retries",), "retries on 5xx, 429, timeouts and connection errors", {"metavar": "N"}),
]


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(value) or "none"
    return {"": "none", "-": "- (stdout)"}.get(value, str(value)) if isinstance(value, str) else str(value)


def build_parser(prog: str = "crawler", demo: bool = False) -> argparse.ArgumentParser:
    """The option parser; every default shown is read from ``settings/defaults.toml``."""
    defaults = default_values()
    if demo:
        defaults["output"] = DEMO_OUTPUT
    p = _Parser(
        prog=prog,
        description=("Serve a generated site on 127.0.0.1 and crawl it." if demo else
                     "Crawl the web from seed URLs and write one JSON record per URL."),
        epilog="Every option can also be set in a TOML file given with --config (keys spelled "
               "with underscores: per_host = 4); the command line wins.",
        argument_default=argparse.SUPPRESS,
    )
    p.add_argument("--version", action="version", version=f"crawler {__version__}")
    if not demo:
        p.add_argument("--seeds", metavar="FILE",
                       help="seed URLs, one a line; - reads stdin (required unless --sitemap is given)")
    p.add_argument("--config", metavar="FILE", help="TOML settings file (default: none)")
    groups: dict[str, Any] = {}
    for group, flags, text, extra in _OPTIONS:
        if group not in groups:
            groups[group] = p.add_argument_group(group)
        key = flags[-1][2:].replace("-", "_")
        groups[group].add_argument(*flags, help=f"{text} (default: {_shown(defaults[key])})", **extra)
    groups["scope"].add_argument(
        "--allow-private", action="store_const", const=True,
        help="let links and redirects reach private, loopback and link-local addresses; the seeds' own hosts "
             "always may (default: off)")
    groups["durable crawls"].add_argument(
        "--changed-only", action="store_const", const=True,
        help="on a recrawl, write records only for new or changed pages (default: off)")
    groups["politeness"].add_argument(
        "--no-robots", dest="robots", action="store_const", const=False,
        help="ignore robots.txt, its Crawl-delay, and nofollow in pages and headers (default: obey them)")
    groups["politeness"].add_argument(
        "--autothrottle", action="store_const", const=True,
        help="adapt each host's delay to its latency, never below --delay (default: off)")
    groups["politeness"].add_argument(
        "--use-sitemaps", action="store_const", const=True,
        help="also take seeds from the Sitemap: lines of robots.txt, else /sitemap.xml (default: off)")
    shown = groups["output"].add_mutually_exclusive_group()
    shown.add_argument("--progress", dest="progress", action="store_const", const=True,
                       help="live progress on stderr (default: when stderr is a terminal)")
    shown.add_argument("--no-progress", dest="progress", action="store_const", const=False,
                       help="no live progress; a JSON stats line every --stats-interval seconds instead")
    return p


class JsonFormatter(logging.Formatter):
    """Log records as one JSON object a line: time, level, message (and ``stats`` if given)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as JSON."""
        from crawler.timestamps import utc_now_iso

        entry: dict[str, Any] = {"time": utc_now_iso(), "level": record.levelname.lower(),
                                 "logger": record.name, "message": record.getMessage()}
        if getattr(record, "stats", None) is not None:
            entry["stats"] = record.stats
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def _setup_logging(level: str, fmt: str = "text") -> None:
    class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
        """Writes to whatever ``sys.stderr`` is now (rich's live display swaps it)."""

        @property  # type: ignore[override]
        def stream(self) -> Any:
            return sys.stderr

        @stream.setter
        def stream(self, value: Any) -> None:
            pass

    handler = StderrHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter("crawler: %(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp").setLevel(logging.WARNING)


def settings_from_args(args: argparse.Namespace, defaults: dict[str, Any] | None = None) -> Settings:
    """Settings from parsed options: built-in defaults < ``defaults`` < ``--config`` <
    ``CRAWLER_*`` environment variables < options."""
    return _settings_and_sources(args, defaults)[0]


def _settings_and_sources(args: argparse.Namespace,
                          defaults: dict[str, Any] | None = None) -> tuple[Settings, dict[str, str]]:
    given = vars(args).copy()
    config_file = given.pop("config", None)
    given.pop("seeds", None)
    given.pop("show", None)
    if defaults:
        given = defaults | given
    return load_settings_with_sources(given, config_file=config_file, overrides_source="command line",
                                      environ=os.environ)


def show_config(argv: list[str]) -> int:
    """``python -m crawler config --show [options]``: the effective settings and their sources."""
    parser = build_parser("crawler config")
    parser.add_argument("--show", action="store_true", help="print the effective settings and where each came from")
    args = parser.parse_args(argv)
    if not getattr(args, "show", False):
        raise UsageError("config: say --show (python -m crawler config --show [options])")
    settings, sources = _settings_and_sources(args)
    values = dataclasses.asdict(settings)
    for key, value in values.items():
        shown = list(value) if isinstance(value, tuple) else value
        print(f"{key} = {json.dumps(shown)}  # {sources.get(key, 'default')}")
    return EXIT_OK


def load_spider(spec: str) -> Any:
    """An instance of the spider class named ``module:Class`` (the current directory and
    PYTHONPATH are searched)."""
    module_name, _, class_name = spec.partition(":")
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise UsageError(f"--spider: cannot import {module_name}: {e}") from None
    cls = getattr(module, class_name, None)
    if cls is None or not isinstance(cls, type) or not issubclass(cls, Spider):
        raise UsageError(f"--spider: {spec} is not a crawler.Spider subclass")
    return cls()


async def _crawl(settings: Settings, seeds: list[str], spider: Spider | None) -> tuple[Engine, int]:
    engine = Engine(settings, seeds, spider=spider)
    try:
        await engine.run(handle_signals=True)
    except OutputClosed:
        return engine, EXIT_PIPE
    except FatalError as e:
        log.error("%s", e)
        return engine, EXIT_FATAL
    except JobLocked as e:
        log.error("%s", e)
        return engine, EXIT_LOCKED
    return engine, EXIT_INTERRUPTED if engine.stats.interrupted else EXIT_OK


def run_crawl(settings: Settings, seeds: list[str], spider: Spider | None = None) -> int:
    """Run a crawl to its end, print the summary, write ``--stats``; the exit status."""
    if settings.stats:
        make_parent("--stats", settings.stats)  # checked before the crawl, not after it
    engine, status = asyncio.run(_crawl(settings, seeds, spider))
    if status == EXIT_LOCKED:
        return status
    if status == EXIT_PIPE:  # a quiet stop, as `cmd | head` expects: no summary, no error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # nothing left for Python to flush at exit
        _write_stats(settings, engine)
        return status
    if settings.log_format == "json":
        log.info("%s", engine.stats.summary().splitlines()[0], extra={"stats": engine.stats.as_dict()})
    else:
        print(engine.stats.summary(), file=sys.stderr)
    if not _write_stats(settings, engine):
        status = status or EXIT_FATAL
    return status


def _write_stats(settings: Settings, engine: Engine) -> bool:
    """Write ``--stats`` (if asked); False when it cannot be written (said in one line)."""
    if settings.stats:
        try:
            Path(settings.stats).write_text(engine.stats.to_json(), encoding="utf-8")
        except OSError as e:
            log.error("cannot write --stats file %s: %s", settings.stats, e.strerror)
            return False
    return True


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``crawler`` and ``python -m crawler``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv[:1] == ["config"]:
            return show_config(argv[1:])
        if argv[:1] == ["demo"]:
            from crawler.cli.demo import main as demo_main

            return demo_main(argv[1:])
        if argv[:1] in (["seed"], ["status"]):
            from crawler.cli.workers import seed_main, status_main

            return (seed_main if argv[0] == "seed" else status_main)(argv[1:])
        args = build_parser().parse_args(argv)
        settings = settings_from_args(args)
        shared = settings.frontier.startswith(REDIS_SCHEMES)
        if "seeds" not in args and not settings.sitemap and not settings.spider and not shared:
            raise UsageError("--seeds FILE is required (or --sitemap URL; or try: python -m crawler demo)")
        if settings.workers > 1:
            from crawler.cli.workers import run_workers

            return run_workers(argv, settings, main)
        spider = load_spider(settings.spider) if settings.spider else None
        _setup_logging(settings.log_level, settings.log_format)
        seeds = read_seeds(args.seeds, settings.max_url_length) if "seeds" in args else []
        return run_crawl(settings, seeds, spider)
    except UsageError as e:
        print(f"crawler: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:  # a signal before the crawl had set its handlers
        return EXIT_INTERRUPTED
