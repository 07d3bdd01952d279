"""The article set of ``../shared/extraction/`` and its scoring, as its README.md says: 4-token
shingles of ``\\w+`` tokens, per-page (tp, fp, fn) normalized by their sum, precision averaged
over pages that predicted something, recall over pages with a truth, F1 of the two averages."""

from __future__ import annotations

import gzip
import json
import os
import re
from collections import Counter
from pathlib import Path

from crawler.parse.charsets import decode_html

#: Where the set is (read from there, never copied into the project): $CRAWLER_EXTRACTION_SET,
#: else ../shared/extraction beside the checkout.
EXTRACTION_SET = Path(os.environ.get("CRAWLER_EXTRACTION_SET")
                      or Path(__file__).resolve().parents[3] / "shared" / "extraction")
_TOKEN = re.compile(r"\w+")


def pages(root: Path = EXTRACTION_SET) -> list[tuple[str, bytes, str, str]]:
    """Every page of the set: key, HTML bytes, URL, true main text."""
    truth = json.loads((root / "ground-truth.json").read_text("utf-8"))
    return [(key, gzip.decompress((root / "html" / f"{key}.html.gz").read_bytes()), entry["url"],
             entry["articleBody"]) for key, entry in sorted(truth.items())]


def decoded(body: bytes) -> str:
    """A page's text, by its own declaration, else UTF-8 with replacement."""
    return decode_html(body, None)


def _shingles(text: str) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text or "")
    if not tokens:
        return Counter()
    if len(tokens) < 4:
        return Counter([tuple(tokens)])
    return Counter(tuple(tokens[i:i + 4]) for i in range(len(tokens) - 3))


def page_counts(predicted: str, true: str) -> tuple[float, float, float]:
    """One page's (tp, fp, fn), normalized by their sum."""
    p, t = _shingles(predicted), _shingles(true)
    tp = fp = fn = 0
    for shingle in p.keys() | t.keys():
        a, b = t.get(shingle, 0), p.get(shingle, 0)
        tp += min(a, b)
        fp += max(b - a, 0)
        fn += max(a - b, 0)
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def score(results: list[tuple[str, str]]) -> tuple[float, float, float]:
    """F1, precision and recall of (predicted, true) pairs."""
    precisions, recalls = [], []
    for predicted, true in results:
        tp, fp, fn = page_counts(predicted, true)
        if fp == 0 and fn == 0 and tp > 0:
            precisions.append(1.0)
            recalls.append(1.0)
            continue
        if tp + fp > 0:
            precisions.append(tp / (tp + fp))
        if tp + fn > 0:
            recalls.append(tp / (tp + fn))
    precision = sum(precisions) / len(precisions) if precisions else 0.0
    recall = sum(recalls) / len(recalls) if recalls else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return f1, precision, recall


__all__ = ["EXTRACTION_SET", "decoded", "page_counts", "pages", "score"]
