"""Scrapy's selector idioms on selectolax, the fast path: ``css("h1::text").get()``,
``css("a::attr(href)").getall()``, ``.re()``, ``.attrib``, chained ``css()``; and ``xpath()``
through parsel (the library Scrapy's selectors are), built only for the pages that ask.

A :class:`Selector` is one match: an element (whose selectolax node's own methods and
attributes it passes on: ``.attributes``, ``.tag``, ``.css_first()``...), or a string (a text
node, an attribute's value). :meth:`Selector.text` with ``strip=True`` gives an element's text
as a reader sees it: words joined by single spaces, block elements apart, scripts left out.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterable
from re import Pattern
from types import FrameType
from typing import Any, SupportsIndex, overload

from selectolax.lexbor import LexborNode, SelectolaxError

_PSEUDO = re.compile(r"::(text|attr\(\s*['\"]?([^'\")\s]+)['\"]?\s*\))\s*$")
# Elements whose start and end are a break between words for a reader.
BLOCKS = frozenset({
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "fieldset", "figcaption", "figure",
    "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre",
    "section", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul", "option", "caption", "summary", "details",
})
UNREAD = frozenset({"script", "style", "noscript", "template", "head"})  # text no reader sees
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class SelectorError(ValueError):
    """A selector that cannot be parsed: names it, and where in the spider it was used."""


def _caller() -> str:
    """``file:line`` of the first frame outside the crawler package (the spider's line)."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not os.path.abspath(filename).startswith(_PACKAGE + os.sep):
            return f"{os.path.basename(filename)}:{frame.f_lineno}"
        frame = frame.f_back
    return "?"


def _bad(query: str, kind: str, error: Exception) -> SelectorError:
    return SelectorError(f"bad {kind} selector {query!r} (at {_caller()}): {error}")


def split_groups(query: str) -> list[str]:
    """A selector's comma-separated groups (commas inside quotes, brackets and parentheses kept)."""
    groups, depth, quote, start = [], 0, "", 0
    for i, char in enumerate(query):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "," and depth == 0:
            groups.append(query[start:i])
            start = i + 1
    groups.append(query[start:])
    return groups


def reader_text(node: LexborNode) -> str:
    """The text of ``node`` as a reader sees it: whitespace runs as one space, a break at the
    edges of block elements, script and style left out."""
    parts: list[str] = []
    _walk(node, parts)
    return " ".join("".join(parts).split())


def _walk(node: LexborNode, parts: list[str]) -> None:
    child = node.child
    while child is not None:
        tag = child.tag or ""
        if tag == "-text":
            parts.append(child.text_content or "")
        elif tag not in UNREAD and not tag.startswith("-"):
            block = tag in BLOCKS
            if block:
                parts.append(" ")
            _walk(child, parts)
            if block:
                parts.append(" ")
        child = child.next


class Selector:
    """One match of a selector: an element, or a string (a text node, an attribute's value)."""

    __slots__ = ("_node", "_parsel", "_value")

    def __init__(self, node: LexborNode | None = None, value: str | None = None,
                 parsel: Callable[[], Any] | None = None) -> None:
        self._node = node
        self._value = value
        self._parsel = parsel  # the page's parsel selector, made when first asked (xpath)

    @property
    def root(self) -> LexborNode | str:
        """The selectolax node, or the string."""
        return self._node if self._node is not None else self._value or ""

    def get(self) -> str:
        """The element's HTML, or the string."""
        if self._node is None:
            return self._value or ""
        return self._node.html or ""

    extract = get

    def getall(self) -> list[str]:
        """``[self.get()]``, as parsel has it."""
        return [self.get()]

    def css(self, query: str) -> SelectorList:
        """Matches of ``query`` inside this element (``::text`` and ``::attr(name)`` included)."""
        if self._node is None:
            return SelectorList()
        return select(self._node, query, self._parsel)

    def css_first(self, query: str) -> Selector | None:
        """The first match of ``query`` inside this element, or None."""
        found = self.css(query)
        return found[0] if found else None

    def xpath(self, query: str, **namespaces: Any) -> Any:
        """An XPath query on this element, through parsel (a parsel ``SelectorList``)."""
        import parsel

        if self._node is None:
            return parsel.SelectorList()
        fragment = parsel.Selector(text=self._node.html or "")
        try:
            roots = fragment.xpath("/html/body/*[1] | /html/head/*[1]") or fragment.xpath("/*")
            return roots[:1].xpath(query, namespaces=namespaces or None)
        except ValueError as e:
            raise _bad(query, "XPath", e) from None

    @property
    def attrib(self) -> dict[str, str]:
        """The element's attributes (empty for a string)."""
        if self._node is None:
            return {}
        return {k: v or "" for k, v in self._node.attributes.items()}

    def re(self, regex: str | Pattern[str]) -> list[str]:
        """What ``regex`` finds in :meth:`get` (its groups, when it has them), as parsel's."""
        return _re(regex, self.get())

    def re_first(self, regex: str | Pattern[str], default: str | None = None) -> str | None:
        """The first of :meth:`re`, else ``default``."""
        found = self.re(regex)
        return found[0] if found else default

    def text(self, deep: bool = True, separator: str = "", strip: bool = False) -> str:
        """The element's text: with ``strip=True``, as a reader sees it (words joined by single
        spaces, block elements apart, scripts and styles left out); otherwise selectolax's."""
        if self._node is None:
            value = self._value or ""
            return " ".join(value.split()) if strip else value
        if strip and deep and not separator:
            return reader_text(self._node)
        return self._node.text(deep=deep, separator=separator, strip=strip)

    def __getattr__(self, name: str) -> Any:
        node = object.__getattribute__(self, "_node")
        if node is None:
            raise AttributeError(f"a string match has no {name!r} (it is {self._value!r})")
        return getattr(node, name)

    def __str__(self) -> str:
        return self.get()

    def __repr__(self) -> str:
        shown = self.get()
        return f"<Selector {shown[:60]!r}{'...' if len(shown) > 60 else ''}>"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Selector):
            return self._node == other._node and self._value == other._value
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self._node, self._value))


