"""Change tracking in a durable job: two and three runs against a site the test changes between
them; each record's ``change``, ``previous_fetched_at`` and ``diff``; ``--changed-only``; and
exactly once across a kill -9 in the second run. The crawler runs as users run it, against a
real server; the job is a real SQLite file."""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from pathlib import Path

import pytest
from aiohttp import web

from tests.conftest import read_jsonl, run_cli, wait_for
from tests.durable.test_durable import start
from tests.support.sites import lines_in

pytestmark = pytest.mark.slow  # several runs of a job: see pyproject.toml

STORY = ("The harbour town of {name} keeps its old lighthouse, and the keepers of it write down the weather "
         "every morning at six. Their notebooks go back to the winter of the great storm, when the sea came "
         "over the wall and into the square. Visitors come for the notebooks more than for the light. ")


def article(title: str, body: str, chrome: str) -> str:
    paragraphs = "".join(f"<p>{body} Paragraph {i} of the story goes on at some length.</p>" for i in range(4))
    return (f"<html><head><title>{title}</title></head><body><nav><a href='/'>Home</a> {chrome}</nav>"
            f"<article><h1>{title}</h1>{paragraphs}</article><footer>{chrome} Contact us.</footer></body></html>")


class ChangingSite:
    """Pages the test changes between runs: ``pages`` maps a path to its HTML (absent: 404);
    ``delay`` slows every answer (for a kill in the middle of a run)."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        self.files: dict[str, bytes] = {}  # served as application/octet-stream
        self.delay = 0.0

    def app(self) -> web.Application:
        async def page(request: web.Request) -> web.Response:
            if self.delay:
                import asyncio
                await asyncio.sleep(self.delay)
            if request.path in self.files:
                return web.Response(body=self.files[request.path], content_type="application/octet-stream")
            html = self.pages.get(request.path)
            if html is None:
                raise web.HTTPNotFound()
            return web.Response(text=html, content_type="text/html")

        app = web.Application()
        app.router.add_get("/{tail:.*}", page)
        return app

    def home(self, paths: list[str]) -> None:
        links = "".join(f"<li><a href='{p}'>{p}</a></li>" for p in paths)
        self.pages["/"] = f"<html><head><title>Home</title></head><body><ul>{links}</ul></body></html>"


def first_run_site(site: ChangingSite) -> None:
    site.home(["/same", "/chrome", "/text", "/gone"])
    site.pages["/same"] = article("Same", STORY.format(name="Ashby"), "Ad: boots 10% off")
    site.pages["/chrome"] = article("Chrome", STORY.format(name="Brill"), "Ad: boots 10% off")
    site.pages["/text"] = article("Text", STORY.format(name="Corran"), "Ad: boots 10% off")
    site.pages["/gone"] = article("Gone", STORY.format(name="Dunmore"), "Ad: boots 10% off")


def second_run_site(site: ChangingSite) -> None:
    site.home(["/same", "/chrome", "/text", "/gone", "/added"])
    site.pages["/chrome"] = article("Chrome", STORY.format(name="Brill"), "Ad: hats, today only, 2026-12-05 06:00")
    site.pages["/text"] = article("Text", STORY.format(name="Corran").replace("great storm", "long drought"),
                                  "Ad: boots 10% off")
    del site.pages["/gone"]
    site.pages["/added"] = article("Added", STORY.format(name="Elsdon"), "Ad: boots 10% off")


def job_args(tmp_path: Path, url: str, *extra: str) -> list[str]:
    return [url, "--job-dir", str(tmp_path / "job"), "-o", str(tmp_path / "out" / "run-{run}.jsonl"),
            "--recrawl-after", "1s", "--no-robots", "--extract", "markdown", "--no-progress", *extra]


def by_path(records: list[dict], url: str) -> dict[str, dict]:
    return {r["url"][len(url) - 1:]: r for r in records}


def wait_a_second_after(path: Path) -> None:
    """--recrawl-after 1s: the last run's pages are due once a second has passed since it ended."""
    time.sleep(max(0.0, path.stat().st_mtime + 1.1 - time.time()))


