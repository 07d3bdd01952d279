"""What makes a page look built by script (--render auto), and when rendering changed it."""

from __future__ import annotations

import pytest

from crawler.parse.scripted import changed, has_scripts, page_shape

PLAIN = (b"<html><body><h1>Hello</h1><p>" + b"A page that says it in HTML. " * 20
         + b'</p><a href="/b">b</a></body></html>')


@pytest.mark.parametrize(("body", "reason"), [
    (b'<div id="root"></div><script src="/app.js"></script>', "app_root"),
    (b'<div id="__next">  </div><SCRIPT>boot()</SCRIPT>', "app_root"),
    (b"<body><noscript>You need to enable JavaScript to run this app.</noscript><script src=a.js></script>"
     b"<p>" + b"Some words. " * 30 + b"</p></body>", "noscript"),
    (b'<a href="javascript:go(2)">next</a><script>function go(n) {}</script>', "script_links"),
    (b"<p>Loading...</p><script src=/bundle.js></script>", "little_text"),
    (PLAIN.replace(b"</body>", b"<script>track()</script></body>"), None),  # text enough: left alone
])
def test_the_signals(body: bytes, reason: str | None) -> None:
    assert has_scripts(body)
    assert page_shape(body, None, "http://site.test/").reason == reason


def test_a_page_without_scripts_is_not_even_parsed_for_it() -> None:
    assert not has_scripts(PLAIN) and not has_scripts(b'<div id="root"></div><noscript>enable JavaScript</noscript>')


def test_rendering_changed_the_page_when_it_added_links_or_text() -> None:
    before = page_shape(b'<div id="root"></div><script src=a.js></script>', None, "http://site.test/")
    same = page_shape(b'<div id="root"></div>', None, "http://site.test/")
    built = page_shape(b'<div id="root"><a href="/item/1">1</a></div>', None, "http://site.test/")
    wordy = page_shape(b'<div id="root"><p>' + b"word " * 40 + b"</p></div>", None, "http://site.test/")
    assert not changed(before, same) and changed(before, built) and changed(before, wordy)
    assert built.links == frozenset({"http://site.test/item/1"})
