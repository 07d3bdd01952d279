"""--extract against real pages served on 127.0.0.1: main text and Markdown, metadata,
OpenGraph, JSON-LD (valid and broken), language, SimHash, AI-usage signals; the CSV, WARC and
markdown outputs; kill -9 and resume; an extractor that crashes; and the quality gate on the
scored article set of ../shared/extraction/."""

from __future__ import annotations

import asyncio
import csv
import json
import re
import signal
from pathlib import Path

import psutil
import pytest
from aiohttp import web

from crawler import Crawler, PageRecorder, Response, Spider
from crawler.parse import extractpool
from crawler.parse.extract import main_text
from crawler.parse.simhash import distance, simhash
from tests.conftest import read_jsonl, run_cli, wait_for
from tests.support.scoring import EXTRACTION_SET, decoded, pages, score
from tests.support.sites import app_of, lines_in, seeds_file, start_cli

PARAGRAPHS = [
    "The harbour town woke slowly under a grey sky, its fishing boats knocking gently against the old stone quay.",
    "By seven the market was already loud with traders calling out the prices of mackerel, crab and fresh bread.",
    "Nobody in the square had expected the mayor to announce that the lighthouse would close at the end of the year.",
    "Older residents remembered the storm of 1953, when the light had guided eleven boats home through the dark.",
    "A petition was started before noon, and by evening it carried more than two thousand names from every street.",
]
ARTICLE = f"""<!doctype html><html lang="en"><head><title>The lighthouse closes</title>
<meta name="description" content="A harbour town learns its lighthouse will close.">
<meta name="author" content="Ann Example">
<meta property="og:title" content="The lighthouse closes"><meta property="og:site_name" content="Harbour News">
<meta property="og:image" content="/img/light.jpg"><meta name="twitter:card" content="summary">
<meta property="article:published_time" content="2026-11-20T08:00:00Z">
<link rel="canonical" href="/news/lighthouse"><link rel="alternate" type="application/rss+xml" href="/feed.xml">
<script type="application/ld+json">{{"@context": "https://schema.org", "@type": "NewsArticle",
 "headline": "The lighthouse closes", "dateModified": "2026-11-21T09:30:00Z",
 "author": {{"@type": "Person", "name": "Ann Example"}}}}</script>
<script type="application/ld+json">{{"broken": </script>
</head><body>
<nav><a href="/">Home</a> <a href="/news">News</a> <a href="/sport">Sport</a> <a href="/weather">Weather</a></nav>
<article><h1>The lighthouse closes</h1>{"".join(f"<p>{p}</p>" for p in PARAGRAPHS)}
<p>See the <a href="../sport/tides">tide tables</a> for the week ahead, and the notes the harbour master left.</p>
<h2>What the figures say</h2>
<table><tr><th>Year</th><th>Boats guided</th></tr><tr><td>1953</td><td>11</td></tr>
<tr><td>2025</td><td>4</td></tr></table>
<pre><code>light.schedule = "closed"
light.until = 2026</code></pre>
<ul><li>Petition: two thousand names</li><li>Meeting: Thursday at the town hall</li></ul>
</article>
<footer>Copyright Harbour News. All rights reserved. Privacy policy. Contact us.</footer>
</body></html>"""
GERMAN = """<html><head><title>Wetter</title></head><body><article><h1>Der Sturm kommt</h1>
<p>Am Wochenende zieht ein kräftiger Sturm über die Küste, und die Behörden warnen die Bewohner vor Hochwasser.</p>
<p>Die Fähren zu den Inseln fallen am Samstag aus, und auch die Züge fahren nur eingeschränkt nach Norden.</p>
<p>Erst am Montag soll sich das Wetter wieder beruhigen, sagen die Meteorologen des Wetterdienstes.</p>
</article></body></html>"""
NOAI = """<html><head><title>Art</title><meta name="robots" content="noai, noimageai">
<meta name="tdm-reservation" content="1"></head><body><article><p>A gallery of paintings, each one made by
hand over many months in a small studio by the sea, shown here with the painter's notes.</p></article></body></html>"""


