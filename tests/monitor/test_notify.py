"""Notifications (``--notify``): a webhook receiver and an SMTP server (aiosmtpd) on 127.0.0.1 get
one summary per run, when ``notify_on`` wants it; a target that is down never changes the exit
status; the mail password and the webhook's path stay out of the logs."""

from __future__ import annotations

import json
import socket
from email import message_from_bytes
from pathlib import Path

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.conftest import run_cli
from tests.monitor.test_expect import shop_app


class Receiver:
    """A webhook: keeps each POSTed JSON body; answers ``status``."""

    def __init__(self, status: int = 200) -> None:
        self.bodies: list[dict] = []
        self.status = status

    def app(self) -> web.Application:
        async def hook(request: web.Request) -> web.Response:
            self.bodies.append(await request.json())
            return web.Response(status=self.status, text="ok")

        app = web.Application()
        app.router.add_post("/hooks/{token}", hook)
        return app


def crawl(tmp_path: Path, url: str, *extra: str, env: dict[str, str] | None = None):
    return run_cli(url, "-o", str(tmp_path / "out.jsonl"), "--no-robots", "--no-progress", *extra, env=env,
                   cwd=tmp_path)


def test_a_webhook_gets_one_summary_of_each_run(serve, tmp_path: Path) -> None:
    site, receiver = serve(shop_app()), Receiver()
    hook = serve(receiver.app()).url + "hooks/T0KEN-s3cret"
    done = crawl(tmp_path, site.url, "--notify", hook)
    assert done.returncode == 0, done.stderr
    (body,) = receiver.bodies
    assert body["outcome"] == "finished" and body["exit_status"] == 0
    assert body["pages"] == 5 and body["ok"] == 4 and body["errors"] == {"http": 1}
    assert body["text"].startswith("crawl finished: 5 pages (4 ok)") and body["text"].endswith("(exit 0)")
    assert body["expectations_failed"] == [] and body["changes"] == {}
    assert "notified http://127.0.0.1:" in done.stderr and "T0KEN" not in done.stderr


def test_notify_on_failure_only_tells_of_runs_that_failed(serve, tmp_path: Path) -> None:
    site, receiver = serve(shop_app()), Receiver()
    hook = serve(receiver.app()).url + "hooks/x"
    assert crawl(tmp_path, site.url, "--notify", hook, "--notify-on", "failure").returncode == 0
    assert receiver.bodies == []
    done = crawl(tmp_path, site.url, "--notify", hook, "--notify-on", "failure", "--expect", "min_pages=50")
    assert done.returncode == 3
    (body,) = receiver.bodies
    assert body["outcome"] == "expectations failed" and body["exit_status"] == 3
    assert body["expectations_failed"] == ["min_pages: 5 pages written, expected at least 50"]
    assert "expectation failed: min_pages" in body["text"]


def test_notify_on_changes_tells_of_new_pages_with_their_urls(serve, tmp_path: Path) -> None:
    site, receiver = serve(shop_app()), Receiver()
    hook = serve(receiver.app()).url + "hooks/x"
    job = ["--job-dir", str(tmp_path / "job"), "--notify", hook, "--notify-on", "changes"]
    assert crawl(tmp_path, site.url, *job).returncode == 0
    (body,) = receiver.bodies
    assert body["changes"] == {"new": 5} and body["job_dir"] == str(tmp_path / "job")
    assert sorted(body["change_urls"]["new"]) == sorted(site.url + p for p in ("", "a", "b", "c", "gone"))
    assert crawl(tmp_path, site.url, *job).returncode == 0  # the job is done: nothing new, no news
    assert len(receiver.bodies) == 1


@pytest.mark.slow
def test_a_target_that_is_down_never_changes_the_exit_status(serve, tmp_path: Path) -> None:
    site, failing = serve(shop_app()), Receiver(status=500)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there
    done = crawl(tmp_path, site.url, "--notify", serve(failing.app()).url + "hooks/x",
                 "--notify", f"http://127.0.0.1:{port}/hooks/y")
    assert done.returncode == 0, done.stderr
    assert len(failing.bodies) == 3  # tried three times
    assert done.stderr.count("failed after 3 tries") == 2


class Mailbox:
    """An SMTP server's handler: keeps each message and the login it came with."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.logins: list[tuple[bytes, bytes]] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd calls it by this name
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            self.logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=True)


def smtp_server(mailbox: Mailbox) -> Controller:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, authenticator=mailbox.authenticate,
                            auth_require_tls=False)
    controller.start()
    return controller


def test_a_mailto_target_gets_the_summary_by_smtp_with_the_password_from_the_environment(serve, tmp_path: Path) -> None:
    site, mailbox = serve(shop_app()), Mailbox()
    controller = smtp_server(mailbox)
    try:
        (tmp_path / "crawl.toml").write_text(
            f'smtp_host = "127.0.0.1"\nsmtp_port = {controller.port}\nsmtp_user = "ops"\n'
            'smtp_from = "crawls@example.org"\nnotify = ["mailto:team@example.org"]\n')
        done = crawl(tmp_path, site.url, "--config", str(tmp_path / "crawl.toml"), "--log-level", "debug",
                     env={"CRAWLER_SMTP_PASSWORD": "hunter2-pass"})
        assert done.returncode == 0, done.stderr
        shown = run_cli("config", "--show", "--config", str(tmp_path / "crawl.toml"),
                        env={"CRAWLER_SMTP_PASSWORD": "hunter2-pass"})
    finally:
        controller.stop()
    ((sender, recipients, content),) = mailbox.messages
    assert sender == "crawls@example.org" and recipients == ["team@example.org"]
    mail = message_from_bytes(content)
    assert mail["Subject"] == "crawler: finished, 5 pages (exit 0)"
    assert "crawl finished: 5 pages (4 ok)" in mail.get_payload()
    assert mailbox.logins == [(b"ops", b"hunter2-pass")]
    assert "hunter2" not in done.stderr + done.stdout and "hunter2" not in shown.stdout + shown.stderr
    assert shown.returncode == 0, shown.stderr
    assert json.dumps("mailto:team@example.org")[1:-1] in shown.stdout


async def test_the_library_sends_notify_as_the_command_line_does(serve, tmp_path: Path) -> None:
    from crawler import Crawler, Spider

    site, receiver = serve(shop_app()), Receiver()
    hook = serve(receiver.app()).url + "hooks/lib"

    class Titles(Spider):
        start_urls = [site.url]  # noqa: RUF012

        def parse(self, response):
            yield {"title": response.css("title::text").get()}

    stats = await Crawler(Titles(), output=str(tmp_path / "items.jsonl"), robots=False, notify=[hook]).run()
    assert stats.items == 1
    (body,) = receiver.bodies
    assert body["outcome"] == "finished" and body["exit_status"] == 0 and body["items"] == 1
