"""The documentation's Python examples (README.md and docs/) run as written, the documented ways,
against the demo shop they name (served here on a free port in place of 8000)."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

from crawler.cli.demoshop import PRODUCTS, shop_app
from tests.conftest import ROOT, read_jsonl

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCKS = [block for page in DOCS for block in re.findall(r"```python\n(.*?)```", page.read_text("utf-8"), re.S)]
RUNS = ("run_spider", "run")  # what starts a crawl: run_spider(...), asyncio.run(...)


def complete(block: str) -> bool:
    """A whole program (it imports from crawler), not an excerpt."""
    return "from crawler import" in block


def test_every_complete_example_guards_its_run() -> None:
    # Importing a module (as --spider module:Class does) must not start a crawl.
    found = 0
    for block in filter(complete, BLOCKS):
        for node in ast.parse(block).body:
            calls = [n for n in ast.walk(node) if isinstance(n, ast.Call)]
            names = {getattr(c.func, "attr", getattr(c.func, "id", None)) for c in calls}
            if names & set(RUNS) and not isinstance(node, ast.If):
                raise AssertionError(f"a crawl run at import time, not under __main__:\n{ast.unparse(node)}")
        found += 1
    assert found >= 3


def test_the_first_spider_runs_once_as_a_script_and_once_with_dash_dash_spider(serve, tmp_path: Path) -> None:
    shop = serve(shop_app())
    (first,) = [b for b in BLOCKS if "class Products(Spider)" in b]
    (tmp_path / "myspiders.py").write_text(first.replace("http://127.0.0.1:8000/", shop.url))
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    script = subprocess.run([sys.executable, "myspiders.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=120)
    assert script.returncode == 0, script.stderr
    assert f"{PRODUCTS} products" in script.stdout and len(read_jsonl(tmp_path / "products.jsonl")) == PRODUCTS
    assert shop.count("/product/1") == 1
    cli = subprocess.run([sys.executable, "-m", "crawler", "--spider", "myspiders:Products", "-o", "cli.jsonl"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0, cli.stderr
    assert len(read_jsonl(tmp_path / "cli.jsonl")) == PRODUCTS
    assert shop.count("/product/1") == 2  # one crawl more, not two


def run_example(url: str, tmp_path: Path, marker: str, name: str) -> subprocess.CompletedProcess[str]:
    """Run the one example holding ``marker`` as the script ``name``, against the shop at ``url``."""
    (example,) = [b for b in BLOCKS if marker in b]
    (tmp_path / name).write_text(example.replace("http://127.0.0.1:8000/", url))
    done = subprocess.run([sys.executable, name], cwd=tmp_path, env=os.environ | {"PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done


def test_the_engine_example_runs_as_a_script(serve, tmp_path: Path) -> None:
    done = run_example(serve(shop_app()).url, tmp_path, "Engine(settings", "pages.py")
    pages = read_jsonl(tmp_path / "pages.jsonl")
    assert len(pages) > PRODUCTS and f"{len(pages)} pages" in done.stdout


def test_the_readme_spider_runs_as_a_script(serve, tmp_path: Path) -> None:
    run_example(serve(shop_app()).url, tmp_path, "class Prices(Spider)", "prices.py")
    prices = read_jsonl(tmp_path / "prices.jsonl")
    assert len(prices) == PRODUCTS and {"name": "Widget 1", "price": "$2.00"} in prices
