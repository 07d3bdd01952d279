"""The crawler against a hostile web (tests/hostile.py), through the real command line: for every
behaviour the crawl ends, within a bound, with exactly one record for each URL it accepted.

The time bound of a case is about 2 x --timeout for each try, plus the backoff between tries and
the interpreter's start. Memory is the crawler process's own peak RSS, from wait4.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, read_jsonl
from tests.support.hostile import hostile_app

pytestmark = pytest.mark.usefixtures("http_client")  # each case with each HTTP client

START = 5.0  # seconds for the interpreter to start and the crawl to set up and end, generously


@dataclass
class Outcome:
    records: dict[str, dict[str, Any]]  # by URL
    stats: dict[str, Any]
    seconds: float
    peak_mb: float
    stderr: str


@pytest.fixture
def hostile(serve):
    return serve(hostile_app())


def crawl_cli(server: Any, tmp_path: Path, path: str, *args: str, bound: float = 30.0,
              sitemap: bool = False) -> Outcome:
    """Crawl from ``path`` on ``server`` with the command line (as a seed, or with ``sitemap``
    as ``--sitemap``); checks that it ended within ``bound`` seconds with one record for each
    URL it accepted, each once."""
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(server.url.rstrip("/") + path + "\n")
    start = ["--sitemap", server.url.rstrip("/") + path] if sitemap else ["--seeds", str(seeds)]
    out, stats = tmp_path / "out.jsonl", tmp_path / "stats.json"
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    with open(tmp_path / "stderr.txt", "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "crawler", *start, "-o", str(out), "--stats",
                                 str(stats), "--no-progress", *args], stdout=subprocess.DEVNULL, stderr=err, env=env)
        reaped: dict[str, Any] = {}
        waiter = threading.Thread(target=lambda: reaped.update(zip(("pid", "status", "usage"), os.wait4(proc.pid, 0),
                                                                   strict=True)))
        waiter.start()
        waiter.join(bound + START)
        if waiter.is_alive():
            proc.kill()
            waiter.join()
            pytest.fail(f"the crawl of {path} did not end within {bound + START:.0f} s")
    seconds = time.monotonic() - started
    stderr = (tmp_path / "stderr.txt").read_text()
    figures = json.loads(stats.read_text())
    # A crawl that got no page at all (its one seed failed) says so with exit status 1.
    assert os.waitstatus_to_exitcode(reaped["status"]) == (0 if figures["ok"] else 1), stderr[-3000:]
    records = read_jsonl(out)
    urls = [r["url"] for r in records]
    # Nothing lost, nothing twice: every accepted URL ends as exactly one record.
    assert len(urls) == len(set(urls)) == figures["discovered"] == figures["pages"], (urls, figures)
    return Outcome({r["url"]: r for r in records}, figures, seconds, reaped["usage"].ru_maxrss / 1024, stderr)


def seed_record(outcome: Outcome, server: Any, path: str) -> dict[str, Any]:
    return outcome.records[server.url.rstrip("/") + path]


# -- bodies ------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("path", ["/body/drip", "/body/silent"])
def test_a_server_too_slow_or_silent_ends_as_timeout_at_the_deadline(hostile, tmp_path: Path, path: str) -> None:
    outcome = crawl_cli(hostile, tmp_path, path, "--timeout", "2", "--retries", "1", bound=2 * 2 * 2 + 2)
    record = seed_record(outcome, hostile, path)
    assert record["error"] == "timeout"
    assert hostile.count(path) == 2  # tried, and tried once more
    assert outcome.seconds >= 4  # two deadlines spent, no more


@pytest.mark.slow
@pytest.mark.parametrize("path", ["/body/reset", "/body/short"])
def test_a_body_cut_short_is_content(hostile, tmp_path: Path, path: str) -> None:
    outcome = crawl_cli(hostile, tmp_path, path, "--retries", "1", bound=5)
    assert seed_record(outcome, hostile, path)["error"] == "content"
    assert hostile.count(path) == 2


@pytest.fixture(scope="module")
def baseline_mb(tmp_path_factory: pytest.TempPathFactory) -> float:
    """The crawler's peak RSS crawling one small page: what a bomb must not add 100 MB to."""
    from crawler.cli.testsite import ServerThread

    with ServerThread(hostile_app()) as server:
        class Served:
            url = server.url

        return crawl_cli(Served, tmp_path_factory.mktemp("baseline"), "/ok").peak_mb


