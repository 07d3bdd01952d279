"""Settings: the built-in defaults in ``defaults.toml``, a user's TOML file over them, and
explicit overrides (the command line, or keyword arguments) over everything.

``defaults.toml`` beside this module is the one place a default value is written down; the
:class:`Settings` dataclass only names and types the keys.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from crawler.defaults import DEFAULTS, defaults_text
from crawler.errors import UsageError
from crawler.redisconn import REDIS_CLUSTER_SCHEMES
from crawler.settings.checks import (
    EXTRACT_ENGINES,
    EXTRACT_FIELDS,
    LOG_LEVELS,
    OUTPUT_FORMATS,
    PROXY_SCHEMES,
    REDIS_SCHEMES,
    REDIS_STREAM_SCHEMES,
    SCOPES,
    check,
    extract_fields,
    option_name,
)
from crawler.settings.expect import parse_expect
from crawler.settings.units import DURATIONS, SIZES, parse_duration, parse_size


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    """The effective settings of one crawl. Build it with :func:`load_settings`."""

    spider: str
    spider_arg: tuple[str, ...]
    max_callback_errors: int
    http_cache: str
    http_cache_expiry: float
    output: str
    format: str
    markdown_links: str
    rotate_size: int
    rotate_records: int
    store_bodies: str
    crawl_id: str
    lease_timeout: float
    workers: int
    worker: str
    redis_reconnect: float
    stats: str
    report: str
    extract: tuple[str, ...]
    extract_engine: str
    extract_processes: int
    render: str
    browser: str
    render_concurrency: int
    render_timeout: float
    render_quiet: float
    render_block: tuple[str, ...]
    render_restart_pages: int
    render_max_memory: int
    concurrency: int
    per_host: int
    delay: float
    max_pages: int
    max_pages_per_host: int
    max_links_per_page: int
    max_path_repeats: int
    max_depth: int
    scope: str
    allow_domain: tuple[str, ...]
    deny_domain: tuple[str, ...]
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    allow_private: bool
    user_agent: str
    timeout: float
    max_bytes: int
    retries: int
    retry_backoff: float
    retry_backoff_max: float
    max_redirects: int
    max_url_length: int
    dns_cache_ttl: int
    max_idle_connections: int
    header: tuple[str, ...]
    header_scope: str
    cookies: bool
    cookie: tuple[str, ...]
    load_cookies: str
    save_cookies: str
    auth: str
    netrc: bool
    proxy: str
    proxy_file: str
    proxy_rotate: str
    proxy_tier: tuple[str, ...]
    env_proxy: bool
    ca_bundle: str
    insecure: bool
    client_cert: str
    client_key: str
    http_client: str
    impersonate: str
    http3: bool
    robots: bool
    max_crawl_delay: float
    robots_ttl: float
    robots_error_ttl: float
    robots_max_bytes: int
    robots_cache_size: int
    autothrottle: bool
    autothrottle_target_concurrency: float
    autothrottle_max_delay: float
    sitemap: tuple[str, ...]
    use_sitemaps: bool
    sitemap_max_bytes: int
    sitemap_max_urls: int
    job_dir: str
    frontier: str
    max_runtime: float
    recrawl_after: float
    recrawl_min: float
    recrawl_max: float
    changed_only: bool
    max_diff_bytes: int
    expect: dict[str, Any]
    parse_threads: int
    inline_parse_bytes: int
    parse_isolation: str
    parse_timeout: float
    output_queue_size: int
    memory_window: int
    spill_dir: str
    write_batch_size: int
    flush_interval: float
    shutdown_grace: float
    progress: bool | str
    stats_interval: float
    log_format: str
    log_time: str
    metrics_port: int
    otel: bool
    notify: tuple[str, ...]
    notify_on: str
    smtp_host: str
    smtp_port: int
    smtp_starttls: bool
    smtp_user: str
    smtp_from: str
    log_level: str

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied and validated."""
        merged = dataclasses.asdict(self) | changes
        return _build(merged, dict.fromkeys(changes, "argument"))


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def default_values() -> dict[str, Any]:
    """The built-in defaults, read from ``defaults.toml`` (a copy: the caller may change it)."""
    return copy.deepcopy(DEFAULTS)


