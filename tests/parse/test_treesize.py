"""The bounds on the tree a page's markup builds (crawler/treesize.py), on markup alone."""

from __future__ import annotations

import pytest

from crawler.cli.testsite import page_html
from crawler.parse.treesize import MAX_NESTING, TooComplex, sane_prefix


def test_ordinary_pages_are_left_whole() -> None:
    for text in (page_html(3, 100, 10, 15000), "<ul>" + "<li><a href=/x>x</a>" * 5000 + "</ul>",
                 "<table>" + "<tr><td>x<td>y" * 3000 + "</table>", "<p>x" * 5000):
        assert sane_prefix(text) is text


@pytest.mark.parametrize("text", [
    "<div>" * 5000,
    "</x>" * 5000 + "<div>" * 5000,  # stray end tags first cannot hide the depth
    "<p><table><tr><td>" * 2000,  # a <p> inside a cell does not close the outer one
    "<div/>" * 5000,  # "/>" closes nothing in HTML
])
def test_markup_nested_too_deep_is_cut_where_it_passes_the_bound(text: str) -> None:
    cut = sane_prefix(text)
    assert 0 < len(cut) < len(text)


def test_markup_in_scripts_and_comments_does_not_count() -> None:
    text = "<script>" + "if (a<b) { x = '<div>' }" * 5000 + "</script><!--" + "<div>" * 5000 + "--><p>end"
    assert sane_prefix(text) is text


@pytest.mark.parametrize("text", [
    "".join(f"<p><b id={i}>x</p>" for i in range(2000)),
    "".join(f"<P><B ID={i}>x</P>" for i in range(2000)),
    "".join(f"<p><i id={i}>x</b></p>" for i in range(2000)),  # an end tag of another name closes nothing
    "<div>" + "".join(f"<b id={i}>" for i in range(600)) + "</div>" + "<p>x</p>" * 3000,
])
def test_formatting_elements_left_open_by_the_thousand_are_too_complex(text: str) -> None:
    with pytest.raises(TooComplex):
        sane_prefix(text)


def test_the_same_formatting_element_left_open_is_merged_as_the_standard_says() -> None:
    text = "<p><font color=red>x</p>" * 5000  # Noah's Ark: at most three alike are re-created
    assert sane_prefix(text) is text


def test_the_nesting_bound_is_the_real_depth() -> None:
    assert sane_prefix("<div>" * (MAX_NESTING - 1) + "<a href=/x>x</a>").endswith("</a>")
