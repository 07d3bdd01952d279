"""``python -m crawler demo``: crawl a generated site served on 127.0.0.1 (no internet needed)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from crawler.cli.crawl import run_crawl, setup_logging
from crawler.cli.options import DEMO_OUTPUT, EXIT_USAGE, build_parser, settings_from_args
from crawler.cli.testsite import ServerThread, make_app
from crawler.errors import UsageError
from crawler.output.encoders import format_of

DEMO_PAGES = 300


def demo(argv: Sequence[str]) -> int:
    """Serve the demo site, crawl it with the same code path as a real crawl, say where the
    records went."""
    args = build_parser("crawler demo", demo=True).parse_args(list(argv))
    try:
        settings = settings_from_args(args, {"output": DEMO_OUTPUT})
    except UsageError as e:
        print(f"crawler: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    setup_logging(settings.log_level, settings.log_format)
    with ServerThread(make_app(DEMO_PAGES, links=10, size=3000, extras=True)) as server:
        print(f"crawler demo: serving a {DEMO_PAGES}-page site at {server.url}", file=sys.stderr)
        status = run_crawl(settings, [server.url])
    where = "stdout" if settings.output == "-" else settings.output
    fmt, compressed = format_of(settings.output, settings.format)
    shape = {"jsonl": "one JSON object a line", "csv": "CSV with a header line", "warc": "WARC"}[fmt]
    print(f"crawler demo: records written to {where} ({shape}{', gzip' if compressed else ''}). "
          f"Next: python -m crawler --seeds urls.txt -o crawl.jsonl", file=sys.stderr)
    return status
