"""Output files: JSON Lines, CSV and WARC, plain or gzip, on stdout or in (rotated) files.

A :class:`FileSink` turns each batch of output-queue entries into bytes with its format's
encoder and appends them through aiofiles. Compressed outputs are written as one gzip member a
batch (WARC: one a record, as the format expects), so a file cut at any committed batch, or
left by a killed process, is complete up to its last whole member; compression runs in a
thread (zlib lets go of the GIL), off the event loop.
"""

from __future__ import annotations

import asyncio
import datetime
import errno
import gzip
import io
import multiprocessing
import os
import signal
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import aiofiles
import aiofiles.os

from crawler._version import __version__
from crawler.children import die_with_parent
from crawler.errors import FatalError, OutputClosed, UsageError
from crawler.output.encoders import EXTENSIONS, CsvEncoder, Encoder, JsonLinesEncoder, encode, format_of
from crawler.output.writer import Sink
from crawler.settings import REDIS_STREAM_SCHEMES, Settings
from crawler.work import Capture, Item


def part_path(path: str, part: int) -> str:
    """The name of part ``part`` of a rotated output: ``{part}`` in ``path`` filled in, else a
    five-digit number put before the extension (``out.jsonl.gz`` -> ``out.00001.jsonl.gz``)."""
    if "{part}" in path:
        return path.replace("{part}", f"{part:05d}")
    return tagged_path(path, f"{part:05d}")


def tagged_path(path: str, tag: str) -> str:
    """``path`` with ``.TAG`` put before its extension (``.jsonl.gz`` counts as one)."""
    lower = path.lower()
    ext = next((e for e, _ in EXTENSIONS if lower.endswith(e)), os.path.splitext(path)[1])
    stem = path[: len(path) - len(ext)] if ext else path
    return f"{stem}.{tag}{ext}"


