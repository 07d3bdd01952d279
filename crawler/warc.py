"""WARC output (ISO 28500, WARC/1.1) with warcio: a ``warcinfo`` record at the start of each
file, then for every fetch a ``request`` and a ``response`` record (``WARC-Concurrent-To``
joins them; warcio adds the block and payload digests), or a ``revisit`` record when a recrawl
found the page unchanged. Response bodies are stored as they came over the wire, before
decompression, so the archive is faithful. Each record is its own gzip member.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
from typing import Any

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import BufferWARCWriter

from crawler.writer import Capture

# Hop-by-hop framing that no longer describes the stored body (aiohttp removed the chunking).
_DROPPED = frozenset({"transfer-encoding"})


class WarcEncoder:
    """Captures to WARC records (records and items are not part of a WARC output)."""

    captures = True
    threaded = True

    def __init__(self, compress: bool, info: dict[str, str]) -> None:
        self.compress = compress
        self.info = info
        self.filename = ""

    def encode(self, entries: list[Any], at_start: bool) -> tuple[bytes, int]:
        """The WARC records of the captures among ``entries``."""
        out: list[bytes] = []
        count = 0
        if at_start:
            writer = BufferWARCWriter(gzip=False, warc_version="1.1")
            writer.write_record(writer.create_warcinfo_record(self.filename, {
                "format": "WARC File Format 1.1",
                "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
                **self.info,
            }))
            out.append(self._member(writer.get_contents()))
        for e in entries:
            if type(e) is Capture:
                out += [self._member(record) for record in self.records(e)]
                count += 1
        return b"".join(out), count

    def _member(self, data: bytes) -> bytes:
        return gzip.compress(data, compresslevel=6, mtime=0) if self.compress else data

    def records(self, capture: Capture) -> list[bytes]:
        """The response (or revisit) and request records of one fetch, uncompressed."""
        writer = BufferWARCWriter(gzip=False, warc_version="1.1")
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
        writer.write_record(response)
        first = writer.get_contents()
        writer.write_record(request)
        return [first, writer.get_contents()[len(first):]]


_PROFILES = {
    "server-not-modified": "http://netpreserve.org/warc/1.1/revisit/server-not-modified",
    "identical-payload-digest": "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest",
}
