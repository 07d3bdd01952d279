"""The command line as users run it: a subprocess, real servers, exit codes, stdout/stderr."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading
import zlib
from pathlib import Path

import pytest
from aiohttp import web

from crawler.cli.testsite import page_path
from tests.conftest import ROOT, read_jsonl, run_cli, wait_for
from tests.support.sites import app_of, lines_in, seeds_file, slow_app, start_cli


def test_crawl_a_500_page_site_to_stdout(site, tmp_path: Path) -> None:
    server = site(500)
    stats = tmp_path / "stats.json"
    proc = run_cli("--seeds", seeds_file(tmp_path, "# my seeds", "", server.url), "--per-host", "8",
                   "--stats", str(stats))
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert sorted(r["url"] for r in records) == sorted(server.url.rstrip("/") + page_path(i) for i in range(500))
    assert all(list(r) == ["url", "final_url", "status", "error", "depth", "referrer", "content_type", "title",
                           "links", "bytes", "fetched_at", "elapsed_ms", "noindex", "lastmod", "redirect_to"]
               for r in records)
    assert "crawl finished: 500 pages (500 ok)" in proc.stderr
    figures = json.loads(stats.read_text())
    assert figures["pages"] == 500 and figures["status"] == {"200": 500} and figures["interrupted"] is False
    assert figures["bytes"] == sum(r["bytes"] for r in records)


def test_urls_as_arguments_with_or_without_the_crawl_command(site, tmp_path: Path) -> None:
    server = site(3)
    for args in ([server.url], ["crawl", server.url], [server.url.replace("http://", "")]):  # wget's habit too
        out = tmp_path / "out.jsonl"
        proc = run_cli(*args, "-o", str(out), "--no-progress", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert len(read_jsonl(out)) == 3


@pytest.mark.parametrize(("args", "said"), [
    (["--seed", "urls.txt"], "crawler: error: unrecognized arguments: --seed; did you mean --seeds?"),
    (["--max-page", "3", "x.org"], "crawler: error: unrecognized arguments: --max-page; did you mean --max-pages?"),
    (["crawll", "x.org"], "crawler: error: 'crawll' is neither a URL nor a command; did you mean crawl?"),
    ([], "crawler: error: no seed URLs: give them as arguments"),
])
def test_no_abbreviations_and_a_typo_gets_a_hint(tmp_path: Path, args: list[str], said: str) -> None:
    (tmp_path / "urls.txt").write_text("http://127.0.0.1:9/\n")
    proc = run_cli(*args, cwd=tmp_path)
    assert proc.returncode == 2 and not list(tmp_path.glob("*.jsonl"))
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(said), line


def test_help_is_short_at_the_top_whole_for_crawl_and_each_commands_own() -> None:
    top = run_cli("--help")
    assert top.returncode == 0
    for command in ("crawl", "demo", "extract", "shell", "fetch", "parse", "seed", "status", "config"):
        assert re.search(rf"^  {command} ", top.stdout, re.M), command
    assert "--seeds FILE" in top.stdout and "--max-idle-connections" not in top.stdout
    assert len(top.stdout.splitlines()) < 80
    whole = run_cli("crawl", "--help").stdout
    assert "--max-idle-connections" in whole and "durable crawls:" in whole and "requests:" in whole
    fetch = run_cli("fetch", "--help").stdout
    assert "--headers" in fetch and "--max-idle-connections" not in fetch and "crawler crawl --help" in fetch
    assert len(fetch.splitlines()) < 25


def test_seeds_from_stdin_and_bad_lines_reported_with_numbers(site, tmp_path: Path) -> None:
    server = site(3)
    out = tmp_path / "out.jsonl"
    proc = run_cli("--seeds", "-", "-o", str(out), input=f"ftp://nope/\n{server.url}\nhttp://[bad/\n")
    assert proc.returncode == 0, proc.stderr
    assert "stdin:1: not an http(s) URL" in proc.stderr and "stdin:3:" in proc.stderr
    assert len(read_jsonl(out)) == 3


def test_config_file_and_command_line_precedence(site, tmp_path: Path) -> None:
    server = site(50)
    config = tmp_path / "crawl.toml"
    config.write_text('max_pages = 7\nper_host = 3\noutput = "from-config.jsonl"\n')
    proc = run_cli("--seeds", seeds_file(tmp_path, server.url), "--config", str(config),
                   "--max-pages", "5", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert len(read_jsonl(tmp_path / "from-config.jsonl")) == 5


@pytest.mark.parametrize(("args", "message"), [
    ([], "no seed URLs: give them as arguments (crawler https://example.org/) or in a file (--seeds FILE)"),
    (["--seeds", "missing.txt"], "--seeds: no such file: missing.txt"),
    (["--seeds", "{seeds}", "--concurrency", "many"], "--concurrency (from command line): expected a whole number"),
    (["--seeds", "{seeds}", "--per-host", "0"], "--per-host (from command line): must be at least 1"),
    (["--seeds", "{seeds}", "--timeout", "-1"], "--timeout (from command line): must be more than 0"),
    (["--seeds", "{seeds}", "--scope", "planet"], "argument --scope: invalid choice"),
    (["--seeds", "{seeds}", "--no-such-option"], "unrecognized arguments: --no-such-option"),
    (["--seeds", "{seeds}", "--include", "(unclosed"], "--include (from command line): bad regular expression"),
    (["--seeds", "{seeds}", "-o", "seeds.txt/out.jsonl"], "--output: cannot make the directory of seeds.txt/out.jsonl"),
    (["--seeds", "{seeds}", "--stats", "seeds.txt/s.json"], "--stats: cannot make the directory of seeds.txt/s.json"),
    (["--seeds", "{seeds}", "--report", "seeds.txt/r.html"], "--report: cannot make the directory of"),
    (["--seeds", "{binary}"], "--seeds: binary.bin is not a text file (it holds NUL bytes)"),
    (["--seeds", "{latin}"], "--seeds: latin.txt is not UTF-8 text"),
    (["--seeds", "{junk}"], "--seeds: no valid URL in"),
    (["--seeds", "{seeds}", "--rotate-size", "10 parsecs"], "--rotate-size (from command line): expected a size"),
    (["--seeds", "{seeds}", "--rotate-records", "5"], "--rotate-size/--rotate-records: stdout cannot be rotated"),
    (["--seeds", "{seeds}", "--format", "xml"], "argument --format: invalid choice: 'xml'"),
    (["--seeds", "{seeds}", "--config", "{badconfig}"], "unknown setting 'per_hots' (from"),
    (["--seeds", "{seeds}", "--config", "missing.toml"], "--config: no such file: missing.toml"),
])
def test_usage_errors_are_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "seeds.txt").write_text("http://127.0.0.1:9/\n")
    (tmp_path / "junk.txt").write_text("not a url at all\nmailto:x@y\n")
    (tmp_path / "bad.toml").write_text("per_hots = 4\n")
    (tmp_path / "binary.bin").write_bytes(Path(sys.executable).read_bytes()[:20000])  # an ELF file, as /bin/ls
    (tmp_path / "latin.txt").write_bytes(bytes(range(0x80, 0x100)) * 10 + b"\nhttp://127.0.0.1:9/\n")
    names = {"seeds": "seeds.txt", "junk": "junk.txt", "badconfig": "bad.toml", "binary": "binary.bin",
             "latin": "latin.txt"}
    proc = run_cli(*(a.format(**names) for a in args), cwd=tmp_path)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip() and "not an http(s) URL" not in line]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("crawler: error: ") and message in lines[0], lines[0]
    assert proc.stdout == ""


def test_help_lists_options_with_defaults() -> None:
    proc = run_cli("crawl", "--help")
    assert proc.returncode == 0
    for option, default in [("--concurrency", "64"), ("--per-host", "2"), ("--max-depth", "20"),
                            ("--timeout", "30"), ("--retries", "3"), ("--scope", "host"),
                            ("--header-scope", "seeds"), ("--proxy-rotate", "host"), ("--no-env-proxy", "on")]:
        entry = re.search(r"\n  " + option + r"\b(.*?)(?=\n  -|\n\n)", proc.stdout, re.DOTALL)
        assert entry is not None, option
        assert f"(default: {default}" in " ".join(entry.group(1).split()), entry.group(0)
    examples = proc.stdout.split("\nexamples:\n", 1)[1]
    for example in ('-H "Authorization: Bearer $TOKEN"', "--load-cookies cookies.txt", "--auth", "--proxy socks5h://",
                    "--ca-bundle", '"method": "POST"'):
        assert example in examples, example


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_signal_mid_crawl_flushes_and_exits_130(serve, tmp_path: Path, sig: signal.Signals) -> None:
    server = serve(slow_app(400, 0.02))
    out, stats = tmp_path / "out.jsonl", tmp_path / "stats.json"
    proc = start_cli("--seeds", seeds_file(tmp_path, server.url), "-o", str(out), "--stats", str(stats),
                     "--per-host", "2", cwd=tmp_path)
    wait_for(lambda: lines_in(out) >= 20, timeout=20)
    proc.send_signal(sig)
    proc.wait(timeout=20)
    stderr = (tmp_path / "stderr.txt").read_text()
    assert proc.returncode == 130, stderr
    records = read_jsonl(out)  # every line is whole, valid JSON
    assert 20 <= len(records) < 401
    assert len({r["url"] for r in records}) == len(records)
    figures = json.loads(stats.read_text())
    assert figures["interrupted"] is True and figures["pages"] == len(records)
    assert "crawl interrupted" in stderr and "Traceback" not in stderr


@pytest.mark.slow
def test_second_sigint_stops_at_once(serve, tmp_path: Path) -> None:
    async def hang(request: web.Request) -> web.Response:
        if request.path == "/":
            return web.Response(text="".join(f'<a href="/h/{i}">x</a>' for i in range(10)), content_type="text/html")
        await asyncio.sleep(3600)
        raise AssertionError

    app = app_of({"/": hang})
    app.router.add_get("/h/{n}", hang)
    server = serve(app)
    out = tmp_path / "out.jsonl"
    proc = start_cli("--seeds", seeds_file(tmp_path, server.url), "-o", str(out), cwd=tmp_path)
    wait_for(lambda: lines_in(out) >= 1 and sum(h.path.startswith("/h/") for h in server.hits) >= 2, timeout=20)
    proc.send_signal(signal.SIGINT)
    wait_for(lambda: "stopping" in (tmp_path / "stderr.txt").read_text(), timeout=5)
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=3)  # well before the 5 s grace
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert [r["url"] for r in read_jsonl(out)] == [server.url]


@pytest.mark.slow
def test_gzip_bomb_costs_at_most_max_bytes(serve, tmp_path: Path) -> None:
    compressor = zlib.compressobj(9, wbits=31)
    zeros = bytes(2**20)
    bomb = b"".join(compressor.compress(zeros) for _ in range(400)) + compressor.flush()  # 400 MiB inflated

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=bomb, headers={"Content-Encoding": "gzip", "Content-Type": "text/html"})

    server = serve(app_of({"/": handler}))
    out = tmp_path / "out.jsonl"
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "crawler", "--seeds", seeds_file(tmp_path, server.url), "-o",
                             str(out), "--max-bytes", str(2**20)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    result: dict[str, object] = {}
    waiter = threading.Thread(target=lambda: result.update(zip(("pid", "status", "usage"), os.wait4(proc.pid, 0),
                                                               strict=True)))
    waiter.start()
    waiter.join(60)
    assert os.waitstatus_to_exitcode(result["status"]) == 1  # type: ignore[arg-type]  # its one page failed
    peak_mb = result["usage"].ru_maxrss / 1024  # type: ignore[attr-defined]
    assert read_jsonl(out)[0]["error"] == "too_large"
    assert peak_mb < 150, f"peak RSS {peak_mb:.0f} MB"


def test_demo_crawls_a_local_site(tmp_path: Path) -> None:
    proc = run_cli("demo", "--no-progress", "--per-host", "8", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    records = read_jsonl(tmp_path / "demo.jsonl")
    errors = sorted(r["error"] for r in records if r["error"])
    assert len(records) == 304 and errors == ["http", "http"]
    assert "records written to demo.jsonl" in proc.stderr


def test_a_closed_stdout_is_a_quiet_stop_with_exit_141(site, tmp_path: Path) -> None:
    server = site(500)
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "crawler", "--seeds", seeds_file(tmp_path, server.url),
                             "--no-progress"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    first = [proc.stdout.readline() for _ in range(3)]  # what `| head -3` reads
    proc.stdout.close()
    _, stderr = proc.communicate(timeout=30)
    assert all(json.loads(line)["url"] for line in first)
    assert proc.returncode == 141, stderr
    assert stderr == ""  # no error line, no summary


def test_the_directories_of_outputs_are_made(site, tmp_path: Path) -> None:
    server = site(5)
    proc = run_cli("--seeds", seeds_file(tmp_path, server.url), "-o", "out/pages.jsonl", "--stats",
                   "stats/s.json", "--report", "reports/r.html", "--no-progress", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert len(read_jsonl(tmp_path / "out" / "pages.jsonl")) == 5
    assert (tmp_path / "stats" / "s.json").exists() and (tmp_path / "reports" / "r.html").exists()


def test_a_seed_file_of_junk_lines_is_reported_briefly_and_without_control_characters(tmp_path: Path) -> None:
    junk = "".join(f"\x1b[31mjunk {i}\x07\n" for i in range(50)) + "http://0.0.0.5/\nhttp://0/\n"
    (tmp_path / "junk.txt").write_text(junk)
    proc = run_cli("--seeds", "junk.txt", cwd=tmp_path)
    assert proc.returncode == 2
    assert "\x1b" not in proc.stderr and "\x07" not in proc.stderr and "\\x1b[31mjunk 0" in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 12 and "42 more lines that are not http(s) URLs or requests skipped" in lines[10]


def test_config_show_into_a_closed_pipe_is_a_quiet_stop(tmp_path: Path) -> None:
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "crawler", "config", "--show"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    proc.stdout.close()  # the reader is gone before anything is written
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 141 and stderr == "", stderr
