"""Scope: host, registered domain, allow/deny lists, include/exclude regexes."""

from crawler import load_settings
from crawler.core.scope import Scope, registered_domain

SEED = "http://www.example.co.uk/"


def scope(**settings) -> Scope:
    return Scope(load_settings(settings), [SEED])


def test_registered_domain_uses_public_suffix_list() -> None:
    assert registered_domain("a.b.example.co.uk") == "example.co.uk"
    assert registered_domain("www.example.com") == "example.com"
    assert registered_domain("127.0.0.1") == "127.0.0.1"
    assert registered_domain("localhost") == "localhost"


def test_host_scope() -> None:
    s = scope()
    assert s.allows("http://www.example.co.uk/page")
    assert s.allows("https://www.example.co.uk:8443/page")  # scope is by host name
    assert not s.allows("http://shop.example.co.uk/")
    assert not s.allows("http://other.co.uk/")


def test_domain_scope() -> None:
    s = scope(scope="domain")
    assert s.allows("http://shop.example.co.uk/")
    assert not s.allows("http://another.co.uk/")  # co.uk is a public suffix, not a shared domain


def test_any_scope_and_deny() -> None:
    s = scope(scope="any", deny_domain=["ads.net"])
    assert s.allows("http://anything.org/")
    assert not s.allows("http://ads.net/x")
    assert not s.allows("http://cdn.ads.net/x")


def test_allow_domain_extends_host_scope() -> None:
    s = scope(allow_domain=["partner.org"])
    assert s.allows("http://docs.partner.org/a")
    assert not s.allows("http://notpartner.org/a")


def test_allow_domain_narrows_scope_any_to_those_domains_and_the_seeds() -> None:
    s = scope(scope="any", allow_domain=["test"])
    assert s.allows("https://h1.test/a") and s.allows("https://h2.sub.test/")
    assert not s.allows("http://other.example/a")
    assert s.allows("http://www.example.co.uk/more")  # the seed's own host
    assert scope(scope="any").allows("http://other.example/a")  # without --allow-domain: anywhere


def test_include_exclude() -> None:
    s = scope(include=[r"/blog/"], exclude=[r"\?print=1"])
    assert s.allows("http://www.example.co.uk/blog/post")
    assert not s.allows("http://www.example.co.uk/shop/item")
    assert not s.allows("http://www.example.co.uk/blog/post?print=1")
