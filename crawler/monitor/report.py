"""``--report FILE.html``: the crawl on one self-contained page (no script, no fonts, no network:
charts are inline SVG), written when the crawl ends.

Every number on the page comes from the same ``Stats.as_dict()`` that ``--stats`` writes, and
carries its path in that JSON as a ``data-stat`` attribute (``status.200``,
``hosts.by_pages.0.pages``), so a test (or a reader) can check one against the other. The
curves over time come from a :class:`crawler.monitor.measures.Timeline`.
"""

from __future__ import annotations

from html import escape
from typing import Any

import aiofiles

from crawler.monitor.measures import Timeline
from crawler.monitor.stats import size
from crawler.settings.masking import mask_url, masked

_WIDTH = 640
_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:1000px;color:#222;background:#fff}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse}td,th{padding:2px 10px;text-align:left}td.n{text-align:right}
.grid{display:flex;flex-wrap:wrap;gap:2em}svg text{font:12px system-ui,sans-serif;fill:#222}
.bar{fill:#4a7bd0}.err{fill:#d0584a}.line{fill:none;stroke:#4a7bd0;stroke-width:2}.axis{stroke:#999}
"""


def _num(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return escape(str(value))


def _cell(path: str, value: Any, shown: str | None = None) -> str:
    """A figure: its text (``shown``, such as bytes in human units, with the figure itself in
    ``data-value``), tagged with its ``--stats`` path."""
    if shown is None:
        return f'<td class="n" data-stat="{escape(path)}">{_num(value)}</td>'
    return f'<td class="n" data-stat="{escape(path)}" data-value="{_num(value)}">{escape(shown)}</td>'


def _table(rows: list[tuple[str, str, Any]]) -> str:
    """(label, stat path, value) rows; values under a path ending in ``bytes`` in human units."""
    body = "".join(f"<tr><th>{escape(label)}</th>"
                   f"{_cell(path, value, size(value) if path.endswith('bytes') else None)}</tr>"
                   for label, path, value in rows)
    return f"<table>{body}</table>"


def _masked(url: str) -> str:
    """``url`` without the credentials it may carry (``redis://:secret@host``)."""
    return mask_url(url)


# The settings the report shows, in this order: what a reader asks first about a crawl.
MAIN_SETTINGS = ("output", "format", "concurrency", "per_host", "delay", "scope", "max_depth", "max_pages",
                 "max_pages_per_host", "robots", "user_agent", "timeout", "retries", "max_bytes", "job_dir",
                 "frontier", "spider", "header", "cookies", "auth", "proxy", "proxy_file", "insecure")


def _about(seeds: list[str], settings: Any) -> str:
    """The seeds (the first 20, and how many) and the main settings."""
    shown = "".join(f"<li>{escape(_masked(url))}</li>" for url in seeds[:20])
    more = f"<p>and {len(seeds) - 20:,} more</p>" if len(seeds) > 20 else ""
    rows = ""
    if settings is not None:
        for key in MAIN_SETTINGS:
            value = getattr(settings, key, None)
            if value in ("", None):
                continue
            value = masked(key, value)
            text = value if isinstance(value, str) else json_text(value)
            rows += f"<tr><th>{escape(key)}</th><td>{escape(text)}</td></tr>"
    return (f'<div class="grid"><section><h2>Seeds ({len(seeds):,})</h2><ul>{shown}</ul>{more}</section>'
            f"<section><h2>Settings</h2><table>{rows}</table></section></div>")


def json_text(value: Any) -> str:
    """A setting as the config file writes it (true, 2.5, "text")."""
    if isinstance(value, (tuple, list)):
        return ", ".join(str(v) for v in value) or "none"
    return "true" if value is True else "false" if value is False else str(value)


def _expectations(stats: dict[str, Any]) -> str:
    """The run's failed expectations (exit 3), one line each, and its changes (a durable job)."""
    failed = stats.get("expectations_failed") or []
    out = ""
    if failed:
        out += ("<h2>Expectations failed</h2><ul>" + "".join(f"<li>{escape(line)}</li>" for line in failed)
                + "</ul>")
    changes = stats.get("changes") or {}
    if changes:
        out += "<p>Changes since the job's last run: " + ", ".join(
            f"{escape(kind)} {n:,}" for kind, n in changes.items()) + ".</p>"
    return out


def _failures(failed: list[dict[str, Any]], count: int) -> str:
    """The failed URLs (the first ones listed in --stats) with their error, status and referrer."""
    if not failed:
        return "<p>none</p>"
    rows = "".join(
        f"<tr><td>{escape(_masked(f['url']))}</td><td>{escape(f['error'])}</td>"
        f"<td>{'' if f['status'] is None else f['status']}</td>"
        f"<td>{escape(_masked(f['referrer'])) if f['referrer'] else '(a seed)'}</td></tr>" for f in failed)
    more = f"<p>The first {len(failed):,} of {count:,} are listed.</p>" if count > len(failed) else ""
    return (f"<table><tr><th>URL</th><th>error</th><th>status</th><th>found on</th></tr>{rows}</table>{more}")


def _proxies(proxies: list[dict[str, Any]], tiers: list[dict[str, Any]]) -> str:
    """Each proxy's requests, failures, seconds benched and bans (and tier), and each tier's
    figures (none: nothing shown)."""
    if not proxies:
        return ""
    tiered = bool(tiers)
    rows = "".join(f"<tr><td>{escape(p['proxy'])}</td>"
                   f"{_cell(f'proxies.{i}.tier', p.get('tier', 1)) if tiered else ''}"
                   f"{_cell(f'proxies.{i}.requests', p['requests'])}"
                   f"{_cell(f'proxies.{i}.failures', p['failures'])}"
                   f"{_cell(f'proxies.{i}.benched_s', p['benched_s'])}"
                   f"{_cell(f'proxies.{i}.bans', p.get('bans', 0))}</tr>" for i, p in enumerate(proxies))
    table = ("<h2>Proxies</h2><table><tr><th>proxy</th>" + ("<th>tier</th>" if tiered else "") +
             f"<th>requests</th><th>failures</th><th>seconds benched</th><th>bans</th></tr>{rows}</table>")
    if tiered:
        table += "<table><tr><th>tier</th><th>requests</th><th>bans</th><th>hosts moved up to it</th></tr>" + "".join(
            f"<tr><td>{t['tier']}</td>{_cell(f'proxy_tiers.{i}.requests', t['requests'])}"
            f"{_cell(f'proxy_tiers.{i}.bans', t['bans'])}"
            f"{_cell(f'proxy_tiers.{i}.hosts_moved_up', t['hosts_moved_up'])}"
            "</tr>" for i, t in enumerate(tiers)) + "</table>"
    return table


def _render(render: dict[str, Any] | None) -> str:
    """``--render``: pages rendered and why, what their requests met, and each host's plan."""
    if not render:
        return ""
    totals = _table([("pages rendered", "render.pages", render["pages"]),
                     ("failed (error render)", "render.failed", render["failed"]),
                     *[(f"why: {why}", f"render.why.{why}", n) for why, n in sorted(render["why"].items())],
                     *[(label, f"render.{key}", render[key]) for key, label in (
                         ("requests", "their requests, fetched"), ("blocked", "blocked by kind"),
                         ("unsettled", "read at the deadline"), ("browsers_started", "browsers started"),
                         ("browsers_lost", "browsers lost")) if key in render],
                     *[(f"refused: {why}", f"render.refused.{why}", n)
                       for why, n in sorted(render.get("refused", {}).items())]])
    rows = "".join(f"<tr><td>{escape(host)}</td><td>{escape(h['plan'])}</td>"
                   f"{_cell(f'render.hosts.{host}.rendered', h['rendered'])}"
                   f"<td>{escape(', '.join(f'{w}: {n}' for w, n in sorted(h['why'].items())))}</td>"
                   f"{_cell(f'render.hosts.{host}.skipped', h['skipped'])}</tr>"
                   for host, h in list(render.get("hosts", {}).items())[:100])
    hosts = (f"<table><tr><th>host</th><th>plan</th><th>rendered</th><th>why</th><th>left plain</th></tr>{rows}"
             "</table>") if rows else ""
    return f"<h2>Rendering ({escape(render['mode'])})</h2>{totals}{hosts}"


def _spider(stats: dict[str, Any]) -> str:
    """The spider's callback errors by exception type (where each first struck) and its dropped
    items by reason (none of them: nothing shown)."""
    kinds = stats.get("callback_errors_by_type") or {}
    reasons = stats.get("dropped_by_reason") or {}
    out = ""
    if kinds:
        rows = "".join(f"<tr><td>{escape(name)}</td>{_cell(f'callback_errors_by_type.{name}.count', e['count'])}"
                       f"<td>{escape(e['where'])}</td><td>{escape(e['message'])}</td><td>{escape(e['url'])}</td></tr>"
                       for name, e in kinds.items())
        out += (f"<h2>Callback errors</h2><table><tr><th>exception</th><th>count</th><th>first at</th>"
                f"<th>message</th><th>on</th></tr>{rows}</table>")
    if reasons:
        rows = "".join(f"<tr><td>{escape(reason)}</td>"
                       f"{_cell(f'dropped_by_reason.{reason}', n) if '.' not in reason else f'<td>{n}</td>'}</tr>"
                       for reason, n in reasons.items())
        out += f"<h2>Items dropped</h2><table><tr><th>reason</th><th>items</th></tr>{rows}</table>"
    return out


def rates(samples: list[tuple[float, int, int, int, int]], window: float = 1.0) -> list[tuple[float, float]]:
    """Fetches completed per second, each over the ``window`` seconds (or more) before its
    sample: a moving average, so that the curve follows the fetching, not its batching."""
    points = []
    start = 0
    for i, (t, fetches, *_) in enumerate(samples):
        while start < i - 1 and t - samples[start + 1][0] >= window:
            start += 1
        t0, f0 = samples[start][0], samples[start][1]
        if i > start and t > t0:
            points.append((t, (fetches - f0) / (t - t0)))
    return points


def bar_chart(title: str, rows: list[tuple[str, str, float]], css: str = "bar") -> str:
    """Horizontal bars: (label, stat path, value) rows, each value written at its bar's end."""
    if not rows:
        return f"<figure><figcaption>{escape(title)}</figcaption><p>none</p></figure>"
    label_w, bar_w, row_h = 220, _WIDTH - 300, 20
    top = max(value for _, _, value in rows) or 1
    parts = []
    for i, (label, path, value) in enumerate(rows):
        y = i * row_h
        w = max(value / top * bar_w, 1 if value else 0)
        short = label if len(label) <= 32 else label[:31] + "…"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end"><title>{escape(label)}</title>'
            f'{escape(short)}</text><rect class="{css}" x="{label_w}" y="{y + 3}" width="{w:.1f}" height="14"/>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + 14}" data-stat="{escape(path)}">{_num(value)}</text>')
    height = len(rows) * row_h + 4
    return (f'<figure><figcaption>{escape(title)}</figcaption><svg xmlns="http://www.w3.org/2000/svg" '
            f'width="{_WIDTH}" height="{height}" viewBox="0 0 {_WIDTH} {height}" role="img">{"".join(parts)}'
            f"</svg></figure>")


def line_chart(title: str, points: list[tuple[float, float]], unit: str) -> str:
    """A curve of ``points`` (seconds into the crawl, value), with its axes' extremes."""
    if len(points) < 2:
        return f"<figure><figcaption>{escape(title)}</figcaption><p>too short to draw</p></figure>"
    left, width, height = 60, _WIDTH - 80, 160
    x_max = max(x for x, _ in points) or 1
    y_max = max(y for _, y in points) or 1
    coords = " ".join(f"{left + x / x_max * width:.1f},{10 + height - y / y_max * height:.1f}" for x, y in points)
    return (
        f'<figure><figcaption>{escape(title)}</figcaption><svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" '
        f'height="{height + 40}" viewBox="0 0 {_WIDTH} {height + 40}" role="img">'
        f'<line class="axis" x1="{left}" y1="{10 + height}" x2="{left + width}" y2="{10 + height}"/>'
        f'<line class="axis" x1="{left}" y1="10" x2="{left}" y2="{10 + height}"/>'
        f'<text x="{left - 6}" y="16" text-anchor="end">{y_max:,.0f}</text>'
        f'<text x="{left - 6}" y="{10 + height}" text-anchor="end">0</text>'
        f'<text x="{left + width}" y="{height + 30}" text-anchor="end">{x_max:,.0f} s</text>'
        f'<text x="{left}" y="{height + 30}">0 s ({escape(unit)})</text>'
        f'<polyline class="line" points="{coords}"/></svg></figure>')


def render(stats: dict[str, Any], timeline: Timeline | None, title: str = "Crawl report",
           seeds: list[str] | None = None, settings: Any = None) -> str:
    """The report's HTML for ``stats`` (``Stats.as_dict()``) and ``timeline``, with the crawl's
    ``seeds`` and main ``settings``."""
    t = stats["timings"]
    totals = _table([
        ("pages (records)", "pages", stats["pages"]), ("ok", "ok", stats["ok"]),
        ("URLs discovered", "discovered", stats["discovered"]), ("retries", "retries", stats["retries"]),
        ("bytes", "bytes", stats["bytes"]), ("seconds", "elapsed_s", stats["elapsed_s"]),
        ("pages/s", "pages_per_s", stats["pages_per_s"]), ("hosts", "hosts.count", stats["hosts"]["count"]),
        ("items", "items", stats["items"]), ("items dropped", "dropped", stats["dropped"]),
        ("callback errors", "callback_errors", stats["callback_errors"]),
        ("unchanged (not written)", "unchanged", stats["unchanged"]), ("resumed", "resumed", stats["resumed"]),
    ])
    timings = _table([
        ("fetch p50 (ms)", "timings.fetch.p50_ms", t["fetch"]["p50_ms"]),
        ("fetch p95 (ms)", "timings.fetch.p95_ms", t["fetch"]["p95_ms"]),
        ("frontier wait p50 (ms)", "timings.frontier_wait.p50_ms", t["frontier_wait"]["p50_ms"]),
        ("frontier wait p95 (ms)", "timings.frontier_wait.p95_ms", t["frontier_wait"]["p95_ms"]),
        ("page handling p50 (ms)", "timings.handle.p50_ms", t["handle"]["p50_ms"]),
        ("page handling p95 (ms)", "timings.handle.p95_ms", t["handle"]["p95_ms"]),
        ("fetch workers busy", "timings.fetch_workers_busy", t["fetch_workers_busy"]),
        ("parse pool busy", "timings.parse_pool_busy", t["parse_pool_busy"]),
    ])
    state = ("failed" if stats.get("failed") else "interrupted" if stats["interrupted"] else "ended at --max-runtime"
             if stats["stopped_by"] == "max_runtime" else "finished")
    charts = []
    if timeline is not None:
        samples = timeline.samples
        charts.append(line_chart("Fetches per second over time (1 s moving average)", rates(samples),
                                 "fetches/s"))
        charts.append(line_chart("Frontier size over time", [(s[0], s[2]) for s in samples], "URLs queued"))
        charts.append(line_chart("Output queue over time", [(s[0], s[4]) for s in samples], "entries waiting"))
    charts.append(bar_chart("Status codes", [(code, f"status.{code}", n) for code, n in stats["status"].items()]))
    charts.append(bar_chart("Errors by kind", [(kind, f"errors.{kind}", n) for kind, n in stats["errors"].items()],
                            "err"))
    charts.append(bar_chart("Top hosts by pages", [(h["host"], f"hosts.by_pages.{i}.pages", h["pages"])
                                                   for i, h in enumerate(stats["hosts"]["by_pages"])]))
    charts.append(bar_chart("Top hosts by errors", [(h["host"], f"hosts.by_errors.{i}.errors", h["errors"])
                                                    for i, h in enumerate(stats["hosts"]["by_errors"])], "err"))
    if stats["hosts"].get("by_blocked"):  # (a report of an older run's stats has none)
        charts.append(bar_chart("Top hosts by block pages", [
            (h["host"], f"hosts.by_blocked.{i}.blocked", h["blocked"])
            for i, h in enumerate(stats["hosts"]["by_blocked"])], "err"))
    charts.append(bar_chart("Slowest hosts: fetch p95 (ms)", [(h["host"], f"hosts.slowest.{i}.fetch_p95_ms",
                                                               h["fetch_p95_ms"])
                                                              for i, h in enumerate(stats["hosts"]["slowest"])]))
    charts.append(bar_chart("Pages by depth", [(f"depth {d}", f"depth.{d}", n) for d, n in stats["depth"].items()]))
    edges = list(t["fetch"]["distribution"])
    charts.append(bar_chart("Fetch time (ms)", [
        (f"under {edge}" if i == 0 else f"{edges[i - 1]} and more" if edge == "inf" else f"{edges[i - 1]} to {edge}",
         f"timings.fetch.distribution.{edge}", n) for i, (edge, n) in enumerate(t["fetch"]["distribution"].items())]))
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body><h1>{escape(title)}</h1>"
        f"<p>Crawl {state}: {stats['pages']:,} pages in {stats['elapsed_s']:,.1f} s, "
        f"{size(stats['bytes'])}.</p>{_expectations(stats)}"
        f'<div class="grid"><section><h2>Totals</h2>{totals}</section>'
        f"<section><h2>Where the time goes</h2>{timings}</section></div>"
        f"{_about(seeds or [], settings)}"
        f"<h2>Failed URLs</h2>{_failures(stats.get('failed_urls', []), sum(stats['errors'].values()))}"
        f"{_spider(stats)}{_proxies(stats.get('proxies', []), stats.get('proxy_tiers', []))}"
        f"{_render(stats.get('render'))}"
        f"<h2>Charts</h2>{''.join(charts)}</body></html>\n"
    )


async def write_report(path: str, stats: dict[str, Any], timeline: Timeline | None, seeds: list[str] | None = None,
                       settings: Any = None) -> None:
    """Write the report of ``stats`` to ``path`` (through aiofiles)."""
    async with aiofiles.open(path, "w", encoding="utf-8") as f:
        await f.write(render(stats, timeline, seeds=seeds, settings=settings))


__all__ = ["bar_chart", "line_chart", "render", "write_report"]
