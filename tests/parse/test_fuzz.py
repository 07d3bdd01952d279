"""Property tests: whatever the input, the normalizer and the link extractor give absolute
http(s) URLs in normal form, and never raise."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.parse.html import parse_html
from crawler.urls import join_url, normalize_url

URL_CHARS = st.characters(codec="utf-8", exclude_categories=("Cs",))
PIECES = st.sampled_from(["http://", "https://", "HTTP://", "ftp://", "//", "/", "./", "../", "?", "#", "%",
                          "%2e", "%41", "@", ":", ":80", ":443", ":99999", "[", "]", "::1", "..", ".", " ", "\t",
                          "example.com", "EXAMPLE.com", "bücher.de", "a", "b", "=", "&", "127.0.0.1", "xn--",
                          "0x7f", "0X", "2130706433", "0177", "1.2.3.4.5", "127.1", "09", "4294967296", ".."])
URLS = st.one_of(st.text(URL_CHARS, max_size=80), st.lists(st.one_of(PIECES, st.text(URL_CHARS, max_size=5)),
                                                            max_size=12).map("".join))


def assert_normal(url: str | None) -> None:
    if url is None:
        return
    assert url.startswith(("http://", "https://"))
    assert "#" not in url
    assert normalize_url(url) == url  # normalizing again changes nothing


@pytest.mark.slow
@settings(max_examples=800, deadline=None)
@given(URLS)
def test_normalize_is_idempotent_and_safe(raw: str) -> None:
    assert_normal(normalize_url(raw))


@settings(max_examples=600, deadline=None)
@given(URLS)
def test_join_gives_normal_absolute_urls(href: str) -> None:
    assert_normal(join_url("http://example.com/dir/page.html?q=1", href))


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=2000),
                 st.lists(st.tuples(st.sampled_from(["a", "area", "base", "meta", "title", "div"]), URLS),
                          max_size=20).map(lambda tags: "".join(
                              f'<{t} href="{h}" name="robots" content="{h}">{h}</{t}>' for t, h in tags).encode())))
def test_link_extraction_never_raises(body: bytes) -> None:
    page = parse_html(body, None, "http://example.com/x/", lambda url: True, 2083)
    for link in page.links:
        assert_normal(link)
