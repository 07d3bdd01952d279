"""A 64-bit SimHash of a text (Charikar's): near-duplicate texts get hashes a few bits apart,
so pages that differ by a date or a sidebar can be found downstream by Hamming distance."""

from __future__ import annotations

import hashlib
import re

_WORD = re.compile(r"\w+")
SHINGLE = 3  # words a feature


def simhash(text: str | None) -> str | None:
    """The SimHash of ``text`` (lower-cased words, each run of three a feature) as 16 hex
    digits; None for a text without words."""
    words = _WORD.findall((text or "").lower())
    if not words:
        return None
    features = [" ".join(words[i:i + SHINGLE]) for i in range(max(len(words) - SHINGLE + 1, 1))]
    blake = hashlib.blake2b
    bits = [format(int.from_bytes(blake(f.encode(), digest_size=8).digest(), "big"), "064b") for f in features]
    half = len(bits) / 2
    # Each column of the bit strings counted in C (zip, str.count), not bit by bit in Python.
    value = 0
    for column in zip(*bits, strict=True):
        value = (value << 1) | (column.count("1") > half)
    return f"{value:016x}"


def distance(a: str, b: str) -> int:
    """How many bits two SimHashes differ by."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


__all__ = ["SHINGLE", "distance", "simhash"]
