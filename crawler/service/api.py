"""The service's HTTP API (JSON): the jobs, their runs, starting and cancelling one, a run's
output, log and report. With a token, every route wants it (``Authorization: Bearer TOKEN``, or
the ``crawler_token`` cookie), compared in constant time. The API never runs code or reads a path
it is sent: a run is of a job of the jobs file, its files are under the service's data dir."""

from __future__ import annotations

import asyncio
import datetime
import hmac
import html
import json
import logging
import secrets
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from aiohttp import hdrs, web

from crawler.service import dashboard
from crawler.service.callerror import CallError
from crawler.service.diskfull import free_bytes, full_reason, is_disk_full
from crawler.service.firecrawl import CRAWLS, add_routes, failure
from crawler.service.hosts import HostNames
from crawler.service.ondemand import Calls
from crawler.service.runs import Runs

log = logging.getLogger("crawler")
MAX_BODY = 64 * 1024  # bytes a request body may have
COOKIE = "crawler_token"
RUNS: web.AppKey[Runs] = web.AppKey("runs", Runs)
DOWNLOADS = {"output": ("output.jsonl", "application/x-ndjson"), "log": ("log.txt", "text/plain"),
             "report": ("report.html", "text/html")}


def error(status: int, message: str, retry_after: float | None = None) -> web.Response:
    """A JSON error answer."""
    headers = {"Retry-After": str(int(retry_after))} if retry_after is not None else None
    return web.json_response({"error": message}, status=status, headers=headers)


