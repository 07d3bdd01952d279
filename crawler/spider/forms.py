"""HTML forms as requests: the fields a browser would submit for a form of a page (hidden inputs
included, the first submit button clicked), with the caller's ``formdata`` over them, as Scrapy's
``FormRequest.from_response`` does."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode

from crawler.request import Request, encode_form

FormData = Mapping[str, Any] | Iterable[tuple[str, Any]]
_NOT_SENT = frozenset({"submit", "image", "reset", "button"})  # input types sent only when clicked


def form_request(response: Any, *, css: str | None = None, formid: str | None = None, formname: str | None = None,
                 formnumber: int = 0, formdata: FormData | None = None, clickdata: Mapping[str, Any] | None = None,
                 dont_click: bool = False, method: str | None = None, **kwargs: Any) -> Request:
    """The request that submits a form of ``response`` (see :meth:`Response.form`)."""
    form = _find_form(response, css, formid, formname, formnumber)
    given = list(formdata.items()) if isinstance(formdata, Mapping) else list(formdata or [])
    overridden = {name for name, _ in given}
    pairs = [(name, value) for name, value in _fields(form) if name not in overridden]
    if not dont_click:
        clicked = _clicked(form, clickdata)
        if clicked is not None and clicked[0] not in overridden:
            pairs.append(clicked)
    pairs += given
    attributes = form.attributes
    action = (attributes.get("action") or "").strip()
    url = response.urljoin(action) if action else response.url
    if url is None:
        raise ValueError(f"the form's action is not an http(s) URL: {action!r}")
    verb = (method or attributes.get("method") or "GET").upper()
    request = Request(url, method="POST" if verb == "POST" else "GET", **kwargs)
    encode_form(request, pairs)
    return request


def _form_of(node: LexborNode | None) -> LexborNode | None:
    """The form ``node`` is, or is inside of (Scrapy's ``formcss`` may name a field)."""
    while node is not None and node.tag != "form":
        node = node.parent
    return node


def _find_form(response: Any, css: str | None, formid: str | None, formname: str | None,
               formnumber: int) -> LexborNode:
    tree: LexborHTMLParser = response._tree
    if css is not None:
        found = [form for form in (_form_of(node) for node in tree.css(css)) if form is not None]
        if not found:
            raise ValueError(f"no <form> matches the CSS selector {css!r} on {response.url}")
        return found[0]
    forms = tree.css("form")
    if formid is not None or formname is not None:
        for form in forms:
            if (formid is not None and form.attributes.get("id") == formid) or \
                    (formname is not None and form.attributes.get("name") == formname):
                return form
        wanted = f"id={formid!r}" if formid is not None else f"name={formname!r}"
        raise ValueError(f"no <form> with {wanted} on {response.url}")
    if not forms:
        raise ValueError(f"no <form> on {response.url}")
    if not 0 <= formnumber < len(forms):
        raise IndexError(f"formnumber {formnumber}: {response.url} has {len(forms)} form(s)")
    return forms[formnumber]


def _fields(form: LexborNode) -> list[tuple[str, Any]]:
    """What the form sends without a click: named, enabled inputs (checkboxes and radios when
    checked), selects (their selected options, else the first of a single select) and textareas."""
    pairs: list[tuple[str, Any]] = []
    for node in form.css("input, select, textarea"):
        attributes = node.attributes
        name = attributes.get("name")
        if not name or "disabled" in attributes:
            continue
        if node.tag == "input":
            kind = (attributes.get("type") or "text").lower()
            if kind in _NOT_SENT:
                continue
            if kind in ("checkbox", "radio"):
                if "checked" in attributes:
                    value = attributes.get("value")
                    pairs.append((name, "on" if value is None else value))
                continue
            pairs.append((name, attributes.get("value") or ""))
        elif node.tag == "textarea":
            pairs.append((name, node.text(deep=True)))
        else:
            pairs += [(name, value) for value in _selected(node)]
    return pairs


def _selected(select: LexborNode) -> list[str]:
    options = select.css("option")
    chosen = [o for o in options if "selected" in o.attributes]
    if not chosen and options and "multiple" not in select.attributes:
        chosen = options[:1]
    return [_option_value(o) for o in chosen]


def _option_value(option: LexborNode) -> str:
    value = option.attributes.get("value")
    return value if value is not None else " ".join(option.text(deep=True).split())


def _clicked(form: LexborNode, clickdata: Mapping[str, Any] | None) -> tuple[str, str] | None:
    """The (name, value) of the button clicked: the first submit button with a name, or the one
    ``clickdata`` describes (its attributes, or ``nr``: its place among the buttons)."""
    buttons = [node for node in form.css("input, button") if _clickable(node)]
    if clickdata:
        wanted = dict(clickdata)
        number = wanted.pop("nr", None)
        matching = [b for b in buttons if all(b.attributes.get(k) == str(v) for k, v in wanted.items())]
        if number is not None:
            matching = matching[int(number):int(number) + 1]
        if not matching:
            raise ValueError(f"no submit button of the form matches {dict(clickdata)!r}")
        buttons = matching
    for button in buttons:
        name = button.attributes.get("name")
        if name:
            value = button.attributes.get("value")
            return name, value if value is not None else ""
    return None


def _clickable(node: LexborNode) -> bool:
    kind = (node.attributes.get("type") or ("submit" if node.tag == "button" else "text")).lower()
    return "disabled" not in node.attributes and kind in ("submit", "image")


__all__ = ["FormData", "form_request"]
