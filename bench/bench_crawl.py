"""Crawl speed and memory: the crawler against a bare reference loop, side by side.

Generates a static site (20,000 pages of about 15 KB, 10 links each), serves it on 127.0.0.1
(nginx when installed), then alternates runs of the bare loop (bench/bare_loop.py) and of
``python -m crawler --per-host 64 --concurrency 64`` with its default features on, and prints
pages/s, peak RSS and the ratio. Target: ratio >= 0.8, crawler peak RSS < 150 MB.

    python bench/bench_crawl.py [--pages 20000] [--rounds 3] [--curl]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import threading
import time
from pathlib import Path

from common import OUT, dump, machine, run_measured, run_on_terminal, serve, site, tree_memory


def crawler_cmd(url: str, out: Path, *extra: str) -> list[str]:
    seeds = OUT / "seeds.txt"
    seeds.write_text(url + "\n")
    return [sys.executable, "-m", "crawler", "--seeds", str(seeds), "-o", str(out),
            "--per-host", "64", "--concurrency", "64", "--no-progress", "--max-depth", "-1",
            "--stats", str(out.with_suffix(".stats.json")), *extra]


def redraw_cost(hosts: int = 10000, redraws: int = 400) -> float:
    """Seconds of CPU one redraw of the live view takes, mid-crawl figures, ``hosts`` hosts
    known (the slowest are looked up every 2 s), drawn on a pseudo-terminal."""
    import os
    import pty
    import random

    from rich.console import Console
    from rich.live import Live
    from rich.text import Text

    from crawler.monitor.measures import Measures
    from crawler.monitor.progress import Progress
    from crawler.monitor.stats import Stats

    stats = Stats(Measures(64, 4))
    for i in range(hosts):
        for _ in range(5):
            stats.measures.fetched(f"host{i}.example", random.lognormvariate(-3, 1))
            stats.count({"url": "", "status": 200, "error": None, "bytes": 15000, "host": f"host{i}.example",
                         "depth": 2})
    stats.errors.update({"timeout": 12, "http": 40})

    def snapshot() -> dict:
        data = stats.as_dict(detail=False)
        data.update(in_flight=64, frontier=123456, output_queue=3, workers=64, workers_busy_s=1.0, parse_threads=4,
                    parse_pool_busy_s=0.1, hosts_seen=hosts)
        return data

    def slowest(n: int) -> list[tuple[str, float]]:
        return [(h, d.quantile(0.95)) for h, d in stats.measures.slowest_hosts(n)]

    master, slave = pty.openpty()

    def drain() -> None:
        try:
            while os.read(master, 65536):
                pass
        except OSError:  # the terminal is closed
            pass

    threading.Thread(target=drain, daemon=True).start()
    progress = Progress(snapshot, True, 10.0, slowest)
    with open(slave, "w") as terminal:
        live = Live(Text(""), console=Console(file=terminal, force_terminal=True), auto_refresh=False)
        live.start()
        started = time.process_time()
        for i in range(redraws):
            if i % 8 == 0:
                progress._slowest_at = -1e9  # the every-2-s lookup of the slowest hosts, at 4 redraws a second
            progress.draw(live)
        spent = time.process_time() - started
        live.stop()
    return spent / redraws


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--job-dir", action="store_true",
                    help="also crawl with --job-dir (SQLite frontier, exactly-once output) each round; "
                         "target: >= 0.7 of the in-memory crawl's pages/s")
    ap.add_argument("--progress", action="store_true",
                    help="also crawl with the live progress view on a terminal (a pseudo-terminal) each round; "
                         "target: it costs under 2%% of pages/s")
    ap.add_argument("--warc", action="store_true",
                    help="also crawl with WARC output (-o crawl.warc.gz) each round; "
                         "target: >= 0.7 of the JSONL crawl's pages/s")
    ap.add_argument("--extract", metavar="FIELDS",
                    help="also crawl with --extract FIELDS each round, and extract the same pages with the same "
                         "engine in as many processes with no crawling (the ceiling); target: >= 0.8 of it")
    ap.add_argument("--extract-engine", default="trafilatura")
    ap.add_argument("--curl", action="store_true",
                    help="also crawl with --http-client curl each round; target: >= 0.8 of aiohttp's pages/s")
    ap.add_argument("--against", metavar="DIR",
                    help="also crawl with the crawler of another checkout (a git worktree of an earlier commit) "
                         "each round, for an A/B of the code in one run")
    args = ap.parse_args()
    other: list[float] = []
    other_durable: list[float] = []
    other_cpu: list[float] = []
    ours_cpu: list[float] = []
    durable: list[float] = []
    curl: list[float] = []
    warc: list[float] = []
    extracting: list[float] = []
    ceiling: list[float] = []
    rss_extract: list[int] = []
    live: list[float] = []
    cpu_ratio: list[float] = []  # CPU seconds of the crawl with live progress / without
    root = site(args.pages)
    bare: list[float] = []
    ours: list[float] = []
    rss_bare: list[int] = []
    rss_ours: list[int] = []
    with serve(root) as (url, server):
        print(f"serving {args.pages} pages with {server} at {url}; {machine()}")
        for r in range(args.rounds):
            _, rss, out, code = run_measured([sys.executable, str(Path(__file__).parent / "bare_loop.py"), url, "64"])
            figures = json.loads(out)
            assert figures["pages"] == args.pages, figures
            bare.append(figures["pages_per_s"])
            rss_bare.append(rss)
            target = OUT / "crawl.jsonl"
            cpu, rss, _, code = run_measured(crawler_cmd(url, target))
            stats = json.loads(target.with_suffix(".stats.json").read_text())
            assert code == 0 and stats["pages"] == args.pages and stats["ok"] == args.pages, stats
            ours.append(stats["pages_per_s"])
            ours_cpu.append(cpu / args.pages * 1000)
            rss_ours.append(rss)
            print(f"round {r + 1}: bare {bare[-1]:7.0f} pages/s {rss_bare[-1] / 2**20:5.0f} MB | "
                  f"crawler {ours[-1]:7.0f} pages/s {rss_ours[-1] / 2**20:5.0f} MB | "
                  f"ratio {ours[-1] / bare[-1]:.2f}")
            if args.against:
                cpu, rss, _, code = run_measured(crawler_cmd(url, target), env={"PYTHONPATH": args.against})
                stats = json.loads(target.with_suffix(".stats.json").read_text())
                assert code == 0 and stats["ok"] == args.pages, stats
                other.append(stats["pages_per_s"])
                other_cpu.append(cpu / args.pages * 1000)
                print(f"         {args.against}: {other[-1]:7.0f} pages/s {rss / 2**20:5.0f} MB, "
                      f"{other_cpu[-1]:.3f} ms CPU a page against {ours_cpu[-1]:.3f} | this code / that "
                      f"{ours[-1] / other[-1]:.2f}")
            if args.job_dir:
                job = OUT / "job"
                shutil.rmtree(job, ignore_errors=True)
                _, rss, _, code = run_measured(crawler_cmd(url, target, "--job-dir", str(job)))
                stats = json.loads(target.with_suffix(".stats.json").read_text())
                assert code == 0 and stats["ok"] == args.pages, stats
                durable.append(stats["pages_per_s"])
                print(f"         --job-dir {durable[-1]:7.0f} pages/s {rss / 2**20:5.0f} MB | "
                      f"ratio to in-memory {durable[-1] / ours[-1]:.2f}")
                if args.against:
                    shutil.rmtree(job, ignore_errors=True)
                    _, rss, _, code = run_measured(crawler_cmd(url, target, "--job-dir", str(job)),
                                                   env={"PYTHONPATH": args.against})
                    stats = json.loads(target.with_suffix(".stats.json").read_text())
                    assert code == 0 and stats["ok"] == args.pages, stats
                    other_durable.append(stats["pages_per_s"])
                    print(f"         --job-dir of {args.against}: {other_durable[-1]:7.0f} pages/s | this code / "
                          f"that {durable[-1] / other_durable[-1]:.2f}")
            if args.curl:
                cpu, rss, _, code = run_measured(crawler_cmd(url, target, "--http-client", "curl"))
                stats = json.loads(target.with_suffix(".stats.json").read_text())
                assert code == 0 and stats["ok"] == args.pages, stats
                curl.append(stats["pages_per_s"])
                print(f"         --http-client curl {curl[-1]:7.0f} pages/s {rss / 2**20:5.0f} MB, "
                      f"{cpu / args.pages * 1000:.3f} ms CPU a page | ratio to aiohttp {curl[-1] / ours[-1]:.2f}, "
                      f"to the bare loop {curl[-1] / bare[-1]:.2f}")
            if args.progress:
                cmd = [arg if arg != "--no-progress" else "--progress" for arg in crawler_cmd(url, target)]
                code, drawn, live_cpu = run_on_terminal(cmd)
                stats = json.loads(target.with_suffix(".stats.json").read_text())
                assert code == 0 and stats["ok"] == args.pages and b"slowest hosts" in drawn, stats
                live.append(stats["pages_per_s"])
                cpu_ratio.append(live_cpu / cpu)
                print(f"         live progress {live[-1]:7.0f} pages/s, {drawn.count(b'slowest hosts')} redraws "
                      f"in {stats['elapsed_s']:.1f} s | ratio to no progress {live[-1] / ours[-1]:.3f}; CPU "
                      f"{live_cpu:.1f} s against {cpu:.1f} s")
            if args.warc:
                archive = OUT / "crawl.warc.gz"
                _, rss, _, code = run_measured(crawler_cmd(url, archive))
                stats = json.loads(archive.with_suffix(".stats.json").read_text())
                assert code == 0 and stats["ok"] == args.pages, stats
                warc.append(stats["pages_per_s"])
                print(f"         WARC {warc[-1]:7.0f} pages/s {rss / 2**20:5.0f} MB, "
                      f"{archive.stat().st_size / 2**20:.0f} MB written | ratio to JSONL {warc[-1] / ours[-1]:.2f}")
            if args.extract:
                processes = os.cpu_count() or 1
                cmd = crawler_cmd(url, target, "--extract", args.extract, "--extract-engine", args.extract_engine,
                                  "--extract-processes", str(processes))
                with tree_memory() as peak:
                    _, rss, _, code = run_measured(cmd)
                stats = json.loads(target.with_suffix(".stats.json").read_text())
                assert code == 0 and stats["ok"] == args.pages and stats["extracted"] == args.pages, stats
                extracting.append(stats["pages_per_s"])
                rss_extract.append(peak[0])
                _, _, out, code = run_measured([sys.executable, str(Path(__file__).parent / "extract_ceiling.py"),
                                                str(root), str(processes), args.extract, args.extract_engine])
                ceiling.append(json.loads(out)["pages_per_s"])
                print(f"         --extract {args.extract} ({args.extract_engine}, {processes} processes) "
                      f"{extracting[-1]:7.0f} pages/s, peak RSS of the crawler and its workers "
                      f"{peak[0] / 2**20:.0f} MB | extraction alone {ceiling[-1]:.0f} pages/s | ratio to it "
                      f"{extracting[-1] / ceiling[-1]:.2f}")
    result = {
        "machine": machine(), "server": server, "pages": args.pages,
        "bare_pages_per_s": statistics.median(bare), "crawler_pages_per_s": statistics.median(ours),
        "ratio": statistics.median(o / b for o, b in zip(ours, bare, strict=True)),
        "crawler_peak_rss_mb": max(rss_ours) / 2**20, "bare_peak_rss_mb": max(rss_bare) / 2**20,
    }
    if other:
        result["against"] = args.against
        result["against_ratio"] = statistics.median(o / a for o, a in zip(ours, other, strict=True))
        result["cpu_ms_a_page"] = statistics.median(ours_cpu)
        result["against_cpu_ms_a_page"] = statistics.median(other_cpu)
        print(f"against {args.against}: this code makes {result['against_ratio']:.2f} of its pages/s (median of "
              f"rounds); CPU a page {result['cpu_ms_a_page']:.3f} ms against {result['against_cpu_ms_a_page']:.3f}")
    if durable:
        result["job_dir_pages_per_s"] = statistics.median(durable)
        result["job_dir_ratio"] = statistics.median(d / o for d, o in zip(durable, ours, strict=True))
        print(f"--job-dir: median {result['job_dir_pages_per_s']:.0f} pages/s, "
              f"{result['job_dir_ratio']:.2f} of in-memory (target >= 0.7)")
        if other_durable:
            result["job_dir_against_ratio"] = statistics.median(
                d / o for d, o in zip(durable, other_durable, strict=True))
            print(f"--job-dir against {args.against}: this code makes {result['job_dir_against_ratio']:.2f} of its "
                  f"pages/s (median of rounds)")
    if curl:
        result["curl_pages_per_s"] = statistics.median(curl)
        result["curl_ratio"] = statistics.median(c / o for c, o in zip(curl, ours, strict=True))
        result["curl_bare_ratio"] = statistics.median(c / b for c, b in zip(curl, bare, strict=True))
        print(f"--http-client curl: median {result['curl_pages_per_s']:.0f} pages/s, {result['curl_ratio']:.2f} of "
              f"aiohttp's (target >= 0.8), {result['curl_bare_ratio']:.2f} of the bare loop's")
    if live:
        result["progress_ratio"] = statistics.median(v / o for v, o in zip(live, ours, strict=True))
        result["redraw_ms"] = redraw_cost() * 1000
        # 4 redraws a second, against a crawl that keeps one core busy.
        result["progress_cpu_share"] = result["redraw_ms"] * 4 / 1000
        result["progress_cpu_ratio"] = statistics.median(cpu_ratio)
        print(f"live progress: {result['progress_ratio']:.3f} of the crawl's pages/s without it, "
              f"{result['progress_cpu_ratio']:.3f} of its CPU time, run to run; "
              f"one redraw (10,000 hosts known) takes {result['redraw_ms']:.2f} ms of CPU, 4 a second = "
              f"{result['progress_cpu_share']:.2%} of a core (target < 2%)")
    if warc:
        result["warc_pages_per_s"] = statistics.median(warc)
        result["warc_ratio"] = statistics.median(w / o for w, o in zip(warc, ours, strict=True))
        print(f"WARC: median {result['warc_pages_per_s']:.0f} pages/s, "
              f"{result['warc_ratio']:.2f} of the JSONL crawl (target >= 0.7)")
    if extracting:
        result["extract_pages_per_s"] = statistics.median(extracting)
        result["extract_ceiling_pages_per_s"] = statistics.median(ceiling)
        result["extract_ratio"] = statistics.median(e / c for e, c in zip(extracting, ceiling, strict=True))
        result["extract_peak_rss_mb"] = max(rss_extract) / 2**20
        print(f"--extract: median {result['extract_pages_per_s']:.0f} pages/s, {result['extract_ratio']:.2f} of "
              f"extraction alone (target >= 0.8); peak RSS with the workers {result['extract_peak_rss_mb']:.0f} MB")
    print(f"median: bare {result['bare_pages_per_s']:.0f} pages/s, crawler {result['crawler_pages_per_s']:.0f} "
          f"pages/s, ratio {result['ratio']:.2f} (target >= 0.8); crawler peak RSS "
          f"{result['crawler_peak_rss_mb']:.0f} MB (target < 150)")
    dump(OUT / "bench_crawl.json", result)


if __name__ == "__main__":
    main()
