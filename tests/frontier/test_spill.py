"""The default crawl's memory stays bounded: URLs seen as 8-byte fingerprints, pending URLs past
the window on disk in a folder the crawl deletes (at its end, after Ctrl-C, and on the next
start after ``kill -9``); a full disk there is one clear line and exit 1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from crawler.frontier.memory import MemoryFrontier
from crawler.frontier.seen import SeenSet
from crawler.frontier.spill import PREFIX
from crawler.work import CrawlRequest
from tests.conftest import ROOT, run_cli, wait_for
from tests.support.sites import slow_app


def test_the_seen_set_tells_new_urls_from_seen_ones_in_about_16_bytes_each() -> None:
    seen = SeenSet()
    urls = [f"http://host{i % 97}.example/page/{i}" for i in range(200_000)]
    assert all(seen.add(u) for u in urls)
    assert not any(seen.add(u) for u in urls)
    assert all(u in seen for u in urls[::7]) and "http://host1.example/other" not in seen
    assert len(seen) == 200_000
    assert seen.nbytes() / len(seen) <= 24  # 8-byte slots, at most 3/4 full after the first growth


async def test_past_its_window_the_frontier_spills_to_disk_and_gives_every_url_back_in_order(tmp_path: Path) -> None:
    frontier = MemoryFrontier(per_host=1000, window=10, spill_dir=str(tmp_path))
    await frontier.open()
    urls = [f"http://a.example/{i}" for i in range(95)]
    accepted = await frontier.add(CrawlRequest(u) for u in urls)
    assert len(accepted) == 95 and len(frontier) == 95
    assert frontier.spill is not None and frontier.spill.count == 85  # the window holds 10
    assert [p.name.startswith(PREFIX) for p in tmp_path.iterdir()] == [True]
    assert await frontier.add([CrawlRequest(urls[50])]) == []  # seen: spilled or not
    got = []
    while len(frontier):
        request = await frontier.get()
        assert request is not None
        got.append(request.url)
        await frontier.release(request)
    assert got == urls  # first in, first out across memory and disk
    await frontier.aclose()
    assert list(tmp_path.iterdir()) == []


async def test_a_crawl_past_its_window_writes_each_page_once_and_leaves_no_spill(crawl, site, tmp_path: Path) -> None:
    server = site(2000, links=20)
    spill = tmp_path / "spill"
    result = await crawl([server.url], memory_window=40, spill_dir=str(spill), robots=False, per_host=8)
    urls = [r["url"] for r in result.records]
    assert len(urls) == len(set(urls)) == 2000
    assert server.count("/") == 1 and len(server.hits) == 2000  # each page fetched once
    assert spill.is_dir() and list(spill.iterdir()) == []  # it spilled, and the folder went at the end


def _spilling(tmp_path: Path, server_url: str) -> subprocess.Popen[str]:
    spill = tmp_path / "spill"
    return subprocess.Popen(
        [sys.executable, "-m", "crawler", server_url, "-o", str(tmp_path / "out.jsonl"), "--no-robots",
         "--no-progress", "--per-host", "1"],
        env=os.environ | {"PYTHONPATH": str(ROOT), "CRAWLER_MEMORY_WINDOW": "5", "CRAWLER_SPILL_DIR": str(spill)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _spill_folders(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "spill"
    return list(folder.iterdir()) if folder.is_dir() else []


@pytest.mark.slow
def test_the_spill_folder_goes_after_ctrl_c_and_after_kill_9_at_the_next_start(serve, tmp_path: Path) -> None:
    server = serve(slow_app(300, 0.05))
    crawl = _spilling(tmp_path, server.url)
    wait_for(lambda: _spill_folders(tmp_path), timeout=60)
    crawl.send_signal(signal.SIGINT)
    assert crawl.wait(60) == 130
    assert _spill_folders(tmp_path) == []
    crawl = _spilling(tmp_path, server.url)
    wait_for(lambda: _spill_folders(tmp_path), timeout=60)
    crawl.kill()
    crawl.wait(30)
    left = _spill_folders(tmp_path)
    assert len(left) == 1
    again = run_cli(server.url, "-o", str(tmp_path / "again.jsonl"), "--no-robots", "--max-depth", "0",
                    env={"CRAWLER_MEMORY_WINDOW": "5", "CRAWLER_SPILL_DIR": str(tmp_path / "spill")})
    assert again.returncode == 0, again.stderr
    assert not left[0].exists()  # the killed crawl's folder, deleted by the next crawl


FULL_SPILL = '''
import errno, sys
from crawler.frontier import spill

def full(path, data):
    raise OSError(errno.ENOSPC, "No space left on device")

spill._write_lines = full
from crawler.cli.main import main
sys.exit(main(sys.argv[1:]))
'''


def test_a_full_disk_under_the_spill_folder_is_one_line_and_exit_1(site, tmp_path: Path) -> None:
    server = site(300, links=20)
    script = tmp_path / "full.py"
    script.write_text(FULL_SPILL)
    spill = tmp_path / "spill"
    done = subprocess.run([sys.executable, str(script), server.url, "-o", str(tmp_path / "out.jsonl"),
                           "--no-robots", "--no-progress"], capture_output=True, text=True, timeout=60,
                          env=os.environ | {"PYTHONPATH": str(ROOT), "CRAWLER_MEMORY_WINDOW": "10",
                                            "CRAWLER_SPILL_DIR": str(spill)})
    assert done.returncode == 1, done.stderr
    errors = [line.split(" ", 1)[1] for line in done.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and errors[0].startswith("crawler: ERROR: cannot write the spill folder ")
    assert errors[0].endswith(": No space left on device") and "Traceback" not in done.stderr
    assert _spill_folders(tmp_path) == []
