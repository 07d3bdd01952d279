"""``python -m crawler demo``: crawl a generated site served on 127.0.0.1 (no internet needed);
``python -m crawler demo --serve``: serve the demo shop the spider examples crawl."""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Sequence

from crawler.cli.options import DEMO_OUTPUT, command_parser, settings_from_args
from crawler.cli.testsite import ServerThread, make_app
from crawler.core.outcome import run_crawl
from crawler.errors import EXIT_USAGE, UsageError
from crawler.monitor.logs import setup_logging
from crawler.output.encoders import format_of

DEMO_PAGES = 300
SHOP_PORT = 8000


def serve_shop(argv: Sequence[str]) -> int:
    """``demo --serve [--port N]``: serve the demo shop until Ctrl-C."""
    from crawler.cli.demoshop import shop_app

    parser = argparse.ArgumentParser(prog="crawler demo --serve",
                                     description="Serve the demo shop (the spider examples' site) on 127.0.0.1.")
    parser.add_argument("--serve", action="store_true", required=True)
    parser.add_argument("--port", type=int, default=SHOP_PORT, help=f"port (default: {SHOP_PORT}; 0: any free one)")
    args = parser.parse_args(list(argv))
    try:
        server = ServerThread(shop_app(), port=args.port).__enter__()
    except OSError as e:
        print(f"crawler: error: cannot serve on 127.0.0.1:{args.port}: {e.strerror or e} (try --port)",
              file=sys.stderr)
        return EXIT_USAGE
    print(f"crawler demo: serving the demo shop at {server.url} (Ctrl-C stops it)", file=sys.stderr, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.__exit__()
    return 0


def demo(argv: Sequence[str]) -> int:
    """Serve the demo site, crawl it with the same code path as a real crawl, say where the
    records went (``--serve``: serve the demo shop instead)."""
    if "--serve" in argv:
        return serve_shop(argv)
    parser = command_parser("crawler demo", "Serve a generated site on 127.0.0.1 and crawl it (-o PATH: where the "
                            f"records go; default: {DEMO_OUTPUT}).", demo=True)
    parser.add_argument("--serve", action="store_true",
                        help=f"serve the demo shop (the spider examples' site) on 127.0.0.1:{SHOP_PORT} "
                             "(--port N) until Ctrl-C, instead of crawling the generated site")
    args = parser.parse_args(list(argv))
    try:
        settings = settings_from_args(args, {"output": DEMO_OUTPUT})
    except UsageError as e:
        print(f"crawler: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    setup_logging(settings.log_level, settings.log_format, settings.log_time)
    with ServerThread(make_app(DEMO_PAGES, links=10, size=3000, extras=True)) as server:
        print(f"crawler demo: serving a {DEMO_PAGES}-page site at {server.url}", file=sys.stderr)
        status = run_crawl(settings, [server.url])
    where = "stdout" if settings.output == "-" else settings.output
    fmt, compressed = format_of(settings.output, settings.format)
    shape = {"jsonl": "one JSON object a line", "csv": "CSV with a header line", "warc": "WARC"}[fmt]
    print("crawler demo: its 'errors: http 2' are the site's two planted broken links (/missing/1.html and "
          "/missing/2.html, 404), there to show a failed URL's record", file=sys.stderr)
    print(f"crawler demo: records written to {where} ({shape}{', gzip' if compressed else ''}). "
          "Next: python -m crawler https://example.org/ -o crawl.jsonl (or --seeds urls.txt: one URL a line)",
          file=sys.stderr)
    return status
