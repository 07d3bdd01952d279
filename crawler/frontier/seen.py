"""The in-memory frontier's seen set: a 64-bit fingerprint of each URL, not the URL, in
open-addressing tables of 8-byte slots, about 13 bytes a URL (a ``set`` of the URLs themselves
costs 150 and more).

The fingerprint is Python's own hash of the normalised URL (SipHash-1-3, 64 bits, keyed per
process, computed once a string and cached on it): the table lives and dies with the process, so
nothing needs a hash that is stable across runs. Two URLs share a fingerprint with a chance of
about n²/2⁶⁵ among n URLs: 1 in 3,700 at 100 million, 1 in 37 at a billion; the one of them
met second is then taken as seen and not crawled (never one fetched twice). The durable stores
keep the URLs themselves, and have no such chance.

The slots are split by the fingerprint's top bits into :data:`PARTS` tables, each grown on its
own (doubled past :data:`LOAD` full), so that growing one moves 1/4096 of the set: a pause of
milliseconds at 100 million URLs, never seconds on the event loop.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from hashlib import blake2b

PARTS_BITS = 12
PARTS = 1 << PARTS_BITS  # tables, chosen by a fingerprint's top bits
FIRST_SLOTS = 16  # slots of a table at first (a power of two)
LOAD = 0.75  # a table is doubled when it is this full
_MASK64 = (1 << 64) - 1
_SHIFT = 64 - PARTS_BITS


def stable_fingerprint(key: str) -> int:
    """``key``'s 64-bit fingerprint, the same in every process and run (BLAKE2b cut to 8 bytes, as
    a signed integer: how SQLite stores one): the durable stores' seen sets."""
    return int.from_bytes(blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big", signed=True)


def fingerprint(url: str) -> int:
    """``url``'s 64-bit fingerprint in this process (never 0: 0 marks an empty slot)."""
    return (hash(url) & _MASK64) or 1


class SeenSet:
    """URLs seen, as fingerprints: ``add`` says whether a URL is new; ``in`` whether it was seen."""

    __slots__ = ("_counts", "_tables", "count")

    def __init__(self) -> None:
        self._tables = [array("Q", bytes(8 * FIRST_SLOTS)) for _ in range(PARTS)]
        self._counts = [0] * PARTS
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def __contains__(self, url: str) -> bool:
        return not self.missing((url,))

    def add(self, url: str) -> bool:
        """Mark ``url`` seen; True when it was not before."""
        fp = (hash(url) & _MASK64) or 1  # fingerprint(url), inline: this is the crawl's hot path
        part = fp >> _SHIFT
        table = self._tables[part]
        mask = len(table) - 1
        i = fp & mask
        while True:
            slot = table[i]
            if slot == fp:
                return False
            if slot == 0:
                break
            i = (i + 1) & mask
        table[i] = fp
        self.count += 1
        filled = self._counts[part] = self._counts[part] + 1
        if filled > LOAD * len(table):
            self._grow(part)
        return True

    def missing(self, urls: Iterable[str]) -> list[str]:
        """Those of ``urls`` not seen (one loop: the check of a page's links)."""
        tables, out = self._tables, []
        for url in urls:
            fp = (hash(url) & _MASK64) or 1
            table = tables[fp >> _SHIFT]
            mask = len(table) - 1
            i = fp & mask
            while True:
                slot = table[i]
                if slot == fp:
                    break
                if slot == 0:
                    out.append(url)
                    break
                i = (i + 1) & mask
        return out

    def update(self, urls: Iterable[str]) -> None:
        """Mark every one of ``urls`` seen."""
        for url in urls:
            self.add(url)

    def _grow(self, part: int) -> None:
        old = self._tables[part]
        table = array("Q", bytes(16 * len(old)))
        mask = len(table) - 1
        for fp in old:
            if fp:
                i = fp & mask
                while table[i]:
                    i = (i + 1) & mask
                table[i] = fp
        self._tables[part] = table

    def nbytes(self) -> int:
        """Bytes the slots take."""
        return sum(t.itemsize * len(t) for t in self._tables)


__all__ = ["SeenSet", "fingerprint", "stable_fingerprint"]
