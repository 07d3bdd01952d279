"""Running one crawl from the command line: logging, the spider to load, the crawl itself, the
summary on stderr and ``--stats``, the exit status."""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from crawler.cli.options import EXIT_FATAL, EXIT_INTERRUPTED, EXIT_LOCKED, EXIT_OK, EXIT_PIPE
from crawler.core.engine import Engine
from crawler.durable.job import JobLocked
from crawler.errors import FatalError, OutputClosed, UsageError
from crawler.output.files import make_parent
from crawler.settings import Settings
from crawler.spider.api import Request, Spider

log = logging.getLogger("crawler")


class JsonFormatter(logging.Formatter):
    """Log records as one JSON object a line: time, level, message (and ``stats`` if given)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as JSON."""
        from crawler.timestamps import utc_now_iso

        entry: dict[str, Any] = {"time": utc_now_iso(), "level": record.levelname.lower(),
                                 "logger": record.name, "message": record.getMessage()}
        stats = getattr(record, "stats", None)
        if stats is not None:
            entry["stats"] = stats
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str, fmt: str = "text") -> None:
    class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
        """Writes to whatever ``sys.stderr`` is now (rich's live display swaps it)."""

        @property
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


async def _crawl(settings: Settings, seeds: list[str | Request], spider: Spider | None) -> tuple[Engine, int]:
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


def run_crawl(settings: Settings, seeds: list[str | Request], spider: Spider | None = None) -> int:
    """Run a crawl to its end, print the summary, write ``--stats``; the exit status."""
    if settings.stats:
        make_parent("--stats", settings.stats)  # checked before the crawl, not after it
    engine, status = asyncio.run(_crawl(settings, seeds, spider))
    if status == EXIT_LOCKED:
        return status
    if status == EXIT_PIPE:  # a quiet stop, as `cmd | head` expects: no summary, no error
        quiet_stdout()
        _write_stats(settings, engine)
        return status
    if settings.log_format == "json":
        log.info("%s", engine.stats.summary().splitlines()[0], extra={"stats": engine.stats.as_dict()})
    else:
        print(engine.stats.summary(), file=sys.stderr)
    if not _write_stats(settings, engine):
        status = status or EXIT_FATAL
    return status


def quiet_stdout() -> None:
    """Stdout's reader has gone: send what is left to /dev/null, so that nothing (Python's own
    flush at exit included) complains about the closed pipe."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _write_stats(settings: Settings, engine: Engine) -> bool:
    """Write ``--stats`` (if asked); False when it cannot be written (said in one line)."""
    if settings.stats:
        try:
            Path(settings.stats).write_text(engine.stats.to_json(), encoding="utf-8")
        except OSError as e:
            log.error("cannot write --stats file %s: %s", settings.stats, e.strerror)
            return False
    return True


