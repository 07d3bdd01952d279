"""Expectations: checks a run must pass (the ``expect`` setting: a config file's ``[expect]``
table, ``--expect KEY=VALUE``, a spider's ``custom_settings``). A run that ends with any of them
failed exits 3, each failure said in one line (the summary, ``--stats``, the report, the
notifications), as Spidermon's monitors do for Scrapy."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from crawler.monitor.stats import Stats

log = logging.getLogger("crawler")


def failed_expectations(expect: Mapping[str, Any], figures: Mapping[str, Any]) -> list[str]:
    """One line for each check of ``expect`` that ``figures`` (a run's ``--stats``) fail."""
    failed = []
    pages = figures["pages"]
    items = pages if figures.get("records_only") else figures["items"]
    changes = figures.get("changes", {})
    if "min_pages" in expect and pages < expect["min_pages"]:
        failed.append(f"min_pages: {pages} pages written, expected at least {expect['min_pages']}")
    if "min_items" in expect and items < expect["min_items"]:
        failed.append(f"min_items: {items} items written, expected at least {expect['min_items']}")
    if "max_error_rate" in expect:
        errors = sum(figures["errors"].values())
        rate = errors / pages if pages else 0.0
        if rate > expect["max_error_rate"]:
            failed.append(f"max_error_rate: {errors} of {pages} records failed ({rate:.1%}), "
                          f"expected at most {expect['max_error_rate']:.1%}")
    for field, least in expect.get("required_fields", {}).items():
        have = figures.get("fields", {}).get(field, 0)
        share = have / items if items else 0.0
        if share < least:
            failed.append(f"required_fields: {field} in {have} of {items} items ({share:.1%}), "
                          f"expected at least {least:.1%}")
    if "max_removed_share" in expect:
        removed, known = changes.get("removed", 0), figures["job"]["known"] or pages
        share = removed / known if known else 0.0
        if share > expect["max_removed_share"]:
            failed.append(f"max_removed_share: {removed} of the job's {known} pages removed ({share:.1%}), "
                          f"expected at most {expect['max_removed_share']:.1%}")
    if "min_changed" in expect:
        moved = changes.get("new", 0) + changes.get("changed", 0)
        if moved < expect["min_changed"]:
            failed.append(f"min_changed: {moved} pages new or changed, expected at least {expect['min_changed']}")
    return failed


def judge(expect: Mapping[str, Any], stats: Stats) -> bool:
    """Check the run's ``stats`` against ``expect``: each failure logged and kept in
    ``stats.expectations_failed``; True when every check passed."""
    stats.expectations_failed = failed_expectations(expect, stats.as_dict(detail=False))
    for line in stats.expectations_failed:  # the summary says each one (once, on stderr)
        log.debug("expectation failed: %s", line)
    return not stats.expectations_failed


__all__ = ["failed_expectations", "judge"]
