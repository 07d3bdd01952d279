"""MkDocs hooks (``hooks:`` in mkdocs.yml): the generated parts of the documentation.

``<!-- generated: settings -->`` in a page becomes the settings reference, made from
``crawler/settings/defaults.toml`` and the command line's options by
:func:`crawler.cli.reference.settings_reference` (the same texts ``crawler crawl --help`` shows);
the Python API's docstrings lose their Sphinx roles.
"""

from __future__ import annotations

import re
from typing import Any

from crawler.cli.reference import settings_reference

# The docstrings' Sphinx roles (:class:`Stats`), which mkdocstrings leaves as they are: the name
# stays, in code, without the role.
_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|data|attr|exc|obj):(?=<code>)")

MARKERS = {"<!-- generated: settings -->": settings_reference}


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Fill each marker of ``markdown`` with what it names."""
    for marker, make in MARKERS.items():
        if marker in markdown:
            markdown = markdown.replace(marker, make())
    return markdown


def on_page_content(html: str, page: Any, config: Any, files: Any) -> str:
    """Drop the Sphinx roles from the API pages' docstrings."""
    return _ROLE.sub("", html)
