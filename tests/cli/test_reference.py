"""The generated settings reference (docs/settings.md at build time) lists every setting of
defaults.toml with its option, environment variable, default and text, and says what
``crawler crawl --help`` says."""

from __future__ import annotations

import re
import subprocess
import sys

from crawler.cli.reference import settings_reference
from crawler.settings import default_values, setting_help
from tests.conftest import ROOT


def test_every_setting_is_in_the_reference_with_its_default_and_text() -> None:
    reference = settings_reference()
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\|.*?`(\w+)`<br>`CRAWLER_\w+`.*$", reference, re.M)}
    defaults, texts = default_values(), setting_help()
    assert set(rows) == set(defaults)
    for key, value in defaults.items():
        row = rows[key]
        assert f"`CRAWLER_{key.upper()}`" in row
        assert texts[key].replace("|", "\\|") in row, key
        shown = f'"{value}"' if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else None
        if shown is None and not isinstance(value, list):
            shown = str(value)
        if shown is not None:
            assert f"| `{shown}` |" in row, (key, row)
    assert "`--per-host N`" in rows["per_host"] and "`-o, --output PATH`" in rows["output"]
    assert "`--no-robots`" in rows["robots"]


def test_the_reference_says_what_crawl_help_says() -> None:
    shown = subprocess.run([sys.executable, "-m", "crawler", "crawl", "--help"], capture_output=True, text=True,
                           env={"COLUMNS": "10000", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    assert shown.returncode == 0, shown.stderr
    help_text = " ".join(shown.stdout.split())
    for key, text in setting_help().items():
        if f"`{key}`" in settings_reference().split("## Settings without an option")[0]:
            assert " ".join(text.split()) in help_text, key


def test_the_docs_page_asks_for_the_generated_reference() -> None:
    page = (ROOT / "docs" / "settings.md").read_text("utf-8")
    assert "<!-- generated: settings -->" in page
    assert "hooks.py" in (ROOT / "mkdocs.yml").read_text("utf-8")
