"""The tutorial (docs/tutorial.md) runs as written: its ``sh`` blocks, in order, in one folder,
with the files its titled Python blocks name, against the demo shop (served here on a free port
in place of 8000); and each step gives what the page says it gives."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crawler.cli.demoshop import PRODUCTS, shop_app
from tests.conftest import ROOT, read_jsonl

TUTORIAL = ROOT / "docs" / "tutorial.md"
BLOCK = re.compile(r'```(\w+)(?: title="([^"]+)")?\n(.*?)```', re.S)


def steps() -> list[tuple[str, str | None, str]]:
    """(language, title, text) of each fenced block of the tutorial, in order."""
    return [(m.group(1), m.group(2), m.group(3)) for m in BLOCK.finditer(TUTORIAL.read_text("utf-8"))]


def test_the_tutorial_has_runnable_steps_and_installs_nothing_it_runs() -> None:
    run = [text for language, _, text in steps() if language == "sh"]
    assert len(run) >= 8
    assert not any("pip install" in text or "demo --serve" in text for text in run)  # those are for the reader


@pytest.mark.slow
def test_the_tutorial_runs_as_written(serve, tmp_path: Path) -> None:
    shop = serve(shop_app())
    here = f"127.0.0.1:{shop.port}"
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"  # `python` is this one
    env = os.environ | {"PYTHONPATH": str(ROOT), "PATH": path}
    outputs: list[str] = []
    ended = 0.0
    for language, title, text in steps():
        text = text.replace("127.0.0.1:8000", here)
        if language == "python" and title:
            (tmp_path / title).write_text(text)
        if language != "sh":
            continue
        if "--recrawl-after 1s" in text:  # the page says: pages fetched over a second ago are due again
            time.sleep(max(0.0, ended + 1.1 - time.monotonic()))
        done = subprocess.run(["bash", "-e", "-c", text], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=180)
        ended = time.monotonic()
        assert done.returncode == 0, f"{text}\n{done.stderr}"
        outputs.append(done.stdout + done.stderr)

    pages = read_jsonl(tmp_path / "shop.jsonl")
    assert len(pages) == 43 and all(p["status"] == 200 and p["error"] is None for p in pages)
    assert "crawl finished: 43 pages (43 ok)" in outputs[0]
    assert outputs[1].startswith('{"url": "http://' + here + '/"')  # head -n 2 shop.jsonl
    assert len(read_jsonl(tmp_path / "first10.jsonl")) == 10
    assert "Widget 1" in outputs[3]  # the shell's answer
    products = read_jsonl(tmp_path / "widgets.jsonl")
    assert len(products) == PRODUCTS == 30
    assert {"url": f"http://{here}/product/1", "name": "Widget 1", "price": 2.0} in products
    (story,) = read_jsonl(tmp_path / "news.jsonl")
    assert story["author"] == "Ann 1" and story["published"] == "2026-11-01T08:00:00Z"
    assert "News of the shop." in story["text"] and story["markdown"]
    assert len(read_jsonl(tmp_path / "shop-md" / "index.jsonl")) == 43 and list((tmp_path / "shop-md").rglob("*.md"))
    assert len(read_jsonl(tmp_path / "out" / "shop-1.jsonl")) == 43
    assert [r["url"] for r in read_jsonl(tmp_path / "out" / "shop-2.jsonl")] == [f"http://{here}/login"]
    assert "1 pages (1 ok), 42 unchanged" in outputs[-1]
