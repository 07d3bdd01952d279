"""The service's jobs file: a ``[jobs.NAME]`` table a job, each with the crawl's settings (the
keys of a config file), its seeds (``seeds``, a list of URLs, or ``seeds_file``), its
``schedule`` (a cron expression, read by croniter) and ``timezone`` (default UTC)."""

from __future__ import annotations

import dataclasses
import datetime
import re
import tomllib
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crawler.defaults import DEFAULTS
from crawler.errors import UsageError
from crawler.settings import load_settings
from crawler.settings.tomlvalue import toml_value

#: The keys of a job that are no crawl settings.
JOB_KEYS = ("seeds", "seeds_file", "schedule", "timezone")
#: Settings a job may not set: the service decides where each run's files go.
SERVICE_KEYS = ("job_dir", "output", "stats", "report", "progress", "workers", "frontier")
JOB_RECRAWL = "auto"  # a job's recrawl_after when it does not say: each page's own interval, learned
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclasses.dataclass(frozen=True)
class Job:
    """One job of the jobs file."""

    name: str
    seeds: tuple[str, ...]
    seeds_file: str | None
    schedule: str | None
    timezone: str
    settings: dict[str, Any]  # the crawl's settings as given (validated)

    def next_run(self, after: datetime.datetime) -> datetime.datetime | None:
        """The first time after ``after`` (aware) that the schedule says, or None without one."""
        if self.schedule is None:
            return None
        from croniter import croniter

        local = after.astimezone(ZoneInfo(self.timezone))
        when: datetime.datetime = croniter(self.schedule, local).get_next(datetime.datetime)
        return when.astimezone(datetime.UTC)

    def public(self) -> dict[str, Any]:
        """What the API shows of the job: its name, seeds, schedule; of its settings, the names
        only (a header or a cookie may hold a secret)."""
        return {"name": self.name, "seeds": list(self.seeds), "seeds_file": self.seeds_file,
                "schedule": self.schedule, "timezone": self.timezone, "settings": sorted(self.settings)}


def load_jobs(path: str | Path) -> dict[str, Job]:
    """The jobs of the file at ``path``, each checked as a crawl would check it; a
    :class:`UsageError` naming the job and the key when one is wrong."""
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise UsageError(f"--jobs: cannot read {path}: {e.strerror or e}") from None
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"--jobs: {path} is not valid TOML: {e}") from None
    tables = data.get("jobs", {})
    if not isinstance(tables, dict) or not set(data) <= {"jobs"}:
        raise UsageError(f"--jobs: {path} must hold [jobs.NAME] tables (one a job) and nothing else")
    jobs = {}
    for name, table in tables.items():
        jobs[name] = _job(path, name, table)
    return jobs


def _job(path: str | Path, name: str, table: Any) -> Job:
    where = f"--jobs {path}, job {name!r}"
    if not NAME.fullmatch(name):
        raise UsageError(f"{where}: a job's name is letters, digits, '.', '_' and '-' (64 at most)")
    if not isinstance(table, dict):
        raise UsageError(f"{where}: expected a table")
    settings = {k: v for k, v in table.items() if k not in JOB_KEYS}
    for key in SERVICE_KEYS:
        if key in settings:
            raise UsageError(f"{where}: {key} is the service's to set (each run gets its own files)")
    load_settings(settings, overrides_source=where)  # a bad key or value: one line naming the job
    seeds = table.get("seeds", [])
    if isinstance(seeds, str):
        seeds = [seeds]
    if not isinstance(seeds, list) or not all(isinstance(s, str) for s in seeds):
        raise UsageError(f"{where}: seeds must be a list of URLs")
    seeds_file = table.get("seeds_file")
    if seeds_file is not None and not isinstance(seeds_file, str):
        raise UsageError(f"{where}: seeds_file must be a file name")
    if not seeds and seeds_file is None and "spider" not in settings and "sitemap" not in settings:
        raise UsageError(f"{where}: nothing to crawl: give seeds, seeds_file, sitemap or spider")
    schedule = table.get("schedule")
    timezone = table.get("timezone", "UTC")
    try:
        ZoneInfo(str(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"{where}: unknown timezone {timezone!r}") from None
    if schedule is not None:
        from croniter import croniter

        if not isinstance(schedule, str) or not croniter.is_valid(schedule):
            raise UsageError(f"{where}: schedule must be a cron expression such as \"15 2 * * *\", got {schedule!r}")
    _recrawl_defaults(settings, schedule)
    return Job(name, tuple(seeds), seeds_file, schedule, str(timezone), settings)


def _recrawl_defaults(settings: dict[str, Any], schedule: str | None) -> None:
    """A job recrawls unless it says otherwise (``recrawl_after = "auto"``): a job's next run
    fetching nothing is never what was meant. On a schedule, a page new to the job is due again
    after half the schedule's period (an hour at most, ``recrawl_min``'s default), so that the
    next run, however soon, fetches it again."""
    if "recrawl_after" in settings:
        return
    settings["recrawl_after"] = JOB_RECRAWL
    if schedule is None or "recrawl_min" in settings:
        return
    from croniter import croniter

    times = croniter(schedule, datetime.datetime.now(datetime.UTC))
    first = times.get_next(datetime.datetime)
    period = (times.get_next(datetime.datetime) - first).total_seconds()
    default = float(DEFAULTS["recrawl_min"])
    if period / 2 < default:
        settings["recrawl_min"] = max(1.0, period / 2)


def environment_of(job: Job) -> dict[str, str]:
    """The job's settings as ``CRAWLER_*`` variables for its runs (a list or table as TOML)."""
    return {f"CRAWLER_{key.upper()}": _env_value(value) for key, value in job.settings.items()}


def _env_value(value: Any) -> str:
    return value if isinstance(value, str) else toml_value(value)


__all__ = ["JOB_KEYS", "JOB_RECRAWL", "Job", "environment_of", "load_jobs"]
