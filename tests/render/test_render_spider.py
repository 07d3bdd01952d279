"""A spider's Request(render=True, page_actions=...), and rendering in a durable crawl."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from crawler import load_settings
from crawler.core.engine import Engine
from crawler.spider import Request, Response, Spider
from tests.conftest import Server, read_jsonl, run_cli
from tests.render.conftest import make_spider_site

pytestmark = pytest.mark.slow  # a browser, Redis, several processes or kill -9 and resume: see pyproject.toml


class Clicker(Spider):
    """Renders its start page, clicks the button, and says what it saw."""

    name = "clicker"

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url

    def start_requests(self) -> Iterator[Request]:
        yield Request(self.url, render=True, page_actions=[("click", "#more"), ("wait_for_selector", "li a")])
        yield Request(self.url + "?plain")  # not rendered: --render never

    def parse(self, response: Response) -> Iterator[dict[str, Any]]:
        yield {"url": response.url, "rendered": response.rendered,
               "items": response.css("li a::text").getall()}


async def test_a_spider_request_renders_and_acts_on_the_page(serve: Callable[[web.Application], Server],
                                                             chromium: str, tmp_path: Path) -> None:
    site = serve(make_spider_site())
    out = tmp_path / "items.jsonl"
    settings = load_settings({"output": str(out), "progress": False, "robots": False})
    await Engine(settings, [], spider=Clicker(site.url + "more")).run()
    items = {row["url"]: row for row in read_jsonl(out)}
    assert items[site.url + "more"] == {"url": site.url + "more", "rendered": True, "items": ["shown by a click"]}
    assert items[site.url + "more?plain"]["rendered"] is False and items[site.url + "more?plain"]["items"] == []


def test_page_actions_are_checked_when_the_request_is_made() -> None:
    import pytest

    with pytest.raises(ValueError, match="page action 'launch_missiles'"):
        Request("http://127.0.0.1/", render=True, page_actions=["launch_missiles"])


def test_a_durable_crawl_renders_and_resumes(js_site: tuple[Server, Server], tmp_path: Path) -> None:
    site, _ = js_site
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(site.url + "\n")
    args = ("--seeds", str(seeds), "-o", str(tmp_path / "out.jsonl"), "--job-dir", str(tmp_path / "job"),
            "--render", "auto", "--exclude", "/endless", "--render-timeout", "4")
    done = run_cli(*args)
    assert done.returncode == 0, done.stderr
    records = {r["url"]: r for r in read_jsonl(tmp_path / "out.jsonl")}
    assert records[site.url + "app"]["rendered"] is True and site.url + "item/3" in records
    again = run_cli(*args)  # the job is done: nothing more is fetched or written
    assert again.returncode == 0, again.stderr
    assert len(read_jsonl(tmp_path / "out.jsonl")) == len(records)
    assert site.count("/app") == 1


def test_render_and_page_actions_survive_the_frontiers_stores() -> None:
    from crawler.frontier.codec import spider_request_fields, spider_request_from
    from crawler.work import CrawlRequest

    public = Request("http://127.0.0.1/more", render=True, page_actions=[("click", "#more"), ("scroll", 2)])
    queued = CrawlRequest(public.url)
    queued.request = public
    back = spider_request_from(public.url, spider_request_fields(queued) or {})
    assert back.render is True and back.page_actions == [["click", "#more"], ["scroll", 2]]


def _crawl_site(site: Server, tmp_path: Path, *extra: str) -> dict[str, dict[str, Any]]:
    """The site crawled from the command line with --render auto and ``extra``; its records."""
    import json

    seeds = tmp_path / "seeds.txt"
    seeds.write_text(site.url + "\n")
    stats = tmp_path / "stats.json"
    done = run_cli("--seeds", str(seeds), "--render", "auto", "--exclude", "/endless", "--render-timeout", "4",
                   "--stats", str(stats), *extra, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    figures = json.loads(stats.read_text())["render"]
    assert figures["why"]["app_root"] == 1 and figures["hosts"][site.url.split("/")[2]]["rendered"] >= 1
    out = sorted(tmp_path.glob("out*.jsonl"))
    return {r["url"]: r for path in out for r in read_jsonl(path)}


def test_local_workers_render(js_site: tuple[Server, Server], tmp_path: Path) -> None:
    site, _ = js_site
    records = _crawl_site(site, tmp_path, "--workers", "2", "-o", str(tmp_path / "out.jsonl"))
    assert records[site.url + "app"]["rendered"] is True and site.url + "item/3" in records
    assert site.count("/app") == 1


def test_a_redis_crawl_renders(js_site: tuple[Server, Server], redis_server: str, tmp_path: Path) -> None:
    site, _ = js_site
    records = _crawl_site(site, tmp_path, "--frontier", redis_server, "--crawl-id", f"render-{tmp_path.name}",
                          "-o", str(tmp_path / "out.jsonl"))
    assert records[site.url + "app"]["rendered"] is True and site.url + "item/3" in records