_COMMENTED = re.compile(r"^(\w+)\s*=.*?#\s*(.+?)\s*$")


def setting_help() -> dict[str, str]:
    """Each setting's comment in ``defaults.toml``: the one text that explains it, in the file,
    in ``--help`` and in ``config/crawler.example.toml``."""
    text = defaults_text()
    found = {}
    for line in text.splitlines():
        match = _COMMENTED.match(line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a user's TOML settings file; raise :class:`UsageError` naming what is wrong."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise UsageError(f"--config: no such file: {path}") from None
    except OSError as e:
        raise UsageError(f"--config: cannot read {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"--config: {path} is not valid TOML: {e}") from None


ENV_PREFIX = "CRAWLER_"
RECRAWL_AUTO = -1.0  # recrawl_after = "auto": each page's interval learned from its changes
#: Environment variables that hold secrets, read where they are needed, never settings (never shown).
SECRET_VARIABLES = frozenset({"CRAWLER_SMTP_PASSWORD"})


def netrc_file() -> Path:
    """The netrc file curl and wget read: ``$NETRC``, else ``~/.netrc``."""
    return Path(os.environ.get("NETRC") or Path.home() / ".netrc")


def env_layer(environ: Mapping[str, str]) -> dict[str, tuple[str, Any]]:
    """Settings from ``CRAWLER_<OPTION>`` variables: {key: (variable name, value)}. A list is
    written as a TOML array (``CRAWLER_EXCLUDE='["/a/", "/b/"]'``) or as one item."""
    found: dict[str, tuple[str, Any]] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name in SECRET_VARIABLES:
            continue
        key = name[len(ENV_PREFIX):].lower()
        if key in _FIELDS and _FIELDS[key].type == "tuple[str, ...]" and value.lstrip().startswith("["):
            try:
                value = tomllib.loads(f"v = {value}")["v"]
            except tomllib.TOMLDecodeError as e:
                raise UsageError(f"{option_name(key)} (from environment variable {name}): "
                                 f"not a TOML array: {e}") from None
        found[key] = (name, value)
    return found


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    *,
    config_file: str | Path | None = None,
    overrides_source: str = "argument",
    environ: Mapping[str, str] | None = None,
    spider: Mapping[str, Any] | None = None,
    spider_source: str = "the spider's custom_settings",
) -> Settings:
    """Defaults < ``config_file`` < ``spider`` (a spider's ``custom_settings``, as Scrapy puts
    them over the project's) < ``CRAWLER_*`` variables of ``environ`` (when given) <
    ``overrides``; every value validated.

    Keys are option names spelled with underscores. An unknown key or a bad value raises
    :class:`UsageError` with one line naming the key and where it came from.
    """
    return load_settings_with_sources(overrides, config_file=config_file, overrides_source=overrides_source,
                                      environ=environ, spider=spider, spider_source=spider_source)[0]


def load_settings_with_sources(
    overrides: Mapping[str, Any] | None = None,
    *,
    config_file: str | Path | None = None,
    overrides_source: str = "argument",
    environ: Mapping[str, str] | None = None,
    spider: Mapping[str, Any] | None = None,
    spider_source: str = "the spider's custom_settings",
) -> tuple[Settings, dict[str, str]]:
    """:func:`load_settings`, and where each setting came from."""
    values = default_values()
    sources = dict.fromkeys(values, "default")
    layers: list[tuple[str, Mapping[str, Any]]] = []
    if config_file:
        layers.append((str(config_file), read_config_file(config_file)))
    if spider:
        layers.append((spider_source, spider))
    for key, (name, value) in env_layer(environ or {}).items():
        layers.append((f"environment variable {name}", {key: value}))
    layers.append((overrides_source, overrides or {}))
    for source, layer in layers:
        for key, value in layer.items():
            key = key.replace("-", "_")
            if key not in _FIELDS:
                raise UsageError(f"unknown setting {key!r} (from {source}){_hint(key)}")
            values[key] = value
            sources[key] = source
    return _build(values, sources), sources


#: Settings of other tools (Scrapy's, mostly) and where their thing lives here.
ELSEWHERE = {
    "item_pipelines": "a spider's pipelines are its pipelines attribute: class MySpider(Spider): pipelines = [...]",
    "pipelines": "a spider's pipelines are its pipelines attribute: class MySpider(Spider): pipelines = [...]",
    "concurrent_requests": "it is concurrency here",
    "concurrent_requests_per_domain": "it is per_host here",
    "download_delay": "it is delay here",
    "robotstxt_obey": "it is robots here",
    "depth_limit": "it is max_depth here",
    "closespider_pagecount": "it is max_pages here",
    "download_timeout": "it is timeout here",
}


def _hint(key: str) -> str:
    """What to write instead of the unknown setting ``key``: its place here, or the nearest name."""
    if key.lower() in ELSEWHERE:
        return f": {ELSEWHERE[key.lower()]}"
    import difflib

    near = difflib.get_close_matches(key, list(_FIELDS), n=1, cutoff=0.75)
    return f"; did you mean {near[0]!r}?" if near else ""


def _build(values: dict[str, Any], sources: Mapping[str, str]) -> Settings:
    missing = set(_FIELDS) - set(values)
    if missing:  # only if defaults.toml was edited badly
        raise UsageError(f"defaults.toml lacks {', '.join(sorted(missing))}")
    clean = {key: _coerce(key, values[key], sources.get(key, "default")) for key in _FIELDS}
    check(clean, sources)
    return Settings(**clean)


def _toml_table(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text  # said wrong by the check that follows


def _coerce(key: str, value: Any, source: str) -> Any:
    kind = _FIELDS[key].type
    where = f"{option_name(key)} (from {source})"
    if key == "recrawl_after" and isinstance(value, str) and value.strip().lower() == "auto":
        return RECRAWL_AUTO
    if key in DURATIONS:
        try:
            return parse_duration(value)
        except ValueError:
            raise UsageError(f"{where}: expected a duration such as 90s, 30m, 6h or 7d, got {value!r}") from None
    if key in SIZES:
        try:
            return parse_size(value)
        except ValueError:
            raise UsageError(f"{where}: expected a size such as 500K, 100MB or 1GiB, got {value!r}") from None
    if key == "expect":
        if isinstance(value, str):  # CRAWLER_EXPECT='{min_pages = 100}', or one KEY=VALUE
            value = _toml_table(value) if value.lstrip().startswith("{") else [value]
        try:
            return parse_expect(value)
        except ValueError as e:
            raise UsageError(f"{where}: {e}") from None
    if key == "workers" and isinstance(value, str) and value.strip().lower() == "auto":
        return os.cpu_count() or 1  # --workers auto: one process a core
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            try:
                return int(str(value), 10)
            except ValueError:
                raise UsageError(f"{where}: expected a whole number, got {value!r}") from None
        return value
    if kind == "float":
        if isinstance(value, bool):
            raise UsageError(f"{where}: expected a number, got {value!r}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise UsageError(f"{where}: expected a number, got {value!r}") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise UsageError(f"{where}: expected a finite number, got {value!r}")
        return number
    if kind == "str":
        if not isinstance(value, str):
            raise UsageError(f"{where}: expected text, got {value!r}")
        return value
    if kind == "tuple[str, ...]":
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise UsageError(f"{where}: expected a list of text, got {value!r}")
        return tuple(value)
    if kind in ("bool", "bool | str"):
        if isinstance(value, bool) or (kind == "bool | str" and value == "auto"):
            return value
        lowered = str(value).lower()
        if lowered in ("true", "on", "yes", "1"):
            return True
        if lowered in ("false", "off", "no", "0"):
            return False
        choices = 'true, false or "auto"' if kind == "bool | str" else "true or false"
        raise UsageError(f"{where}: expected {choices}, got {value!r}")
    raise AssertionError(f"no coercion for {key}: {kind}")  # pragma: no cover


__all__ = ["ENV_PREFIX", "EXTRACT_ENGINES", "EXTRACT_FIELDS", "LOG_LEVELS", "OUTPUT_FORMATS", "PROXY_SCHEMES",
           "RECRAWL_AUTO", "REDIS_CLUSTER_SCHEMES", "REDIS_SCHEMES", "REDIS_STREAM_SCHEMES", "SCOPES",
           "SECRET_VARIABLES", "Settings",
           "default_values", "env_layer", "extract_fields", "load_settings", "load_settings_with_sources", "netrc_file",
           "parse_duration", "parse_size", "read_config_file", "setting_help"]