def test_two_runs_say_what_is_new_same_changed_and_removed(serve, tmp_path: Path) -> None:
    site = ChangingSite()
    first_run_site(site)
    server = serve(site.app())
    first = run_cli(*job_args(tmp_path, server.url), cwd=tmp_path, timeout=120)
    assert first.returncode == 0, first.stderr
    one = by_path(read_jsonl(tmp_path / "out" / "run-1.jsonl"), server.url)
    assert {p: r["change"] for p, r in one.items()} == dict.fromkeys(["/", "/same", "/chrome", "/text", "/gone"], "new")
    assert all(r["previous_fetched_at"] is None and r["diff"] is None for r in one.values())
    assert "changes: new 5" in first.stderr

    second_run_site(site)
    wait_a_second_after(tmp_path / "out" / "run-1.jsonl")
    second = run_cli(*job_args(tmp_path, server.url, "--stats", str(tmp_path / "stats.json")), cwd=tmp_path,
                     timeout=120)
    assert second.returncode == 0, second.stderr
    two = by_path(read_jsonl(tmp_path / "out" / "run-2.jsonl"), server.url)
    changes = {p: r["change"] for p, r in two.items()}
    assert changes == {"/": "changed", "/same": "same", "/chrome": "same", "/text": "changed", "/gone": "removed",
                       "/added": "new"}
    # Only the boilerplate of /chrome changed: judged on the main text, it is the same page.
    assert two["/same"]["previous_fetched_at"] == one["/same"]["fetched_at"]
    assert two["/added"]["previous_fetched_at"] is None
    diff = two["/text"]["diff"]
    assert diff.startswith("--- previous\n+++ current\n@@")
    assert "-" in diff and "great storm" in diff and "+" in diff and "long drought" in diff
    assert "Ad:" not in diff
    assert two["/same"]["diff"] is None and two["/gone"]["status"] == 404
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["changes"] == {"changed": 2, "same": 2, "removed": 1, "new": 1}
    assert "changes: new 1, changed 2, removed 1, same 2" in second.stderr

    # A third run: a removed page still gone is the same; --changed-only writes only what moved.
    site.pages["/text"] = site.pages["/text"].replace("long drought", "late frost")
    wait_a_second_after(tmp_path / "out" / "run-2.jsonl")
    third = run_cli(*job_args(tmp_path, server.url, "--changed-only"), cwd=tmp_path, timeout=120)
    assert third.returncode == 0, third.stderr
    three = by_path(read_jsonl(tmp_path / "out" / "run-3.jsonl"), server.url)
    assert {p: r["change"] for p, r in three.items()} == {"/text": "changed"}
    assert "long drought" in three["/text"]["diff"] and "late frost" in three["/text"]["diff"]
    assert three["/text"]["previous_fetched_at"] == two["/text"]["fetched_at"]


