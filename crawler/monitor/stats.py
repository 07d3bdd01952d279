"""Crawl statistics: counted as records are written, so they always agree with the output."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from crawler.errors import BLOCKED
from crawler.monitor.measures import Measures
from crawler.work import Done

TOP_HOSTS = 10  # hosts listed in --stats by pages, by errors, by fetch time
FAILED_URLS = 1000  # failed URLs listed in --stats and the report (the first ones; all are counted)
CHANGE_URLS = 10  # URLs listed in --stats and notifications for each kind of change (the first ones)
CHANGE_KINDS = ("new", "changed", "removed", "same")  # a durable job's records, in the order shown


class Stats:
    """Counters of one crawl: what every way of running one returns (``Engine.run()``,
    ``Crawler.run()``, ``run_spider()``). ``pages`` counts records written.

    Read a figure as an attribute (``stats.pages``) or by its ``--stats`` name
    (``stats["pages"]``, ``stats["callback_errors_by_type"]``); :meth:`as_dict` gives them all
    as JSON-ready data."""

    def __init__(self, measures: Measures | None = None) -> None:
        self.measures = measures or Measures(1, 1)
        self.started = time.monotonic()
        self.ended: float | None = None
        self.pages = 0
        self.ok = 0
        self.errors: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.bytes = 0
        self.retries = 0
        self.cached = 0  # pages answered by the HTTP cache (--http-cache), not the site
        self.extracted = 0  # pages --extract extracted
        self.jsonld_invalid = 0  # JSON-LD blocks of those pages that could not be parsed
        self.discovered = 0  # URLs accepted into the frontier
        self.interrupted = False
        self.stopped_by: str | None = None  # "signal" or "max_runtime"
        self.failed: str | None = None  # the fatal error that stopped the crawl
        self.resumed = 0  # URLs a durable crawl took over from an earlier run (those due again included)
        self.due_again = 0  # of those, the URLs earlier runs did that this run found due again (recrawl)
        self.resumable = False  # a durable crawl: the same command goes on from where it stopped
        self.job_done = 0  # a durable crawl: URLs done by earlier runs of the job
        self.job_known = 0  # a durable crawl: URLs the job knew when this run started
        self.unchanged = 0  # --changed-only: pages done without a record
        self.fields: Counter[str] = Counter()  # items that have each of expect's required_fields
        self.expectations_failed: list[str] = []  # the checks of expect this run failed, one line each
        self.changes: Counter[str] = Counter()  # a durable job's records by change (new, same, changed, removed)
        self.change_urls: dict[str, list[str]] = {}  # the first CHANGE_URLS new, changed and removed pages
        self.recrawl: dict[str, Any] = {}  # --recrawl-after auto: pages due, the job's estimated freshness
        self.items = 0  # a spider's items written
        self.dropped = 0  # items dropped by pipelines
        self.callback_errors = 0  # exceptions in spider callbacks and pipelines
        self.links_dropped = 0  # in-scope links left out by max_links_per_page
        self.depths: Counter[int] = Counter()  # records by crawl depth
        self.hosts: Counter[str] = Counter()  # records by host (fetched from)
        self.host_errors: Counter[str] = Counter()
        self.host_blocked: Counter[str] = Counter()  # block and challenge pages (error blocked) by host
        self.failed_urls: list[dict[str, Any]] = []  # the first FAILED_URLS: url, error, status, referrer
        self.proxy_figures: Callable[[], list[dict[str, Any]]] = list  # each proxy's requests, failures, bench
        self.proxy_tier_figures: Callable[[], list[dict[str, Any]]] = list  # --proxy-tier: each tier's
        # The spider's failures: callback_errors_by_type (count, where, message, url), dropped_by_reason.
        self.spider_figures: Callable[[], dict[str, Any]] = dict
        self.records_only = False  # the built-in page recorder runs: its items are the records
        self.render_figures: Callable[[], dict[str, Any]] = dict  # --render: pages rendered and why, per host

    def __getitem__(self, name: str) -> Any:
        """The figure ``name`` of :meth:`as_dict` (the ``--stats`` file's keys); KeyError if none."""
        return self.as_dict()[name]

    def __contains__(self, name: object) -> bool:
        return name in self.as_dict()

    def keys(self) -> list[str]:
        """The names of the figures (``dict(stats)`` works as on the ``--stats`` file)."""
        return list(self.as_dict())

    def count(self, record: Done) -> None:
        """Account for one URL's end (its record written)."""
        self.pages += 1
        error = record.error
        host = record.host
        if error is None:
            self.ok += 1
        else:
            self.errors[error] += 1
            self.host_errors[host] += 1
            if error == BLOCKED:
                self.host_blocked[host] += 1
            if len(self.failed_urls) < FAILED_URLS:
                self.failed_urls.append({"url": record.url, "error": error, "status": record.status,
                                         "referrer": record.referrer})
        self.hosts[host] += 1
        self.depths[record.depth] += 1
        status = record.status
        if status is not None:
            self.statuses[status] += 1
        self.bytes += record.bytes

    @property
    def done(self) -> int:
        """URLs done across the job (this run's records and unchanged pages, and what earlier
        runs did); for a crawl without a job, this run's."""
        return self.job_done + self.pages + self.unchanged

    @property
    def known(self) -> int:
        """URLs known across the job: those it had, and those this run discovered."""
        return self.job_known + self.discovered

    @property
    def nothing_due(self) -> bool:
        """A durable run that found nothing to do: every URL its job knew was done by earlier
        runs, and none was due again (no ``recrawl_after``, or not yet)."""
        return bool(self.job_known) and not (self.pages or self.unchanged or self.resumed or self.interrupted
                                              or self.failed)

    @property
    def no_page(self) -> bool:
        """A run that got no page at all: every URL it ended failed (refused, disallowed...),
        and no earlier run of its job did one."""
        return bool(self.pages) and not (self.ok or self.unchanged or self.job_done or self.interrupted)

    def finish(self) -> None:
        """Stop the clock."""
        self.ended = time.monotonic()

    @property
    def elapsed(self) -> float:
        """Seconds since the crawl started (until it ended)."""
        return (self.ended or time.monotonic()) - self.started

    @property
    def pages_per_second(self) -> float:
        """Records written per second of the crawl."""
        elapsed = self.elapsed
        return self.pages / elapsed if elapsed > 0 else 0.0

    def as_dict(self, detail: bool = True) -> dict[str, Any]:
        """The statistics as plain JSON-ready data (``--stats FILE``); without ``detail``, not
        the per-depth and per-host figures (for displays that ask often)."""
        data = {
            "pages": self.pages,
            "ok": self.ok,
            "errors": dict(sorted(self.errors.items())),
            "status": {str(k): v for k, v in sorted(self.statuses.items())},
            "bytes": self.bytes,
            "retries": self.retries,
            "cached": self.cached,
            "extracted": self.extracted,
            "jsonld_invalid": self.jsonld_invalid,
            "discovered": self.discovered,
            "elapsed_s": round(self.elapsed, 3),
            "pages_per_s": round(self.pages_per_second, 1),
            "interrupted": self.interrupted,
            "stopped_by": self.stopped_by,
            "failed": self.failed,
            "resumed": self.resumed,
            "nothing_due": self.nothing_due,
            "unchanged": self.unchanged,
            "changes": dict(self.changes),
            "change_urls": self.change_urls,
            "recrawl": self.recrawl,
            "fields": dict(self.fields),
            "expectations_failed": self.expectations_failed,
            "job": {"done": self.done, "known": self.known},
            "items": self.items,
            "dropped": self.dropped,
            "callback_errors": self.callback_errors,
            "links_dropped": self.links_dropped,
            **self.spider_figures(),
            "timings": self.measures.as_dict(self.elapsed),
        }
        if detail:
            data["depth"] = {str(k): v for k, v in sorted(self.depths.items())}
            data["hosts"] = self.hosts_dict()
            data["failed_urls"] = self.failed_urls
            data["proxies"] = self.proxy_figures()
            tiers = self.proxy_tier_figures()
            if tiers:
                data["proxy_tiers"] = tiers
        render = self.render_figures()
        if render:
            if not detail:
                render = {k: v for k, v in render.items() if k != "hosts"}
            data["render"] = render
        return data

    def changed(self, kind: str, url: str) -> None:
        """A record of a durable job says ``kind`` of change for ``url``."""
        self.changes[kind] += 1
        if kind != "same":
            urls = self.change_urls.setdefault(kind, [])
            if len(urls) < CHANGE_URLS:
                urls.append(url)

    def hosts_dict(self) -> dict[str, Any]:
        """How many hosts, and the top ones by pages, by errors, by block pages (error
        ``blocked``) and by mean fetch time (with their fetch p50 and p95)."""
        fetch = self.measures.hosts

        def row(host: str) -> dict[str, Any]:
            d = fetch.get(host)
            return {"host": host, "pages": self.hosts[host], "errors": self.host_errors[host],
                    "blocked": self.host_blocked[host],
                    "fetch_p50_ms": round(d.quantile(0.5) * 1000, 1) if d else None,
                    "fetch_p95_ms": round(d.quantile(0.95) * 1000, 1) if d else None}

        return {
            "count": len(self.hosts),
            "by_pages": [row(h) for h, _ in self.hosts.most_common(TOP_HOSTS)],
            "by_errors": [row(h) for h, _ in self.host_errors.most_common(TOP_HOSTS)],
            "by_blocked": [row(h) for h, _ in self.host_blocked.most_common(TOP_HOSTS)],
            "slowest": [row(h) for h, _ in self.measures.slowest_hosts(TOP_HOSTS)],
        }

    def to_json(self) -> str:
        """``as_dict`` as indented JSON text."""
        return json.dumps(self.as_dict(), indent=2) + "\n"

    def summary(self) -> str:
        """A few lines for a person, printed on stderr at the end."""
        errors = ", ".join(f"{k} {v}" for k, v in sorted(self.errors.items())) or "none"
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items())) or "none"
        head = ("crawl failed" if self.failed else "crawl interrupted" if self.interrupted
                else "run ended at --max-runtime" if self.stopped_by == "max_runtime" else "crawl finished")
        unchanged = f", {self.unchanged} unchanged (no record: --changed-only)" if self.unchanged else ""
        changes = ("\n  changes: " + ", ".join(f"{kind} {self.changes[kind]}" for kind in CHANGE_KINDS
                                                if self.changes[kind]) if self.changes else "")
        again = f" and {self.due_again} due again (recrawl)" if self.due_again else ""
        job = (f"\n  job: {self.done} of {self.known} URLs done across its runs; this run began with "
               f"{self.resumed - self.due_again} left to do by earlier runs{again}" if self.job_known else "")

        spider = spider_line(self.as_dict(detail=False) | {"items": self.items, "records_only": self.records_only})
        cached = f", from the HTTP cache: {self.cached}" if self.cached else ""
        if self.recrawl:
            r = self.recrawl
            fresh = f", the job's pages an estimated {r['freshness']:.0%} fresh" if r["freshness"] is not None else ""
            changes += (f"\n  recrawl (auto): {r['due']} pages due, {r['fetched']} fetched, {r['changed']} changed"
                        f"{fresh}")
        expectations = "".join(f"\n  expectation failed: {line}" for line in self.expectations_failed)
        if self.nothing_due:
            expectations += f"\n  {NOTHING_DUE}"
        if self.no_page:
            expectations += f"\n  {NO_PAGE}"
        if self.interrupted and self.resumable and not self.failed:
            expectations += "\n  resume: run the same command again (its job keeps what was done)"
        return (
            f"{head}: {self.pages} pages ({self.ok} ok){unchanged} in {self.elapsed:.1f} s, "
            f"{self.pages_per_second:.1f} pages/s, {size(self.bytes)}\n"
            f"  errors: {errors}\n"
            f"  status: {statuses}\n"
            f"{'  ' + spider + chr(10) if spider else ''}"
            f"  retries: {self.retries}, URLs discovered: {self.discovered}{cached}{job}{changes}{expectations}"
        )


