"""One exchange through libcurl (:mod:`crawler.fetch.curlclient`), as libcurl's callbacks see it:
the answer's header block (bounded), its body as sent, decoded here (bounded), kept, hashed or
handed to a consumer (libcurl paused while the consumer is behind), and the exchange captured for
WARC; and a libcurl failure named with one of the crawler's error names."""

from __future__ import annotations

import asyncio
import hashlib
import http
from collections import deque
from collections.abc import Callable
from typing import Any

from curl_cffi import Curl, CurlError, CurlInfo, CurlOpt
from curl_cffi.const import CurlECode
from curl_cffi.curl import CURL_WRITEFUNC_ERROR, CURL_WRITEFUNC_PAUSE, CURLPAUSE_CONT
from multidict import CIMultiDict, CIMultiDictProxy

from crawler import errors
from crawler.codings import Decoder, TooLarge, codings_of
from crawler.fetch.attempt import REDIRECT_STATUSES
from crawler.fetch.keepalive import MAX_HEADER_BYTES, NO_BODY, HeadersTooLarge
from crawler.fetch.transport import FetchRequest
from crawler.result import FetchResult, media_type
from crawler.timestamps import utc_now_iso
from crawler.work import Capture

CONSUMER_BUFFER = 256 * 1024  # decoded bytes waiting for a consumer before libcurl is paused

# What a body is for, decided once its headers are in.
_DISCARD, _COUNT, _KEEP, _HASH, _CONSUME = range(5)

# libcurl's failures of TLS: a certificate that does not verify, no TLS to agree on, a bad CA
# or client certificate file. Trying again changes nothing.
TLS_CODES = frozenset({35, 51, 53, 54, 58, 59, 60, 64, 66, 77, 80, 82, 83, 90, 91, 98})
# SOCKS replies (CURLproxycode) that say the target, not the proxy, failed: refused, host or
# network unreachable, TTL expired, the name not resolved at the proxy, a SOCKS4 request refused.
_SOCKS_TARGET = frozenset({19, 21, 22, 24, 26, 27})
_DEBUG_HEADER_OUT = 2  # curl_infotype CURLINFO_HEADER_OUT