@pytest.mark.slow
@pytest.mark.parametrize("path", ["/body/gzip-bomb", "/body/brotli-bomb", "/body/huge", "/body/huge?chunked"])
def test_bombs_and_huge_bodies_are_too_large_in_bounded_memory(hostile, tmp_path: Path, path: str,
                                                                baseline_mb: float) -> None:
    outcome = crawl_cli(hostile, tmp_path, path, bound=20)
    record = seed_record(outcome, hostile, path)
    assert record["error"] == "too_large" and record["status"] == 200
    assert outcome.peak_mb - baseline_mb < 100, f"{outcome.peak_mb:.0f} MB against {baseline_mb:.0f} MB"


@pytest.mark.parametrize("path", ["/coding/gzip-gzip", "/coding/gzip-br", "/coding/zstd", "/coding/gzip-members"])
def test_every_coding_listed_is_undone(hostile, tmp_path: Path, path: str) -> None:
    from tests.support.hostile import CODED

    outcome = crawl_cli(hostile, tmp_path, path, bound=5)
    record = seed_record(outcome, hostile, path)
    assert (record["error"], record["title"], record["links"], record["bytes"]) == (None, "coded", 1, len(CODED))
    assert hostile.url + "ok" in outcome.records


@pytest.mark.parametrize("path", ["/coding/gzip-cut", "/coding/unknown"])
def test_a_body_cut_short_in_its_coding_or_of_an_unknown_one_is_content(hostile, tmp_path: Path, path: str) -> None:
    outcome = crawl_cli(hostile, tmp_path, path, "--retries", "0", bound=5)
    record = seed_record(outcome, hostile, path)
    assert (record["error"], record["status"], record["links"]) == ("content", 200, 0)


def test_a_zstd_bomb_is_too_large_in_bounded_memory(hostile, tmp_path: Path, baseline_mb: float) -> None:
    outcome = crawl_cli(hostile, tmp_path, "/coding/zstd-bomb", bound=20)
    assert seed_record(outcome, hostile, "/coding/zstd-bomb")["error"] == "too_large"
    assert outcome.peak_mb - baseline_mb < 100, f"{outcome.peak_mb:.0f} MB against {baseline_mb:.0f} MB"


def test_300_response_headers(hostile, tmp_path: Path) -> None:
    outcome = crawl_cli(hostile, tmp_path, "/headers/many", bound=5)
    record = seed_record(outcome, hostile, "/headers/many")
    assert (record["error"], record["title"]) == (None, "many")


@pytest.mark.slow
def test_a_thousand_short_response_headers_are_read_and_a_400_kb_header_block_is_too_large(hostile, tmp_path: Path
                                                                                            ) -> None:
    # The bound is on the header block's size (256 KiB, as Chromium), not on the headers' number.
    outcome = crawl_cli(hostile, tmp_path, "/headers/thousand", bound=5)
    record = seed_record(outcome, hostile, "/headers/thousand")
    assert (record["error"], record["title"]) == (None, "thousand")
    outcome = crawl_cli(hostile, tmp_path, "/headers/huge", "--retries", "0", bound=5)
    record = seed_record(outcome, hostile, "/headers/huge")
    assert (record["error"], record["status"]) == ("too_large", None)


def test_100_kb_of_response_headers(hostile, tmp_path: Path) -> None:
    outcome = crawl_cli(hostile, tmp_path, "/body/big-headers", bound=5)
    record = seed_record(outcome, hostile, "/body/big-headers")
    assert record["error"] is None and record["bytes"] == len(b"<html>fine</html>")


@pytest.mark.parametrize(("path", "title"), [
    ("/empty", None), ("/body/binary", None), ("/body/malformed", "soup"), ("/body/deep", None),
    ("/body/cp1251", "Привет, мир"), ("/body/shift-jis", "こんにちは"),
])
def test_odd_bodies_are_recorded_as_they_are(hostile, tmp_path: Path, path: str, title: str | None) -> None:
    outcome = crawl_cli(hostile, tmp_path, path, bound=10)
    record = seed_record(outcome, hostile, path)
    assert record["error"] is None and record["status"] == 200
    assert record["title"] == title