#: What a run that found nothing due says (its summary, its warning line, the dashboard).
NOTHING_DUE = ("0 URLs due: every URL of this job was done by an earlier run and none is due again; "
               "set recrawl_after (--recrawl-after 1d, or auto) to fetch them again")
#: What a run whose every URL failed says (its summary, and its exit status 1).
NO_PAGE = "no page: every URL of this run failed (see errors above); exit status 1"


def spider_line(s: dict[str, Any]) -> str:
    """Items, dropped items (by reason) and callback errors (by type, where each first struck),
    for the live view and the summary; empty while there are none of them."""
    if not (s["dropped"] or s["callback_errors"]) and (not s["items"] or s.get("records_only")):
        return ""  # nothing to say (the built-in recorder's items are the records)
    line = f"items {s['items']}"
    if s["dropped"]:
        reasons = ", ".join(f"{reason} {n}" for reason, n in list(s.get("dropped_by_reason", {}).items())[:3])
        line += f" | dropped {s['dropped']} ({reasons})" if reasons else f" | dropped {s['dropped']}"
    if s["callback_errors"]:
        kinds = sorted(s.get("callback_errors_by_type", {}).items(), key=lambda kv: -kv[1]["count"])[:3]
        shown = ", ".join(f"{name} {e['count']} at {e['where']}" for name, e in kinds)
        line += f" | callback errors {s['callback_errors']} ({shown})" if shown else \
            f" | callback errors {s['callback_errors']}"
    return line


def size(n: float) -> str:
    """``n`` bytes for a person: 512 B, 1.5 KiB, 3.2 MiB."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover
