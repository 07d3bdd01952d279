"""Which characters a page's bytes stand for: the byte order mark, the Content-Type charset, a
``<meta charset>``, else UTF-8 (the HTML standard's order), with labels read by the WHATWG
Encoding standard's table (the ``webencodings`` package), as browsers read them."""

from __future__ import annotations

import codecs
import re

import webencodings

_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]+)""", re.IGNORECASE)
# Python's name where it differs from the codec webencodings names: the standard's gbk decoder
# is gb18030's.
_PYTHON_CODEC = {"gbk": "gb18030"}


def _codec(label: str | None, in_document: bool = False) -> str | None:
    """The Python codec of a charset label, by the WHATWG Encoding standard's label table (via
    webencodings): ``latin1``, ``ascii`` and ``iso-8859-1`` are windows-1252, ``tis-620`` is
    windows-874, and so on. A label the standard does not know, UTF-7 among them (browsers
    refuse it: it can hide markup from readers that do not decode it), is None: ignored, as
    browsers ignore it. In the document itself (``<meta charset>``) UTF-16 means UTF-8 and
    x-user-defined windows-1252, as the standard says."""
    if not label:
        return None
    encoding = webencodings.lookup(label)
    if encoding is None:
        return None
    name: str = encoding.name
    if in_document and name in ("utf-16le", "utf-16be"):
        return "utf-8"
    if in_document and name == "x-user-defined":
        return "cp1252"
    if name in ("replacement", "x-user-defined"):
        return name
    codec: str = encoding.codec_info.name
    return _PYTHON_CODEC.get(name, codec)


def sniff_encoding(body: bytes, header_charset: str | None) -> str:
    """The encoding of an HTML body: a BOM, else the Content-Type charset, else a
    ``<meta charset>`` in the first 4 KiB, else UTF-8 (the HTML standard's order; labels it
    does not know are passed over)."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name
    codec = _codec(header_charset)
    if codec:
        return codec
    match = _META_CHARSET.search(body, 0, 4096)
    if match:
        codec = _codec(match.group(1).decode("ascii"), in_document=True)
        if codec:
            return codec
    return "utf-8"


def decode_html(body: bytes, header_charset: str | None) -> str:
    """The body as text; undecodable bytes become U+FFFD."""
    encoding = sniff_encoding(body, header_charset)
    if encoding == "replacement":  # ISO-2022-KR and the like: one U+FFFD for the document
        return "\ufffd" if body else ""
    if encoding == "x-user-defined":  # no Python codec of that name
        decoded: str = webencodings.decode(body, webencodings.lookup(encoding), errors="replace")[0]
        return decoded
    text = body.decode(encoding, errors="replace")
    return text[1:] if text.startswith("\ufeff") else text