def test_a_second_run_killed_and_resumed_says_each_change_exactly_once(serve, tmp_path: Path) -> None:
    site = ChangingSite()
    paths = [f"/p{i}" for i in range(60)]
    site.home(paths)
    for i, path in enumerate(paths):
        site.pages[path] = article(f"Page {i}", STORY.format(name=f"Town {i}"), "Ad")
    server = serve(site.app())
    first = run_cli(*job_args(tmp_path, server.url), cwd=tmp_path, timeout=120)
    assert first.returncode == 0, first.stderr
    for i, path in enumerate(paths):
        if i % 2:  # every other page's story changes
            site.pages[path] = article(f"Page {i}", STORY.format(name=f"Town {i}").replace("six", "seven"), "Ad")
    site.delay = 0.05
    wait_a_second_after(tmp_path / "out" / "run-1.jsonl")
    out = tmp_path / "out" / "run-2.jsonl"
    proc = start(tmp_path, *job_args(tmp_path, server.url, "--per-host", "2"))
    wait_for(lambda: lines_in(out) >= 20, timeout=60)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    site.delay = 0.0
    resumed = run_cli(*job_args(tmp_path, server.url), cwd=tmp_path, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    # What the killed run committed is in its file (cut back to the commit), the rest in the next run's.
    records = read_jsonl(out) + read_jsonl(tmp_path / "out" / "run-3.jsonl")
    assert sorted(r["url"] for r in records) == sorted([server.url] + [server.url + p[1:] for p in paths])
    changes = by_path(records, server.url)
    for i, path in enumerate(paths):
        assert changes[path]["change"] == ("changed" if i % 2 else "same"), path
        assert ("seven" in changes[path]["diff"]) if i % 2 else changes[path]["diff"] is None


def test_expectations_on_changes_removed_share_and_pages_that_must_move(serve, tmp_path: Path) -> None:
    site = ChangingSite()
    first_run_site(site)
    server = serve(site.app())
    first = run_cli(*job_args(tmp_path, server.url, "--expect", "min_changed=5"), cwd=tmp_path, timeout=120)
    assert first.returncode == 0, first.stderr  # five new pages
    second_run_site(site)
    wait_a_second_after(tmp_path / "out" / "run-1.jsonl")
    second = run_cli(*job_args(tmp_path, server.url, "--expect", "max_removed_share=0.1",
                               "--expect", "min_changed=4"), cwd=tmp_path, timeout=120)
    assert second.returncode == 3, second.stderr
    assert "max_removed_share: 1 of the job's 6 pages removed (16.7%), expected at most 10.0%" in second.stderr
    assert "min_changed: 3 pages new or changed, expected at least 4" in second.stderr
    assert len(read_jsonl(tmp_path / "out" / "run-2.jsonl")) == 6  # the run's records are all there


def test_recrawl_after_auto_comes_back_sooner_for_pages_that_change(serve, tmp_path: Path) -> None:
    site = ChangingSite()
    paths = [f"/p{i}" for i in range(10)]
    site.home(paths)

    def write(version: int) -> None:  # pages p0 to p4 change with each version, p5 to p9 never
        for i, path in enumerate(paths):
            edition = f"edition {version}" if i < 5 else "the only edition"
            site.pages[path] = article(f"Page {i}", STORY.format(name=f"Town {i}") + edition, "Ad")

    write(1)
    server = serve(site.app())
    args = [server.url, "--job-dir", str(tmp_path / "job"), "-o", str(tmp_path / "out" / "run-{run}.jsonl"),
            "--recrawl-after", "auto", "--no-robots", "--extract", "text", "--no-progress",
            "--stats", str(tmp_path / "stats.json")]
    env = {"CRAWLER_RECRAWL_MIN": "100s", "CRAWLER_RECRAWL_MAX": "1h"}

    def run(ago: float = 0.0) -> dict:
        """Run the job once its pages were fetched ``ago`` seconds earlier than they were (the
        job's file is aged, rather than the test waiting)."""
        if ago:
            db = sqlite3.connect(tmp_path / "job" / "frontier.db")
            db.execute("UPDATE urls SET done_at = done_at - ?", (ago,))
            db.commit()
            db.close()
        done = run_cli(*args, env=env, cwd=tmp_path, timeout=120)
        assert done.returncode == 0, done.stderr
        return json.loads((tmp_path / "stats.json").read_text())

    first = run()
    assert first["changes"] == {"new": 11}  # a new page comes back after recrawl_min (100 s)
    assert run()["recrawl"]["due"] == 0  # none is due yet
    write(2)
    second = run(ago=110)  # every page is due: those that changed stay at 100 s, the others go to 140 s
    assert second["recrawl"]["due"] == 11 and second["changes"] == {"changed": 5, "same": 6}
    write(3)
    third = run(ago=120)  # only the pages that changed are due
    assert third["recrawl"]["due"] == 5 and third["recrawl"]["fetched"] == 5
    assert third["changes"] == {"changed": 5}
    records = read_jsonl(tmp_path / "out" / "run-4.jsonl")
    assert sorted(r["url"][len(server.url) - 1:] for r in records) == paths[:5]
    assert all("edition 3" in r["diff"] for r in records)
    assert 0 < third["recrawl"]["freshness"] <= 1


def test_near_duplicates_are_flagged_across_hosts_and_runs(serve, tmp_path: Path) -> None:
    site = ChangingSite()
    site.home(["/story", "/other"])
    site.pages["/story"] = article("Story", STORY.format(name="Fenwick"), "Our paper")
    site.pages["/other"] = article("Other", STORY.format(name="Gorran").replace("lighthouse", "mill") * 2, "Our paper")
    site.pages["/mirror"] = article("Mirror", STORY.format(name="Fenwick"), "Mirrored by someone else, ads here")
    server = serve(site.app(), sites=2)
    a, b = (f"http://127.0.0.1:{port}" for port in server.ports)
    (tmp_path / "seeds.txt").write_text(f"{a}/\n{b}/mirror\n")
    args = ["--seeds", str(tmp_path / "seeds.txt"), "--job-dir", str(tmp_path / "job"),
            "-o", str(tmp_path / "out" / "run-{run}.jsonl"), "--no-robots", "--extract", "text,text_hash",
            "--no-progress", "--max-depth", "1", "--recrawl-after", "1s"]
    first = run_cli(*args, cwd=tmp_path, timeout=120)
    assert first.returncode == 0, first.stderr
    records = {r["url"]: r for r in read_jsonl(tmp_path / "out" / "run-1.jsonl")}
    story, mirror = records[f"{a}/story"], records[f"{b}/mirror"]
    assert story["text_hash"] == mirror["text_hash"]  # the same story, other chrome
    # Whichever was recorded first is the original; the other points at it.
    assert {story["near_duplicate_of"], mirror["near_duplicate_of"]} == {None, story["url"]} or \
        {story["near_duplicate_of"], mirror["near_duplicate_of"]} == {None, mirror["url"]}
    original = story["url"] if story["near_duplicate_of"] is None else mirror["url"]
    assert records[f"{a}/other"]["near_duplicate_of"] is None  # another story
    # Both hosts serve the same home page (the mirror's menu links to its own): one copy of the other.
    assert {records[f"{a}/"]["near_duplicate_of"], records[f"{b}/"]["near_duplicate_of"]} in ({None, f"{a}/"},
                                                                                              {None, f"{b}/"})
    wait_a_second_after(tmp_path / "out" / "run-1.jsonl")
    second = run_cli(*args, cwd=tmp_path, timeout=120)
    assert second.returncode == 0, second.stderr
    again = {r["url"]: r for r in read_jsonl(tmp_path / "out" / "run-2.jsonl")}
    copy = mirror["url"] if original == story["url"] else story["url"]
    assert again[original]["near_duplicate_of"] is None and again[copy]["near_duplicate_of"] == original


SPIDER = """
from crawler import Spider


class Prices(Spider):
    def parse(self, response):
        yield from response.follow_all(css="a", callback=self.parse_product)

    def parse_product(self, response):
        yield {"name": response.css("h1::text").get(), "price": response.css("p.price::text").get()}
"""


def test_a_spiders_items_say_which_fields_changed(serve, tmp_path: Path) -> None:
    site = ChangingSite()
    site.home(["/p1", "/p2"])

    def product(name: str, price: str) -> str:
        return f"<html><body><h1>{name}</h1><p class='price'>{price}</p></body></html>"

    site.pages["/p1"], site.pages["/p2"] = product("Kettle", "$20.00"), product("Toaster", "$35.00")
    server = serve(site.app())
    (tmp_path / "prices.py").write_text(SPIDER)
    args = ["--spider", "prices:Prices", server.url, "--job-dir", str(tmp_path / "job"),
            "-o", str(tmp_path / "out" / "run-{run}.jsonl"), "--recrawl-after", "1s", "--no-robots", "--no-progress"]
    first = run_cli(*args, cwd=tmp_path, timeout=120)
    assert first.returncode == 0, first.stderr
    one = {i["name"]: i for i in read_jsonl(tmp_path / "out" / "run-1.jsonl")}
    assert {n: i["change"] for n, i in one.items()} == {"Kettle": "new", "Toaster": "new"}
    site.pages["/p2"] = product("Toaster", "$29.99")
    wait_a_second_after(tmp_path / "out" / "run-1.jsonl")
    second = run_cli(*args, cwd=tmp_path, timeout=120)
    assert second.returncode == 0, second.stderr
    two = {i["name"]: i for i in read_jsonl(tmp_path / "out" / "run-2.jsonl")}
    assert two["Kettle"]["change"] == "same" and two["Kettle"]["diff"] is None
    assert two["Toaster"]["change"] == "changed"
    assert two["Toaster"]["diff"] == {"price": {"previous": "$35.00", "current": "$29.99"}}
    assert two["Toaster"]["previous_fetched_at"] is not None


def test_a_body_that_is_not_kept_is_still_judged_by_its_hash(serve, tmp_path: Path) -> None:
    site = ChangingSite()
    site.home(["/a.bin", "/b.bin"])
    site.files["/a.bin"], site.files["/b.bin"] = b"\x00\x01" * 50_000, b"\x02\x03" * 50_000
    server = serve(site.app())
    args = [server.url, "--job-dir", str(tmp_path / "job"), "-o", str(tmp_path / "out" / "run-{run}.jsonl"),
            "--recrawl-after", "1s", "--no-robots", "--no-progress"]
    assert run_cli(*args, cwd=tmp_path, timeout=120).returncode == 0
    site.files["/b.bin"] = b"\x04\x05" * 50_000
    wait_a_second_after(tmp_path / "out" / "run-1.jsonl")
    second = run_cli(*args, cwd=tmp_path, timeout=120)
    assert second.returncode == 0, second.stderr
    two = by_path(read_jsonl(tmp_path / "out" / "run-2.jsonl"), server.url)
    assert two["/a.bin"]["change"] == "same" and two["/b.bin"]["change"] == "changed"
    assert two["/b.bin"]["bytes"] == 100_000 and two["/b.bin"]["diff"] is None  # no text kept to diff
