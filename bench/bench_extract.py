"""Extraction quality and speed: every engine of ``--extract-engine`` and trafilatura's fast
mode itself (the reference), side by side over the article set of ``../shared/extraction/``,
scored as its README.md says. Prints a table of F1, precision, recall and ms a page.

    python bench/bench_extract.py [--rounds 3]

Each row's time is the median of the rounds, the engines alternating within a round, so they
share the machine's drift. "main text" rows time what the engine does for ``--extract text``;
"all fields" rows the whole of ``--extract all`` (metadata, Markdown, SimHash, language too).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import machine

from crawler.parse.extract import extract_page, main_text
from crawler.settings import EXTRACT_ENGINES, EXTRACT_FIELDS
from tests.support.scoring import decoded, pages, score


def _reference(html: str, url: str) -> str | None:
    import trafilatura

    return trafilatura.extract(html, url=url, fast=True)  # type: ignore[no-any-return]


def _rows() -> dict[str, Callable[[str, str], str | None]]:
    rows: dict[str, Callable[[str, str], str | None]] = {"trafilatura 2.3 extract(fast=True) (reference)": _reference}
    for engine in EXTRACT_ENGINES:
        rows[f"{engine}: main text"] = lambda html, url, e=engine: main_text(html, url, e)[0]
        rows[f"{engine}: all fields"] = lambda html, url, e=engine: extract_page(html, url, EXTRACT_FIELDS, e)["text"]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    corpus = [(decoded(body), url, true) for _, body, url, true in pages()]
    rows = _rows()
    times: dict[str, list[float]] = {name: [] for name in rows}
    scores = {}
    for _ in range(args.rounds):
        for name, fn in rows.items():
            started = time.perf_counter()
            predicted = [fn(html, url) or "" for html, url, _ in corpus]
            times[name].append((time.perf_counter() - started) * 1000 / len(corpus))
            scores[name] = score([(p, true) for p, (_, _, true) in zip(predicted, corpus, strict=True)])
    print(f"{len(corpus)} pages of ../shared/extraction/, {args.rounds} rounds; {machine()}")
    print(f"| {'extractor':50} | F1 | precision | recall | ms a page |")
    print(f"| {'-' * 50} | --- | --- | --- | --- |")
    reference = statistics.median(times[next(iter(rows))])
    for name in rows:
        f1, precision, recall = scores[name]
        ms = statistics.median(times[name])
        print(f"| {name:50} | {f1:.3f} | {precision:.3f} | {recall:.3f} | {ms:.1f} "
              f"({ms / reference:.2f} of the reference) |")


if __name__ == "__main__":
    main()
