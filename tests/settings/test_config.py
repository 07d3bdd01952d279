"""Settings: defaults < --config file < CRAWLER_* environment < command line, each validated
with a message naming the key and where it came from."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.errors import UsageError
from crawler.settings import load_settings_with_sources
from tests.conftest import ROOT, run_cli


def test_precedence_default_file_env_command_line(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("per_host = 3\ndelay = 0.25\nmax_depth = 4\n")
    settings, sources = load_settings_with_sources(
        {"max_depth": 2}, config_file=config, overrides_source="command line",
        environ={"CRAWLER_DELAY": "0.5", "CRAWLER_MAX_DEPTH": "3", "HOME": "/root"})
    assert (settings.concurrency, sources["concurrency"]) == (64, "default")
    assert (settings.per_host, sources["per_host"]) == (3, str(config))
    assert (settings.delay, sources["delay"]) == (0.5, "environment variable CRAWLER_DELAY")
    assert (settings.max_depth, sources["max_depth"]) == (2, "command line")


@pytest.mark.parametrize(("environ", "message"), [
    ({"CRAWLER_PER_HOTS": "2"}, "unknown setting 'per_hots' (from environment variable CRAWLER_PER_HOTS)"),
    ({"CRAWLER_TIMEOUT": "soon"}, "--timeout (from environment variable CRAWLER_TIMEOUT): expected a number"),
    ({"CRAWLER_ROBOTS": "maybe"}, "--robots (from environment variable CRAWLER_ROBOTS): expected true or false"),
    ({"CRAWLER_EXCLUDE": "[unclosed"}, "--exclude (from environment variable CRAWLER_EXCLUDE): not a TOML array"),
])
def test_environment_errors_name_the_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError, match=None) as info:
        load_settings_with_sources({}, environ=environ)
    assert message in str(info.value)


def test_environment_lists() -> None:
    settings, _ = load_settings_with_sources({}, environ={"CRAWLER_EXCLUDE": '["/a/", "/b/"]',
                                                          "CRAWLER_INCLUDE": "/blog/"})
    assert settings.exclude == ("/a/", "/b/") and settings.include == ("/blog/",)


def test_config_show_prints_values_and_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "c.toml"
    config.write_text('scope = "domain"\n')
    monkeypatch.setenv("CRAWLER_PER_HOST", "7")
    proc = run_cli("config", "--show", "--config", str(config), "--delay", "0.5")
    assert proc.returncode == 0, proc.stderr
    lines = dict(line.split(" = ", 1) for line in proc.stdout.splitlines())
    assert lines["per_host"] == "7  # environment variable CRAWLER_PER_HOST"
    assert lines["delay"] == "0.5  # command line"
    assert lines["scope"] == f'"domain"  # {config}'
    assert lines["concurrency"] == "64  # default"


def test_config_errors_exit_2_with_one_line(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("per_host = 0\n")
    proc = run_cli("config", "--show", "--config", str(config))
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"crawler: error: --per-host (from {config}): must be at least 1, got 0"


def test_the_example_config_holds_every_setting_at_its_default_with_its_comment() -> None:
    import re
    import tomllib

    from crawler.settings import default_values, setting_help

    root = ROOT
    lines = (root / "config" / "crawler.example.toml").read_text("utf-8").splitlines()
    found = {}
    for line in lines:
        match = re.match(r"^# (\w+) = (.*?)\s+# (.+)$", line)
        if match:
            found[match.group(1)] = (tomllib.loads(f"v = {match.group(2)}")["v"], match.group(3))
    defaults, texts = default_values(), setting_help()
    assert set(found) == set(defaults)
    for key, (value, comment) in found.items():
        assert value == defaults[key] and comment == texts[key], key


def test_the_readme_recipes_are_the_config_files() -> None:

    root = ROOT
    readme = "\n".join(page.read_text("utf-8") for page in [root / "README.md", *(root / "docs").glob("*.md")])
    for name in ("cron/crawler.crontab", "systemd/crawl-news.service", "systemd/crawl-news.timer"):
        assert (root / "config" / name).read_text("utf-8") in readme, name