class Transfer:
    """One exchange's state, fed by libcurl's header, write and debug callbacks."""

    def __init__(self, curl: Curl, url: str, request: FetchRequest, max_bytes: int, deadline: asyncio.Timeout
                 ) -> None:
        self.url = url
        self.request = request
        self.limit = request.limit or max_bytes
        self.consumer = request.consumer
        self.deadline = deadline
        self.wire = request.capture
        self.curl = curl
        self.status: int | None = None
        self.version = ""
        self.answered = False  # the header block is in
        self._headers: CIMultiDictProxy[str] | None = None
        self.reason = ""
        self.date = ""
        self._lines: list[tuple[str, str]] = []
        self._header_bytes = 0
        self._mode = _DISCARD
        self._decoder: Decoder | None = None
        self._parts: list[bytes] = []
        self._raw: list[bytes] | None = [] if request.capture else None
        self._sent: bytes = b""
        self._hasher: Any = None
        self.size = 0
        self.full = False  # read no more: the bound reached with truncate, or the consumer has enough
        self.cut = False
        self._queue: deque[bytes] = deque()
        self._queued = 0
        self._paused = False
        self._wake = asyncio.Event() if request.consumer is not None else None

    # --- libcurl's callbacks (on the loop's thread, inside libcurl's calls) ---------------
    def on_header(self, line: bytes) -> int:
        """A header line of the answer (status lines of interim answers too)."""
        if line[:5] == b"HTTP/":
            parts = line.split(None, 2)
            self.version = parts[0].decode("latin-1")
            self.status = int(parts[1])
            self.reason = parts[2].strip().decode("latin-1") if len(parts) > 2 else ""
            self.date = utc_now_iso()
            self._lines = []
            self._header_bytes = len(line)
            return len(line)
        self._header_bytes += len(line)
        if self._header_bytes > MAX_HEADER_BYTES:
            raise HeadersTooLarge(code=400, message=f"response headers larger than {MAX_HEADER_BYTES // 1024} KiB")
        if line in (b"\r\n", b"\n"):
            if self.status is not None and self.status >= 200 and not self.answered:  # once, whatever follows
                self._headers_in()
        elif line[:1] in (b" ", b"\t") and self._lines:  # a folded line goes on the one before
            last, value = self._lines[-1]
            self._lines[-1] = (last, f"{value} {line.strip().decode('latin-1')}")
        else:
            name, _, rest = line.partition(b":")
            self._lines.append((name.strip().decode("latin-1"), rest.strip().decode("latin-1")))
        return len(line)

    def _headers_in(self) -> None:
        """The header block is in: what the body is for, and its decoder. An HTTP/1 connection
        that gave an answer that cannot have a body ends with it (:mod:`crawler.fetch.keepalive`:
        bytes a server sends after it must never be read as the next request's answer)."""
        self.answered = True
        self._headers = CIMultiDictProxy(CIMultiDict(self._lines))  # what follows the block (trailers) is not in it
        if self.status in NO_BODY and self.version.startswith("HTTP/1"):
            self.curl.setopt(CurlOpt.FORBID_REUSE, 1)  # read at the transfer's end
        headers = self.headers()
        if self.request.method.upper() == "HEAD" or (self.status in REDIRECT_STATUSES and "Location" in headers):
            self._mode = _DISCARD
            return
        codings = codings_of(headers.get("Content-Encoding"))
        self._decoder = Decoder(codings, self.limit, self.request.truncate) if codings else None
        length = headers.get("Content-Length")
        if self._decoder is None and not self.request.truncate and length is not None and length.isdigit() \
                and int(length) > self.limit:
            raise TooLarge
        if self.consumer is not None:
            self._mode = _CONSUME
        elif self.request.keep_body(media_type(headers.get("Content-Type"))[0]):
            self._mode = _KEEP
        elif self.request.digest:
            self._mode, self._hasher = _HASH, hashlib.sha1()
        else:
            self._mode = _COUNT

    def on_data(self, chunk: bytes) -> int:
        """A piece of the body, as sent."""
        if self.full:
            return CURL_WRITEFUNC_ERROR
        mode = self._mode
        if mode == _DISCARD:
            self.size += len(chunk)
            if self.size > self.limit:  # a redirect's endless body: no more of it
                self.full = True
                return CURL_WRITEFUNC_ERROR
            return len(chunk)
        if mode == _CONSUME and self._queued >= CONSUMER_BUFFER:
            self._paused = True
            return CURL_WRITEFUNC_PAUSE  # libcurl hands the same piece again once resumed
        if self._raw is not None:
            self._raw.append(chunk)
        decoder = self._decoder
        data = decoder.feed(chunk) if decoder is not None else chunk
        if self.size + len(data) > self.limit:
            if not self.request.truncate:
                raise TooLarge
            data = data[: self.limit - self.size]
        self.size += len(data)
        if mode == _KEEP:
            self._parts.append(data)
        elif mode == _CONSUME:
            if data:
                self._queue.append(data)
                self._queued += len(data)
                assert self._wake is not None
                self._wake.set()
        elif mode == _HASH:
            self._hasher.update(data)
        if self.request.truncate and (self.size >= self.limit or (decoder is not None and decoder.full)):
            self.full = True
            return CURL_WRITEFUNC_ERROR  # all that is wanted is in: the transfer stops here
        return len(chunk)

    def on_debug(self, kind: int, data: bytes) -> None:
        """libcurl's account of the exchange: the request's header block as sent is kept (the
        last one: a proxy's CONNECT goes before it)."""
        if kind == _DEBUG_HEADER_OUT and not data.startswith(b"CONNECT "):
            self._sent = data

    # --- on the loop, after or around the transfer ---------------------------------------
    async def consume(self, done: asyncio.Future[Any], kick: Callable[[], None]) -> None:
        """Hand the body to the consumer as it comes, until the transfer ends (``done``) or the
        consumer wants no more. The time the consumer takes is added to the deadline: the fetch
        deadline covers the transfer, not what is done with the bytes."""
        assert self.consumer is not None and self._wake is not None
        wake = self._wake
        done.add_done_callback(lambda _: wake.set())
        loop = asyncio.get_running_loop()
        while True:
            while self._queue:
                data = self._queue.popleft()
                self._queued -= len(data)
                if self.cut:
                    continue
                started = loop.time()
                wanted = await self.consumer(data)
                when = self.deadline.when()
                if when is not None:
                    self.deadline.reschedule(when + loop.time() - started)
                if wanted is False:
                    self.cut = self.full = True  # the next piece stops the transfer
            if self._paused and not done.done():
                self._paused = False
                self.curl.pause(CURLPAUSE_CONT)
                kick()
            if done.done() and not self._queue:
                break
            wake.clear()
            if not self._queue and not done.done() and not self._paused:
                await wake.wait()
        await done

    def ended_early(self, error: CurlError) -> bool:
        """Did the transfer stop because this side had all it wanted (not a failure)?"""
        return self.full and error.code == CurlECode.WRITE_ERROR

    def headers(self) -> CIMultiDictProxy[str]:
        """The answer's headers (made once, when the block is in)."""
        return self._headers if self._headers is not None else CIMultiDictProxy(CIMultiDict(self._lines))

    def set_cookies(self) -> list[str]:
        """The values of the answer's Set-Cookie headers."""
        return [value for name, value in self._lines if name.lower() == "set-cookie"]

    def finish(self, result: FetchResult) -> None:
        """The body, its media type and size, into ``result`` (the transfer having ended)."""
        headers = result.headers
        result.content_type, result.charset = media_type(headers.get("Content-Type") if headers else None)
        if self._decoder is not None and not self.full:
            self._decoder.end()
        result.size = self.size
        result.cut = self.cut
        result.body = b"".join(self._parts) if self._mode == _KEEP else b""
        if self._hasher is not None and self.size:
            result.digested(self._hasher.hexdigest())

    def capture(self) -> Capture:
        """The exchange as it went, in HTTP/1.1's shape whatever the protocol was."""
        ip = self.curl.getinfo(CurlInfo.PRIMARY_IP)
        sent = self._sent.decode("latin-1").split("\r\n")[1:]
        request_headers = [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in sent) if k.strip()]
        reason = self.reason
        if not reason and self.status is not None:
            try:
                reason = http.HTTPStatus(self.status).phrase
            except ValueError:
                reason = ""
        return Capture(self.url, self.date or utc_now_iso(), self.status or 0, reason, "HTTP/1.1", list(self._lines),
                       request_headers, b"".join(self._raw or ()),
                       ip.decode("ascii") if isinstance(ip, bytes) and ip else None)