def make_app(runs: Runs, tokens: Sequence[str] | str | None, calls: Calls | None = None,
             hosts: HostNames | None = None) -> web.Application:
    """The API of ``runs``; ``tokens``: the secrets a request must carry one of (None: loopback
    only); ``calls``: the calls for programs and agents (``/v1``, ``/mcp``), when served;
    ``hosts``: the names the service answers to (every request's ``Host`` must be one: none but
    loopback's by default)."""
    keys = [tokens] if isinstance(tokens, str) else list(tokens or [])
    names = hosts or HostNames()
    csrf = secrets.token_urlsafe(24)  # the dashboard's forms carry it

    def known(given: str) -> bool:
        found = False
        for key in keys:  # every one compared, in constant time
            found |= hmac.compare_digest(given.encode(), key.encode())
        return found

    @web.middleware
    async def guard(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                    ) -> web.StreamResponse:
        path = request.path
        if path in PROBES and request.method in ("GET", "HEAD"):
            return await handler(request)  # probes: no token, no Host check, nothing to tell an attacker
        v1 = path.startswith("/v1/")
        api = path.startswith(("/api/", "/mcp")) or v1
        shape = failure if v1 else error
        if hdrs.HOST in request.headers and not names.allows(request.headers[hdrs.HOST]):
            return shape(421, f"misdirected: this service answers to {names.described()}, not "
                              f"{_shown_host(request.host)!r} (crawler serve --allowed-host NAME adds a name)")
        bearer = request.headers.get("Authorization", "").startswith("Bearer ")
        given = request.headers.get("Authorization", "")
        given = given[7:] if bearer else request.cookies.get(COOKIE, "")
        if keys and path != "/login" and not known(given):
            if not api and request.method == "GET":
                raise web.HTTPSeeOther("/login")
            return shape(401, "unauthorized: give the service's token (Authorization: Bearer TOKEN)")
        if request.method in ("POST", "DELETE") and api and not bearer and _cross_site(request):
            return shape(403, "a cross-site request: refused (use the dashboard, or send the token)")
        try:
            if calls is not None and (v1 or (path.startswith("/mcp") and request.method == "POST")):
                calls.desk.rates.take(given if keys else f"address {request.remote}")
            return await handler(request)
        except CallError as e:
            return shape(e.status, str(e), e.retry_after) if v1 else error(e.status, str(e))
        except (OSError, sqlite3.OperationalError) as e:
            if not is_disk_full(e):
                raise
            log.error("%s %s: %s", request.method, path, full_reason(runs.data))
            return shape(507, f"disk_full: {full_reason(runs.data)}")
        except web.HTTPException as e:
            if e.status >= 400:
                if api:
                    return shape(e.status, e.reason)
                shown = dashboard.page(str(e.status), f"<p>{html.escape(e.reason)}</p>")
                shown.set_status(e.status)
                return shown
            raise
        except Exception as e:
            if not v1:
                raise
            log.exception("%s %s failed", request.method, path)  # a bug of ours: said, never a hang
            return failure(500, f"internal: {type(e).__name__} (see the service's log)")

    async def home(request: web.Request) -> web.Response:
        return await dashboard.jobs_page(request, runs, csrf, calls.crawls if calls is not None else None)

    async def run_page(request: web.Request) -> web.Response:
        return await dashboard.run_page(request, runs, csrf)

    async def start_form(request: web.Request) -> web.Response:
        if not dashboard.csrf_ok(await request.post(), csrf):
            raise web.HTTPForbidden(reason="the form's CSRF token is missing or wrong: reload the page")
        run_id = await runs.trigger(_name(request), "dashboard")
        raise web.HTTPSeeOther(f"/runs/{run_id}")

    async def cancel_form(request: web.Request) -> web.Response:
        if not dashboard.csrf_ok(await request.post(), csrf):
            raise web.HTTPForbidden(reason="the form's CSRF token is missing or wrong: reload the page")
        run_id = dashboard.run_id(request)
        await runs.cancel(run_id)
        raise web.HTTPSeeOther(f"/runs/{run_id}")

    async def login(request: web.Request) -> web.Response:
        if request.method == "GET" or not keys:
            return dashboard.login_page()
        given = str((await request.post()).get("token", ""))
        if not known(given):
            response = dashboard.login_page(wrong=True)
            response.set_status(401)
            return response
        response = web.HTTPSeeOther("/")
        response.set_cookie(COOKIE, given, httponly=True, samesite="Strict", secure=request.secure, path="/")
        raise response

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        checks = await readiness(runs)
        return web.json_response({"status": "ready" if all(checks.values()) else "not ready", "checks": checks},
                                 status=200 if all(checks.values()) else 503)

    app = web.Application(middlewares=[guard], client_max_size=MAX_BODY)
    app[RUNS] = runs
    app.add_routes([web.get("/healthz", healthz), web.get("/readyz", readyz)])
    app.add_routes([
        web.get("/", home), web.get("/runs/{id:\\d+}", run_page), web.post("/jobs/{name}/start", start_form),
        web.post("/runs/{id:\\d+}/cancel", cancel_form), web.get("/login", login), web.post("/login", login),
    ])
    app.add_routes([
        web.get("/api/jobs", jobs), web.get("/api/jobs/{name}", job), web.post("/api/jobs/{name}/runs", start),
        web.get("/api/runs", list_runs), web.get("/api/runs/{id:\\d+}", run),
        web.post("/api/runs/{id:\\d+}/cancel", cancel),
        web.get("/api/runs/{id:\\d+}/{what:output|log|report}", download),
        web.get("/api/runs/{id:\\d+}/events", events), web.get("/api/openapi.json", openapi),
    ])
    if calls is not None:
        add_routes(app, calls.desk, calls.crawls)
        calls.mount_mcp(app)
    return app


PROBES = ("/healthz", "/readyz")  # answered without the token or a Host check (liveness, readiness)
READY_FREE = 64 * 1024 * 1024  # bytes free in the data directory below which the service is not ready


async def readiness(runs: Runs) -> dict[str, bool]:
    """The readiness checks, each true or false (no detail: the probes answer anyone): the data
    directory writable with :data:`READY_FREE` bytes free, the jobs file loaded. (No job has a
    Redis to check: a job's frontier is always its SQLite job dir under the data directory.)"""
    def data_ok() -> bool:
        free = free_bytes(runs.data)
        if free is None or free < READY_FREE:
            return False
        probe = runs.data / ".ready"
        try:
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError:
            return False
        return True

    return {"data": await asyncio.to_thread(data_ok), "jobs": runs.jobs is not None}


def _shown_host(host: str) -> str:
    """A ``Host`` header as an error message may quote it (bounded, printable)."""
    return "".join(c if c.isprintable() else "?" for c in host[:100])


