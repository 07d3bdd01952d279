"""The public API as a user's type checker sees it: the package is marked typed (PEP 561)."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import textwrap
import venv
from pathlib import Path

import pytest

from tests.conftest import ROOT

USER_SCRIPT = '''
from crawler import AsyncCallbackOutput, CallbackOutput, Request, Response, Spider, run_spider


class Shop(Spider):
    start_urls = ["http://127.0.0.1:8000/"]  # noqa: RUF012

    async def parse_item(self, response: Response) -> AsyncCallbackOutput:
        yield {"url": response.url}

    def parse(self, response: Response) -> CallbackOutput:
        title: str | None = response.css("title::text").get()
        yield {"title": title}
        url = response.urljoin("/next")
        if url is not None:
            yield Request(url, callback=self.parse)


if __name__ == "__main__":
    stats = run_spider(Shop(), output="out.jsonl")
'''


@pytest.mark.slow
def test_a_users_mypy_sees_the_public_api_typed(tmp_path: Path) -> None:
    # The package installed as a user has it (its folder in site-packages, not a source path):
    # without py.typed, mypy would skip it and see every name as Any.
    env_dir = tmp_path / "env"
    venv.create(env_dir, with_pip=False)
    site = next(env_dir.glob("lib/python*/site-packages"))
    (site / "crawler").symlink_to(ROOT / "crawler")
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")  # aiohttp and the rest, typed too
    good = tmp_path / "good.py"
    good.write_text(USER_SCRIPT)
    bad = tmp_path / "bad.py"
    bad.write_text(USER_SCRIPT + textwrap.dedent('''
        Request(42)
        wrong: int = Response.css
    '''))
    command = [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--python-executable",
               str(env_dir / "bin" / "python")]
    env = {k: v for k, v in os.environ.items() if k not in ("MYPYPATH", "PYTHONPATH")}
    done = subprocess.run([*command, str(good)], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    done = subprocess.run([*command, str(bad)], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)
    assert done.returncode == 1, done.stdout
    assert 'Argument 1 to "Request" has incompatible type "int"' in done.stdout
    assert "bad.py:23: error: Incompatible types in assignment" in done.stdout