def failure_of(error: CurlError, curl: Curl, result: FetchResult, proxy: str | None, answered: bool) -> None:
    """Name libcurl's failure ``error`` in ``result``: ``timeout``, ``tls``, ``dns``,
    ``connect`` (before an answer; the proxy's failure when it was the proxy's) or ``content``
    (during one); all but ``tls`` worth another try."""
    code = int(error.code)
    result.retryable = True
    if code == CurlECode.OPERATION_TIMEDOUT:
        result.error = errors.TIMEOUT
    elif code in TLS_CODES:
        result.error, result.retryable = errors.TLS, False
    elif proxy is not None and not answered and code in (CurlECode.COULDNT_RESOLVE_PROXY, CurlECode.COULDNT_CONNECT,
                                                         CurlECode.PROXY, CurlECode.RECV_ERROR,
                                                         CurlECode.GOT_NOTHING, CurlECode.SEND_ERROR):
        result.error = errors.CONNECT
        target = False
        if code == CurlECode.PROXY:
            reply = int(curl.getinfo(CurlInfo.PROXY_ERROR))  # type: ignore[arg-type]
            target = reply in _SOCKS_TARGET
            result.proxy_failure = f"the SOCKS proxy failed (CURLproxycode {reply})"
        elif code == CurlECode.RECV_ERROR and (status := int(curl.getinfo(CurlInfo.HTTP_CONNECTCODE))):  # type: ignore[arg-type]
            target = status >= 500 and status != 407
            result.proxy_failure = f"{status} from the proxy to CONNECT"
        else:
            result.proxy_failure = reason_of(error)
        result.proxy_unusable = not target
    elif code == CurlECode.COULDNT_RESOLVE_HOST:
        result.error = errors.DNS
    else:
        result.error = errors.CONTENT if answered else errors.CONNECT


def reason_of(error: CurlError) -> str:
    """libcurl's words for ``error``, without curl_cffi's advice."""
    text = str(error)
    if "curl: (" in text:
        text = text.split("curl: (", 1)[1].split(") ", 1)[-1]
    return text.split(". See https://curl.se", 1)[0]


__all__ = ["CONSUMER_BUFFER", "TLS_CODES", "Transfer", "failure_of", "reason_of"]
