"""URL normalization: one spelling per resource, so that dedupe sees through cosmetic
differences. Runs for every link on every page, so the common case takes a fast path.

Rules (RFC 3986 section 6 syntax-based normalization, as in Heritrix and w3lib):
scheme and host lowercased, IDNA hosts to punycode, default ports dropped, fragment dropped,
an empty path made ``/``, percent-escapes upper-cased, escapes of unreserved characters decoded,
characters that must be escaped escaped (UTF-8), dot segments resolved. Paths keep their case and
queries their order.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from typing import Literal
from urllib.parse import urljoin, urlsplit

from crawler.defaults import DEFAULTS

log = logging.getLogger(__name__)

#: URLs longer than this are dropped unless a crawl says otherwise (``max_url_length``).
DEFAULT_MAX_LENGTH: int = DEFAULTS["max_url_length"]

_DEFAULT_PORTS = {"http": "80", "https": "443"}

# A URL that is already in normal form: lower-case http(s) scheme and host, an optional
# non-default port, a path and query made only of characters that stay as they are, no
# escapes, no fragment. Dot segments are checked apart.
_FAST = re.compile(
    r"https?://([a-z0-9][a-z0-9.-]*)(?::([1-9][0-9]{0,4}))?"
    r"/[A-Za-z0-9\-._~!$&'()*+,;=:@/]*(?:\?[A-Za-z0-9\-._~!$&'()*+,;=:@/?]+)?"
)
SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")  # a URL scheme and its colon (RFC 3986 3.1)
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# Characters left as they are in a path or query; anything else is percent-encoded.
_PATH_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/%")
_QUERY_SAFE = _PATH_SAFE | {"?"}
_STRIP = " \t\n\r\f\x00\x0b"
_HOST_OK = re.compile(r"[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?\.?")
_DOTTED_QUAD = re.compile(r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}"
                          r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])")
_NUMBER = re.compile(r"[0-9]+|0[xX][0-9a-fA-F]*")


_NORMAL_IPV4: set[str] = set()  # dotted quads seen in normal form (a crawl of an IP host asks per link)


def _normal_ipv4(host: str) -> bool:
    """Is ``host`` an IPv4 address in dotted-quad normal form?"""
    if host in _NORMAL_IPV4:
        return True
    if _DOTTED_QUAD.fullmatch(host) is None or host.startswith("0."):
        return False
    if len(_NORMAL_IPV4) > 10_000:
        _NORMAL_IPV4.clear()
    _NORMAL_IPV4.add(host)
    return True


def ipv4_host(host: str) -> str | Literal[False] | None:
    """A host that ends in a number is an IPv4 address in one of its spellings (as browsers
    read it, by the WHATWG URL standard): ``127.1``, ``2130706433``, ``0x7f.1`` and ``0177.0.0.1``
    are all ``127.0.0.1``. Returns the dotted quad, None when such a host is not a valid address,
    and False when the host does not end in a number (a name)."""
    parts = host.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    if not _NUMBER.fullmatch(parts[-1]):
        return False
    if len(parts) > 4:
        return None
    numbers = []
    for part in parts:
        if not _NUMBER.fullmatch(part):
            return None
        if part[:2] in ("0x", "0X"):
            numbers.append(int(part[2:] or "0", 16))
        elif len(part) > 1 and part[0] == "0":
            if not all(c in "01234567" for c in part):
                return None
            numbers.append(int(part, 8))
        else:
            numbers.append(int(part))
    if any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        return None
    value = numbers[-1]
    for i, n in enumerate(numbers[:-1]):
        value += n << (8 * (3 - i))
    return str(ipaddress.IPv4Address(value))


def _fix_escape(match: re.Match[str]) -> str:
    code = int(match.group(1), 16)
    return chr(code) if code in _UNRESERVED else "%" + match.group(1).upper()


def _encode(text: str, safe: frozenset[str]) -> str:
    """Percent-escape what ``safe`` does not hold (as UTF-8) and normalize existing escapes."""
    if "%" in text:
        text = _BAD_PERCENT.sub("%25", text)
    if not all(c in safe for c in text):
        text = "".join(
            c if c in safe else "".join(f"%{b:02X}" for b in c.encode("utf-8", "surrogatepass"))
            for c in text
        )
    if "%" in text:
        text = _ESCAPE.sub(_fix_escape, text)
    return text


def remove_dot_segments(path: str) -> str:
    """RFC 3986 5.2.4, on a path that starts with ``/``."""
    if "/." not in path:
        return path
    segments = path.split("/")
    out: list[str] = []
    for seg in segments[1:]:
        if seg == "..":
            if out:
                out.pop()
        elif seg != ".":
            out.append(seg)
    if segments[-1] in (".", ".."):
        out.append("")
    return "/" + "/".join(out)


def _normal_host(host: str) -> str | None:
    if not host:
        return None
    if host.startswith("["):
        try:
            address = ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return None
        if address.is_unspecified or (address.ipv4_mapped is not None and address.ipv4_mapped.packed[0] == 0):
            return None  # "this host": reaches the machine itself, never a site
        return "[" + address.compressed + "]"
    if "%" in host:
        host = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), host)
    host = host.lower()
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    if not _HOST_OK.fullmatch(host):
        return None
    if host[-1].isdigit() or host[-1] == "." or "0x" in host:
        quad = ipv4_host(host)
        if isinstance(quad, str) and quad.startswith("0."):
            return None  # 0.0.0.0/8, "this network": on Linux it reaches this machine, never a site
        if quad is not False:
            return quad
    return host


def normalize_url(url: str, max_length: int = DEFAULT_MAX_LENGTH) -> str | None:
    """The normal form of an absolute http(s) URL, or None when it is not one (logged at debug)
    or is longer than ``max_length``."""
    if len(url) > max_length:
        log.debug("dropped URL longer than %d characters: %.80s...", max_length, url)
        return None
    match = _FAST.fullmatch(url)
    if match is not None:
        port = match.group(2)
        end = match.end(1)  # of the host: one that ends in a number (or has 0x) may be an IPv4 spelling
        if "/." not in url and (port is None or (
                int(port) <= 65535 and port != _DEFAULT_PORTS[(url[4] == "s" and "https") or "http"])) and (
                (url[end - 1] not in "0123456789." and url.find("0x", 7, end) < 0)
                or _normal_ipv4(match.group(1))):
            return url
    return _normalize_slow(url, max_length)


def _normalize_slow(url: str, max_length: int) -> str | None:
    url = url.strip(_STRIP)
    if "\t" in url or "\n" in url or "\r" in url:
        url = url.replace("\t", "").replace("\n", "").replace("\r", "")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        log.debug("dropped unparsable URL: %.200r", url)
        return None
    scheme = parts.scheme.lower()
    if port == 0:
        log.debug("dropped URL with port 0: %.200r", url)
        return None
    if scheme not in _DEFAULT_PORTS:
        log.debug("dropped URL with scheme %r: %.200r", scheme, url)
        return None
    netloc = parts.netloc
    userinfo = ""
    if "@" in netloc:
        userinfo, _, netloc = netloc.rpartition("@")
        userinfo = _encode(userinfo, _PATH_SAFE - {"@", "/"}) + "@"
    if netloc.startswith("["):
        host = netloc[: netloc.find("]") + 1]
    else:
        host = netloc.rsplit(":", 1)[0] if ":" in netloc else netloc
    normal_host = _normal_host(host)
    if normal_host is None:
        log.debug("dropped URL with a bad host: %.200r", url)
        return None
    host = normal_host
    if port is not None and port != int(_DEFAULT_PORTS[scheme]):
        host = f"{host}:{port}"
    path = remove_dot_segments(_encode(parts.path or "/", _PATH_SAFE))
    if not path.startswith("/"):
        path = "/" + path
    query = _encode(parts.query, _QUERY_SAFE)
    result = f"{scheme}://{userinfo}{host}{path}" + (f"?{query}" if query else "")
    if len(result) > max_length:
        log.debug("dropped URL longer than %d characters: %.80s...", max_length, result)
        return None
    return result


def join_url(base: str, href: str, max_length: int = DEFAULT_MAX_LENGTH) -> str | None:
    """Resolve ``href`` against the absolute, normalized ``base`` and normalize the result."""
    href = href.strip(_STRIP)
    if not href or href[0] == "#":
        return None
    if href[0] == "/" and href[1:2] != "/":
        # Path-absolute: the common case on most sites; skip urljoin.
        end = base.find("/", base.find("//") + 2)
        joined = (base[:end] if end > 0 else base) + href
    elif SCHEME.match(href):
        joined = href
    elif href[0] not in "/?\\":
        # Relative path: the base's directory plus the href; dot segments go in normalize_url.
        query = base.find("?")
        path_end = base.rfind("/", 0, query) if query > 0 else base.rfind("/")
        joined = base[: path_end + 1] + href
    else:
        try:
            joined = urljoin(base, href)
        except ValueError:
            log.debug("dropped unparsable link %.200r on %s", href, base)
            return None
    if "#" in joined:
        joined = joined[: joined.find("#")]
    return normalize_url(joined, max_length)


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a normalized URL."""
    end = url.find("/", url.find("//") + 2)
    return url if end < 0 else url[:end]


