"""The built-in defaults: ``settings/defaults.toml``, the one place a default value is written
down. The settings package builds every crawl's settings on it; a shared helper below the
settings that needs a default (the URL length bound of :mod:`crawler.urls`) reads it here."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

#: The defaults file, inside the settings package.
DEFAULTS_FILE = Path(__file__).with_name("settings") / "defaults.toml"


def defaults_text() -> str:
    """The defaults file as written (its comments are the settings' help)."""
    return DEFAULTS_FILE.read_text("utf-8")


#: Each setting's built-in value, by name.
DEFAULTS: dict[str, Any] = tomllib.loads(defaults_text())

__all__ = ["DEFAULTS", "DEFAULTS_FILE", "defaults_text"]
