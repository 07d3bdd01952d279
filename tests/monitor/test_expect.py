"""Expectations (the ``expect`` setting): a run that fails one exits 3 and says which, one line
each, in the summary, ``--stats`` and the report; from the command line, a config file, the
environment and a spider's ``custom_settings``; judged on the whole crawl with ``--workers``."""

from __future__ import annotations

import json
from pathlib import Path

from aiohttp import web

from tests.conftest import run_cli


def shop_app() -> web.Application:
    """A home page linking four: two with a title, one without, one missing (404)."""
    pages = {
        "/": "<title>Home</title><a href='/a'>a</a> <a href='/b'>b</a> <a href='/c'>c</a> <a href='/gone'>gone</a>",
        "/a": "<title>A</title><p>a</p>",
        "/b": "<title>B</title><p>b</p>",
        "/c": "<p>no title here</p>",
    }

    async def page(request: web.Request) -> web.Response:
        if request.path not in pages:
            raise web.HTTPNotFound()
        return web.Response(text=f"<html><head></head><body>{pages[request.path]}</body></html>",
                            content_type="text/html")

    app = web.Application()
    app.router.add_get("/{tail:.*}", page)
    return app


def crawl(tmp_path: Path, url: str, *extra: str, env: dict[str, str] | None = None):
    return run_cli(url, "-o", str(tmp_path / "out.jsonl"), "--no-robots", "--stats", str(tmp_path / "stats.json"),
                   *extra, env=env, cwd=tmp_path)


def stats(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "stats.json").read_text())


def test_expectations_met_exit_0(serve, tmp_path: Path) -> None:
    server = serve(shop_app())
    done = crawl(tmp_path, server.url, "--expect", "min_pages=5", "--expect", "max_error_rate=0.25",
                 "--expect", "required_fields.title=0.6")
    assert done.returncode == 0, done.stderr
    assert "expectation failed" not in done.stderr and stats(tmp_path)["expectations_failed"] == []


def test_each_failed_expectation_is_one_line_and_the_run_exits_3(serve, tmp_path: Path) -> None:
    server = serve(shop_app())
    done = crawl(tmp_path, server.url, "--expect", "min_pages=100", "--expect", "max_error_rate=0.1",
                 "--expect", "required_fields.title=0.9", "--report", str(tmp_path / "report.html"))
    assert done.returncode == 3, done.stderr
    failed = [line.strip() for line in done.stderr.splitlines() if line.strip().startswith("expectation failed")]
    assert failed == [
        "expectation failed: min_pages: 5 pages written, expected at least 100",
        "expectation failed: max_error_rate: 1 of 5 records failed (20.0%), expected at most 10.0%",
        "expectation failed: required_fields: title in 3 of 5 items (60.0%), expected at least 90.0%",
    ]
    assert len(stats(tmp_path)["expectations_failed"]) == 3
    assert len([line for line in done.stderr.splitlines() if "expectation failed" in line]) == 3  # each once
    assert "Expectations failed" in (tmp_path / "report.html").read_text() and "min_pages" in \
        (tmp_path / "report.html").read_text()
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 5  # the records are all written


def test_expectations_from_a_config_file_and_the_environment(serve, tmp_path: Path) -> None:
    server = serve(shop_app())
    (tmp_path / "crawl.toml").write_text("[expect]\nmin_pages = 6\nrequired_fields = {title = 0.5}\n")
    done = crawl(tmp_path, server.url, "--config", str(tmp_path / "crawl.toml"))
    assert done.returncode == 3 and "min_pages: 5 pages written, expected at least 6" in done.stderr
    done = crawl(tmp_path, server.url, env={"CRAWLER_EXPECT": "{min_pages = 5}"})
    assert done.returncode == 0, done.stderr


SPIDER = """
from crawler import Spider


class Titles(Spider):
    custom_settings = {"expect": {"min_items": 10, "required_fields": {"title": 1.0}}}

    def parse(self, response):
        yield {"url": response.url, "title": response.css("title::text").get()}
        yield from response.follow_all(css="a")
"""


def test_a_spider_custom_settings_expect_is_judged_on_its_items(serve, tmp_path: Path) -> None:
    server = serve(shop_app())
    (tmp_path / "titles.py").write_text(SPIDER)
    done = run_cli("--spider", "titles:Titles", server.url, "-o", str(tmp_path / "items.jsonl"), "--no-robots",
                   cwd=tmp_path)
    assert done.returncode == 3, done.stderr
    assert "min_items: 4 items written, expected at least 10" in done.stderr
    assert "required_fields: title in 3 of 4 items (75.0%), expected at least 100.0%" in done.stderr


def test_a_bad_expectation_is_a_usage_error_naming_it(serve, tmp_path: Path) -> None:
    server = serve(shop_app())
    done = crawl(tmp_path, server.url, "--expect", "min_pagez=3")
    assert done.returncode == 2
    assert "--expect" in done.stderr and "unknown check 'min_pagez'" in done.stderr
    done = crawl(tmp_path, server.url, "--expect", "max_error_rate=7")
    assert done.returncode == 2 and "max_error_rate: expected a share from 0 to 1, got 7" in done.stderr


def test_workers_are_judged_as_one_crawl(serve, tmp_path: Path) -> None:
    server = serve(shop_app())
    done = crawl(tmp_path, server.url, "--workers", "2", "--expect", "min_pages=6")
    assert done.returncode == 3, done.stderr
    failed = [line for line in done.stderr.splitlines() if "expectation failed" in line]
    assert len(failed) == 1 and "min_pages: 5 pages written" in failed[0]  # once, in the summary
