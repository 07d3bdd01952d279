"""WARC output (ISO 28500, WARC/1.1) with warcio: a ``warcinfo`` record at the start of each
file, then for every fetch a ``request`` and a ``response`` record (``WARC-Concurrent-To``
joins them; warcio adds the block and payload digests), or a ``revisit`` record when a recrawl
found the page unchanged; after them ``conversion`` records (``WARC-Refers-To`` its response
record): with ``--render``, the DOM the browser made of the page (text/html), with ``--extract
markdown``, the page's Markdown (text/markdown). Response bodies are stored as
they came over the wire, before decompression, so the archive is faithful. Each record is its own gzip member.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
from typing import Any

from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawler.work import Capture

# gzip level of WARC members: page bodies are most of a WARC, and at level 6 compressing them
# took a whole core at 2,000 pages/s here; level 1 is 2.5 times faster for about 25% more bytes.
GZIP_LEVEL = 1
# Hop-by-hop framing that no longer describes the stored body (aiohttp removed the chunking).
_DROPPED = frozenset({"transfer-encoding"})


class WarcEncoder:
    """Captures to WARC records (records and items are not part of a WARC output)."""

    captures = True
    offload = "process"  # warcio is pure Python: about 0.25 ms of CPU a page

    def __init__(self, compress: bool, info: dict[str, str]) -> None:
        self.compress = compress
        self.info = info
        self.filename = ""

    def encode(self, entries: list[Any], at_start: bool) -> tuple[bytes, int]:
        """The WARC records of the captures among ``entries``."""
        buffer = io.BytesIO()
        writer = WARCWriter(buffer, gzip=False, warc_version="1.1")
        ends = []  # where each record ends in the buffer
        if at_start:
            writer.write_record(writer.create_warcinfo_record(self.filename, {
                "format": "WARC File Format 1.1",
                "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
                **self.info,
            }))
            ends.append(buffer.tell())
        count = 0
        for e in entries:
            if type(e) is Capture:
                records = self.records(writer, e)
                for record in records:
                    writer.write_record(record)
                    ends.append(buffer.tell())
                for text, kind in ((e.rendered, "text/html"), (e.conversion, "text/markdown")):
                    if text is not None:
                        writer.write_record(self.conversion(writer, e, records[0], text, kind))
                        ends.append(buffer.tell())
                count += 1
        data = buffer.getbuffer()
        if not self.compress:
            return bytes(data), count
        members = []
        start = 0
        for end in ends:
            members.append(gzip.compress(data[start:end], compresslevel=GZIP_LEVEL, mtime=0))
            start = end
        data.release()
        return b"".join(members), count

    def resume(self, head: bytes) -> None:
        """Nothing to take up: the file already has its warcinfo record."""

    @staticmethod
    def records(writer: WARCWriter, capture: Capture) -> tuple[ArcWarcRecord, ArcWarcRecord]:
        """The response (or revisit) and request records of one fetch."""
        response_headers = StatusAndHeaders(
            f"{capture.status} {capture.reason}".rstrip(),
            [(k, v) for k, v in capture.response_headers if k.lower() not in _DROPPED],
            protocol=capture.version)
        extra = {"WARC-Date": capture.date}
        if capture.ip:
            extra["WARC-IP-Address"] = capture.ip
        if capture.revisit is None:
            response = writer.create_warc_record(capture.url, "response", payload=io.BytesIO(capture.body),
                                                 length=len(capture.body), http_headers=response_headers,
                                                 warc_headers_dict=extra)
        else:
            digest = "sha1:" + base64.b32encode(hashlib.sha1(capture.body).digest()).decode("ascii")
            response = writer.create_revisit_record(capture.url, digest, capture.url, "",
                                                    http_headers=response_headers, warc_headers_dict=extra)
            response.rec_headers.replace_header("WARC-Profile", _PROFILES[capture.revisit])
            response.rec_headers.remove_header("WARC-Refers-To-Date")
        target = capture.url.split("://", 1)[1]
        path = "/" + target.split("/", 1)[1] if "/" in target else "/"
        request_headers = StatusAndHeaders(f"GET {path} {capture.version}", capture.request_headers,
                                           is_http_request=True)
        request = writer.create_warc_record(capture.url, "request", http_headers=request_headers,
                                            warc_headers_dict={"WARC-Date": capture.date, "WARC-Concurrent-To":
                                                               response.rec_headers.get_header("WARC-Record-ID")})
        return response, request


    @staticmethod
    def conversion(writer: WARCWriter, capture: Capture, response: ArcWarcRecord, text: str,
                   media_type: str) -> ArcWarcRecord:
        """A ``conversion`` record of a page, referring to its response record: the DOM the
        browser made of it (``--render``, text/html) or its Markdown (``--extract markdown``)."""
        data = text.encode("utf-8", errors="replace")
        return writer.create_warc_record(capture.url, "conversion", payload=io.BytesIO(data), length=len(data),
                                         warc_content_type=f"{media_type}; charset=utf-8",
                                         warc_headers_dict={"WARC-Date": capture.date, "WARC-Refers-To":
                                                            response.rec_headers.get_header("WARC-Record-ID")})


_PROFILES = {
    "server-not-modified": "http://netpreserve.org/warc/1.1/revisit/server-not-modified",
    "identical-payload-digest": "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest",
}
