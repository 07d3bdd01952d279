"""Content codings undone chunk by chunk, each bounded (crawler/codings.py)."""

from __future__ import annotations

import gzip
import zlib

import brotli
import pytest

from crawler.codings import BadCoding, Decoder, TooLarge, Truncated, UnknownCoding, codings_of, zstd

PAGE = b"<html><title>t</title>" + b"x" * 5000 + b"</html>"


def decode(body: bytes, codings: list[str], limit: int = 10**6, chunk: int = 7, truncate: bool = False) -> bytes:
    decoder = Decoder(codings, limit, truncate)
    out = b"".join(decoder.feed(body[i:i + chunk]) for i in range(0, len(body), chunk))
    decoder.end()
    return out


def test_codings_are_read_in_the_order_applied() -> None:
    assert codings_of("gzip, br") == ["gzip", "br"]
    assert codings_of(" Identity ,GZIP") == ["gzip"]
    assert codings_of(None) == codings_of("") == []


@pytest.mark.parametrize(("codings", "encode"), [
    (["gzip"], gzip.compress),
    (["deflate"], zlib.compress),
    (["deflate"], lambda b: zlib.compress(b)[2:-4]),  # raw deflate, as some servers send
    (["br"], brotli.compress),
    (["zstd"], zstd.compress),
    (["gzip", "gzip"], lambda b: gzip.compress(gzip.compress(b))),
    (["gzip", "br"], lambda b: brotli.compress(gzip.compress(b))),
])
def test_each_coding_and_chains_of_them(codings: list[str], encode) -> None:
    assert decode(encode(PAGE), codings) == PAGE


def test_every_gzip_member_and_every_zstd_frame() -> None:
    assert decode(gzip.compress(PAGE[:100]) + gzip.compress(PAGE[100:]), ["gzip"]) == PAGE
    assert decode(zstd.compress(PAGE[:100]) + zstd.compress(PAGE[100:]), ["zstd"]) == PAGE


@pytest.mark.parametrize(("codings", "encode"), [
    (["gzip"], gzip.compress), (["deflate"], zlib.compress), (["br"], brotli.compress), (["zstd"], zstd.compress),
])
def test_a_stream_cut_short_is_truncated(codings: list[str], encode) -> None:
    whole = encode(PAGE * 10)
    with pytest.raises(Truncated):
        decode(whole[: len(whole) // 2], codings)


@pytest.mark.parametrize(("codings", "encode"), [
    (["gzip"], gzip.compress), (["br"], brotli.compress), (["zstd"], zstd.compress),
    (["gzip", "gzip"], lambda b: gzip.compress(gzip.compress(b))),
])
def test_output_past_the_limit_is_too_large_or_cut(codings: list[str], encode) -> None:
    bomb = encode(bytes(10**7))
    with pytest.raises(TooLarge):
        decode(bomb, codings, limit=10**5, chunk=4096)
    cut = decode(bomb, codings, limit=10**5, chunk=4096, truncate=True)
    assert cut == bytes(10**5)


def test_garbage_and_unknown_codings() -> None:
    with pytest.raises(BadCoding):
        decode(b"not gzip at all", ["gzip"])
    with pytest.raises(UnknownCoding):
        Decoder(["compress"], 100)