def news_app() -> web.Application:
    async def page(text: str, **headers: str) -> web.Response:
        return web.Response(text=text, content_type="text/html", headers=headers)

    async def article(request: web.Request) -> web.Response:
        return await page(ARTICLE)

    async def german(request: web.Request) -> web.Response:
        return await page(GERMAN)

    async def noai(request: web.Request) -> web.Response:
        return await page(NOAI, **{"X-Robots-Tag": "noai", "tdm-policy": "https://example.org/policy.json"})

    async def home(request: web.Request) -> web.Response:
        return await page('<a href="/news/lighthouse">a</a> <a href="/de/sturm">b</a> <a href="/art">c</a> '
                          '<a href="/data.json">d</a>')

    async def data(request: web.Request) -> web.Response:
        return web.json_response({"not": "html"})

    async def robots(request: web.Request) -> web.Response:
        return web.Response(text="User-agent: *\nAllow: /\nContent-Signal: search=yes, ai-train=no\n"
                                 "Content-Usage: train-ai=n\n")

    return app_of({"/": home, "/news/lighthouse": article, "/de/sturm": german, "/art": noai, "/data.json": data,
                   "/robots.txt": robots})


def by_path(records: list[dict], server) -> dict[str, dict]:
    return {r["url"].removeprefix(server.url.rstrip("/")): r for r in records}


@pytest.mark.slow
def test_extract_all_gives_text_markdown_metadata_and_signals(serve, tmp_path: Path) -> None:
    server = serve(news_app())
    out = tmp_path / "out.jsonl"
    proc = run_cli("--seeds", seeds_file(tmp_path, server.url), "--extract", "all", "-o", str(out),
                   "--stats", str(tmp_path / "stats.json"))
    assert proc.returncode == 0, proc.stderr
    pages_ = by_path(read_jsonl(out), server)
    news = pages_["/news/lighthouse"]
    for paragraph in PARAGRAPHS:
        assert paragraph in news["text"] and paragraph in news["markdown"]
    assert "Privacy policy" not in news["text"] and "Weather" not in news["text"]  # boilerplate left out
    assert "| Year | Boats guided |" in news["markdown"] and "| 1953 | 11 |" in news["markdown"]
    assert 'light.schedule = "closed"' in news["markdown"] and "```" in news["markdown"]
    assert "- Petition: two thousand names" in news["markdown"]
    assert f"[tide tables]({server.url}sport/tides)" in news["markdown"]  # links made absolute against the page
    assert news["description"] == "A harbour town learns its lighthouse will close."
    assert news["canonical"] == server.url + "news/lighthouse" and news["lang"] == "en"
    assert news["author"] == "Ann Example" and news["site_name"] == "Harbour News"
    assert news["published"] == "2026-11-20T08:00:00Z" and news["modified"] == "2026-11-21T09:30:00Z"
    assert news["image"] == server.url + "img/light.jpg" and news["feeds"] == [server.url + "feed.xml"]
    assert news["opengraph"]["og:title"] == "The lighthouse closes" and news["opengraph"]["twitter:card"] == "summary"
    assert [b["@type"] for b in news["jsonld"]] == ["NewsArticle"]  # the broken block is counted, not fatal
    assert len(news["text_hash"]) == 16
    assert news["ai_usage"] == {"content_signal": ["search=yes, ai-train=no"], "content_usage": ["train-ai=n"]}
    assert pages_["/de/sturm"]["lang"] == "de"  # detected: the page does not say
    assert pages_["/art"]["ai_usage"] == {
        "robots": ["noai", "noimageai"], "tdm_reservation": "1", "tdm_policy": "https://example.org/policy.json",
        "content_signal": ["search=yes, ai-train=no"], "content_usage": ["train-ai=n"]}
    data = pages_["/data.json"]
    assert data["error"] is None and data["text"] is None and data["markdown"] is None and data["jsonld"] is None
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["extracted"] == 4 and stats["jsonld_invalid"] == 1


