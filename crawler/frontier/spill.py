"""Where a memory-mode crawl's pending URLs wait past its window: an append-only file in a
temporary folder of its own, read back in the order written as the window drains, and deleted
when the crawl ends (after Ctrl-C too; a folder a killed crawl left is deleted by the next crawl
that spills in the same place).

A URL is a line of JSON (:func:`crawler.frontier.codec.request_to_json`), about 60 to 150 bytes;
lines gather in memory and go to disk ``flush`` at a time, each write and read on one thread of
its own, so the event loop never waits on the disk (nor hops to a thread for every page's links),
and a read always sees the writes before it. A write that fails (a full disk) is a
:class:`crawler.errors.FatalError` naming the folder: the crawl stops with exit 1, as for a job
dir.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from crawler.errors import FatalError
from crawler.frontier.codec import request_from_json, request_to_json
from crawler.work import CrawlRequest

PREFIX = "crawler-spill-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_leftovers(root: Path) -> None:
    """Delete the spill folders under ``root`` whose crawl is gone (killed)."""
    with contextlib.suppress(OSError):
        for folder in root.glob(PREFIX + "*"):
            pid = folder.name[len(PREFIX):].split("-", 1)[0]
            if pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(folder, ignore_errors=True)


SEGMENT_BYTES = 64 * 1024 * 1024  # a file of the spill; one read to its end is deleted
FLUSH_LINES = 2000  # lines gathered before they are written


def _write_lines(path: Path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


class Spill:
    """Pending requests on disk, first in first out, under ``root`` (None: the system's
    temporary folder)."""

    def __init__(self, root: str | None, flush: int = FLUSH_LINES) -> None:
        self.root = Path(root) if root else Path(tempfile.gettempdir())
        self.flush = flush
        self._buffer: list[str] = []  # the newest lines, not on disk yet
        self._on_disk = 0
        self.folder: Path | None = None
        self.count = 0  # requests written and not read back
        self._writing = 0  # the file written to (pending-N.jsonl), and its size
        self._size = 0
        self._reading = 0  # the file read from, and where the next read starts in it
        self._offset = 0
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="spill")
        self.written = 0  # requests written in all

    def __len__(self) -> int:
        return self.count

    def _file(self, n: int) -> Path:
        assert self.folder is not None
        return self.folder / f"pending-{n}.jsonl"

    def _append(self, data: bytes) -> None:
        if self.folder is None:
            self.root.mkdir(parents=True, exist_ok=True)
            self.folder = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=self.root))
        if self._size >= SEGMENT_BYTES:
            self._writing += 1
            self._size = 0
        _write_lines(self._file(self._writing), data)
        self._size += len(data)

    async def _call(self, fn: Any, *args: Any) -> Any:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)
        except OSError as e:
            where = self.folder or self.root
            raise FatalError(f"cannot write the spill folder {where} (pending URLs past the memory window): "
                             f"{e.strerror or e}") from None

    async def write(self, requests: list[CrawlRequest]) -> None:
        """Add ``requests`` at the end."""
        if not requests:
            return
        self._buffer.extend(request_to_json(r) for r in requests)
        self.count += len(requests)
        self.written += len(requests)
        if len(self._buffer) >= self.flush:
            lines, self._buffer = self._buffer, []
            self._on_disk += len(lines)
            await self._call(self._append, ("\n".join(lines) + "\n").encode())

    async def read(self, most: int) -> list[CrawlRequest]:
        """Take up to ``most`` requests from the front."""
        lines: list[bytes | str] = []
        if self._on_disk:  # the oldest first
            lines += await self._call(self._read, most)
            self._on_disk -= len(lines)
        if len(lines) < most and self._buffer:
            taken = self._buffer[:most - len(lines)]
            del self._buffer[:len(taken)]
            lines += taken
        self.count -= len(lines)
        return [request_from_json(line) for line in lines]

    def _read(self, most: int) -> list[bytes]:
        lines: list[bytes] = []
        while len(lines) < most:
            with open(self._file(self._reading), "rb") as f:
                f.seek(self._offset)
                for line in f:
                    lines.append(line)
                    self._offset += len(line)
                    if len(lines) >= most:
                        break
                at_end = f.tell() >= os.fstat(f.fileno()).st_size
            if not at_end or self._reading == self._writing:
                break
            os.unlink(self._file(self._reading))  # read whole: its disk back
            self._reading += 1
            self._offset = 0
        return lines

    def close(self) -> None:
        """Delete the folder."""
        self._thread.shutdown(wait=True)
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
        self.count = self._on_disk = 0
        self._buffer = []


__all__ = ["FLUSH_LINES", "PREFIX", "Spill", "remove_leftovers"]