class FileSink:
    """One output: a file (rotated into numbered parts when asked), or stdout for ``-``.

    With ``resume_at`` the file is kept up to that many bytes (what a durable crawl committed)
    and written after it; without, it is truncated. ``offset`` is the length of the current
    file so far; ``path`` its name; ``part`` its number when rotating.
    """

    def __init__(self, template: str, encoder: Encoder, *, compress: bool = False, resume_at: int | None = None,
                 part: int = 0, rotate_size: int = 0, rotate_records: int = 0, records: int = 0) -> None:
        self.template = template
        self.encoder = encoder
        self.compress = compress
        self.rotating = bool(rotate_size or rotate_records)
        self.rotate_size = rotate_size
        self.rotate_records = rotate_records
        self.part = part
        self.path = part_path(template, part) if self.rotating else template
        self.resume_at = resume_at
        self.offset = 0
        self.records = records  # in the current file (those a resumed file had, included)
        self._file: Any = None
        self._process: ProcessPoolExecutor | None = None

    @property
    def name(self) -> str:
        """The output as messages name it."""
        return "stdout" if self.path == "-" else self.path

    @property
    def captures(self) -> bool:
        """Does this output want the fetches (WARC)?"""
        return self.encoder.captures

    def state(self) -> dict[str, str]:
        """What a durable crawl commits to find this output again: the current file and its
        length (and part number)."""
        state = {"output": self.path, "offset:" + self.path: str(self.offset)}
        if self.rotating:
            state["part:" + self.template] = str(self.part)
            state["records:" + self.path] = str(self.records)
        return state

    async def open(self) -> None:
        """Open the output (its directory made if need be); a usage error when it cannot be
        written."""
        if hasattr(self.encoder, "filename"):
            self.encoder.filename = os.path.basename(self.path)
        if self.path == "-":
            self._file = aiofiles.stdout_bytes
            return
        try:
            make_parent("--output", self.path)
            if self.resume_at:
                self._file = await aiofiles.open(self.path, "r+b")
                await self._file.truncate(self.resume_at)
                await self._file.seek(0)
                head = await self._file.read(65536)
                if self.compress:
                    head = await asyncio.to_thread(_gunzip_head, head)
                self.encoder.resume(head)
                await self._file.seek(self.resume_at)
                self.offset = self.resume_at
            else:
                self._file = await aiofiles.open(self.path, "wb")
        except OSError as e:
            raise UsageError(f"--output: cannot write {self.path}: {e.strerror}") from None

    async def write_entries(self, entries: list[Any]) -> None:
        """Encode and write a batch, starting new parts as the rotation limits say."""
        if self.rotate_records:
            while True:
                room = self.rotate_records - self.records
                cut = _cut(entries, room, self.encoder.captures)
                if cut is None:
                    break
                await self._write(entries[:cut])
                await self._rotate()
                entries = entries[cut:]
        await self._write(entries)
        if self.rotate_size and self.offset >= self.rotate_size:
            await self._rotate()

    async def _write(self, entries: list[Any]) -> None:
        encoder = self.encoder
        at_start = self.offset == 0
        if encoder.offload == "process":
            # Python-heavy (warcio) work in a process of its own: the event loop keeps its core.
            if self._process is None:
                self._process = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                                    initializer=_ignore_stop_signals)
            captures = [e for e in entries if type(e) is Capture]
            if not captures and not at_start:
                return
            try:
                data, count = await asyncio.get_running_loop().run_in_executor(
                    self._process, encode, encoder, False, captures, at_start)
            except BrokenProcessPool:
                raise FatalError(f"cannot write output {self.name}: its encoder process died") from None
        elif encoder.offload == "thread":  # it writes files of its own (markdown)
            try:
                data, count = await asyncio.to_thread(encode, encoder, self.compress, entries, at_start)
            except OSError as e:
                raise FatalError(f"cannot write output {self.name}: {e.strerror or e}") from None
        elif self.compress:
            data, count = await asyncio.to_thread(encode, encoder, True, entries, at_start)
        else:
            data, count = encoder.encode(entries, at_start)
        if data:
            await self.write(data)
        self.records += count

    async def write(self, data: bytes) -> None:
        """Write and flush ``data``; a fatal error naming the file when that fails
        (:class:`OutputClosed` when it is stdout and its reader has gone)."""
        try:
            await self._file.write(data)
            await self._file.flush()
        except BrokenPipeError:
            raise OutputClosed("stdout was closed by its reader") from None
        except OSError as e:
            raise FatalError(f"cannot write output {self.name}: {e.strerror or e}") from None
        self.offset += len(data)

    async def _rotate(self) -> None:
        await self.close()
        self.part += 1
        self.path = part_path(self.template, self.part)
        self.resume_at = None
        self.offset = self.records = 0
        await self.open()

    async def sync(self) -> None:
        """Make what is written durable (fsync) before a durable crawl commits it."""
        if self.path == "-" or self._file is None:
            return
        try:
            await aiofiles.os.wrap(_fsync)(self._file.fileno())
        except OSError as e:
            raise FatalError(f"cannot write output {self.name}: {e.strerror or e}") from None

    async def close(self) -> None:
        """Flush to disk and close (stdout is flushed, not closed)."""
        if self._process is not None:
            self._process.shutdown(wait=False, cancel_futures=True)
            self._process = None
        if self._file is None:
            return
        try:
            await self._file.flush()
            if self.path != "-":
                await aiofiles.os.wrap(_fsync)(self._file.fileno())
                await self._file.close()
            finish = getattr(self.encoder, "finish", None)
            if finish is not None:  # the Markdown tree's links, once the run's pages are all there
                await asyncio.to_thread(finish, self.path)
        except BrokenPipeError:
            raise OutputClosed("stdout was closed by its reader") from None
        except OSError as e:
            raise FatalError(f"cannot write output {self.name}: {e.strerror or e}") from None
        finally:
            self._file = None


def _fsync(fd: int) -> None:
    """fsync ``fd``; nothing to do for what cannot be synced (``-o /dev/null``, a FIFO)."""
    try:
        os.fsync(fd)
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise


def make_parent(option: str, path: str) -> None:
    """Make the directory ``path`` is to be written in (``-o out/pages.jsonl`` on a first run);
    a usage error naming ``option`` when that, or writing there, is not possible."""
    parent = os.path.dirname(path)
    try:
        if parent:
            os.makedirs(parent, exist_ok=True)
    except OSError as e:
        raise UsageError(f"{option}: cannot make the directory of {path}: {e.strerror}") from None
    if os.path.isdir(path):
        raise UsageError(f"{option}: {path} is a directory")
    if not os.access(path if os.path.exists(path) else parent or ".", os.W_OK):
        raise UsageError(f"{option}: cannot write {path}: {os.strerror(errno.EACCES)}")