def host_of(url: str) -> str:
    """The ``host[:port]`` of a normalized URL (the key of per-host limits)."""
    start = url.find("//") + 2
    end = url.find("/", start)
    netloc = url[start:end] if end > 0 else url[start:]
    return netloc.rpartition("@")[2]


def hostname_of(url: str) -> str:
    """The host name of a normalized URL, without port (IPv6 literals keep their brackets)."""
    netloc = host_of(url)
    if netloc.startswith("["):
        return netloc[: netloc.find("]") + 1]
    return netloc.split(":", 1)[0]


_TYPO_SCHEME = re.compile(r"(?i)(h[a-z]{1,5})(//|:/(?!/)|;//|:(?!/))")
_WRONG_SCHEME = re.compile(r"(?i)([a-z][a-z0-9+.-]*)://")


def _near(word: str, target: str) -> bool:
    """Is ``word`` one letter off ``target`` (one added, dropped, changed or two swapped)?"""
    if word == target or abs(len(word) - len(target)) > 1:
        return False
    if len(word) == len(target):
        diff = [i for i, (a, b) in enumerate(zip(word, target, strict=True)) if a != b]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and
                                  word[diff[0]] == target[diff[1]] and word[diff[1]] == target[diff[0]])
    short, long = sorted((word, target), key=len)
    return any(long[:i] + long[i + 1:] == short for i in range(len(long)))


