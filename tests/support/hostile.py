"""A hostile web server for the tests: one path per way a server can be broken or malicious.

Every path is served by one aiohttp app on 127.0.0.1 (started by the ``serve`` fixture); links
and redirects that point elsewhere name hosts that are never resolved (the scope or the SSRF
guard refuses them first) or addresses that are never connected to.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import os
import random
import struct
import zlib

import brotli
from aiohttp import web

from crawler.codings import zstd

GIB = 2**30
STATE = web.AppKey("state", dict)


@functools.cache
def gzip_bomb(size: int = 2 * GIB) -> bytes:
    """A valid gzip stream of ``size`` zero bytes in about 2 MB. Built from one compressed block
    of 16 MiB repeated (each block ends in a full flush, so the copies are byte for byte the same):
    a second instead of the 12 that compressing 2 GiB takes."""
    chunk = bytes(2**24)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    end = compressor.flush()
    count = size // len(chunk)
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(chunk, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + first + block * (count - 1) + end + struct.pack("<II", crc, (count * len(chunk)) & 0xFFFFFFFF)


@functools.cache
def brotli_bomb(size: int = 2 * GIB) -> bytes:
    """A brotli stream of ``size`` zero bytes (about 400 KB)."""
    chunk = bytes(2**24)
    compressor = brotli.Compressor(quality=1)
    parts = [compressor.process(chunk) for _ in range(size // len(chunk))]
    return b"".join(parts) + compressor.finish()


def page(body: str, head: str = "", status: int = 200, charset: str = "utf-8") -> web.Response:
    text = f"<!doctype html><html><head>{head}</head><body>{body}</body></html>"
    return web.Response(body=text.encode(charset, "replace"), status=status,
                        content_type="text/html", charset=charset)


# -- bodies -------------------------------------------------------------------------------

async def drip(request: web.Request) -> web.StreamResponse:
    """One byte every 2 s, for ever."""
    resp = web.StreamResponse(headers={"Content-Type": "text/html"})
    await resp.prepare(request)
    for _ in range(1800):
        await resp.write(b"x")
        await asyncio.sleep(2)
    return resp


async def silent(request: web.Request) -> web.Response:
    """Takes the request and never answers."""
    await asyncio.sleep(3600)
    raise AssertionError("unreachable")


async def reset(request: web.Request) -> web.StreamResponse:
    """Headers and a part of the body, then the connection is reset."""
    resp = web.StreamResponse(headers={"Content-Type": "text/html", "Content-Length": "100000"})
    await resp.prepare(request)
    await resp.write(b"<html><body>" + b"x" * 1000)
    assert request.transport is not None
    request.transport.abort()
    return resp


async def short(request: web.Request) -> web.StreamResponse:
    """A Content-Length of 1000 and 10 bytes, then the connection closes."""
    resp = web.StreamResponse(headers={"Content-Type": "text/html", "Content-Length": "1000"})
    await resp.prepare(request)
    await resp.write(b"<html>0123")
    assert request.transport is not None
    request.transport.close()
    return resp


async def gzip_bomb_page(request: web.Request) -> web.Response:
    return web.Response(body=gzip_bomb(), headers={"Content-Encoding": "gzip", "Content-Type": "text/html"})


async def brotli_bomb_page(request: web.Request) -> web.Response:
    return web.Response(body=brotli_bomb(), headers={"Content-Encoding": "br", "Content-Type": "text/html"})


async def huge(request: web.Request) -> web.StreamResponse:
    """500 MB of plain text; with ``?chunked`` no Content-Length, so it must be counted."""
    size = 500 * 10**6
    headers = {"Content-Type": "text/html"}
    if "chunked" not in request.query:
        headers["Content-Length"] = str(size)
    resp = web.StreamResponse(headers=headers)
    await resp.prepare(request)
    block = b"a" * 2**20
    sent = 0
    try:
        while sent < size:
            await resp.write(block[: size - sent])
            sent += len(block)
    except (ConnectionError, RuntimeError):
        pass  # the crawler hung up, as it should
    return resp


async def big_headers(request: web.Request) -> web.Response:
    """100 KB of response headers."""
    return web.Response(body=b"<html>fine</html>", content_type="text/html",
                        headers={f"X-Filler-{i}": "y" * 1000 for i in range(100)})


async def empty(request: web.Request) -> web.Response:
    return web.Response(body=b"", content_type="text/html")


async def binary(request: web.Request) -> web.Response:
    """Random bytes sent as text/html."""
    return web.Response(body=random.Random(7).randbytes(200_000), content_type="text/html")


async def malformed(request: web.Request) -> web.Response:
    soup = ('<html><head><title>soup</title><body><div><p>unclosed <b><i>tags</b></i> <a href="/empty">'
            '<table><tr><td>no ends <a href="/empty"x=">\'broken <!-- never closed <script>if (a < b) {')
    return web.Response(body=soup.encode(), content_type="text/html")


async def deep(request: web.Request) -> web.Response:
    """100,000 nested elements."""
    return web.Response(body=b"<html><body>" + b"<div>" * 100_000 + b"deep" + b"</div>" * 100_000,
                        content_type="text/html")


async def formatting_bomb(request: web.Request) -> web.Response:
    """Misnested formatting elements, each with its own id (so none is merged away): a parser
    that follows the standard re-creates every open <b> in each paragraph, N x N elements.
    ``?kb=`` sets the size (107 KB took 2.9 GB; 53 KB, parsed on the event loop, 767 MB)."""
    size = int(request.query.get("kb", "107")) * 1000
    parts, total, i = [], 0, 0
    while total < size:
        part = f"<p><b id={i}>x</p>"
        parts.append(part)
        total += len(part)
        i += 1
    return web.Response(text='<html><body><a href="/ok">ok</a>' + "".join(parts), content_type="text/html")


async def implied_ends(request: web.Request) -> web.Response:
    """3,000 links, each in an element whose end tag is implied (valid HTML)."""
    kind = request.match_info["kind"]
    item = {"li": "<li><a href='/ok?n={}'>x</a>", "p": "<p><a href='/ok?n={}'>x</a>",
            "tr": "<tr><td><a href='/ok?n={}'>x</a>", "option": "<option>x<a href='/ok?n={}'>x</a>",
            "dd": "<dt>x<dd><a href='/ok?n={}'>x</a>"}[kind]
    wrap = {"li": ("<ul>", "</ul>"), "tr": ("<table>", "</table>"), "option": ("<select>", "</select>"),
            "dd": ("<dl>", "</dl>")}.get(kind, ("", ""))
    body = wrap[0] + "".join(item.format(i) for i in range(3000)) + wrap[1]
    return web.Response(text=f"<html><body>{body}</body></html>", content_type="text/html")


async def many_links(request: web.Request) -> web.Response:
    """100,000 links, plainly written."""
    return web.Response(text="<html><body>" + "".join(f"<a href=/ok?n={i}>x</a>" for i in range(100_000))
                        + "</body></html>", content_type="text/html")


async def cp1251(request: web.Request) -> web.Response:
    return page('<a href="/empty">x</a>', head="<title>Привет, мир</title>", charset="cp1251")


async def shift_jis(request: web.Request) -> web.Response:
    body = ('<html><head><meta charset="shift_jis"><title>こんにちは</title></head><body>日本語</body></html>')
    return web.Response(body=body.encode("shift_jis"), content_type="text/html")


async def utf7(request: web.Request) -> web.Response:
    """Declared UTF-7: decoded as such, it holds a link that a browser shows as plain text."""
    body = (b'<html><head><title>seven</title></head><body><a href="/ok">ok</a>'
            b"+ADw-a href=+ACI-/hidden+ACI-+AD4-hidden+ADw-/a+AD4-</body></html>")
    return web.Response(body=body, headers={"Content-Type": "text/html; charset=utf-7"})


async def wrong_charset(request: web.Request) -> web.Response:
    """Declares UTF-8, sends cp1251."""
    body = "<html><head><title>Привет</title></head><body>текст</body></html>".encode("cp1251")
    return web.Response(body=body, headers={"Content-Type": "text/html; charset=utf-8"})


# -- content codings ------------------------------------------------------------------------

CODED = b'<html><head><title>coded</title></head><body><a href="/ok">ok</a></body></html>'


def coded(body: bytes, coding: str) -> web.Response:
    return web.Response(body=body, headers={"Content-Encoding": coding, "Content-Type": "text/html"})


async def gzip_twice(request: web.Request) -> web.Response:
    return coded(gzip.compress(gzip.compress(CODED)), "gzip, gzip")


async def gzip_then_br(request: web.Request) -> web.Response:
    return coded(brotli.compress(gzip.compress(CODED)), "gzip, br")


async def zstd_page(request: web.Request) -> web.Response:
    return coded(zstd.compress(CODED), "zstd")  # never asked for by name in old crawlers


async def gzip_members(request: web.Request) -> web.Response:
    """The page in three gzip members, as ``cat a.gz b.gz c.gz`` makes."""
    third = len(CODED) // 3
    parts = (CODED[:third], CODED[third:2 * third], CODED[2 * third:])
    return coded(b"".join(gzip.compress(p) for p in parts), "gzip")


async def gzip_cut(request: web.Request) -> web.Response:
    whole = gzip.compress(CODED * 20)
    return coded(whole[: len(whole) // 2], "gzip")  # a whole HTTP body, a gzip stream cut short


async def unknown_coding(request: web.Request) -> web.Response:
    return coded(CODED, "x-unheard-of")


@functools.cache
def zstd_bomb(size: int = 2 * GIB) -> bytes:
    return zstd.compress(bytes(size // 8), level=1) * 8  # 8 frames: a few MB for 2 GiB


async def zstd_bomb_page(request: web.Request) -> web.Response:
    return coded(zstd_bomb(), "zstd")


async def many_headers(request: web.Request) -> web.Response:
    """300 response headers (aiohttp's own limit is 128)."""
    return web.Response(body=b"<html><title>many</title></html>", content_type="text/html",
                        headers={f"X-Many-{i}": "v" for i in range(300)})


async def thousand_headers(request: web.Request) -> web.Response:
    """1,000 short response headers (about 20 KB: valid HTTP, within any browser's bound)."""
    return web.Response(body=b"<html><title>thousand</title></html>", content_type="text/html",
                        headers={f"X-H{i}": "v" for i in range(1000)})


async def huge_headers(request: web.Request) -> web.Response:
    """4,000 headers of 100 bytes: 400 KB of header block, past what browsers take (256 KiB)."""
    return web.Response(body=b"<html><title>huge</title></html>", content_type="text/html",
                        headers={f"X-H{i}": "v" * 90 for i in range(4000)})


# -- sitemaps --------------------------------------------------------------------------------

LAUGHS = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
          + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1 if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
          + ']><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>/x/&lol9;</loc></url></urlset>')
