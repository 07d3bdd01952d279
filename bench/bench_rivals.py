"""The same crawl with this crawler, Scrapy and Crawlee for Python, side by side.

Generates a static site (by default 5,000 pages of about 15 KB, 10 links each), serves it on
127.0.0.1 (nginx when installed), and alternates, round after round, one crawl of the whole site
by each tool, each its usual way: follow every link on the host, obey robots.txt, 64 requests
in flight (64 to the host), and write one JSON line per page (its URL, status, title and number
of links). Prints each run's pages/s, CPU seconds a page and peak RSS, and the ratios of the
medians.

Scrapy and Crawlee are not dependencies of this project: give interpreters that have them,

    python3 -m venv bench/out/rivals-venv
    bench/out/rivals-venv/bin/pip install 'scrapy==2.19.0' 'crawlee[parsel]==1.11.0'
    python bench/bench_rivals.py --rival-python bench/out/rivals-venv/bin/python [--pages 5000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import textwrap
import time
from pathlib import Path

from common import OUT, machine, run_measured, serve, site

CONCURRENCY = 64

SCRAPY = textwrap.dedent('''
    import sys
    import scrapy
    from scrapy.crawler import CrawlerProcess

    class Site(scrapy.Spider):
        name = "site"
        start_urls = [sys.argv[1]]

        def parse(self, response):
            links = response.css("a::attr(href)").getall()
            yield {"url": response.url, "status": response.status,
                   "title": response.css("title::text").get(), "links": len(links)}
            yield from response.follow_all(links)

    process = CrawlerProcess(settings={
        "ROBOTSTXT_OBEY": True, "CONCURRENT_REQUESTS": %(c)d, "CONCURRENT_REQUESTS_PER_DOMAIN": %(c)d,
        "DOWNLOAD_DELAY": 0, "LOG_LEVEL": "WARNING", "TELNETCONSOLE_ENABLED": False,
        "FEEDS": {sys.argv[2]: {"format": "jsonlines"}},
    })
    process.crawl(Site)
    process.start()
''') % {"c": CONCURRENCY}

CRAWLEE = textwrap.dedent('''
    import asyncio
    import json
    import sys

    from crawlee import ConcurrencySettings
    from crawlee.crawlers import ParselCrawler, ParselCrawlingContext

    async def main():
        out = open(sys.argv[2], "w")
        crawler = ParselCrawler(
            concurrency_settings=ConcurrencySettings(min_concurrency=%(c)d, desired_concurrency=%(c)d,
                                                     max_concurrency=%(c)d),
            respect_robots_txt_file=True, max_requests_per_crawl=None, configure_logging=False)

        @crawler.router.default_handler
        async def handle(context: ParselCrawlingContext) -> None:
            links = context.selector.css("a::attr(href)").getall()
            out.write(json.dumps({"url": context.request.url, "status": context.http_response.status_code,
                                  "title": context.selector.css("title::text").get(), "links": len(links)}) + "\\n")
            await context.enqueue_links(strategy="same-hostname")

        await crawler.run([sys.argv[1]])
        out.close()

    asyncio.run(main())
''') % {"c": CONCURRENCY}


def crawler_cmd(url: str, out: Path) -> list[str]:
    seeds = OUT / "rivals-seeds.txt"
    seeds.write_text(url + "\n")
    return [sys.executable, "-m", "crawler", "--seeds", str(seeds), "-o", str(out), "--per-host", str(CONCURRENCY),
            "--concurrency", str(CONCURRENCY), "--no-progress", "--max-depth", "-1", "--log-level", "warning"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rival-python", required=True, metavar="PYTHON",
                    help="an interpreter with scrapy and crawlee[parsel] installed")
    ap.add_argument("--only", choices=["scrapy", "crawlee"], action="append",
                    help="run only these rivals (repeatable; default: both)")
    args = ap.parse_args()
    rivals = args.only or ["scrapy", "crawlee"]
    rival_python = str(Path(args.rival_python).absolute())  # a venv's python: not resolved (a symlink)
    work = OUT / "rivals-run"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "scrapy_site.py").write_text(SCRAPY)
    (work / "crawlee_site.py").write_text(CRAWLEE)
    root = site(args.pages)
    figures: dict[str, dict[str, list[float]]] = {}
    with serve(root) as (url, server):
        print(f"serving {args.pages} pages with {server} at {url}; {machine()}")
        for r in range(args.rounds):
            runs = {"crawler": crawler_cmd(url, work / "crawler.jsonl")}
            for rival in rivals:
                runs[rival] = [rival_python, str(work / f"{rival}_site.py"), url, str(work / f"{rival}.jsonl")]
            line = []
            for name, cmd in runs.items():
                out = work / f"{name}.jsonl"
                out.unlink(missing_ok=True)
                shutil.rmtree(work / "storage", ignore_errors=True)  # crawlee's own store, fresh each run
                started = time.perf_counter()
                cpu, rss, _, code = run_measured(cmd, env={"CRAWLEE_STORAGE_DIR": str(work / "storage")})
                seconds = time.perf_counter() - started
                pages = sum(1 for _ in out.open()) if out.exists() else 0
                if code != 0 or pages < args.pages:
                    print(f"  {name}: exit {code}, {pages} of {args.pages} pages", file=sys.stderr)
                got = figures.setdefault(name, {"pages_s": [], "cpu_ms": [], "rss_mb": []})
                got["pages_s"].append(pages / seconds)
                got["cpu_ms"].append(cpu / max(pages, 1) * 1000)
                got["rss_mb"].append(rss / 2**20)
                line.append(f"{name} {pages / seconds:6.0f} pages/s {cpu / max(pages, 1) * 1000:.2f} ms CPU a page "
                            f"{rss / 2**20:4.0f} MB")
            print(f"round {r + 1}: " + " | ".join(line))
    median = {name: {k: statistics.median(v) for k, v in got.items()} for name, got in figures.items()}
    ours = median["crawler"]
    for rival in rivals:
        theirs = median[rival]
        print(f"crawler / {rival}: {ours['pages_s'] / theirs['pages_s']:.1f}x the pages/s "
              f"({ours['pages_s']:.0f} against {theirs['pages_s']:.0f}), "
              f"{theirs['cpu_ms'] / ours['cpu_ms']:.1f}x less CPU a page, "
              f"peak RSS {ours['rss_mb']:.0f} MB against {theirs['rss_mb']:.0f} MB")
    (OUT / "rivals.json").write_text(json.dumps({"machine": machine(), "pages": args.pages, "median": median}))


if __name__ == "__main__":
    main()
