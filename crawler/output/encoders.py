"""Encoders: output-queue entries into a format's bytes (JSON Lines, CSV; WARC is
:mod:`crawler.output.warc`), and which format a name asks for."""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterable
from typing import Any, Protocol

from crawler.settings import OUTPUT_FORMATS
from crawler.work import Item

GZIP_LEVEL = 6  # JSON Lines and CSV members (WARC's are level 1: crawler.output.warc)
EXTENSIONS = (  # longest first
    (".jsonl.gz", "jsonl"), (".json.gz", "jsonl"), (".csv.gz", "csv"), (".warc.gz", "warc"),
    (".jsonl", "jsonl"), (".json", "jsonl"), (".csv", "csv"), (".warc", "warc"),
)


def format_of(path: str, fmt: str = "") -> tuple[str, bool]:
    """(format, gzip) of an output: ``fmt`` if given, else from the extension (else jsonl);
    gzip when the name ends in ``.gz``."""
    lower = path.lower()
    if not fmt:
        fmt = next((f for ext, f in EXTENSIONS if lower.endswith(ext)), "jsonl")
    return fmt, lower.endswith(".gz")


class Encoder(Protocol):
    """Turns output-queue entries into a format's bytes."""

    captures: bool  # does it write fetches (WARC) rather than records and items?
    offload: str  # where encoding runs: "" on the loop, "process" in a process of its own

    def encode(self, entries: list[Any], at_start: bool) -> tuple[bytes, int]:
        """The bytes of ``entries`` (``at_start``: they open a new file) and how many records
        that is."""

    def resume(self, head: bytes) -> None:
        """Take up a file that already starts with ``head`` (its first bytes, decompressed)."""


class JsonLinesEncoder:
    """Records and items as JSON Lines (UTF-8, one object a line)."""

    captures = False
    offload = ""

    def encode(self, entries: list[Any], at_start: bool) -> tuple[bytes, int]:
        """One line per record or item."""
        dumps = json.dumps
        lines = [dumps(data, ensure_ascii=False) for data in records_of(entries)]
        return ("\n".join(lines) + "\n").encode("utf-8") if lines else b"", len(lines)

    def resume(self, head: bytes) -> None:
        """Nothing to take up."""


class CsvEncoder:
    """Records and items as CSV (RFC 4180, UTF-8). The header is the first record's keys plus
    ``_extra``, where keys first seen later go, as a JSON object, so nothing is lost. Cells:
    text as is, null empty, true/false, numbers, anything else as JSON text."""

    captures = False
    offload = ""
    EXTRA = "_extra"

    def __init__(self) -> None:
        self.columns: list[str] | None = None

    def encode(self, entries: list[Any], at_start: bool) -> tuple[bytes, int]:
        """Rows (after the header, when ``at_start``)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        count = 0
        for data in records_of(entries):
            if self.columns is None:
                self.columns = [k for k in data if k != self.EXTRA]
            if at_start:
                writer.writerow([*self.columns, self.EXTRA])
                at_start = False
            extra = {k: v for k, v in data.items() if k not in self.columns}
            writer.writerow([*(_cell(data.get(k)) for k in self.columns), json.dumps(extra, ensure_ascii=False)
                             if extra else ""])
            count += 1
        return out.getvalue().encode("utf-8"), count

    def resume(self, head: bytes) -> None:
        """Read the columns from the file's header."""
        first = head.decode("utf-8", "replace").splitlines()[:1]
        if first:
            columns = next(csv.reader(first))
            self.columns = [c for c in columns if c != self.EXTRA]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


def records_of(entries: Iterable[Any]) -> Iterable[dict[str, Any]]:
    """The items among ``entries`` (the built-in recorder's records are items too; the
    markers write nothing)."""
    for e in entries:
        if type(e) is Item:
            yield e.data


def encode(encoder: Encoder, compress: bool, entries: list[Any], at_start: bool) -> tuple[bytes, int]:
    """``encoder.encode``, then (``compress``) the bytes as one gzip member."""
    data, count = encoder.encode(entries, at_start)
    if data and compress:
        data = gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)
    return data, count


__all__ = ["EXTENSIONS", "GZIP_LEVEL", "OUTPUT_FORMATS", "CsvEncoder", "Encoder", "JsonLinesEncoder", "encode",
           "format_of", "records_of"]
