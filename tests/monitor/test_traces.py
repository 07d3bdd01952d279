"""OpenTelemetry traces (``--otel``): the spans of a crawl seen by the SDK's in-memory exporter,
and sent by OTLP over HTTP to a receiver the test runs on 127.0.0.1, as the ``OTEL_*`` variables
say."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from crawler.monitor.traces import safe_url
from tests.conftest import Server, run_cli
from tests.support.sites import app_of

pytest.importorskip("opentelemetry.sdk", reason="the otel extra is not installed (pip install -e '.[otel]')")


@pytest.fixture(scope="module")
def exporter() -> Iterator[Any]:
    """The SDK's in-memory exporter behind this process's tracer provider (set once)."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    yield memory


def test_a_span_url_shows_no_userinfo_and_no_secret_values() -> None:
    assert safe_url("https://user:pw@h.example:8443/a?q=shoes&token=abc&api_key=k&page=2#top") == (
        "https://h.example:8443/a?q=shoes&token=REDACTED&api_key=REDACTED&page=2")


async def test_a_crawl_has_a_span_a_fetch_robots_read_and_extraction_under_its_run(
        exporter: Any, serve: Callable[[web.Application], Server], crawl: Callable[..., Any]) -> None:
    exporter.clear()
    site = serve(app_of({"/": "<title>home</title><a href='/a?token=s3cret'>a</a><p>" + "words " * 80 + "</p>",
                         "/a": "<title>a</title><p>" + "more words " * 80 + "</p>", "/robots.txt": "User-agent: *"}))
    result = await crawl([site.url], otel=True, extract=["text"], crawl_id="traced-run")
    assert len(result.records) == 2
    spans = exporter.get_finished_spans()
    by_name: dict[str, list[Any]] = {}
    for span in spans:
        by_name.setdefault(span.name, []).append(span)
    (root,) = by_name["crawl"]
    assert root.attributes["crawler.crawl.id"] == "traced-run" and root.attributes["crawler.pages"] == 2
    fetches = by_name["GET"]
    port = site.url.split(":")[2].rstrip("/")
    assert sorted(s.attributes["url.full"] for s in fetches) == [site.url, site.url + "a?token=REDACTED"]
    for span in fetches:
        assert span.parent.span_id == root.context.span_id  # under the run
        assert span.attributes["http.request.method"] == "GET" and span.attributes["http.response.status_code"] == 200
        assert span.attributes["server.address"] == "127.0.0.1" and span.attributes["server.port"] == int(port)
        assert span.attributes["crawler.crawl.id"] == "traced-run"
        assert span.kind.name == "CLIENT"
    assert [s.attributes["url.full"] for s in by_name["robots.txt"]] == [site.url + "robots.txt"]
    assert len(by_name["extract"]) == 2
    assert "s3cret" not in str([dict(s.attributes) for s in spans])


async def test_no_span_without_otel(exporter: Any, serve: Callable[[web.Application], Server],
                                    crawl: Callable[..., Any]) -> None:
    exporter.clear()
    site = serve(app_of({"/": "<title>home</title>"}))
    await crawl([site.url], robots=False)
    assert exporter.get_finished_spans() == ()


@pytest.mark.slow  # a crawl in a process of its own, and its exporter's batch
def test_spans_reach_an_otlp_receiver_naming_the_crawled_urls(serve: Callable[[web.Application], Server],
                                                              tmp_path: Path) -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    received: list[bytes] = []

    async def traces(request: web.Request) -> web.Response:
        received.append(await request.read())
        return web.Response(body=b"", content_type="application/x-protobuf")

    receiver = web.Application()
    receiver.router.add_post("/v1/traces", traces)
    collector = serve(receiver)
    site = serve(app_of({"/": "<title>home</title><a href='/next'>next</a>", "/next": "<title>next</title>"}))
    done = run_cli(site.url, "-o", str(tmp_path / "out.jsonl"), "--otel", "--no-robots", "--no-progress",
                   env={"OTEL_EXPORTER_OTLP_ENDPOINT": collector.url.rstrip("/"), "OTEL_SERVICE_NAME": "test-crawl"})
    assert done.returncode == 0, done.stderr
    assert received, "no export reached the receiver"
    urls, names, services = set(), set(), set()
    for body in received:
        export = ExportTraceServiceRequest.FromString(body)
        for resource_spans in export.resource_spans:
            services |= {a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name"}
            for scope in resource_spans.scope_spans:
                for span in scope.spans:
                    names.add(span.name)
                    urls |= {a.value.string_value for a in span.attributes if a.key == "url.full"}
    assert {site.url, site.url + "next"} <= urls and {"crawl", "GET"} <= names
    assert services == {"test-crawl"}


def test_otel_without_the_extra_is_one_usage_line(tmp_path: Path) -> None:
    blocker = tmp_path / "opentelemetry"
    blocker.mkdir()
    (blocker / "__init__.py").write_text("raise ImportError('not installed')\n")
    done = run_cli("http://127.0.0.1:9/", "--otel", "-o", str(tmp_path / "o.jsonl"),
                   env={"PYTHONPATH": f"{tmp_path}:{Path(__file__).resolve().parents[2]}"})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("crawler: error: --otel needs the otel extra: pip install")
