"""The checks on settings once their values are coerced: ranges, choices, and the ones that do
not go together. Every failure is one line naming the option and where its value came from."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from crawler.errors import UsageError
from crawler.redisconn import REDIS_CLUSTER_SCHEMES
from crawler.settings.masking import mask_header, mask_url
from crawler.timestamps import LOG_TIMES

SCOPES = ("host", "domain", "any")
PROXY_SCHEMES = ("http://", "https://", "socks5://", "socks5h://")
# a --frontier on a Redis Cluster: REDIS_CLUSTER_SCHEMES, crawler.redisconn's
# A --frontier of these is a shared Redis frontier.
REDIS_SCHEMES = ("redis://", "rediss://", "unix://", *REDIS_CLUSTER_SCHEMES)
REDIS_STREAM_SCHEMES = ("redis://", "rediss://", *REDIS_CLUSTER_SCHEMES)  # an --output of these is a Redis stream
OUTPUT_FORMATS = ("jsonl", "csv", "warc", "markdown")  # what --format takes (empty: from the extension)
#: What --extract can add to a record, in the record's order ("all": every one).
EXTRACT_FIELDS = ("text", "markdown", "description", "canonical", "lang", "author", "published", "modified",
                  "site_name", "image", "feeds", "opengraph", "jsonld", "text_hash", "ai_usage")
EXTRACT_ENGINES = ("trafilatura", "resiliparse", "trafilatura-precision")  # the first is the default
RENDER_MODES = ("never", "auto", "always")  # what --render takes
MARKDOWN_LINKS = ("absolute", "relative")  # what --markdown-links takes
#: The kinds of request a page makes in the browser (Playwright's resource types), as --render-block names them.
RESOURCE_TYPES = ("document", "stylesheet", "image", "media", "font", "script", "texttrack", "xhr", "fetch",
                  "eventsource", "websocket", "manifest", "other")


def extract_fields(given: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The fields ``--extract`` names (a comma list, repeatable; ``all``), in the record's order;
    :class:`ValueError` naming one that is not a field."""
    named = {f.strip() for item in given for f in item.split(",") if f.strip()}
    if "all" in named:
        return EXTRACT_FIELDS
    unknown = sorted(named - set(EXTRACT_FIELDS))
    if unknown:
        raise ValueError(f"unknown field {unknown[0]!r} (fields: {', '.join(EXTRACT_FIELDS)}, or all)")
    return tuple(f for f in EXTRACT_FIELDS if f in named)


def blocked_kinds(given: list[str] | tuple[str, ...]) -> frozenset[str]:
    """The kinds of request ``--render-block`` names (a comma list, repeatable; ``none``: no
    kind); :class:`ValueError` naming one that is not a kind."""
    named = {k.strip() for item in given for k in item.split(",") if k.strip()} - {"none"}
    unknown = sorted(named - set(RESOURCE_TYPES))
    if unknown:
        raise ValueError(f"unknown kind {unknown[0]!r} (kinds: {', '.join(RESOURCE_TYPES)}, or none)")
    return frozenset(named)


LOG_LEVELS = ("debug", "info", "warning", "error")


def option_name(key: str) -> str:
    """A setting's command-line option: ``per_host`` -> ``--per-host``."""
    return "--" + key.replace("_", "-")


NOTIFY_ON = ("always", "failure", "changes")