def seed_problem(text: str) -> str | None:
    """What is wrong with ``text`` as a URL to crawl, with a hint, when it is a typo of one
    (``http//host/``, ``http:/host``, ``htp://host``, ``http://host:99999/``); None when it
    looks like what was meant. Read before a seed without a scheme is taken as ``http://``, so
    that ``http//host/`` is not crawled as the host ``http``."""
    match = _TYPO_SCHEME.match(text)
    if match is not None:
        scheme = match.group(1).lower()
        if scheme in ("http", "https") or _near(scheme, "http") or _near(scheme, "https"):
            fixed = ("https" if scheme.endswith("s") else "http") + "://" + text[match.end():].lstrip("/")
            return f"{text[:200]!r} is not a URL: did you mean {fixed[:200]!r}?"
    match = _WRONG_SCHEME.match(text)
    if match is not None:
        scheme = match.group(1).lower()
        if scheme not in ("http", "https") and (_near(scheme, "http") or _near(scheme, "https")):
            fixed = ("https" if scheme.endswith("s") else "http") + text[len(scheme):]
            return f"{text[:200]!r}: {scheme}:// is no scheme: did you mean {fixed[:200]!r}?"
        if scheme not in ("http", "https"):
            return f"{text[:200]!r}: only http:// and https:// URLs are crawled, not {scheme}://"
    try:
        parts = urlsplit(text if "://" in text else "http://" + text)
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError as e:
        if "port" in str(e).lower():
            port = parts.netloc.rsplit(":", 1)[-1]
            return f"{text[:200]!r}: the port {port[:20]} is not one (a port is 1 to 65535)"
        return f"{text[:200]!r} is not a URL ({e})"
    return None
