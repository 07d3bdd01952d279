"""The service's web dashboard: server-rendered pages with a little script, no build step. The
jobs with their schedule, last and next run; a run's page with its live progress (the events
stream), changes, failed expectations and files; buttons to start and cancel a run. Its forms
carry a CSRF token; with a service token, a login form sets it as an HttpOnly, SameSite cookie."""

from __future__ import annotations

import datetime
import hmac
from html import escape
from typing import Any

from aiohttp import web

from crawler.monitor.stats import NOTHING_DUE
from crawler.service.apicrawls import Crawls
from crawler.service.runs import Runs

STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:12px;color:#1d2330}
h1{font-size:1.4em}h1 a{color:inherit;text-decoration:none}table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #e3e6eb;vertical-align:top}
.wide{overflow-x:auto}.state{font-weight:600}.finished{color:#1a7f37}.failed{color:#c62828}
.running,.queued{color:#0b62c4}.cancelled,.skipped,.interrupted{color:#6b7280}button{font:inherit;padding:4px 12px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(140px,1fr));gap:8px;margin:12px 0}
.grid div{background:#f4f6f9;border-radius:6px;padding:8px}.grid b{display:block;font-size:1.3em}
code{font-size:.9em}form{display:inline}
"""


def page(title: str, body: str) -> web.Response:
    """A whole page."""
    return web.Response(text=(
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>{escape(title)}</title>'
        f"<style>{STYLE}</style></head><body><h1><a href=\"/\">crawler serve</a></h1>{body}</body></html>"),
        content_type="text/html")


def _button(action: str, label: str, csrf: str) -> str:
    return (f'<form method="post" action="{escape(action)}"><input type="hidden" name="csrf" value="{csrf}">'
            f"<button>{escape(label)}</button></form>")


def _state(state: str | None) -> str:
    return f'<span class="state {escape(state or "")}">{escape(state or "never run")}</span>'


def _when(value: datetime.datetime | str | None) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else value.isoformat().replace("+00:00", "Z")
    return escape(text[:19].replace("T", " ")) + " UTC"


async def jobs_page(request: web.Request, runs: Runs, csrf: str, crawls: Crawls | None = None) -> web.Response:
    now = datetime.datetime.now(datetime.UTC)
    rows = []
    for name, job in runs.jobs.items():
        latest = await runs.store.list(name, limit=1)
        last = latest[0] if latest else None
        link = f'<a href="/runs/{last["id"]}">#{last["id"]}</a> ' if last else ""
        rows.append(
            f"<tr><td><b>{escape(name)}</b></td><td><code>{escape(job.schedule or 'on demand')}</code> "
            f"{escape(job.timezone)}</td><td>{link}{_state(last['state'] if last else None)} "
            f"{_when(last['ended_at'] or last['started_at']) if last else ''}</td><td>{_when(job.next_run(now))}</td>"
            f"<td>{_button(f'/jobs/{name}/start', 'Start now', csrf)}</td></tr>")
    recent = "".join(
        f'<tr><td><a href="/runs/{r["id"]}">#{r["id"]}</a></td><td>{escape(r["job"])}</td><td>{_state(r["state"])}'
        f"</td><td>{escape(r['trigger'])}</td><td>{_when(r['created_at'])}</td>"
        f"<td>{(r['figures'] or {}).get('pages', '')}</td></tr>" for r in await runs.store.list(limit=20))
    return page("crawler serve", (
        '<h2>Jobs</h2><div class="wide"><table><tr><th>job</th><th>schedule</th><th>last run</th><th>next run</th>'
        f'<th></th></tr>{"".join(rows)}</table></div>'
        '<h2>Recent runs</h2><div class="wide"><table><tr><th>run</th><th>job</th><th>state</th><th>trigger</th>'
        f"<th>asked for</th><th>pages</th></tr>{recent}</table></div>"
        f"{await _api_crawls(crawls) if crawls is not None else ''}"))


async def _api_crawls(crawls: Crawls) -> str:
    """The latest crawls programs and agents started (``/v1/crawl``, the MCP ``crawl`` tool)."""
    rows = "".join(
        f"<tr><td><code>{escape(c['id'][:8])}</code></td><td>{escape(c['url'] or '')}</td>"
        f"<td>{_state({'scraping': 'running'}.get(c['status'], c['status']))}</td><td>{_when(c['created_at'])}</td>"
        f"<td>{_when(c['ended_at'])}</td><td>{escape(c['error'] or '')}</td></tr>" for c in await crawls.latest(20))
    return ('<h2>API crawls</h2><div class="wide"><table><tr><th>crawl</th><th>start URL</th><th>state</th>'
            f"<th>asked for</th><th>ended</th><th>error</th></tr>{rows or '<tr><td>none yet</td></tr>'}</table></div>")


def run_id(request: web.Request) -> int:
    """The run id of the request's path; 404 when it is past any run's (SQLite's 64 bits)."""
    given = request.match_info["id"]
    if len(given) > 18:
        raise web.HTTPNotFound(reason=f"no run {given[:40]}")
    return int(given)


async def run_page(request: web.Request, runs: Runs, csrf: str) -> web.Response:
    run = await runs.store.get(run_id(request))
    if run is None:
        raise web.HTTPNotFound(reason=f"no run {request.match_info['id']}")
    figures: dict[str, Any] = run["figures"] or {}
    live = run["state"] in ("queued", "running")
    cancel = _button(f"/runs/{run['id']}/cancel", "Cancel", csrf) if live else ""
    errors = ", ".join(f"{escape(k)} {v}" for k, v in (figures.get("errors") or {}).items()) or "none"
    changes = ", ".join(f"{escape(k)} {v}" for k, v in (figures.get("changes") or {}).items()) or "none"
    failed = "".join(f"<li>{escape(line)}</li>" for line in figures.get("expectations_failed") or [])
    files = " ".join(f'<a href="/api/runs/{run["id"]}/{what}">{what}</a>' for what in ("output", "log", "report")
                     if (runs.run_dir(run["id"]) / {"output": "output.jsonl", "log": "log.txt",
                                                    "report": "report.html"}[what]).exists())
    script = f"""<script>
const s=new EventSource('/api/runs/{run['id']}/events');
s.addEventListener('stats',e=>{{const d=JSON.parse(e.data);
for(const k of ['pages','pages_per_s','in_flight','frontier'])document.getElementById(k).textContent=d[k];
document.getElementById('errors').textContent=Object.entries(d.errors).map(x=>x.join(' ')).join(', ')||'none';}});
s.addEventListener('end',()=>{{s.close();location.reload();}});
</script>""" if live else ""
    return page(f"run {run['id']}", (
        f"<h2>Run #{run['id']} of {escape(run['job'])}: {_state(run['state'])} {cancel}</h2>"
        f"<p>{_times(run)}</p>"
        f'<div class="grid"><div>pages<b id="pages">{figures.get("pages", 0)}</b></div>'
        f'<div>pages/s<b id="pages_per_s">{figures.get("pages_per_s", 0)}</b></div>'
        f'<div>in flight<b id="in_flight">{"…" if live else 0}</b></div>'
        f'<div>queued URLs<b id="frontier">{"…" if live else 0}</b></div></div>'
        f'<p>Errors: <span id="errors">{errors}</span>. Changes: {changes}.</p>'
        f"{_nothing_due() if figures.get('nothing_due') else ''}"
        f"{'<h3>Expectations failed</h3><ul>' + failed + '</ul>' if failed else ''}"
        f"{_failures(figures.get('failed_urls') or [])}<p>Files: {files or 'none yet'}</p>{script}"))


def _nothing_due() -> str:
    return f'<p class="failed">{escape(NOTHING_DUE)}.</p>'


def _times(run: dict[str, Any]) -> str:
    """When the run was asked for, started and ended, as far as it has come."""
    said = f"Asked for {_when(run['created_at'])} ({escape(run['trigger'])})"
    if run["started_at"]:
        said += f", started {_when(run['started_at'])}"
    elif run["state"] == "queued":
        said += ", waiting for a slot"
    if run["ended_at"]:
        said += f", ended {_when(run['ended_at'])}"
        if run["exit_status"] is not None:
            said += f"; exit status {run['exit_status']}"
    elif run["state"] == "running":
        said += "; running (its figures come every few seconds)"
    return said + (f"; {escape(run['reason'])}" if run["reason"] else "") + "."


def _failures(failed: list[dict[str, Any]]) -> str:
    """The run's first failed URLs, with their error and status."""
    if not failed:
        return ""
    rows = "".join(f"<tr><td>{escape(f['url'])}</td><td>{escape(str(f.get('error')))}</td>"
                   f"<td>{escape(str(f.get('status') or ''))}</td></tr>" for f in failed)
    return ('<h3>Failed URLs</h3><div class="wide"><table><tr><th>URL</th><th>error</th><th>status</th></tr>'
            f"{rows}</table></div>")


def login_page(wrong: bool = False) -> web.Response:
    note = "<p class=\"failed\">That is not the token.</p>" if wrong else ""
    return page("log in", (
        f"<h2>Log in</h2>{note}<form method=\"post\" action=\"/login\"><p><label>The service's token "
        "<input type=\"password\" name=\"token\" autocomplete=\"current-password\"></label></p>"
        "<button>Log in</button></form>"))


def csrf_ok(form: Any, csrf: str) -> bool:
    """Does a dashboard form carry this service's CSRF token?"""
    return hmac.compare_digest(str(form.get("csrf", "")).encode(), csrf.encode())


__all__ = ["csrf_ok", "jobs_page", "login_page", "page", "run_id", "run_page"]
