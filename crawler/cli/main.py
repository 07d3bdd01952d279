"""The command line: ``python -m crawler --seeds urls.txt``, and its commands ``demo``,
``config --show``, ``seed``, ``status``, and the spider writer's ``shell``, ``fetch`` and
``parse``."""

from __future__ import annotations

import difflib
import sys
from collections.abc import Sequence

from crawler.cli.options import COMMANDS, build_parser, show_config, top_parser
from crawler.cli.seeds import parse_seeds, read_seeds
from crawler.cli.spiders import make_spider, settings_and_sources, spider_arguments
from crawler.core.outcome import quiet_stdout, run_crawl
from crawler.errors import EXIT_INTERRUPTED, EXIT_PIPE, EXIT_USAGE, UsageError
from crawler.monitor.logs import setup_logging
from crawler.settings import REDIS_SCHEMES


def check_not_a_command(urls: list[str]) -> None:
    """A first argument that is no URL but close to a command's name is a typo, not a seed."""
    if urls and "." not in urls[0] and "/" not in urls[0] and ":" not in urls[0]:
        close = difflib.get_close_matches(urls[0], [name for name, _ in COMMANDS], n=1, cutoff=0.6)
        if close:
            raise UsageError(f"{urls[0]!r} is neither a URL nor a command; did you mean {close[0]}?")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``crawler`` and ``python -m crawler``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv[:1] == ["config"]:
            return show_config(argv[1:])
        if argv[:1] == ["demo"]:
            from crawler.cli.demo import demo

            return demo(argv[1:])
        if argv[:1] in (["shell"], ["fetch"], ["parse"], ["extract"]):
            from crawler.cli import tools

            command = {"shell": tools.shell_main, "fetch": tools.fetch_main, "parse": tools.parse_main,
                       "extract": tools.extract_main}[argv[0]]
            return command(argv[1:])
        if argv[:1] == ["serve"]:
            from crawler.cli.serve import serve_main

            return serve_main(argv[1:])
        if argv[:1] == ["mcp"]:
            from crawler.cli.mcp import mcp_main

            return mcp_main(argv[1:])
        if argv[:1] in (["seed"], ["status"]):
            from crawler.cli.redisworkers import seed_main, status_main

            return (seed_main if argv[0] == "seed" else status_main)(argv[1:])
        if argv[:1] == ["crawl"]:
            argv = argv[1:]
            parser = build_parser("crawler crawl")  # its help: every option, grouped
        else:
            parser = top_parser()  # its help: the commands and the options most used
        args = parser.parse_args(argv)
        urls = list(getattr(args, "urls", None) or [])
        check_not_a_command(urls)
        settings, _, cls = settings_and_sources(args)
        shared = settings.frontier.startswith(REDIS_SCHEMES)
        if not urls and "seeds" not in args and not settings.sitemap and not settings.spider and not shared:
            raise UsageError("no seed URLs: give them as arguments (crawler https://example.org/) or in a file "
                             "(--seeds FILE), or --sitemap URL; or try: python -m crawler demo")
        if settings.workers > 1 and shared:
            from crawler.cli.redisworkers import run_workers

            return run_workers(argv, settings, main)
        if settings.job_dir:
            from crawler.shards.coordinator import check_job_split

            check_job_split(settings)
        spider = make_spider(cls, spider_arguments(settings)) if cls is not None else None
        setup_logging(settings.log_level, settings.log_format, settings.log_time)
        seeds = read_seeds(args.seeds, settings.max_url_length) if "seeds" in args else []
        if urls:
            given = parse_seeds(urls, "the command line", settings.max_url_length, strict=True)
            if not given:
                raise UsageError(f"no valid URL among the arguments: {' '.join(urls)[:200]}")
            seeds = given + seeds
        if settings.workers > 1:  # processes on this machine, the hosts split among them
            from crawler.shards.coordinator import run_shards

            if not seeds and not settings.sitemap and spider is None:
                raise UsageError("nothing to crawl: no seed URLs (--seeds) and no sitemap (--sitemap)")
            return run_shards(settings, seeds, spider)
        return run_crawl(settings, seeds, spider)
    except UsageError as e:
        print(f"crawler: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:  # a signal before the crawl had set its handlers
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `crawler config --show | head`: a quiet stop, as for a crawl
        quiet_stdout()
        return EXIT_PIPE
