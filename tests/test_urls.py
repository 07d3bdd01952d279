"""URL normalization: one spelling per resource."""

import pytest

from crawler.urls import host_of, join_url, normalize_url

BASE = "http://example.com:8080/dir/page.html"


@pytest.mark.parametrize(("raw", "normal"), [
    ("HTTP://Example.COM/a", "http://example.com/a"),
    ("http://example.com", "http://example.com/"),
    ("http://example.com:80/a", "http://example.com/a"),
    ("https://example.com:443/a", "https://example.com/a"),
    ("https://example.com:80/a", "https://example.com:80/a"),
    ("http://example.com/a#frag", "http://example.com/a"),
    ("http://example.com/a/./b/../c", "http://example.com/a/c"),
    ("http://example.com/../../a", "http://example.com/a"),
    ("http://example.com/%7euser/%41%2f%3a", "http://example.com/~user/A%2F%3A"),
    ("http://example.com/a%2e%2E/b", "http://example.com/a../b"),
    ("http://example.com/%2e%2E/b", "http://example.com/b"),
    ("http://example.com/a b", "http://example.com/a%20b"),
    ("http://example.com/ä?q=ü", "http://example.com/%C3%A4?q=%C3%BC"),
    ("http://example.com/100%", "http://example.com/100%25"),
    ("http://bücher.example/", "http://xn--bcher-kva.example/"),
    ("http://EXAMPLE.com/Path/CASE?B=2&a=1", "http://example.com/Path/CASE?B=2&a=1"),
    ("http://[2001:DB8::1]:8080/x", "http://[2001:db8::1]:8080/x"),
    ("  http://example.com/x \n", "http://example.com/x"),
    ("http://example.com/?", "http://example.com/"),
])
def test_normal_forms(raw: str, normal: str) -> None:
    assert normalize_url(raw) == normal
    assert normalize_url(normal) == normal  # already normal stays so


@pytest.mark.parametrize("bad", [
    "mailto:someone@example.com", "javascript:void(0)", "ftp://example.com/", "data:text/html,x",
    "http://", "http:///path", "http://example.com:99999/", "http://[::1/", "http://exa mple.com/",
    "http://example.com/" + "a" * 2100,
])
def test_dropped(bad: str) -> None:
    assert normalize_url(bad) is None


@pytest.mark.parametrize(("href", "joined"), [
    ("other.html", "http://example.com:8080/dir/other.html"),
    ("./other.html", "http://example.com:8080/dir/other.html"),
    ("../top.html", "http://example.com:8080/top.html"),
    ("/abs", "http://example.com:8080/abs"),
    ("//cdn.example.com/x", "http://cdn.example.com/x"),
    ("?q=1", "http://example.com:8080/dir/page.html?q=1"),
    ("#top", None),
    ("", None),
    ("mailto:x@y.z", None),
    ("HTTP://EXAMPLE.COM:8080/dir/page.html#x", "http://example.com:8080/dir/page.html"),
])
def test_join(href: str, joined: str | None) -> None:
    assert join_url(BASE, href) == joined


def test_host_of() -> None:
    assert host_of("http://u:p@example.com:81/x") == "example.com:81"
    assert host_of("https://example.com/") == "example.com"


@pytest.mark.parametrize(("raw", "normal"), [
    ("http://127.1/", "http://127.0.0.1/"),
    ("http://2130706433/", "http://127.0.0.1/"),
    ("http://0x7f.1:8080/a", "http://127.0.0.1:8080/a"),
    ("http://0177.0.0.1/", "http://127.0.0.1/"),
    ("http://0xa9fea9fe/", "http://169.254.169.254/"),
    ("http://127.0.0.1./", "http://127.0.0.1/"),
    ("http://1.2.3.4.5/", None),  # ends in a number, so an address, and not a valid one
    ("http://256.0.0.1/", None),
    ("http://09.1.1.1/", None),
    ("http://a1/", "http://a1/"),
    ("http://box0x.com/", "http://box0x.com/"),
])
def test_ipv4_in_every_spelling_is_one_address(raw: str, normal: str | None) -> None:
    # As browsers read them (the WHATWG URL standard): one spelling per address, for dedupe
    # and for the SSRF guard.
    assert normalize_url(raw) == normal