def check(v: dict[str, Any], sources: Mapping[str, str]) -> None:
    """Settings that do not make sense, alone or together: :class:`UsageError` naming the
    option and where its value came from."""
    def fail(key: str, message: str) -> None:
        raise UsageError(f"{option_name(key)} (from {sources.get(key, 'default')}): {message}")

    for key in ("workers", "concurrency", "render_concurrency", "per_host", "parse_threads", "output_queue_size",
                "write_batch_size", "robots_max_bytes", "robots_cache_size", "sitemap_max_bytes", "sitemap_max_urls",
                "max_diff_bytes"):
        if v[key] < 1:
            fail(key, f"must be at least 1, got {v[key]}")
    for key in ("max_callback_errors", "max_pages", "max_pages_per_host", "max_links_per_page", "max_path_repeats",
                "retries", "max_redirects", "dns_cache_ttl", "max_idle_connections",
                "inline_parse_bytes", "rotate_size", "rotate_records", "render_restart_pages",
                "render_max_memory", "memory_window"):
        if v[key] < 0:
            fail(key, f"must be 0 or more, got {v[key]}")
    for key in ("delay", "retry_backoff", "retry_backoff_max", "shutdown_grace", "max_crawl_delay",
                "robots_ttl", "robots_error_ttl", "autothrottle_max_delay", "max_runtime",
                "http_cache_expiry"):
        if v[key] < 0:
            fail(key, f"must be 0 or more, got {v[key]}")
    for key in ("lease_timeout", "redis_reconnect", "timeout", "flush_interval", "stats_interval",
                "autothrottle_target_concurrency",
                "parse_timeout", "render_timeout", "render_quiet"):
        if v[key] <= 0:
            fail(key, f"must be more than 0, got {v[key]}")
    if v["max_bytes"] < 1:
        fail("max_bytes", f"must be at least 1, got {v['max_bytes']}")
    if v["max_url_length"] < 16:
        fail("max_url_length", f"must be at least 16, got {v['max_url_length']}")
    if v["max_depth"] < -1:
        fail("max_depth", f"must be -1 (no limit) or more, got {v['max_depth']}")
    if v["recrawl_after"] < 0 and v["recrawl_after"] != -1.0:
        fail("recrawl_after", f"must be 0 or more, or auto, got {v['recrawl_after']}")
    for key in ("recrawl_min", "recrawl_max"):
        if v[key] <= 0:
            fail(key, f"must be more than 0, got {v[key]}")
    if v["recrawl_min"] > v["recrawl_max"]:
        fail("recrawl_min", f"must not be more than recrawl_max ({v['recrawl_max']} s), got {v['recrawl_min']} s")
    if v["notify_on"] not in NOTIFY_ON:
        fail("notify_on", f"must be one of {', '.join(NOTIFY_ON)}, got {v['notify_on']!r}")
    for target in v["notify"]:
        scheme = target.split(":", 1)[0].lower()
        if scheme not in ("http", "https", "mailto") or target.rstrip(":/") == scheme:
            fail("notify", f"expected an http(s):// webhook URL or a mailto: address, got {target!r}")
    if not 0 < v["smtp_port"] < 65536:
        fail("smtp_port", f"must be a port from 1 to 65535, got {v['smtp_port']}")
    if v["scope"] not in SCOPES:
        fail("scope", f"must be one of {', '.join(SCOPES)}, got {v['scope']!r}")
    if v["format"] and v["format"] not in OUTPUT_FORMATS:
        fail("format", f"must be jsonl, csv, warc or markdown, got {v['format']!r}")
    if v["format"] == "markdown" and (v["output"] == "-" or v["output"].startswith(REDIS_STREAM_SCHEMES)):
        fail("format", "markdown writes a folder: give -o DIR")
    if v["format"] == "markdown" and (v["rotate_size"] or v["rotate_records"]):
        fail("format", "markdown output is not rotated (it is a folder of files)")
    try:
        extract_fields(v["extract"])
    except ValueError as e:
        fail("extract", str(e))
    if v["extract_engine"] not in EXTRACT_ENGINES:
        fail("extract_engine", f"must be one of {', '.join(EXTRACT_ENGINES)}, got {v['extract_engine']!r}")
    if v["extract_processes"] < 0:
        fail("extract_processes", f"must be 0 (one a core) or more, got {v['extract_processes']}")
    if v["spider"] and not re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", v["spider"]):
        fail("spider", f"expected module:Class, got {v['spider']!r}")
    frontier = v["frontier"]
    redis = frontier.startswith(REDIS_SCHEMES)
    sqlite = frontier.startswith("sqlite:///") and len(frontier) > 10
    if frontier and frontier != "memory" and not redis and not sqlite:
        fail("frontier", f"must be memory, sqlite:///path/file.db, redis://host:port/db or "
                             f"redis+cluster://host:port,host:port, got {frontier!r}")
    if redis and not v["crawl_id"]:
        fail("frontier", "a Redis frontier needs --crawl-id NAME (every process with that id shares the crawl)")
    if redis and v["job_dir"]:
        fail("job_dir", "a Redis frontier keeps the crawl's state in Redis; drop --job-dir")
    if v["crawl_id"] and not re.fullmatch(r"[\w.-]+", v["crawl_id"]):
        fail("crawl_id", f"letters, digits, '.', '-' and '_' only, got {v['crawl_id']!r}")
    if v["workers"] > 1 and not redis and (v["rotate_size"] or v["rotate_records"]):
        fail("workers", "processes on one machine write one output, which is not rotated; drop --rotate-size "
                        "and --rotate-records, or share the crawl through --frontier redis://")
    if v["workers"] > 1 and sqlite:
        fail("workers", "processes on one machine keep a job in --job-dir DIR, not in --frontier sqlite:///")
    if (v["job_dir"] or sqlite) and v["output"].startswith(REDIS_STREAM_SCHEMES):
        fail("output", "a durable crawl writes a file it can cut back on resume, not a Redis stream")
    if v["workers"] > 1 and redis and v["output"] == "-":
        fail("workers", "each process writes its own output: give -o FILE (with {worker} in it, or it is added)")
    if frontier == "memory" and v["job_dir"]:
        fail("frontier", "--job-dir keeps its frontier in SQLite; drop --frontier memory")
    if (v["job_dir"] or frontier.startswith("sqlite:")) and v["output"] == "-":
        fail("job_dir" if v["job_dir"] else "frontier",
             "a durable crawl needs -o FILE: stdout cannot be rewound after a crash")
    if not 0 <= v["metrics_port"] <= 65535:
        fail("metrics_port", f"must be a TCP port (1 to 65535), or 0 for none, got {v['metrics_port']}")
    if v["log_format"] not in ("text", "json"):
        fail("log_format", f"must be text or json, got {v['log_format']!r}")
    if v["markdown_links"] not in MARKDOWN_LINKS:
        fail("markdown_links", f"must be one of {', '.join(MARKDOWN_LINKS)}, got {v['markdown_links']!r}")
    if v["log_time"] not in LOG_TIMES:
        fail("log_time", f"must be one of {', '.join(LOG_TIMES)}, got {v['log_time']!r}")
    if v["render"] not in RENDER_MODES:
        fail("render", f"must be one of {', '.join(RENDER_MODES)}, got {v['render']!r}")
    try:
        blocked_kinds(v["render_block"])
    except ValueError as e:
        fail("render_block", str(e))
    if v["parse_isolation"] not in ("thread", "process"):
        fail("parse_isolation", f"must be thread or process, got {v['parse_isolation']!r}")
    if v["log_level"].lower() not in LOG_LEVELS:
        fail("log_level", f"must be one of {', '.join(LOG_LEVELS)}, got {v['log_level']!r}")
    if v["header_scope"] not in ("seeds", "any"):
        fail("header_scope", f"must be seeds or any, got {v['header_scope']!r}")
    if v["client_key"] and not v["client_cert"]:
        fail("client_key", "needs --client-cert (the certificate it is the key of)")
    if v["http_client"] not in ("aiohttp", "curl"):
        fail("http_client", f"must be aiohttp or curl, got {v['http_client']!r}")
    if v["impersonate"] and v["impersonate"] not in ("chrome", "firefox", "safari", "edge"):
        fail("impersonate", f"must be chrome, firefox, safari or edge, got {v['impersonate']!r}")
    if v["impersonate"] and v["http_client"] != "curl":
        fail("impersonate", "needs --http-client curl (the default client cannot send as a browser does)")
    if v["http3"] and v["http_client"] != "curl":
        fail("http3", "needs --http-client curl (the default client speaks HTTP/1.1)")
    if v["proxy_tier"] and (v["proxy"] or v["proxy_file"]):
        fail("proxy_tier", "takes the place of --proxy and --proxy-file: put those proxies in a tier's file")
    if v["proxy_rotate"] not in ("host", "request"):
        fail("proxy_rotate", f"must be host or request, got {v['proxy_rotate']!r}")
    for header in v["header"]:
        name, colon, _ = header.partition(":")
        if not colon or not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name.strip()):
            fail("header", f"expected 'Name: value', got {mask_header(header)!r}")
    for cookie in v["cookie"]:
        name, equals, _ = cookie.partition("=")
        if not equals or not name.strip():
            fail("cookie", "expected 'name=value'")
    for argument in v["spider_arg"]:
        name, equals, _ = argument.partition("=")
        if not equals or not name.isidentifier():
            fail("spider_arg", f"expected NAME=VALUE (NAME a Python identifier), got {argument!r}")
    if v["auth"] and ":" not in v["auth"]:
        fail("auth", "expected USER:PASS")
    if v["proxy"] and not v["proxy"].startswith(PROXY_SCHEMES):
        fail("proxy", f"must be an http://, https://, socks5:// or socks5h:// URL, got {mask_url(v['proxy'])!r}")
    for key in ("include", "exclude"):
        for pattern in v[key]:
            try:
                re.compile(pattern)
            except re.error as e:
                fail(key, f"bad regular expression {pattern!r}: {e}")
    for key in ("allow_domain", "deny_domain"):
        for domain in v[key]:
            if not domain.strip(". ") or "/" in domain or " " in domain.strip():
                fail(key, f"not a domain name: {domain!r}")