@pytest.mark.slow
def test_some_fields_and_csv_cells(serve, tmp_path: Path) -> None:
    server = serve(news_app())
    out = tmp_path / "out.csv"
    proc = run_cli("--seeds", seeds_file(tmp_path, server.url + "news/lighthouse"), "--max-depth", "0",
                   "--extract", "text,opengraph", "--extract", "lang", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(rows) == 1 and PARAGRAPHS[0] in rows[0]["text"] and rows[0]["lang"] == "en"
    assert json.loads(rows[0]["opengraph"])["og:site_name"] == "Harbour News"
    assert "markdown" not in rows[0] and "description" not in rows[0]


@pytest.mark.slow
def test_markdown_format_writes_a_folder_and_an_index(serve, tmp_path: Path) -> None:
    server = serve(news_app())
    out = tmp_path / "site-md"
    proc = run_cli("--seeds", seeds_file(tmp_path, server.url), "--format", "markdown", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    host = f"127.0.0.1_{server.port}"
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*.md"))
    assert files == [f"{host}/art.md", f"{host}/de/sturm.md", f"{host}/news/lighthouse.md"]  # "/" is links only
    text = (out / host / "news" / "lighthouse.md").read_text("utf-8")
    assert text.startswith(f'---\nurl: "{server.url}news/lighthouse"\n')
    assert 'title: "The lighthouse closes"\n' in text and 'author: "Ann Example"\n' in text
    assert text.split("---\n", 2)[2].lstrip().startswith("# The lighthouse closes")
    index = {r["url"]: r for r in read_jsonl(out / "index.jsonl")}
    assert len(index) == 9 and index[server.url + "data.json"]["path"] is None and index[server.url]["path"] is None
    assert index[server.url + "weather"]["error"] == "http"  # a link of the nav: a record, no file
    assert index[server.url + "news/lighthouse"]["path"] == f"{host}/news/lighthouse.md"
    assert "markdown" not in index[server.url + "art"] and "text" not in index[server.url + "art"]


def slow_articles(pages: int) -> web.Application:
    async def home(request: web.Request) -> web.Response:
        return web.Response(text="".join(f'<a href="/a/{i}">x</a>' for i in range(pages)), content_type="text/html")

    async def article(request: web.Request) -> web.Response:
        await asyncio.sleep(0.02)
        n = request.match_info["n"]
        body = "".join(f"<p>Article {n}, paragraph {k}: {p}</p>" for k, p in enumerate(PARAGRAPHS))
        return web.Response(text=f"<html><head><title>Article {n}</title></head><body><article><h1>Article {n}</h1>"
                                 f"{body}</article></body></html>", content_type="text/html")

    return app_of({"/": home, "/a/{n}": article})


@pytest.mark.slow
def test_markdown_format_survives_kill_9_with_every_page_once(serve, tmp_path: Path) -> None:
    server = serve(slow_articles(120))
    out = tmp_path / "md"
    args = ["--seeds", seeds_file(tmp_path, server.url), "--job-dir", str(tmp_path / "job"), "--format", "markdown",
            "-o", str(out), "--no-robots", "--extract-processes", "1"]
    for _ in range(2):  # kill -9 once the run has written (the second one: after it cut the index back)
        before = lines_in(out / "index.jsonl")
        proc = start_cli(*args, cwd=tmp_path)
        crawler = psutil.Process(proc.pid)
        wait_for(lambda b=before, c=crawler: lines_in(out / "index.jsonl") not in (0, b) and c.children(), timeout=60)
        workers = crawler.children(recursive=True)  # the extraction worker among them
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        # The crawler's workers end with it: none is left waiting for work with its libraries loaded.
        wait_for(lambda w=workers: not [p for p in w if p.is_running() and p.status() != psutil.STATUS_ZOMBIE],
                 timeout=10)
    final = run_cli(*args, cwd=tmp_path, timeout=120)
    assert final.returncode == 0, final.stderr
    urls = [r["url"] for r in read_jsonl(out / "index.jsonl")]
    assert len(urls) == len(set(urls)) == 121
    files = list(out.rglob("*.md"))
    assert len(files) == 120 and not list(out.rglob("*~tmp"))  # the articles ("/" is links only)
    assert "# Article 7" in (out / f"127.0.0.1_{server.port}" / "a" / "7.md").read_text("utf-8")


AWKWARD = ["/a/", "/a/index", "/x", "/x.md/y", "/q?n=1", "/q?n=2", "/c:d", "/c%3Ad", "/~u/", "/s//t",
           "/" + "long" * 80, "/" + "/".join(f"d{i}" for i in range(300)), "/index.jsonl"]


@pytest.mark.slow
def test_markdown_files_one_a_page_whatever_the_urls(serve, tmp_path: Path) -> None:
    # URLs whose names clash on disk (a folder and its index, a file where a folder must go, a
    # segment or a path too long for the file system): each page gets its own file, the crawl
    # ends well, and nothing is written outside the folder.
    async def home(request: web.Request) -> web.Response:
        return web.Response(text="".join(f'<a href="{u}">x</a>' for u in AWKWARD), content_type="text/html")

    async def article(request: web.Request) -> web.Response:
        n = request.path_qs
        body = "".join(f"<p>Page {n}, paragraph {k}: {p}</p>" for k, p in enumerate(PARAGRAPHS))
        return web.Response(text=f"<html><head><title>{n}</title></head><body><article><h1>Page {n}</h1>{body}"
                                 "</article></body></html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/", home)
    app.router.add_get("/{tail:.+}", article)
    server = serve(app)
    out = tmp_path / "site" / "md"
    for run in range(2):  # the same names again: deterministic
        proc = run_cli("--seeds", seeds_file(tmp_path, server.url), "--format", "markdown", "-o", str(out),
                       "--no-robots", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        index = read_jsonl(out / "index.jsonl")
        pages = [r for r in index if r["url"] != server.url]
        assert len(pages) == len(AWKWARD) and all(r["path"] for r in pages), [r for r in pages if not r["path"]]
        paths = [r["path"] for r in pages]
        assert len(set(paths)) == len(paths)
        for r in pages:  # each file holds its own page
            assert f'url: "{r["url"]}"' in (out / r["path"]).read_text("utf-8")
        assert sorted(str(p.relative_to(out)) for p in out.rglob("*.md")) == sorted(paths)
        assert [p.name for p in (tmp_path / "site").iterdir()] == ["md"]
        if run == 0:
            first = dict(zip([r["url"] for r in pages], paths, strict=True))
    assert dict(zip([r["url"] for r in pages], paths, strict=True)) == first
    host = f"127.0.0.1_{server.port}"
    by_url = {r["url"].removeprefix(server.url.rstrip("/")): r["path"] for r in pages}
    assert (by_url["/a/"], by_url["/a/index"]) == (f"{host}/a/index.md", f"{host}/a/index~.md")
    assert (by_url["/x"], by_url["/x.md/y"]) == (f"{host}/x.md", f"{host}/x.md~/y.md")


async def test_headings_permalinks_are_not_part_of_the_extraction(serve, crawl) -> None:
    # Sphinx puts a "¶" link on every heading, MkDocs a "#": marks to click, not words.
    text = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    doc = ('<html><head><title>Docs</title></head><body><div class="body" role="main"><section id="install">'
           '<h1>Install<a class="headerlink" href="#install" title="Link to this heading">¶</a></h1>'
           f'{text}<h2 id="use">Use from C#<a class="headerlink" href="#use" title="Permanent link">#</a></h2>{text}'
           '</section></div></body></html>')
    server = serve(app_of({"/": doc}))
    record = (await crawl([server.url], extract=["text", "markdown"], robots=False)).records[0]
    assert "# Install\n" in record["markdown"] and "## Use from C#\n" in record["markdown"], record["markdown"][:300]
    assert "¶" not in record["markdown"] and "¶" not in record["text"] and "Link to this heading" not in record["text"]


def test_without_the_extract_extra_the_text_fields_are_one_usage_line_and_metadata_still_works(serve, tmp_path: Path
                                                                                               ) -> None:
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    server = serve(news_app())
    seeds = seeds_file(tmp_path, server.url + "news/lighthouse")
    hide = "; ".join(f"sys.modules[{name!r}] = None" for name in ("trafilatura", "resiliparse", "py3langid"))

    def run(*args: str) -> subprocess.CompletedProcess[str]:  # as where the extra is not installed
        code = f"import sys; {hide}; from crawler.cli.main import main; sys.exit(main({list(args)!r}))"
        return subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True, text=True, env=os.environ | {"PYTHONPATH": str(ROOT)}, timeout=60, cwd=tmp_path)

    out = tmp_path / "out.jsonl"
    for extra in (["--extract", "text"], ["--format", "markdown"]):
        done = run("--seeds", seeds, "-o", str(tmp_path / "md" if "markdown" in extra else out), *extra)
        assert done.returncode == 2 and not out.exists() and not (tmp_path / "md").exists(), done.stderr
        (line,) = done.stderr.strip().splitlines()
        assert "needs the extract extra" in line and "pip install 'crawlwell[extract]'" in line
    done = run("--seeds", seeds, "-o", str(out), "--extract", "description,author", "--max-depth", "0")
    assert done.returncode == 0, done.stderr
    assert read_jsonl(out)[0]["author"] == "Ann Example"


@pytest.mark.slow
def test_warc_gets_a_conversion_record_of_the_markdown(serve, tmp_path: Path) -> None:
    from warcio.archiveiterator import ArchiveIterator

    server = serve(news_app())
    out = tmp_path / "crawl.warc.gz"
    proc = run_cli("--seeds", seeds_file(tmp_path, server.url + "news/lighthouse"), "--max-depth", "0",
                   "--extract", "markdown", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    with out.open("rb") as f:
        records = [(r.rec_type, r.rec_headers.get_header("WARC-Record-ID"), r.rec_headers.get_header("WARC-Refers-To"),
                    r.rec_headers.get_header("WARC-Target-URI"), r.content_stream().read()) for r in ArchiveIterator(f)]
    responses = {uri: rid for kind, rid, _, uri, _ in records if kind == "response"}
    conversions = [(refers, uri, body) for kind, _, refers, uri, body in records if kind == "conversion"]
    assert len(conversions) == 1
    refers, uri, body = conversions[0]
    assert uri == server.url + "news/lighthouse" and refers == responses[uri]
    assert body.decode().startswith("# The lighthouse closes") and PARAGRAPHS[2] in body.decode()


class Reader(Spider):
    def parse(self, response: Response):
        yield {"md": response.markdown, "text": response.text_main, "jsonld": response.jsonld,
               "fields": sorted(response.extract())}


async def test_a_spider_gets_the_extraction_from_the_response(serve, tmp_path: Path) -> None:
    server = serve(news_app())
    spider = Reader()
    spider.start_urls = [server.url + "news/lighthouse"]
    out = tmp_path / "o.jsonl"
    await Crawler(spider, output=str(out)).run()
    [item] = read_jsonl(out)
    assert item["md"].startswith("# The lighthouse closes") and PARAGRAPHS[1] in item["text"]
    assert item["jsonld"][0]["@type"] == "NewsArticle" and "ai_usage" in item["fields"]


@pytest.mark.slow
async def test_an_extractor_that_crashes_costs_its_page_only(serve, tmp_path: Path, monkeypatch, caplog) -> None:
    monkeypatch.setattr(extractpool, "EXTRACTOR", "tests.support.parsers:crash_extractor")
    server = serve(news_app())
    out = tmp_path / "o.jsonl"
    stats = await Crawler(PageRecorder(), output=str(out), extract=["text"], extract_processes=1).run(
        seeds=[server.url])
    records = by_path(read_jsonl(out), server)
    assert records["/art"]["error"] == "content" and records["/art"]["text"] is None  # it killed its worker
    assert records["/news/lighthouse"]["error"] is None and PARAGRAPHS[0] in records["/news/lighthouse"]["text"]
    assert stats["pages"] == 9 and stats["errors"] == {"content": 1, "http": 4}  # and the links' four 404s
    assert "the extraction process died again, alone" in caplog.text


@pytest.mark.slow
def test_the_extract_command_prints_one_page(tmp_path: Path) -> None:
    page = tmp_path / "article.html"
    page.write_text(ARTICLE, "utf-8")
    proc = run_cli("extract", str(page), "--url", "https://harbour.example/news/lighthouse")
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert found["canonical"] == "https://harbour.example/news/lighthouse" and found["author"] == "Ann Example"
    proc = run_cli("extract", str(page), "--field", "markdown", "--extract-engine", "resiliparse")
    assert proc.returncode == 0 and PARAGRAPHS[3] in proc.stdout


def test_simhash_finds_near_duplicates() -> None:
    text = " ".join(PARAGRAPHS)
    near = text.replace("seven", "eight")
    assert distance(simhash(text) or "", simhash(near) or "") <= 10  # of 64 bits
    assert distance(simhash(text) or "", simhash(GERMAN) or "") >= 20
    assert simhash("") is None


@pytest.mark.skipif(not EXTRACTION_SET.is_dir(), reason=(
    f"no scored article set at {EXTRACTION_SET} (it is not part of the project): to score the extraction, "
    "point CRAWLER_EXTRACTION_SET at a folder of pages and their true main text (see tests/support/scoring.py)"))
def test_the_default_engine_scores_at_least_0_96_on_the_article_set() -> None:
    results = [(main_text(decoded(body), url)[0] or "", true) for _, body, url, true in pages()]
    f1, precision, recall = score(results)
    assert len(results) == 91
    assert f1 >= 0.96, (f1, precision, recall)


def test_markdown_names_differ_where_the_file_system_ignores_case() -> None:
    from crawler.output.markdown import page_path

    urls = ["http://h.example/A", "http://h.example/a", "http://h.example/Docs/Intro", "http://h.example/docs/intro",
            "http://h.example/DOCS/INTRO", "http://h.example/ab", "http://h.example/AB", "http://h.example/Ab"]
    paths = [page_path(u) for u in urls]
    assert len({p.lower() for p in paths}) == len(urls), paths  # macOS's and Windows' file systems: distinct
    assert page_path("http://h.example/docs/intro") == "h.example/docs/intro.md"  # lower case: as it was


def test_markdown_links_relative_make_a_tree_to_browse_offline(serve, tmp_path: Path) -> None:
    def page(n: int, links: str) -> str:
        body = "".join(f"<p>Page {n}, paragraph {k}: {p}</p>" for k, p in enumerate(PARAGRAPHS))
        return (f"<html><head><title>Page {n}</title></head><body><article><h1>Page {n}</h1>{body}"
                f"<p>{links}</p></article></body></html>")

    server = serve(app_of({
        "/": page(0, 'Read the <a href="/guide/Start">guide to starting</a> first, and the pages it leads to, or go '
                     '<a href="http://elsewhere.example/x">somewhere else</a> for the whole story of the harbour.'),
        "/guide/Start": page(1, 'Go back to the <a href="/">home page</a> of the harbour, or read the '
                                '<a href="/guide/next#part">next part of the guide</a> about the boats.'),
        "/guide/next": page(2, 'That was the last part: go back to the <a href="/guide/Start">start of the guide</a> '
                               'and read it again from its first line to its last one.')}))
    out = tmp_path / "md"
    proc = run_cli(server.url, "--format", "markdown", "-o", str(out), "--markdown-links", "relative",
                   "--no-robots", "--no-progress", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    paths = {r["url"].removeprefix(server.url.rstrip("/")): r["path"] for r in read_jsonl(out / "index.jsonl")}
    home, start, nxt = (out / paths[p] for p in ("/", "/guide/Start", "/guide/next"))
    links = {p: re.findall(r"\]\(([^)]+)\)", f.read_text("utf-8")) for p, f in (("home", home), ("start", start),
                                                                               ("next", nxt))}
    assert links["home"] == [paths["/guide/Start"].split("/", 1)[1], "http://elsewhere.example/x"]
    assert links["start"] == ["../index.md", "next.md#part"] and links["next"] == [start.name]
    for name, found in links.items():  # each relative link leads to its file
        base = {"home": home, "start": start, "next": nxt}[name].parent
        assert all((base / link.split("#")[0]).is_file() for link in found if not link.startswith("http")), found
    absolute = run_cli(server.url, "--format", "markdown", "-o", str(tmp_path / "abs"), "--no-robots",
                       "--no-progress", cwd=tmp_path)
    assert absolute.returncode == 0
    assert f"]({server.url}guide/Start)" in (tmp_path / "abs" / paths["/"]).read_text("utf-8")  # the default
