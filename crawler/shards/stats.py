"""The statistics of a crawl made by several processes on one machine, added up from each
process's ``--stats``."""

from __future__ import annotations

from typing import Any

from crawler.monitor.stats import CHANGE_URLS, FAILED_URLS, TOP_HOSTS, Stats


class CombinedStats(Stats):
    """The statistics of a crawl made by several processes on one machine (``--workers``),
    from each one's ``--stats``: counts added up (the processes own disjoint hosts, so host
    figures add up too), the clock the coordinator's, and each process's own figures under
    ``workers``."""

    _ADDED = ("pages", "ok", "bytes", "retries", "cached", "extracted", "jsonld_invalid", "discovered", "resumed",
              "unchanged", "items", "dropped", "callback_errors", "links_dropped")

    def __init__(self) -> None:
        super().__init__()
        self.workers: list[dict[str, Any]] = []
        self.unreported = 0  # pages of workers killed before they could report: counted, not broken down
        self._hosts: dict[str, Any] = {"count": 0, "by_pages": [], "by_errors": [], "slowest": []}
        self._spider: dict[str, Any] = {}
        self._proxies: list[dict[str, Any]] = []
        self._render: dict[str, Any] = {}
        self.spider_figures = lambda: dict(self._spider)
        self.proxy_figures = lambda: list(self._proxies)
        self.render_figures = lambda: dict(self._render)

    def absorb(self, d: dict[str, Any]) -> None:
        """Add one process's ``--stats``."""
        for name in self._ADDED:
            setattr(self, name, getattr(self, name) + d.get(name, 0))
        self.errors.update(d.get("errors", {}))
        self.changes.update(d.get("changes", {}))
        for kind, urls in d.get("change_urls", {}).items():
            mine = self.change_urls.setdefault(kind, [])
            mine += urls[:CHANGE_URLS - len(mine)]
        self.fields.update(d.get("fields", {}))
        self.statuses.update({int(k): v for k, v in d.get("status", {}).items()})
        self.depths.update({int(k): v for k, v in d.get("depth", {}).items()})
        self.failed_urls = (self.failed_urls + d.get("failed_urls", []))[:FAILED_URLS]
        self.interrupted = self.interrupted or bool(d.get("interrupted"))
        self.stopped_by = self.stopped_by or d.get("stopped_by")
        self.failed = self.failed or d.get("failed")
        job = d.get("job", {})
        self.job_done += job.get("done", 0) - d.get("pages", 0) - d.get("unchanged", 0)
        self.job_known += job.get("known", 0) - d.get("discovered", 0)
        hosts = d.get("hosts", {})
        self._hosts["count"] += hosts.get("count", 0)
        for key, order in (("by_pages", "pages"), ("by_errors", "errors"), ("slowest", "fetch_p95_ms")):
            rows = self._hosts[key] + hosts.get(key, [])
            self._hosts[key] = sorted(rows, key=lambda r: -(r.get(order) or 0))[:TOP_HOSTS]
        for key in ("callback_errors_by_type", "dropped_by_reason"):
            for name, value in d.get(key, {}).items():
                mine = self._spider.setdefault(key, {})
                if isinstance(value, dict):
                    kept = mine.setdefault(name, dict(value, count=0))
                    kept["count"] += value.get("count", 0)
                else:
                    mine[name] = mine.get(name, 0) + value
        self._proxies += d.get("proxies", [])
        _add_into(self._render, d.get("render", {}))
        self.workers.append({k: d.get(k) for k in ("pages", "ok", "discovered", "elapsed_s", "pages_per_s",
                                                   "timings")})

    def add_unreported(self, pages: int) -> None:
        """``pages`` written by a worker that was killed before it could say more of them."""
        self.pages += pages
        self.unreported += pages
        self.job_done -= pages  # its last life took them as done by earlier runs: they are this run's

    def hosts_dict(self) -> dict[str, Any]:
        return dict(self._hosts)

    def as_dict(self, detail: bool = True) -> dict[str, Any]:
        data = super().as_dict(detail)
        data.pop("timings", None)  # each process's are under workers
        data["workers"] = self.workers
        data["unreported"] = self.unreported
        return data

    def summary(self) -> str:
        text = super().summary()
        if not self.unreported:
            return text
        head, _, rest = text.partition("\n")
        return (f"{head}\n  of them {self.unreported} written by a worker killed before it could report them "
                f"(in no figure below)\n{rest}")


def _add_into(mine: dict[str, Any], theirs: dict[str, Any]) -> None:
    """Add the figures of ``theirs`` to ``mine``: numbers summed, objects in turn, the rest taken."""
    for key, value in theirs.items():
        if isinstance(value, dict):
            _add_into(mine.setdefault(key, {}), value)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            mine[key] = mine.get(key, 0) + value
        else:
            mine[key] = value


__all__ = ["CombinedStats"]