@pytest.mark.parametrize("kb", [107, 53])  # 53 KB is parsed on the event loop, 107 KB in the pool
def test_a_formatting_bomb_is_content_in_bounded_memory_and_time(hostile, tmp_path: Path, kb: int,
                                                                 baseline_mb: float) -> None:
    path = f"/body/formatting-bomb?kb={kb}"
    outcome = crawl_cli(hostile, tmp_path, path, bound=5)
    record = seed_record(outcome, hostile, path)
    assert (record["error"], record["status"]) == ("content", 200)
    assert outcome.peak_mb - baseline_mb < 100, f"{outcome.peak_mb:.0f} MB against {baseline_mb:.0f} MB"
    assert "not parsed" in outcome.stderr and "Traceback" not in outcome.stderr


@pytest.mark.parametrize("kind", ["li", "p", "tr", "option", "dd"])
def test_links_in_elements_with_implied_end_tags_are_all_kept(hostile, tmp_path: Path, kind: str) -> None:
    path = f"/body/implied/{kind}"
    outcome = crawl_cli(hostile, tmp_path, path, "--max-depth", "0", bound=10)
    assert seed_record(outcome, hostile, path)["links"] == 3000


@pytest.mark.slow
def test_a_per_page_link_cap_is_a_setting_and_counted(hostile, tmp_path: Path) -> None:
    outcome = crawl_cli(hostile, tmp_path, "/body/many-links", "--max-depth", "0", bound=15)
    assert seed_record(outcome, hostile, "/body/many-links")["links"] == 100_000  # no cap by default
    capped = crawl_cli(hostile, tmp_path, "/body/many-links", "--max-links-per-page", "1000", bound=15)
    record = seed_record(capped, hostile, "/body/many-links")
    assert (record["links"], record["links_dropped"]) == (1000, 99_000)
    assert capped.stats["links_dropped"] == 99_000 and len(capped.records) == 1001


def test_a_wrong_declared_charset_is_replaced_not_fatal(hostile, tmp_path: Path) -> None:
    outcome = crawl_cli(hostile, tmp_path, "/body/wrong-charset", bound=5)
    record = seed_record(outcome, hostile, "/body/wrong-charset")
    assert record["error"] is None and "\ufffd" in record["title"]  # cp1251 bytes read as UTF-8


def test_a_page_declared_utf_7_is_not_read_as_utf_7(hostile, tmp_path: Path) -> None:
    outcome = crawl_cli(hostile, tmp_path, "/body/utf-7", bound=5)
    assert seed_record(outcome, hostile, "/body/utf-7")["links"] == 1  # /ok; no /hidden
    assert hostile.count("/hidden") == 0


# -- redirects -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "error"), [
    ("/redirect/loop", "too_many_redirects"),
    ("/redirect/chain/0", "too_many_redirects"),  # 50 hops; 10 are followed
    ("/redirect/to/file", "redirect_blocked"),
    ("/redirect/to/data", "redirect_blocked"),
    ("/redirect/to/elsewhere", "redirect_blocked"),  # out of scope: never resolved
    ("/redirect/to/private", "redirect_blocked"),  # 10.0.0.1: never connected to
    ("/redirect/to/link-local", "redirect_blocked"),  # the cloud metadata address
    ("/redirect/to/loopback-spelling", "redirect_blocked"),  # 0x7f.0.0.2 is 127.0.0.2, not the seed's host
])
def test_redirects_that_go_nowhere_good(hostile, tmp_path: Path, path: str, error: str) -> None:
    outcome = crawl_cli(hostile, tmp_path, path, bound=10)
    assert seed_record(outcome, hostile, path)["error"] == error
    assert len(outcome.records) == 1


def test_a_meta_refresh_loop_ends(hostile, tmp_path: Path) -> None:
    outcome = crawl_cli(hostile, tmp_path, "/meta-refresh", bound=5)
    assert list(outcome.records) == [hostile.url + "meta-refresh"]
    assert hostile.count("/meta-refresh") == 1