def _cross_site(request: web.Request) -> bool:
    """Does a browser say this request comes from another site (a page elsewhere posting here)?"""
    if request.headers.get("Sec-Fetch-Site") in ("cross-site", "same-site"):
        return True
    origin = request.headers.get("Origin")
    return origin is not None and origin != f"{request.scheme}://{request.host}"


def _job_view(runs: Runs, name: str, now: datetime.datetime) -> dict[str, Any]:
    view = runs.jobs[name].public()
    nxt = runs.jobs[name].next_run(now)
    view["next_run"] = nxt.isoformat().replace("+00:00", "Z") if nxt is not None else None
    view["running"] = runs.running[name][0] if name in runs.running else None
    return view


async def jobs(request: web.Request) -> web.Response:
    runs = request.app[RUNS]
    now = datetime.datetime.now(datetime.UTC)
    return web.json_response({"jobs": [_job_view(runs, name, now) for name in runs.jobs]})


def _name(request: web.Request) -> str:
    name = request.match_info["name"]
    if name not in request.app[RUNS].jobs:
        raise web.HTTPNotFound(reason=f"no job {name!r} in the jobs file")
    return name


async def job(request: web.Request) -> web.Response:
    runs = request.app[RUNS]
    name = _name(request)
    view = _job_view(runs, name, datetime.datetime.now(datetime.UTC))
    view["runs"] = await runs.store.list(name, limit=20)
    return web.json_response(view)


async def start(request: web.Request) -> web.Response:
    runs = request.app[RUNS]
    name = _name(request)
    run_id = await runs.trigger(name, "api")
    return web.json_response(await runs.store.get(run_id), status=201)


async def list_runs(request: web.Request) -> web.Response:
    """The latest runs of the jobs (``?job=NAME``: of one job), and the latest crawls the API
    started (``crawls``: not with ``?job``)."""
    runs = request.app[RUNS]
    name = request.query.get("job")
    if name is not None and name not in runs.jobs:
        raise web.HTTPNotFound(reason=f"no job {name!r} in the jobs file")
    try:
        limit = min(1000, max(1, int(request.query.get("limit", "100"))))
    except ValueError:
        raise web.HTTPBadRequest(reason="limit must be a whole number") from None
    answer: dict[str, Any] = {"runs": await runs.store.list(name, limit)}
    crawls = request.app.get(CRAWLS)
    if crawls is not None and name is None:
        answer["crawls"] = await crawls.latest(limit)
    return web.json_response(answer)


async def _run(request: web.Request) -> dict[str, Any]:
    found = await request.app[RUNS].store.get(dashboard.run_id(request))
    if found is None:
        raise web.HTTPNotFound(reason=f"no run {request.match_info['id']}")
    return found


async def run(request: web.Request) -> web.Response:
    return web.json_response(await _run(request))


async def cancel(request: web.Request) -> web.Response:
    found = await _run(request)
    if not await request.app[RUNS].cancel(found["id"]):
        raise web.HTTPConflict(reason=f"run {found['id']} is {found['state']}: there is nothing to cancel")
    return web.json_response({"id": found["id"], "cancelling": True}, status=202)


async def download(request: web.Request) -> web.StreamResponse:
    found = await _run(request)
    name, kind = DOWNLOADS[request.match_info["what"]]
    path = request.app[RUNS].run_dir(found["id"]) / name
    if not path.is_file():
        raise web.HTTPNotFound(reason=f"run {found['id']} has no {request.match_info['what']} (yet)")
    return web.FileResponse(path, headers={"Content-Type": kind})