class SelectorList(list[Selector]):
    """Matches, with parsel's methods over all of them."""

    @overload
    def __getitem__(self, index: SupportsIndex) -> Selector: ...

    @overload
    def __getitem__(self, index: slice) -> SelectorList: ...

    def __getitem__(self, index: SupportsIndex | slice) -> Selector | SelectorList:
        if isinstance(index, slice):
            return SelectorList(list.__getitem__(self, index))
        return list.__getitem__(self, index)

    def get(self, default: str | None = None) -> str | None:
        """The first match's :meth:`Selector.get`, else ``default``."""
        return self[0].get() if self else default

    extract_first = get

    def getall(self) -> list[str]:
        """Every match's :meth:`Selector.get`."""
        return [s.get() for s in self]

    extract = getall

    def css(self, query: str) -> SelectorList:
        """``query`` inside every match, in order."""
        return SelectorList(found for s in self for found in s.css(query))

    def xpath(self, query: str, **namespaces: Any) -> Any:
        """An XPath query inside every match (a parsel ``SelectorList``)."""
        import parsel

        return parsel.SelectorList(found for s in self for found in s.xpath(query, **namespaces))

    def re(self, regex: str | Pattern[str]) -> list[str]:
        """What ``regex`` finds in every match."""
        return [found for s in self for found in s.re(regex)]

    def re_first(self, regex: str | Pattern[str], default: str | None = None) -> str | None:
        """The first of :meth:`re`, else ``default``."""
        for s in self:
            found = s.re(regex)
            if found:
                return found[0]
        return default

    @property
    def attrib(self) -> dict[str, str]:
        """The first match's attributes (empty when there is none)."""
        return self[0].attrib if self else {}