EXTERNAL = ('<?xml version="1.0"?><!DOCTYPE u [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>/x/&xxe;</loc></url></urlset>')


async def sitemap_laughs(request: web.Request) -> web.Response:
    return web.Response(text=LAUGHS, content_type="application/xml")


async def sitemap_external(request: web.Request) -> web.Response:
    return web.Response(text=EXTERNAL, content_type="application/xml")


async def sitemap_html(request: web.Request) -> web.Response:
    return page("<p>not a sitemap<br>at all")


async def sitemap_million(request: web.Request) -> web.StreamResponse:
    """1,000,000 URLs (50 MB), streamed: every 10,000th on this host, the rest elsewhere."""
    resp = web.StreamResponse(headers={"Content-Type": "application/xml"})
    await resp.prepare(request)
    base = f"http://{request.host}"
    await resp.write(b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">')
    try:
        for start in range(0, 1_000_000, 10_000):
            urls = [f"{base}/ok?n={i}" if i % 10_000 == 0 else f"http://elsewhere.invalid/{i}"
                    for i in range(start, start + 10_000)]
            await resp.write("".join(f"<url><loc>{u}</loc></url>" for u in urls).encode())
        await resp.write(b"</urlset>")
    except (ConnectionError, RuntimeError):
        pass  # the crawler stopped reading at its cap
    return resp


async def sitemap_members(request: web.Request) -> web.Response:
    """A .xml.gz of two gzip members, served without Content-Encoding."""
    xml = ('<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
           f'<url><loc>http://{request.host}/ok?n=1</loc></url><url><loc>http://{request.host}/ok?n=2</loc></url>'
           "</urlset>").encode()
    half = len(xml) // 2
    return web.Response(body=gzip.compress(xml[:half]) + gzip.compress(xml[half:]),
                        content_type="application/octet-stream")


# -- redirects ------------------------------------------------------------------------------

async def loop(request: web.Request) -> web.Response:
    raise web.HTTPFound("/redirect/loop-b" if request.path.endswith("loop") else "/redirect/loop")


async def chain(request: web.Request) -> web.Response:
    n = int(request.match_info["n"])
    if n >= 50:
        return page("the end of 50 hops")
    raise web.HTTPFound(f"/redirect/chain/{n + 1}")


TARGETS = {
    "file": "file:///etc/passwd",
    "data": "data:text/html,<a href=/x>x</a>",
    "elsewhere": "http://elsewhere.invalid/page",
    "private": "http://10.0.0.1/admin",
    "link-local": "http://169.254.169.254/latest/meta-data/",
    "loopback-spelling": "http://0x7f.0.0.2/",  # 127.0.0.2
}


async def redirect_to(request: web.Request) -> web.Response:
    raise web.HTTPFound(TARGETS[request.match_info["to"]])


async def meta_refresh(request: web.Request) -> web.Response:
    return page("refreshing", head='<meta http-equiv="refresh" content="0; url=/meta-refresh">')


# -- traps ------------------------------------------------------------------------------------

async def calendar(request: web.Request) -> web.Response:
    """An endless calendar: every month links to the next and the one before."""
    year, month = int(request.match_info["year"]), int(request.match_info["month"])
    nxt = (year + month // 12, month % 12 + 1)
    prev = (year - (month == 1), 12 if month == 1 else month - 1)
    return page(f'<a href="/calendar/{nxt[0]}/{nxt[1]}">next</a> <a href="/calendar/{prev[0]}/{prev[1]}">prev</a>')


async def ever_longer(request: web.Request) -> web.Response:
    """``/a/`` links to ``a/``: ``/a/a/``, ``/a/a/a/``, ..."""
    return page('<a href="a/">deeper</a>')


async def session(request: web.Request) -> web.Response:
    """Every page links to itself with a new session id."""
    return page(f'<a href="/session?sid={os.urandom(8).hex()}">again</a>')


async def longer(request: web.Request) -> web.Response:
    """Every page links to a URL twice as long."""
    pad = request.query.get("pad", "x")
    return page(f'<a href="/longer?pad={pad * 2}">longer</a>')


# -- links -------------------------------------------------------------------------------------

BAD_LINKS = [
    "javascript:alert(1)", "mailto:someone@example.com", "tel:+15551234", "data:text/html,hi",
    "http://[::1/broken-ipv6", "http://[fe80::1%eth0]/", "/with space/and\ttab", "/ctrl\x01char",
    "http://exämple.invalid/", "http://xn--exmple-cua.invalid/", "/" + "y" * 5000, "../../../../../above-root",
    "http://127.0.0.1:0/port-zero", "http://[::ffff:10.0.0.1]/mapped", "//elsewhere.invalid/scheme-relative",
]


async def links(request: web.Request) -> web.Response:
    return page("".join(f'<a href="{href}">x</a>' for href in BAD_LINKS))


async def ok(request: web.Request) -> web.Response:
    return page("fine")


# -- rate limits and failures -----------------------------------------------------------------

async def too_many(request: web.Request) -> web.Response:
    """429 with Retry-After: 1 the first time, then the page."""
    state = request.app[STATE]
    state["429"] = state.get("429", 0) + 1
    if state["429"] == 1:
        return web.Response(status=429, headers={"Retry-After": "1"})
    return page("served at last")


async def come_and_go(request: web.Request) -> web.Response:
    """503 every other time."""
    state = request.app[STATE]
    state["503"] = state.get("503", 0) + 1
    if state["503"] % 2:
        return web.Response(status=503)
    return page("up again")


async def always_500(request: web.Request) -> web.Response:
    return web.Response(status=500, text="broken")


def hostile_app() -> web.Application:
    """Every behaviour at its own path."""
    app = web.Application()
    app[STATE] = {}
    routes = {
        "/body/drip": drip, "/body/silent": silent, "/body/reset": reset, "/body/short": short,
        "/body/gzip-bomb": gzip_bomb_page, "/body/brotli-bomb": brotli_bomb_page, "/body/huge": huge,
        "/body/big-headers": big_headers, "/empty": empty, "/body/binary": binary, "/body/malformed": malformed,
        "/body/deep": deep, "/body/cp1251": cp1251, "/body/shift-jis": shift_jis,
        "/body/wrong-charset": wrong_charset, "/body/utf-7": utf7, "/body/formatting-bomb": formatting_bomb,
        "/body/implied/{kind}": implied_ends, "/body/many-links": many_links,
        "/redirect/loop": loop, "/redirect/loop-b": loop, "/redirect/chain/{n}": chain,
        "/redirect/to/{to}": redirect_to, "/meta-refresh": meta_refresh,
        "/calendar/{year}/{month}": calendar, "/session": session, "/longer": longer, "/links": links,
        "/rate/429": too_many, "/rate/503": come_and_go, "/rate/500": always_500, "/ok": ok,
        "/coding/gzip-gzip": gzip_twice, "/coding/gzip-br": gzip_then_br, "/coding/zstd": zstd_page,
        "/coding/gzip-members": gzip_members, "/coding/gzip-cut": gzip_cut, "/coding/unknown": unknown_coding,
        "/coding/zstd-bomb": zstd_bomb_page, "/headers/many": many_headers,
        "/headers/thousand": thousand_headers, "/headers/huge": huge_headers,
        "/sitemap/laughs.xml": sitemap_laughs, "/sitemap/external.xml": sitemap_external,
        "/sitemap/html": sitemap_html, "/sitemap/million.xml": sitemap_million,
        "/sitemap/members.xml.gz": sitemap_members,
    }
    for path, handler in routes.items():
        app.router.add_get(path, handler)
    app.router.add_get("/a/{tail:.*}", ever_longer)
    return app