# -- traps -----------------------------------------------------------------------------------------

def test_an_endless_calendar_ends_at_the_depth_limit(hostile, tmp_path: Path) -> None:
    outcome = crawl_cli(hostile, tmp_path, "/calendar/2030/6", bound=30)
    depths = [r["depth"] for r in outcome.records.values()]
    assert max(depths) == 20 and len(depths) == 41  # a month either way for each hop


def test_a_host_page_budget(hostile, tmp_path: Path) -> None:
    outcome = crawl_cli(hostile, tmp_path, "/calendar/2030/6", "--max-pages-per-host", "10", bound=10)
    assert len(outcome.records) == 10


def test_ever_longer_paths_end_at_the_repeated_segment_guard(hostile, tmp_path: Path) -> None:
    outcome = crawl_cli(hostile, tmp_path, "/a/", bound=10)
    assert sorted(outcome.records) == [hostile.url + "a/", hostile.url + "a/a/"]  # /a/a/a/ repeats a 3rd time


def test_session_ids_end_at_the_depth_limit(hostile, tmp_path: Path) -> None:
    outcome = crawl_cli(hostile, tmp_path, "/session", bound=30)
    assert len(outcome.records) == 21


def test_ever_longer_urls_end_at_the_length_limit(hostile, tmp_path: Path) -> None:
    outcome = crawl_cli(hostile, tmp_path, "/longer", bound=10)
    assert all(len(url) <= 2083 for url in outcome.records)
    assert len(outcome.records) == 12  # pad of 1, 2, 4, ... 2048 characters


# -- links ---------------------------------------------------------------------------------------

def test_bad_links_are_dropped_and_the_rest_recorded(hostile, tmp_path: Path) -> None:
    outcome = crawl_cli(hostile, tmp_path, "/links", bound=15)
    base = hostile.url.rstrip("/")
    assert sorted(outcome.records) == sorted([
        base + "/links", base + "/above-root", base + "/ctrl%01char", base + "/with%20space/andtab",
    ])


# -- rate limits and failures ----------------------------------------------------------------------

@pytest.mark.slow
def test_429_with_retry_after_is_waited_for(hostile, tmp_path: Path) -> None:
    outcome = crawl_cli(hostile, tmp_path, "/rate/429", bound=8)
    assert seed_record(outcome, hostile, "/rate/429")["status"] == 200
    hits = [h.start for h in hostile.hits if h.path == "/rate/429"]
    assert len(hits) == 2 and hits[1] - hits[0] >= 1.0


def test_a_503_that_comes_and_goes(hostile, tmp_path: Path) -> None:
    outcome = crawl_cli(hostile, tmp_path, "/rate/503", bound=8)
    assert seed_record(outcome, hostile, "/rate/503")["status"] == 200


@pytest.mark.slow
def test_a_host_that_always_fails_is_retried_with_backoff_then_http(hostile, tmp_path: Path) -> None:
    outcome = crawl_cli(hostile, tmp_path, "/rate/500", "--retries", "3", bound=15)
    assert seed_record(outcome, hostile, "/rate/500")["error"] == "http"
    hits = [h.start for h in hostile.hits if h.path == "/rate/500"]
    gaps = [b - a for a, b in itertools.pairwise(hits)]
    assert len(hits) == 4 and gaps == sorted(gaps) and gaps[0] >= 0.25  # backoff that grows


@pytest.mark.slow
def test_parse_isolation_from_the_command_line(hostile, tmp_path: Path) -> None:
    outcome = crawl_cli(hostile, tmp_path, "/body/malformed", "--parse-isolation", "process", bound=15)
    record = seed_record(outcome, hostile, "/body/malformed")
    assert record["error"] is None and record["title"] == "soup" and record["links"] == 1
    assert hostile.url + "empty" in outcome.records


# -- answers that do not end where they say (keep-alive desync) --------------------------------------

SMUGGLED = b"<html><title>SMUGGLED</title><a href='/evil'>x</a></html>"


