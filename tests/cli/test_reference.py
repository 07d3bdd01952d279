"""The generated settings reference (docs/settings.md at build time) lists every setting of
defaults.toml with its option, environment variable, default and text, and says what
``crawler crawl --help`` says."""

from __future__ import annotations

import html
import re
import subprocess
import sys

import pytest

from crawler.cli.reference import settings_reference
from crawler.settings import default_values, setting_help
from tests.conftest import ROOT


def test_every_setting_is_in_the_reference_with_its_default_and_text() -> None:
    reference = settings_reference()
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^<tr>.*?<code>(\w+)</code><br><code>CRAWLER_\w+</code>.*$",
                                                        reference, re.M)}
    defaults, texts = default_values(), setting_help()
    assert set(rows) == set(defaults)
    for key, value in defaults.items():
        row = rows[key]
        assert f"<code>CRAWLER_{key.upper()}</code>" in row
        assert f"<td>{html.escape(texts[key])}</td>" in row, key
        shown = f'"{value}"' if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else None
        if shown is None and not isinstance(value, list):
            shown = str(value)
        if shown is not None:
            assert f"<td><code>{html.escape(shown)}</code></td>" in row, (key, row)
    assert "<code>--per-host N</code>" in rows["per_host"] and "<code>-o, --output PATH</code>" in rows["output"]
    assert "<code>--no-robots</code>" in rows["robots"]
    assert "<code>--scope host|domain|any</code>" in rows["scope"]  # no escape to show: HTML, not a Markdown table
    assert "\\|" not in reference and "__init__" in rows["spider_arg"]


def test_the_built_settings_page_shows_what_the_reference_says(tmp_path) -> None:
    """The site as built: no literal backslash before a pipe, no name read as Markdown bold."""
    import importlib.util

    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed (pip install -e '.[docs]')")
    built = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--site-dir", str(tmp_path / "site")],
                           cwd=ROOT, capture_output=True, text=True, timeout=120,
                           env={"PATH": "/usr/bin:/bin", "NO_MKDOCS_2_WARNING": "1"})
    assert built.returncode == 0, built.stderr
    page = (tmp_path / "site" / "settings" / "index.html").read_text("utf-8")
    assert "\\|" not in page and "<strong>init</strong>" not in page
    assert "<code>--scope host|domain|any</code>" in page
    for name in ("index.html", "settings/index.html", "tutorial/index.html"):
        assert "fonts.googleapis.com" not in (tmp_path / "site" / name).read_text("utf-8"), name


def test_the_reference_says_what_crawl_help_says() -> None:
    shown = subprocess.run([sys.executable, "-m", "crawler", "crawl", "--help"], capture_output=True, text=True,
                           env={"COLUMNS": "10000", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    assert shown.returncode == 0, shown.stderr
    help_text = " ".join(shown.stdout.split())
    for key, text in setting_help().items():
        if f"<code>{key}</code>" in settings_reference().split("## Settings without an option")[0]:
            assert " ".join(text.split()) in help_text, key


def test_the_docs_page_asks_for_the_generated_reference() -> None:
    page = (ROOT / "docs" / "settings.md").read_text("utf-8")
    assert "<!-- generated: settings -->" in page
    assert "hooks.py" in (ROOT / "mkdocs.yml").read_text("utf-8")