def _ignore_stop_signals() -> None:
    """In the encoder process: Ctrl-C and systemd's SIGTERM reach the whole process group, but
    stopping is the crawler's to do (it flushes through this process, then ends it)."""
    die_with_parent()
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _cut(entries: list[Any], room: int, captures: bool) -> int | None:
    """Where to cut ``entries`` so that ``room`` more records fill the file; None if they fit."""
    count = 0
    for i, e in enumerate(entries):
        if type(e) is Capture if captures else type(e) is Item:
            if count == room:
                return i
            count += 1
    return None


def _gunzip_head(data: bytes) -> bytes:
    try:
        return gzip.GzipFile(fileobj=io.BytesIO(data)).read(65536)
    except (OSError, EOFError):
        return b""


def open_sink(path: str, fmt: str = "", resume_at: int | None = None, *, part: int = 0,
              rotate_size: int = 0, rotate_records: int = 0, records: int = 0,
              warcinfo: dict[str, str] | None = None, reconnect_for: float = 30.0,
              markdown_links: str = "absolute") -> Sink:
    """The sink for ``--output``/``--format`` (not opened yet); ``markdown_links``: see
    :class:`crawler.output.markdown.MarkdownEncoder`."""
    if path.startswith(REDIS_STREAM_SCHEMES):
        if fmt not in ("", "jsonl") or rotate_size or rotate_records:
            raise UsageError("--output: a Redis stream takes JSON objects; no --format or rotation")
        from crawler.output.stream import RedisStreamSink

        return RedisStreamSink(path, reconnect_for)
    fmt, compress = format_of(path, fmt)
    if (rotate_size or rotate_records) and path == "-":
        raise UsageError("--rotate-size/--rotate-records: stdout cannot be rotated; give -o FILE")
    encoder: Encoder
    if fmt == "markdown":
        from crawler.output.markdown import MarkdownEncoder

        path = output_file(path, fmt)
        encoder = MarkdownEncoder(os.path.dirname(path), relative=markdown_links == "relative")
    elif fmt == "warc":
        from crawler.output.warc import WarcEncoder

        encoder = WarcEncoder(compress, warcinfo or {})
        compress = False  # a gzip member a record, made by the encoder
    elif fmt == "csv":
        encoder = CsvEncoder()
    else:
        encoder = JsonLinesEncoder()
    return FileSink(path, encoder, compress=compress, resume_at=resume_at, part=part,
                    rotate_size=rotate_size, rotate_records=rotate_records, records=records)


def output_file(path: str, fmt: str) -> str:
    """The file the writer appends to for ``-o path``: the folder's ``index.jsonl`` for the
    markdown format (``index.NAME.jsonl`` names another index in the folder: a shard's part of
    it, with ``--workers``), else ``path`` itself."""
    name = os.path.basename(path)
    if fmt == "markdown" and not (name.startswith("index.") and name.endswith(".jsonl")):
        return os.path.join(path, "index.jsonl")
    return path


def expand_output(path: str, run: int) -> str:
    """``path`` with ``{run}`` (the run's number in its job), ``{date}`` (YYYY-MM-DD) and
    ``{time}`` (HHMMSS, UTC) filled in."""
    if "{" not in path:
        return path
    now = datetime.datetime.now(datetime.UTC)
    return (path.replace("{run}", str(run)).replace("{date}", now.strftime("%Y-%m-%d"))
            .replace("{time}", now.strftime("%H%M%S")))


def sink_for(settings: Settings, output: str, resume_at: int | None = None, part: int = 0,
             records: int = 0) -> Sink:
    """The sink for ``output`` (a name with its placeholders filled in) under ``settings``;
    ``resume_at``, ``part`` and ``records``: where a resumed output stands."""
    return open_sink(output, settings.format, resume_at, part=part, rotate_size=settings.rotate_size,
                     rotate_records=settings.rotate_records, records=records, reconnect_for=settings.redis_reconnect,
                     markdown_links=settings.markdown_links,
                     warcinfo={"software": f"crawler/{__version__}", "http-header-user-agent":
                               settings.user_agent.replace("{version}", __version__),
                               "robots": "obey" if settings.robots else "ignore"})