def desync_routes(path: str) -> tuple[bytes, bytes]:
    """``/start/CASE`` links to ``/CASE`` and then to 20 pages titled with their own paths; CASE is
    an answer with an extra one (titled SMUGGLED, linking to /evil) behind it, sent at once or
    50 ms later."""
    from tests.support.rawserver import response

    smuggled = response("200 OK", SMUGGLED)
    if path.startswith("/start/"):
        links = f"<a href='/{path[7:]}'>x</a>" + "".join(f"<a href='/page/{i}'>x</a>" for i in range(20))
        return response("200 OK", f"<html><title>{path}</title>{links}</html>".encode()), b""
    cases = {
        "/204-body": (response("204 No Content", b"", length=0) + smuggled, b""),
        "/304-body": (response("304 Not Modified", b"", length=0) + smuggled, b""),
        "/204-late": (response("204 No Content", b"", length=0), smuggled),
        "/304-late": (response("304 Not Modified", b"", length=0), smuggled),
        "/extra": (response("200 OK", b"<html><title>/extra</title></html>") + smuggled, b""),
        "/extra-late": (response("200 OK", b"<html><title>/extra-late</title></html>"), smuggled),
    }
    if path in cases:
        return cases[path]
    return response("200 OK", f"<html><title>{path}</title></html>".encode()), b""


@pytest.mark.parametrize("case", ["204-body", "304-body", "204-late", "304-late", "extra", "extra-late"])
def test_an_answer_with_bytes_past_its_end_never_lends_them_to_another_page(tmp_path: Path, case: str) -> None:
    from tests.support.rawserver import RawServer

    with RawServer(desync_routes) as server:
        outcome = crawl_cli(server, tmp_path, f"/start/{case}", "--per-host", "1", "--no-robots", bound=10)
        wrong = [url for url, r in outcome.records.items()
                 if r["title"] is not None and r["title"] != "/" + url.split("/", 3)[3]]
        if case == "extra-late":
            # Held back until the next request was sent, the extra answer is read as that one's;
            # then the host is no longer kept alive, and every other page is right.
            assert len(wrong) <= 1 and server.hits.count("/evil") <= 1
            assert len(outcome.records) == 22 + len(wrong)
        else:
            assert wrong == [] and "/evil" not in server.hits and len(outcome.records) == 22


# -- sitemaps ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/sitemap/laughs.xml", "/sitemap/external.xml", "/sitemap/html"])
def test_a_sitemap_with_entities_or_no_sitemap_at_all_is_content_in_one_line(hostile, tmp_path: Path,
                                                                              path: str) -> None:
    outcome = crawl_cli(hostile, tmp_path, path, bound=5, sitemap=True)
    assert list(outcome.records) == [hostile.url.rstrip("/") + path]
    assert seed_record(outcome, hostile, path)["error"] == "content"
    lines = outcome.stderr.splitlines()
    assert "Traceback" not in outcome.stderr and len([line for line in lines if "WARNING" in line]) == 1


def test_a_sitemap_of_a_million_urls_is_cut_at_50000_with_a_warning(hostile, tmp_path: Path,
                                                                     baseline_mb: float) -> None:
    outcome = crawl_cli(hostile, tmp_path, "/sitemap/million.xml", "--timeout", "5", bound=15, sitemap=True)
    sitemap = seed_record(outcome, hostile, "/sitemap/million.xml")
    assert sitemap["error"] is None and sitemap["links"] == 5  # n=0, 10000, ... 40000: the first 50,000
    assert sorted(outcome.records) == sorted([hostile.url + "sitemap/million.xml",
                                              *(f"{hostile.url}ok?n={i}" for i in range(0, 50_000, 10_000))])
    assert "more than 50000 URLs" in outcome.stderr
    assert outcome.peak_mb - baseline_mb < 100


def test_a_gzipped_sitemap_of_several_members_is_read_whole(hostile, tmp_path: Path) -> None:
    outcome = crawl_cli(hostile, tmp_path, "/sitemap/members.xml.gz", bound=5, sitemap=True)
    assert seed_record(outcome, hostile, "/sitemap/members.xml.gz")["links"] == 2
    assert {hostile.url + "ok?n=1", hostile.url + "ok?n=2"} <= set(outcome.records)
