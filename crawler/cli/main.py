"""The command line: ``python -m crawler --seeds urls.txt``, and its commands ``demo``,
``config --show``, ``seed``, ``status``, and the spider writer's ``shell``, ``fetch`` and
``parse``."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from crawler.cli.crawl import quiet_stdout, run_crawl
from crawler.cli.options import EXIT_INTERRUPTED, EXIT_PIPE, EXIT_USAGE, build_parser, show_config
from crawler.cli.seeds import read_seeds
from crawler.cli.spiders import make_spider, settings_and_sources, spider_arguments
from crawler.errors import UsageError
from crawler.monitor.logs import setup_logging
from crawler.settings import REDIS_SCHEMES


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
        if argv[:1] in (["seed"], ["status"]):
            from crawler.cli.workers import seed_main, status_main

            return (seed_main if argv[0] == "seed" else status_main)(argv[1:])
        args = build_parser().parse_args(argv)
        settings, _, cls = settings_and_sources(args)
        shared = settings.frontier.startswith(REDIS_SCHEMES)
        if "seeds" not in args and not settings.sitemap and not settings.spider and not shared:
            raise UsageError("--seeds FILE is required (or --sitemap URL; or try: python -m crawler demo)")
        if settings.workers > 1 and shared:
            from crawler.cli.workers import run_workers

            return run_workers(argv, settings, main)
        if settings.job_dir:
            from crawler.cli.shards import check_job_split

            check_job_split(settings)
        spider = make_spider(cls, spider_arguments(settings)) if cls is not None else None
        setup_logging(settings.log_level, settings.log_format)
        seeds = read_seeds(args.seeds, settings.max_url_length) if "seeds" in args else []
        if settings.workers > 1:  # processes on this machine, the hosts split among them
            from crawler.cli.shards import run_shards

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
