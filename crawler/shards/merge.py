"""One output from many processes (``--workers N`` on one machine): each shard writes its own
part, and the coordinator copies what each part has committed, in whole batches, into the one
output the user asked for (a file or stdout).

JSON Lines, WARC and a Markdown folder's index are byte copies (gzip outputs are one member a
batch or a record, so the copies concatenate into a valid file). CSV parts each start with their
header: it is written once, and a part whose columns differ has its rows put under the
output's columns (the others in ``_extra``, as one file does).

With a job (``--job-dir``) the copy is exactly-once across a kill of any process: after each
copy the output is synced, then ``DIR/merge.json`` records its length and how far each part was
copied (written to a new file and renamed over the old). A part is copied only up to what its
shard committed, which a shard started again never cuts back, so a resumed merge cuts the
output back to its recorded length and goes on from the recorded places."""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, BinaryIO

from crawler.errors import FatalError, OutputClosed, UsageError
from crawler.output.encoders import CsvEncoder

log = logging.getLogger("crawler")


class OutputMerger:
    """Copies the shards' committed parts into ``target`` (``-``: stdout)."""

    def __init__(self, target: str, fmt: str, compress: bool, state: Path | None) -> None:
        """``fmt``/``compress``: the output's format; ``state``: where a job keeps the merge's
        progress (None: no job, nothing to resume)."""
        self.target = target
        self.csv = fmt == "csv"
        self.compress = compress
        self.state_path = state
        self.offset = 0  # bytes in the output
        self.copied: dict[str, int] = {}  # part -> bytes of it copied
        self.ready: dict[str, int] = {}  # part -> bytes of it committed
        self._file: BinaryIO | None = None
        self._columns: list[str] | None = None  # CSV: the output's header
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.failed: FatalError | None = None

    def open(self) -> None:
        """Open the output (a job's: cut back to what the merge recorded)."""
        saved: dict[str, Any] = {}
        if self.state_path is not None and self.state_path.exists():
            saved = json.loads(self.state_path.read_text("utf-8"))
        if saved.get("output") == self.target:
            self.offset = int(saved.get("offset", 0))
            self.copied = {k: int(v) for k, v in saved.get("parts", {}).items()}
        elif saved:  # a new output for this run ({run}, {date}): the parts go on where they were
            self.copied = {k: int(v) for k, v in saved.get("parts", {}).items()}
        self.ready = dict(self.copied)
        if self.target == "-":
            self._file = sys.stdout.buffer
            return
        try:
            parent = os.path.dirname(self.target)
            if parent:
                os.makedirs(parent, exist_ok=True)
            if self.offset and os.path.exists(self.target):
                f = open(self.target, "r+b")
                size = os.path.getsize(self.target)
                if size > self.offset:
                    log.warning("cutting %s back to the %d bytes the merge committed", self.target, self.offset)
                f.truncate(min(size, self.offset))
                self.offset = min(size, self.offset)
                f.seek(self.offset)
                if self.csv and self.offset:
                    self._columns = _header_of(self.target, self.compress)
                self._file = f
            else:
                self.offset = 0
                self._file = open(self.target, "wb")
        except OSError as e:
            raise UsageError(f"--output: cannot write {self.target}: {e.strerror}") from None

    def written(self, shard: int, part: str, offset: int) -> None:
        """Shard ``shard`` has committed ``part`` up to ``offset`` bytes."""
        if offset > self.ready.get(part, 0):
            self.ready[part] = offset
            self._wake.set()

    def start(self) -> None:
        """Copy as parts grow, until :meth:`close`."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await asyncio.to_thread(self.copy)
            except FatalError as e:
                self.failed = e
                log.error("%s", e)
                return

    def copy(self) -> None:
        """Copy what the parts have committed and the output does not have yet (in a thread)."""
        assert self._file is not None
        moved = False
        for part, ready in sorted(self.ready.items()):
            start = self.copied.get(part, 0)
            if ready <= start:
                continue
            try:
                with open(part, "rb") as f:
                    f.seek(start)
                    data = f.read(ready - start)
            except OSError as e:
                raise FatalError(f"cannot read the part {part} of the output: {e.strerror}") from None
            if self.csv:
                data = self._csv(data, start == 0)
            try:
                self._file.write(data)
                self._file.flush()
            except BrokenPipeError:
                raise OutputClosed("stdout was closed by its reader") from None
            except OSError as e:
                raise FatalError(f"cannot write output {self.target}: {e.strerror or e}") from None
            self.offset += len(data)
            self.copied[part] = ready
            moved = True
        if moved and self.state_path is not None:
            self._save()

    def _csv(self, data: bytes, at_start: bool) -> bytes:
        """A CSV part's bytes as the output takes them: one header, the output's columns."""
        text = gzip.decompress(data) if self.compress else data
        if at_start:
            header, _, text = text.partition(b"\r\n")
            columns = next(csv.reader([header.decode("utf-8")]))
            if self._columns is None:
                self._columns = columns
                text = header + b"\r\n" + text
            elif columns != self._columns:
                text = _remap(text, columns, self._columns)
        return gzip.compress(text) if self.compress else text

    def _save(self) -> None:
        assert self.state_path is not None and self._file is not None
        if self.target != "-":
            try:
                os.fsync(self._file.fileno())
            except OSError as e:
                raise FatalError(f"cannot write output {self.target}: {e.strerror or e}") from None
        data = {"output": self.target, "offset": self.offset, "parts": self.copied}
        temporary = self.state_path.with_name(self.state_path.name + ".tmp")
        try:
            with open(temporary, "w", encoding="utf-8") as f:
                json.dump(data, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temporary, self.state_path)
        except OSError as e:
            raise FatalError(f"cannot write {self.state_path}: {e.strerror}") from None

    async def close(self) -> None:
        """Copy what is left and close the output."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        try:
            if self.failed is None:
                await asyncio.to_thread(self.copy)
        finally:
            if self._file is not None and self.target != "-":
                self._file.close()
            elif self._file is not None:
                try:
                    self._file.flush()
                except BrokenPipeError:
                    pass
            self._file = None


def _header_of(path: str, compress: bool) -> list[str] | None:
    with open(path, "rb") as f:
        head = f.read(65536)
    if compress:
        try:
            head = gzip.GzipFile(fileobj=io.BytesIO(head)).read(65536)
        except (OSError, EOFError):
            return None
    first = head.decode("utf-8", "replace").splitlines()[:1]
    return next(csv.reader(first)) if first else None


def _remap(text: bytes, columns: list[str], into: list[str]) -> bytes:
    """CSV rows under ``columns`` as rows under ``into`` (both end with ``_extra``): cells of
    columns ``into`` lacks go into ``_extra`` (as text)."""
    extra_name = CsvEncoder.EXTRA
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in csv.reader(io.StringIO(text.decode("utf-8"), newline="")):
        cells = dict(zip(columns, row, strict=False))
        extra = json.loads(cells.pop(extra_name, "") or "{}")
        for name in [c for c in cells if c not in into]:
            if cells[name] != "":
                extra[name] = cells[name]
            del cells[name]
        writer.writerow([*(cells.get(c, "") for c in into if c != extra_name),
                         json.dumps(extra, ensure_ascii=False) if extra else ""])
    return out.getvalue().encode("utf-8")


__all__ = ["OutputMerger"]
