"""Broad-crawl politeness at speed: 200 hosts on 127.0.0.1, pages that answer in 20 ms,
``--per-host 1 --delay 0.1``. Prints pages/s beside the ideal, min(hosts / delay,
concurrency / latency). Target: at least 0.9 of the ideal.

Each round also crawls the same hosts with no delay, side by side, to show what this machine can
do at that moment (the crawl is CPU-bound there): the polite crawl's share of
min(ideal, that capacity) tells the scheduler's loss apart from the machine's drift.

    python bench/bench_broad.py [--hosts 200] [--pages 100] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import OUT, dump, machine, run_measured

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=200)
    ap.add_argument("--pages", type=int, default=100, help="pages per host (plus each host's /)")
    ap.add_argument("--latency", type=float, default=0.02)
    ap.add_argument("--delay", type=float, default=0.1)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    OUT.mkdir(exist_ok=True)
    ports_file = OUT / "broad-ports.txt"
    ports_file.unlink(missing_ok=True)
    server = subprocess.Popen([sys.executable, str(HERE / "broad_server.py"), str(args.hosts), str(args.pages),
                               str(args.latency), str(ports_file)])
    try:
        deadline = time.monotonic() + 30
        while not ports_file.exists() or len(ports_file.read_text().split()) < args.hosts:
            if time.monotonic() > deadline:
                raise SystemExit("the benchmark server did not start")
            time.sleep(0.1)
        seeds = OUT / "broad-seeds.txt"
        seeds.write_text("".join(f"http://127.0.0.1:{p}/\n" for p in ports_file.read_text().split()))
        ideal = min(args.hosts / args.delay, args.concurrency / args.latency)
        print(f"{args.hosts} hosts x {args.pages} pages, {args.latency * 1000:.0f} ms latency, "
              f"--per-host 1 --delay {args.delay}; ideal {ideal:.0f} pages/s; {machine()}")
        rates, shares = [], []

        def crawl(delay: float) -> tuple[float, int]:
            out, stats_file = OUT / "broad.jsonl", OUT / "broad.stats.json"
            _, rss, _, code = run_measured([
                sys.executable, "-m", "crawler", "--seeds", str(seeds), "-o", str(out), "--per-host", "1",
                "--delay", str(delay), "--concurrency", str(args.concurrency), "--no-progress",
                "--stats", str(stats_file)])
            stats = json.loads(stats_file.read_text())
            assert code == 0 and stats["ok"] == args.hosts * (args.pages + 1), stats
            return stats["pages_per_s"], rss

        for r in range(args.rounds):
            capacity, _ = crawl(0.0)
            rate, rss = crawl(args.delay)
            rates.append(rate)
            shares.append(rate / min(ideal, capacity))
            print(f"round {r + 1}: {rate:.0f} pages/s = {rate / ideal:.2f} of ideal, peak RSS {rss / 2**20:.0f} MB; "
                  f"with no delay {capacity:.0f} pages/s, so {shares[-1]:.2f} of what the machine allowed")
    finally:
        server.terminate()
        server.wait(10)
    result = {"machine": machine(), "hosts": args.hosts, "pages_per_host": args.pages, "ideal": ideal,
              "pages_per_s": statistics.median(rates), "fraction_of_ideal": statistics.median(rates) / ideal,
              "fraction_of_possible": statistics.median(shares)}
    print(f"median: {result['pages_per_s']:.0f} pages/s, {result['fraction_of_ideal']:.2f} of the ideal "
          f"(target >= 0.9); {result['fraction_of_possible']:.2f} of min(ideal, capacity measured alongside)")
    dump(OUT / "bench_broad.json", result)


if __name__ == "__main__":
    main()