def _re(regex: str | Pattern[str], text: str) -> list[str]:
    pattern = re.compile(regex) if isinstance(regex, str) else regex
    found: list[str] = []
    for match in pattern.finditer(text):
        if "extract" in pattern.groupindex:
            found.append(match.group("extract") or "")
        elif pattern.groups:
            found.extend(g or "" for g in match.groups())
        else:
            found.append(match.group(0))
    return found


def select(node: Any, query: str, parsel: Callable[[], Any] | None) -> SelectorList:
    """The matches of a CSS ``query`` under ``node`` (a tree or an element). ``::text`` (the
    text children; with a space before it, every text below) and ``::attr(name)`` end a
    selector as in parsel; a selector of several groups with such endings goes to parsel, as
    does anything selectolax cannot read but parsel can."""
    match = _PSEUDO.search(query)
    if match is None:
        try:
            return SelectorList(Selector(n, parsel=parsel) for n in node.css(query))
        except (ValueError, SelectolaxError) as e:
            result: SelectorList = _through_parsel(node, query, parsel, e)  # parsel's list: the same methods
            return result
    if len(split_groups(query)) > 1:
        result = _through_parsel(node, query, parsel, None)
        return result
    base = query[:match.start()]
    below = base != base.rstrip()  # "div ::text": every text below, not the text children only
    base = base.strip()
    if re.search(r"\s\*$", base):  # "div *::text" is "div ::text" to parsel (descendant-or-self::text())
        base, below = base[:-1].strip(), True
    root = node if isinstance(node, LexborNode) else node.root
    if base:
        try:
            elements: list[LexborNode] = list(node.css(base))
        except (ValueError, SelectolaxError) as e:
            result = _through_parsel(node, query, parsel, e)
            return result
    elif isinstance(node, LexborNode):
        elements = [node]
    else:  # "::text" of the page: every text of it
        elements, below = ([root] if root is not None else []), True
    if match.group(1) == "text":
        return SelectorList(Selector(value=t.text_content or "", parsel=parsel)
                            for t in _texts(root, elements, below))
    found = SelectorList()
    name = match.group(2)
    for element in elements:
        attributes = element.attributes
        if name in attributes:
            found.append(Selector(value=attributes[name] or "", parsel=parsel))
    return found


def _texts(root: LexborNode | None, elements: list[LexborNode], below: bool) -> Iterable[LexborNode]:
    """The text nodes of ``elements`` (their children; ``below``: every text under them) in
    document order, each once."""
    if len(elements) == 1:
        element = elements[0]
        texts = element.traverse(include_text=True) if below else element.iter(include_text=True)
        return [t for t in texts if t.tag == "-text"]
    if not elements or root is None:
        return []
    matched = {e.mem_id for e in elements}
    found = []
    for t in root.traverse(include_text=True):
        if t.tag != "-text":
            continue
        parent = t.parent
        if not below:
            if parent is not None and parent.mem_id in matched:
                found.append(t)
            continue
        while parent is not None and parent.mem_id not in matched:
            parent = parent.parent
        if parent is not None:
            found.append(t)
    return found


def _through_parsel(node: Any, query: str, parsel: Callable[[], Any] | None, error: Exception | None) -> Any:
    """``query`` by parsel, on the page (when ``node`` is the page), else on the element."""
    import parsel as parsel_module
    from cssselect import SelectorError as CssError

    try:
        if isinstance(node, LexborNode) and node.tag not in ("html", "-document"):
            return Selector(node, parsel=parsel).xpath(parsel_module.csstranslator.HTMLTranslator().css_to_xpath(
                query, prefix="descendant-or-self::"))
        root = parsel() if parsel is not None else parsel_module.Selector(text=node.html or "")
        return root.css(query)
    except (CssError, ValueError) as e:
        raise _bad(query, "CSS", error or e) from None


__all__ = ["BLOCKS", "Selector", "SelectorError", "SelectorList", "reader_text", "select", "split_groups"]
