"""Log in, then crawl what is behind the login: the login page's form is filled (its hidden
CSRF field included) and posted, the session cookie the site sets is kept by the crawl's
cookie jar, and the account's order pages are scraped.

    python -m examples.login                        # serves the demo shop itself
    python -m examples.login http://127.0.0.1:8000/ orders.jsonl
    # or, with python -m crawler demo --serve running:
    python -m crawler --spider examples.login:Login -a start=http://127.0.0.1:8000/ -a user=demo -o orders.jsonl
"""

from __future__ import annotations

import sys

from crawler import Response, Spider, run_spider


class Login(Spider):
    """Arguments (``-a NAME=VALUE``): ``start`` (the shop's root URL), ``user``, ``password``."""

    name = "login"
    custom_settings = {"cookies": True, "max_pages": 50}  # noqa: RUF012 - the session needs a jar

    def __init__(self, start: str = "http://127.0.0.1:8000/", user: str = "demo", password: str = "demo") -> None:
        super().__init__()
        self.root = start.rstrip("/") + "/"
        self.user = user
        self.password = password

    async def start(self):
        yield self.root + "login"

    def parse(self, response: Response):
        # The form's fields (the hidden csrf_token too) with ours over them, posted as a browser would.
        yield response.form(formid="login", formdata={"username": self.user, "password": self.password},
                            callback=self.after_login)

    def after_login(self, response: Response):
        if response.css("p.error"):
            raise RuntimeError(f"login refused for {self.user!r}")
        yield from response.follow_all(css="a.order", callback=self.parse_order)

    def parse_order(self, response: Response):
        yield {"url": response.url, "order": response.css("h1::text").get(),
               "total": float(response.css("p.total::text").re_first(r"[\d.]+") or 0)}


if __name__ == "__main__":
    from crawler.cli.demoshop import demo_shop

    with demo_shop(sys.argv[1] if len(sys.argv) > 1 else None) as root:
        stats = run_spider(Login(start=root), output=sys.argv[2] if len(sys.argv) > 2 else "-")
    sys.exit(0 if stats["items"] else 1)
