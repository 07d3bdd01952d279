"""The settings reference, generated: every key of ``settings/defaults.toml`` with its option,
its environment variable, its default and its text (the comment beside it in the file, which is
also its ``--help``), for the documentation site (``docs/hooks.py`` puts it in
``docs/settings.md``). One source: the docs, ``--help`` and the file say the same.

Each group is an HTML table of class ``settings`` (the site's stylesheet keeps names whole and
stacks a row's cells on a phone), its texts escaped as they are: no Markdown reads ``|`` or
``__init__`` in them."""

from __future__ import annotations

import html
from typing import Any

from crawler.cli.options import documented_options
from crawler.settings import ENV_PREFIX, default_values, setting_help
from crawler.settings.tomlvalue import toml_value


def _code(text: str) -> str:
    return f"<code>{html.escape(text)}</code>"


def _row(option: str | None, key: str, default: Any, text: str) -> str:
    shown = "" if option is None else f"<td>{_code(option)}</td>"
    return (f"<tr>{shown}<td>{_code(key)}<br>{_code(ENV_PREFIX + key.upper())}</td>"
            f"<td>{_code(toml_value(default))}</td><td>{html.escape(text)}</td></tr>")


def _table(heads: list[str], rows: list[str]) -> list[str]:
    head = "".join(f"<th>{h}</th>" for h in heads)
    return ['<table class="settings">', f"<thead><tr>{head}</tr></thead>", "<tbody>", *rows, "</tbody>", "</table>"]


def settings_reference() -> str:
    """The reference as Markdown: a table a group of options (as ``crawler crawl --help``
    groups them), then the settings that have no option (a config file or the environment
    sets them)."""
    defaults, texts = default_values(), setting_help()
    groups: dict[str, list[str]] = {}
    covered = set()
    for group, option, key in documented_options():
        groups.setdefault(group, []).append(_row(option, key, defaults[key], texts[key]))
        covered.add(key)
    out = []
    heads = ["option", "config key<br>environment", "default", "what it does"]
    for group, rows in groups.items():
        out += [f"## {group[0].upper()}{group[1:]}", "", *_table(heads, rows), ""]
    rest = [key for key in defaults if key not in covered]
    if rest:
        out += ["## Settings without an option", "",
                "Set in a `--config` file or a `CRAWLER_*` variable (tuning most crawls never need).", "",
                *_table(heads[1:], [_row(None, key, defaults[key], texts.get(key, "")) for key in rest]), ""]
    return "\n".join(out)


__all__ = ["settings_reference"]
