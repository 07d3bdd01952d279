"""The settings reference, generated: every key of ``settings/defaults.toml`` with its option,
its environment variable, its default and its text (the comment beside it in the file, which is
also its ``--help``), as Markdown for the documentation site (``docs/hooks.py`` puts it in
``docs/reference/settings.md``). One source: the docs, ``--help`` and the file say the same."""

from __future__ import annotations

from typing import Any

from crawler.cli.options import documented_options
from crawler.settings import ENV_PREFIX, default_values, setting_help
from crawler.settings.tomlvalue import toml_value


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _row(option: str | None, key: str, default: Any, text: str) -> str:
    shown = "" if option is None else f"`{_cell(option)}` | "
    return f"| {shown}`{key}`<br>`{ENV_PREFIX}{key.upper()}` | `{_cell(toml_value(default))}` | {_cell(text)} |"


def settings_reference() -> str:
    """The reference as Markdown: a table a group of options (as ``crawler crawl --help``
    groups them), then the settings that have no option (a config file or the environment
    sets them)."""
    defaults, texts = default_values(), setting_help()
    head = ["| option | config key<br>environment | default | what it does |", "| --- | --- | --- | --- |"]
    groups: dict[str, list[str]] = {}
    covered = set()
    for group, option, key in documented_options():
        groups.setdefault(group, list(head)).append(_row(option, key, defaults[key], texts[key]))
        covered.add(key)
    out = []
    for group, rows in groups.items():
        out += [f"## {group[0].upper()}{group[1:]}", "", *rows, ""]
    rest = [key for key in defaults if key not in covered]
    if rest:
        out += ["## Settings without an option", "",
                "Set in a `--config` file or a `CRAWLER_*` variable (tuning most crawls never need).", "",
                "| config key<br>environment | default | what it does |", "| --- | --- | --- |",
                *(_row(None, key, defaults[key], texts.get(key, "")) for key in rest), ""]
    return "\n".join(out)


__all__ = ["settings_reference"]