async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: the run's live stats lines (``event: stats``, the JSON lines its crawl
    writes every ``--stats-interval``), then ``event: end`` with the run as ``GET`` gives it."""
    found = await _run(request)
    runs = request.app[RUNS]
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    try:
        await _send_events(response, runs, found)
    except ConnectionResetError:  # the browser left the page: nothing to say but that
        log.debug("run %d: its events' reader went away", found["id"])
    return response


async def _send_events(response: web.StreamResponse, runs: Runs, found: dict[str, Any]) -> None:
    log_path = runs.run_dir(found["id"]) / "log.txt"
    offset = 0
    while True:
        state = (await runs.store.get(found["id"]) or found)["state"]
        chunk = await asyncio.to_thread(_read_from, log_path, offset)
        if chunk:
            whole = chunk[:chunk.rfind(b"\n") + 1]
            offset += len(whole)
            for line in whole.splitlines():
                if line.startswith(b'{"event": "stats"'):
                    await response.write(b"event: stats\ndata: " + line + b"\n\n")
        if state not in ("queued", "running"):
            final = json.dumps(await runs.store.get(found["id"]))
            await response.write(f"event: end\ndata: {final}\n\n".encode())
            return
        await asyncio.sleep(EVENTS_POLL)


def _read_from(path: Path, offset: int) -> bytes:
    """What ``path`` holds past ``offset`` (nothing when it is not there yet)."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read()
    except FileNotFoundError:
        return b""


async def openapi(request: web.Request) -> web.Response:
    """The API's OpenAPI description."""
    return web.json_response(OPENAPI)


def _op(summary: str, *codes: int, method: str = "get") -> dict[str, Any]:
    return {method: {"summary": summary, "responses": {str(c): {"description": HTTP_TEXT[c]} for c in codes}}}


HTTP_TEXT = {200: "OK", 201: "Created", 202: "Accepted", 400: "Bad input", 401: "No or a wrong token",
             403: "A private address, robots.txt or a refused redirect", 404: "No such job, run or crawl",
             408: "The call took too long", 409: "The run or crawl has ended", 413: "Over the service's bound",
             429: "Too many calls a minute", 502: "The site failed", 503: "Too many crawls under way"}
OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "crawler serve", "version": "1",
             "description": "Scheduled crawl jobs and their runs; calls for programs and agents (/v1, /mcp). "
                            "Errors are {\"error\": \"...\"} (/v1: {\"success\": false, \"error\": \"...\"})."},
    "components": {"securitySchemes": {"token": {"type": "http", "scheme": "bearer"}}},
    "security": [{"token": []}],
    "paths": {
        "/healthz": _op("Liveness: the process answers (no token)", 200),
        "/readyz": _op("Readiness: the data directory writable with room, the jobs loaded (no token)", 200, 503),
        "/api/jobs": _op("The jobs of the jobs file", 200, 401),
        "/api/jobs/{name}": _op("One job and its latest runs", 200, 401, 404),
        "/api/jobs/{name}/runs": _op("Start a run of the job now", 201, 401, 404, method="post"),
        "/api/runs": _op("The latest runs (?job=NAME&limit=N)", 200, 400, 401, 404),
        "/api/runs/{id}": _op("One run: state, exit status, figures", 200, 401, 404),
        "/api/runs/{id}/cancel": _op("Stop the run as Ctrl-C stops a crawl", 202, 401, 404, 409, method="post"),
        "/api/runs/{id}/output": _op("The run's records (JSON Lines)", 200, 401, 404),
        "/api/runs/{id}/log": _op("The run's log", 200, 401, 404),
        "/api/runs/{id}/report": _op("The run's HTML report", 200, 401, 404),
        "/api/runs/{id}/events": _op("Server-sent events: stats lines, then end", 200, 401, 404),
        "/v1/scrape": _op("One page as Markdown, HTML, links, metadata (Firecrawl's v1 shape)",
                          200, 400, 401, 403, 408, 429, 502, method="post"),
        "/v1/crawl": _op("Start a bounded crawl (Firecrawl's v1 shape)", 200, 400, 401, 403, 413, 429, 503,
                         method="post"),
        "/v1/crawl/{id}": {**_op("A crawl's state and pages (?skip=N)", 200, 401, 404, 429),
                           **_op("Cancel a crawl", 200, 401, 404, 409, method="delete")},
        "/v1/map": _op("A site's URLs from its sitemaps and its page's links", 200, 400, 401, 403, 408, 429,
                       method="post"),
        "/mcp": _op("The MCP server (streamable HTTP, stateless)", 200, 401, 429, method="post"),
    },
}
EVENTS_POLL = 0.5  # seconds between two looks at a run's log for the events stream


__all__ = ["COOKIE", "MAX_BODY", "OPENAPI", "make_app"]
