"""OpenTelemetry traces of a crawl (opt-in: ``--otel``, the ``otel`` extra): a span for the run,
and under it one for each fetch (the HTTP semantic conventions' ``http.request.method``,
``url.full`` without userinfo and with secret-looking query values redacted, ``server.address``,
``server.port``, ``http.response.status_code``, ``error.type``), each robots.txt read, each page
rendered and each extraction, all carrying the crawl's id (``crawler.crawl.id``).

The exporter is OTLP, configured by the standard ``OTEL_*`` variables
(``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, ``..._HEADERS``,
``OTEL_SERVICE_NAME``...); a program that has set an SDK tracer provider of its own (a test's
in-memory exporter, an app's) gets the spans there instead. Off, every call here is a no-op.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from crawler._version import __version__, install_hint
from crawler.errors import UsageError

#: Query parameter names whose values are kept out of ``url.full`` (lower case; a name holding one).
SECRET_PARAMS = ("token", "key", "sig", "signature", "secret", "password", "passwd", "auth", "session",
                 "credential", "code")
REDACTED = "REDACTED"


def safe_url(url: str) -> str:
    """``url`` as a span may show it: without userinfo, the values of secret-looking query
    parameters ``REDACTED`` (the semantic conventions' advice)."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, REDACTED if any(s in k.lower() for s in SECRET_PARAMS) else v) for k, v in pairs])
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


class Traces:
    """The spans of one crawl run (``on``: ``--otel``); ``crawl_id`` names the crawl in each."""

    def __init__(self, on: bool, crawl_id: str = "") -> None:
        self.on = on
        self.crawl_id = crawl_id or str(uuid.uuid4())
        self._tracer: Any = None
        self._provider: Any = None  # ours, to flush at the end (None: the program's own)
        self._root: Any = None
        if not on:
            return
        try:
            from opentelemetry import trace
            from opentelemetry.sdk.trace import TracerProvider
        except ImportError:
            raise UsageError(f"--otel needs the otel extra: {install_hint('otel')}") from None
        current = trace.get_tracer_provider()
        if isinstance(current, TracerProvider):  # the program's own (an in-memory exporter, an app's)
            provider = current
        else:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace.export import BatchSpanProcessor

            resource = Resource.create()  # OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
            if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
                resource = resource.merge(Resource({"service.name": "crawler"}))
            provider = TracerProvider(resource=resource)
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
            self._provider = provider
        self._tracer = provider.get_tracer("crawler", __version__)

    def start(self, **attributes: Any) -> None:
        """Open the run's span (the parent of every other)."""
        if self.on:
            self._root = self._tracer.start_span("crawl", attributes={"crawler.crawl.id": self.crawl_id,
                                                                      **attributes})

    def end(self, **attributes: Any) -> None:
        """Close the run's span with ``attributes`` (its figures) and send what is left."""
        if not self.on:
            return
        if self._root is not None:
            self._root.set_attributes(attributes)
            self._root.end()
            self._root = None
        if self._provider is not None:
            self._provider.force_flush()
            self._provider.shutdown()
            self._provider = None

    def span(self, name: str, url: str | None = None) -> contextlib.AbstractContextManager[Any]:
        """A span under the run's about ``url`` (its ``url.full``, made safe only when on); off, a
        context that costs nothing and gives None."""
        if not self.on:
            return contextlib.nullcontext()
        return self._span(name, "internal", {} if url is None else {"url.full": safe_url(url)})

    def fetch(self, method: str, url: str) -> contextlib.AbstractContextManager[Any]:
        """A fetch's span, named by its method (HTTP client spans' convention)."""
        if not self.on:
            return contextlib.nullcontext()
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return self._span(method, "client", {"http.request.method": method, "url.full": safe_url(url),
                                             "server.address": parts.hostname or "", "server.port": port})

    @contextlib.contextmanager
    def _span(self, name: str, kind: str, attributes: dict[str, Any]) -> Iterator[Any]:
        from opentelemetry import trace

        context = trace.set_span_in_context(self._root) if self._root is not None else None
        span_kind = trace.SpanKind.CLIENT if kind == "client" else trace.SpanKind.INTERNAL
        with self._tracer.start_as_current_span(name, context=context, kind=span_kind, record_exception=False,
                                                attributes={"crawler.crawl.id": self.crawl_id, **attributes}) as span:
            yield span

    @staticmethod
    def answered(span: Any, status: int | None, error: str | None) -> None:
        """Say on a fetch's ``span`` how it ended: its status, and its error's name."""
        if span is None:
            return
        if status is not None:
            span.set_attribute("http.response.status_code", status)
        if error is not None:
            span.set_attribute("error.type", error)
            from opentelemetry.trace import Status, StatusCode

            span.set_status(Status(StatusCode.ERROR, error))


__all__ = ["REDACTED", "SECRET_PARAMS", "Traces", "safe_url"]
