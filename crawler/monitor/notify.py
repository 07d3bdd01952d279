"""Notifications when a run ends (``--notify``): its JSON summary POSTed to webhooks (with a
Slack-compatible ``text``) and mailed to ``mailto:`` addresses through the ``smtp_*`` settings.

A notification that cannot be delivered is tried again a few times, then logged; it never
changes the run's exit status. Targets are shown in logs without their path or query (a webhook
URL's path is often its secret), and the mail password is read from ``$CRAWLER_SMTP_PASSWORD``
or netrc, never from a setting, and never shown."""

from __future__ import annotations

import asyncio
import logging
import netrc
import os
import smtplib
import socket
import ssl
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from crawler.errors import EXIT_EXPECTATIONS, EXIT_INTERRUPTED, EXIT_OK
from crawler.monitor.stats import Stats
from crawler.settings import Settings, netrc_file
from crawler.settings.masking import mask_url
from crawler.timestamps import utc_now_iso

log = logging.getLogger("crawler")

TRIES = 3  # deliveries tried for each target
TIMEOUT = 10.0  # seconds one delivery may take
BACKOFF = 0.5  # seconds before the second try; doubled before each next one
PASSWORD_VARIABLE = "CRAWLER_SMTP_PASSWORD"


def outcome_of(stats: Stats, status: int) -> str:
    """How the run ended, in a word or two."""
    if status == EXIT_EXPECTATIONS:
        return "expectations failed"
    if status == EXIT_INTERRUPTED or stats.interrupted:
        return "interrupted"
    if status != EXIT_OK:
        return "failed"
    return "ended at --max-runtime" if stats.stopped_by == "max_runtime" else "finished"


def wanted(when: str, stats: Stats, status: int) -> bool:
    """Does ``notify_on = when`` call for a notification of this run?"""
    if when == "failure":
        return status != EXIT_OK
    if when == "changes":
        return status != EXIT_OK or any(stats.changes[kind] for kind in ("new", "changed", "removed"))
    return True


def summary_body(settings: Settings, stats: Stats, status: int) -> dict[str, Any]:
    """What a notification says: the run's outcome and figures, its changes with the first URLs
    of each kind, its failed expectations, and a ``text`` for chat webhooks (Slack's field)."""
    figures = stats.as_dict(detail=False)
    text = stats.summary().splitlines()[0] + f" (exit {status})"
    changes = {k: v for k, v in figures["changes"].items() if v}
    if changes:
        text += "\nchanges: " + ", ".join(f"{kind} {n}" for kind, n in changes.items())
    text += "".join(f"\nexpectation failed: {line}" for line in stats.expectations_failed)
    return {
        "text": text,
        "outcome": outcome_of(stats, status),
        "exit_status": status,
        "finished_at": utc_now_iso(),
        "job_dir": settings.job_dir or None,
        "output": mask_url(settings.output),
        "pages": figures["pages"],
        "ok": figures["ok"],
        "items": figures["items"],
        "errors": figures["errors"],
        "elapsed_s": figures["elapsed_s"],
        "changes": figures["changes"],
        "change_urls": figures["change_urls"],
        "expectations_failed": figures["expectations_failed"],
        "failed": figures["failed"],
    }


def shown(target: str) -> str:
    """``target`` as logs may show it: a webhook without its path and query, or the address."""
    if target.lower().startswith("mailto:"):
        return target
    parts = urlsplit(target)
    return f"{parts.scheme}://{parts.hostname or ''}{':' + str(parts.port) if parts.port else ''}/..."


async def notify(settings: Settings, stats: Stats, status: int) -> None:
    """Send the run's summary to every ``notify`` target, if ``notify_on`` wants it."""
    if not settings.notify or not wanted(settings.notify_on, stats, status):
        return
    body = summary_body(settings, stats, status)
    await asyncio.gather(*(_deliver(settings, target, body) for target in settings.notify))


async def _deliver(settings: Settings, target: str, body: dict[str, Any]) -> None:
    """``body`` to ``target``, tried :data:`TRIES` times; logged, never raised."""
    problem = ""
    for attempt in range(TRIES):
        if attempt:
            await asyncio.sleep(BACKOFF * 2 ** (attempt - 1))
        try:
            if target.lower().startswith("mailto:"):
                await asyncio.to_thread(_mail, settings, target[len("mailto:"):], body)
            else:
                await _post(target, body)
        except (OSError, aiohttp.ClientError, TimeoutError, smtplib.SMTPException, _Refused) as e:
            problem = str(e) or type(e).__name__
            continue
        log.info("notified %s", shown(target))
        return
    log.warning("notification to %s failed after %d tries: %s (the run's exit status stays)",
                shown(target), TRIES, problem)


class _Refused(Exception):
    """A webhook answered with an error status."""


async def _post(url: str, body: dict[str, Any]) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as session:
        async with session.post(url, json=body) as response:
            if response.status >= 400:
                raise _Refused(f"answered {response.status}")


def _password(settings: Settings) -> str | None:
    """The mail password: ``$CRAWLER_SMTP_PASSWORD``, else netrc's entry for the mail host."""
    password = os.environ.get(PASSWORD_VARIABLE)
    if password:
        return password
    try:
        entry = netrc.netrc(str(netrc_file())).authenticators(settings.smtp_host)
    except (OSError, netrc.NetrcParseError):
        return None
    return entry[2] if entry else None


def _mail(settings: Settings, address: str, body: dict[str, Any]) -> None:
    """Mail ``body`` to ``address`` through the ``smtp_*`` settings (in a thread)."""
    message = EmailMessage()
    message["From"] = settings.smtp_from or f"crawler@{socket.gethostname()}"
    message["To"] = address
    message["Subject"] = f"crawler: {body['outcome']}, {body['pages']} pages (exit {body['exit_status']})"
    lines = [body["text"], ""]
    for kind, urls in body["change_urls"].items():
        lines += [f"{kind}:", *(f"  {url}" for url in urls)]
    message.set_content("\n".join(lines) + "\n")
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=TIMEOUT) as smtp:
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_user:
            smtp.login(settings.smtp_user, _password(settings) or "")
        smtp.send_message(message)


__all__ = ["notify", "outcome_of", "shown", "summary_body", "wanted"]
