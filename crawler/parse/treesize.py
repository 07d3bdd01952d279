"""How deep and how big a tree a page's markup makes an HTML parser build, told before lexbor
builds it, so that no page can take the crawl's memory or its event loop.

Two shapes blow up a standard HTML tree builder, and lexbor follows the standard to the letter:

- **Nesting**: 100,000 nested ``<div>`` take lexbor a minute (its work grows with the square of
  the depth). Browsers stop nesting at a few hundred (Blink at 512). A page is parsed up to the
  point where its elements nest more than :data:`MAX_NESTING` deep.
- **Formatting elements left open** (``<p><b id=1>x</p><p><b id=2>x</p>...``): the standard has
  the parser re-create every open ``<b>``, ``<i>``, ``<font>``... in each new paragraph, so N of
  them cost N x N elements (107 KB of them took 2.9 GB). A page that would make the parser
  re-create more than :data:`MAX_REBUILT` of them raises :class:`TooComplex`: its record gets
  error ``content``.

The depth is the real one: elements closed by implied end tags (``<li>``, ``<p>``, ``<tr>``,
``<td>``, ``<option>``, ``<dt>``/``<dd>``... without their end tags) do not add up, and the
contents of ``<script>``, ``<style>``, ``<textarea>``, ``<title>`` and comments are not markup.
The model is the standard's tree construction in outline (open elements, implied end tags, the
list of active formatting elements with its markers and its "Noah's Ark" clause); it only runs
on pages that could reach a bound at all (more tags than the bounds allow for), a linear scan.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections import Counter

log = logging.getLogger(__name__)

MAX_NESTING = 2048  # elements open at once; lexbor's tree building turns quadratic far above it
MAX_REBUILT = 200_000  # formatting elements the parser may re-create (about 70 MB of lexbor's nodes)


class TooComplex(ValueError):
    """Markup that would make the parser build a tree far larger than the page."""


VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
                  "wbr", "param", "keygen", "basefont", "bgsound", "frame", "image"})
FORMATTING = frozenset({"a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong",
                        "tt", "u"})
MARKERS = frozenset({"applet", "caption", "marquee", "object", "td", "th", "template"})
RAW_TEXT = frozenset({"script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes"})
# Start tags that close an open <p> (and need no formatting element re-created before them).
BLOCKS = frozenset({"address", "article", "aside", "blockquote", "center", "details", "dialog", "dir", "div", "dl",
                    "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
                    "header", "hgroup", "hr", "main", "menu", "nav", "ol", "p", "pre", "section", "summary", "table",
                    "ul", "li", "dd", "dt", "listing", "plaintext", "search"})
HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
# The boundaries of "in scope" (the standard's default scope, and button scope for <p>).
SCOPE = frozenset({"applet", "caption", "html", "table", "td", "th", "marquee", "object", "template", "svg",
                   "math", "button", "body"})
# Start tag -> (names it closes when one is open in scope, names that stop the search): implied end tags.
IMPLIED = {
    "li": (frozenset({"li"}), SCOPE | {"ul", "ol", "menu"}),
    "dt": (frozenset({"dt", "dd"}), SCOPE | {"dl"}),
    "dd": (frozenset({"dt", "dd"}), SCOPE | {"dl"}),
    "tr": (frozenset({"tr"}), frozenset({"table", "template", "html"})),
    "td": (frozenset({"td", "th"}), frozenset({"tr", "table", "template", "html"})),
    "th": (frozenset({"td", "th"}), frozenset({"tr", "table", "template", "html"})),
    "thead": (frozenset({"thead", "tbody", "tfoot"}), frozenset({"table", "template", "html"})),
    "tbody": (frozenset({"thead", "tbody", "tfoot"}), frozenset({"table", "template", "html"})),
    "tfoot": (frozenset({"thead", "tbody", "tfoot"}), frozenset({"table", "template", "html"})),
    "option": (frozenset({"option"}), frozenset({"select", "datalist", "optgroup", "body", "html"})),
    "optgroup": (frozenset({"option", "optgroup"}), frozenset({"select", "body", "html"})),
}
CLOSES_P = (frozenset({"p"}), SCOPE)
REACH = 64  # elements looked through for an implied end tag, a formatting element or its twins
_TOKEN = re.compile(r"<!--|<(/?)([A-Za-z][^\s/>]*)([^>]*)>")
_RAW_END: dict[str, re.Pattern[str]] = {name: re.compile(rf"</{name}[\s/>]", re.IGNORECASE) for name in RAW_TEXT}


class _Entry:
    """An element on the list of active formatting elements."""

    __slots__ = ("key", "name", "open")

    def __init__(self, name: str, key: str) -> None:
        self.name = name
        self.key = key  # the start tag as written: the Noah's Ark clause compares tag and attributes
        self.open = True  # on the stack of open elements (else the parser re-creates it)


def sane_prefix(text: str) -> str:
    """``text``, up to where its elements nest more than :data:`MAX_NESTING` deep (all of it,
    nearly always); :class:`TooComplex` if it would have the parser re-create more than
    :data:`MAX_REBUILT` formatting elements.

    A page with few tags is cleared by counting them (microseconds). Others get one pass over
    their tag names for two bounds that can only be too high (depth counting implied end tags
    as open; formatting elements left open at once, re-created at every later tag); the model
    runs only on a page those bounds cannot clear."""
    tags = text.count("<")
    if tags <= MAX_NESTING and tags * tags // 4 <= MAX_REBUILT:
        return text  # too few tags to reach either bound
    names = _TAG_NAME.findall(text.lower())
    if _open_formatting_bound(names) * tags <= MAX_REBUILT and (tags <= MAX_NESTING or _depth_bound(names)
                                                                 <= MAX_NESTING):
        return text
    return _Model(text).run()


_TAG_NAME = re.compile(r"<(/?[a-z][a-z0-9]*)")
FORMATTING_COUNTED = FORMATTING - {"a", "nobr"}  # a new <a> or <nobr> ends the one open: never many
_FORMATTING_TAGS = FORMATTING_COUNTED | {"/" + name for name in FORMATTING_COUNTED}


class _Steps(dict[str, int]):
    """Tag name ("div", "/div") -> its step of the nesting count (void elements: 0)."""

    def __missing__(self, tag: str) -> int:
        step = -1 if tag[0] == "/" else 0 if tag in VOID else 1
        if len(self) < 10_000:
            self[tag] = step
        return step


_STEPS = _Steps()


def _depth_bound(names: list[str]) -> int:
    """A depth the page cannot nest beyond: every non-void start tag opens, every end tag
    closes (implied end tags count as open), and the running count's whole range bounds its
    deepest rise. C-level work only."""
    sums = list(itertools.accumulate(map(_STEPS.__getitem__, names), initial=0))
    return max(sums) - min(sums)


def _open_formatting_bound(names: list[str]) -> int:
    """How many formatting elements the page can have open at once, at most: each name's own
    running count, since an end tag closes only its own name."""
    found = [name for name in names if name in _FORMATTING_TAGS]
    if len(found) <= 1:
        return len(found)
    open_by: Counter[str] = Counter()
    now = most = 0
    for name in found:
        if name[0] != "/":
            open_by[name] += 1
            now += 1
            if now > most:
                most = now
        elif open_by[name[1:]]:
            open_by[name[1:]] -= 1
            now -= 1
    return most


class _Model:
    """The standard's tree construction in outline: how deep, how many re-created elements."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.stack: list[tuple[str, _Entry | None]] = []  # open elements
        self.names: Counter[str] = Counter()  # of the open elements
        self.active: list[_Entry | None] = []  # active formatting elements; None is a marker
        self.closed = 0  # entries of ``active`` not on the stack: re-created at the next content
        self.rebuilt = 0
        self.foreign = 0  # inside <svg> or <math>, where "/>" closes an element

    def run(self) -> str:
        text = self.text
        pos = 0  # where the markup goes on (after raw text and comments)
        last = 0  # end of the previous tag
        for match in _TOKEN.finditer(text):
            start = match.start()
            if start < pos:
                continue  # inside a comment or raw text
            if match.group(0) == "<!--":
                end = text.find("-->", match.end())
                pos = last = len(text) if end < 0 else end + 3
                continue
            if self.closed and start > last and not text[last:start].isspace():
                self._rebuild()  # text re-creates the formatting elements closed around it
            last = pos = match.end()
            name = match.group(2).lower()
            if match.group(1):
                self._end(name)
                continue
            if name == "plaintext":
                break  # the rest is text
            self._start(name, match.group(0).lower(), match.group(3).endswith("/"))
            if len(self.stack) > MAX_NESTING:
                log.debug("HTML nested more than %d deep: parsing the first %d characters", MAX_NESTING, start)
                return text[:start]
            if self.rebuilt > MAX_REBUILT:
                raise TooComplex(f"its formatting elements left open would make the parser build more than "
                                 f"{MAX_REBUILT} elements again and again")
            if name in RAW_TEXT:
                end_match = _RAW_END[name].search(text, pos)
                pos = last = len(text) if end_match is None else end_match.start()
        return text

    def _start(self, name: str, tag: str, self_closing: bool) -> None:
        if name in ("html", "head", "body"):
            return
        if name in VOID or (self_closing and self.foreign):
            if self.closed:
                self._rebuild()
            return
        if name in BLOCKS and self.names["p"]:
            self._close_implied(CLOSES_P)
        if name in HEADINGS and self.stack and self.stack[-1][0] in HEADINGS:
            self._pop_to(self.stack[-1][0])
        implied = IMPLIED.get(name)
        if implied is not None:
            self._close_implied(implied)
        if name in ("a", "nobr"):
            self._end(name)  # a new <a> ends the one still open (the adoption agency)
        if name not in BLOCKS and self.closed:
            self._rebuild()
        entry = None
        if name in FORMATTING:
            entry = self._remember(name, tag)
        elif name in MARKERS:
            self.active.append(None)
        if name in ("svg", "math"):
            self.foreign += 1
        self._push(name, entry)

    def _close_implied(self, rule: tuple[frozenset[str], frozenset[str]]) -> None:
        """Close the nearest open element of ``rule``'s names, unless one of its stops comes
        first (looking through at most REACH elements: beyond, nothing is closed, so the depth
        is never under-counted)."""
        closes, stops = rule
        for open_name, _ in self.stack[: -REACH - 1: -1]:
            if open_name in closes:
                self._pop_to(open_name)
                return
            if open_name in stops:
                return

    def _push(self, name: str, entry: _Entry | None) -> None:
        self.stack.append((name, entry))
        self.names[name] += 1

    def _remember(self, name: str, tag: str) -> _Entry:
        """A formatting element goes on the active list; a fourth one of the same tag and
        attributes since the last marker pushes out the earliest (Noah's Ark)."""
        same = []
        for entry in self.active[: -REACH - 1: -1]:
            if entry is None:
                break
            if entry.key == tag:
                same.append(entry)
        if len(same) >= 3:
            earliest = same[-1]
            self.active.remove(earliest)
            if not earliest.open:
                self.closed -= 1
        entry = _Entry(name, tag)
        self.active.append(entry)
        return entry

    def _rebuild(self) -> None:
        """Re-create the formatting elements after the last one still open (or the last
        marker), as the standard's "reconstruct the active formatting elements" does."""
        first = len(self.active)
        while first and self.active[first - 1] is not None and not self.active[first - 1].open:  # type: ignore[union-attr]
            first -= 1
        for entry in self.active[first:]:
            assert entry is not None
            entry.open = True
            self._push(entry.name, entry)
            self.rebuilt += 1
            self.closed -= 1

    def _end(self, name: str) -> None:
        if name in ("html", "body", "br"):
            return
        if name in FORMATTING:
            for entry in self.active[: -REACH - 1: -1]:
                if entry is None:
                    break
                if entry.name == name:
                    self.active.remove(entry)
                    if entry.open:
                        entry.open = False  # gone from the list: not to be re-created
                        self._pop_to(name)
                    else:
                        self.closed -= 1
                    return
        if self.names[name]:
            self._pop_to(name)

    def _pop_to(self, name: str) -> None:
        """Pop the open elements up to and with the last ``name``."""
        while self.stack:
            open_name, entry = self.stack.pop()
            self.names[open_name] -= 1
            if entry is not None and entry.open:
                entry.open = False
                self.closed += 1
            if open_name in MARKERS:
                while self.active:
                    marker = self.active.pop()
                    if marker is None:
                        break
                    if not marker.open:
                        self.closed -= 1
            if open_name in ("svg", "math"):
                self.foreign -= 1
            if open_name == name:
                return


__all__ = ["MAX_NESTING", "MAX_REBUILT", "TooComplex", "sane_prefix"]
